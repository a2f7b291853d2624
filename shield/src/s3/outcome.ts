/*
 * What one S3 request was and how it ended: the operation and result
 * vocabularies (metric labels), the observer that counts them, and the pure
 * classification of a failed attempt (retry or not). No I/O.
 */

/** S3 operations, a fixed set for the metrics label. */
export const OriginOperation = { Head: "head", Get: "get" } as const;
export type OriginOperation = (typeof OriginOperation)[keyof typeof OriginOperation];

/** How one S3 request ended, a fixed set for the metrics label. */
export const OriginResult = {
  Ok: "ok",
  NotFound: "not_found",
  OutOfRange: "out_of_range",
  PreconditionFailed: "precondition_failed",
  /** A conditional HEAD (revalidation) found the ETag unchanged: 304. */
  NotModified: "not_modified",
  Aborted: "aborted",
  /** S3 asked to slow down (503 SlowDown, 429, throttling codes). Retried. */
  Throttled: "throttled",
  /** Any other 5xx. Retried. */
  ServerError: "server_error",
  /** The connection failed or broke: refused, reset, hung up, body cut short. Retried (a body resumes). */
  Reset: "reset",
  /** No headers, or no body bytes, within timeoutMs. Retried (a body resumes). */
  Timeout: "timeout",
  /** Anything else (403, bad credentials, a malformed answer). Not retried. */
  Error: "error",
} as const;
export type OriginResult = (typeof OriginResult)[keyof typeof OriginResult];

/** Receives what S3Origin measures; the shield's metrics implement it. */
export interface OriginObserver {
  /**
   * Once per S3 request, retries and resumes included, with how it ended.
   * A request that failed before answering is reported then; a GET that
   * answered is reported when its body is done (ok, or the failure that
   * cut it), so each request counts exactly once. `seconds` is always the
   * time until S3 answered or failed (headers, not the whole body).
   */
  request(operation: OriginOperation, result: OriginResult, seconds: number, bucket: string): void;
  /** Body bytes read from S3 (of `bucket`). Called per chunk, so implementations only add. */
  bytes(count: number, bucket: string): void;
  /**
   * A request refused before S3 was asked because its bucket's lane was
   * full: a lookup shed (LookupsShed) or a read over the queue bound.
   */
  refused(operation: OriginOperation, bucket: string): void;
}

/** An observer that counts nothing (tests, tools). */
export const noObserver: OriginObserver = {
  request() {},
  bytes() {},
  refused() {},
};

/** S3 error codes that mean "slow down" (S3 itself sends SlowDown; the rest come from clones and proxies). */
const throttlingCodes = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
]);

/**
 * Refusals caused by the shield's clock: the SDK corrects its clock offset
 * from the failed answer, so the next attempt succeeds.
 */
const clockSkewCodes = new Set(["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"]);

/** Node error codes of a connection that could not be made or broke. */
const connectionCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** What S3Origin makes of a failed attempt. */
export interface Failure {
  readonly result: OriginResult;
  readonly retryable: boolean;
  /** The S3 error code or the Node error code, for logs and messages. */
  readonly name: string;
  readonly httpStatus: number | undefined;
}

/** A transport failure S3Origin detects itself (silence, a short body). */
export class TransportError extends Error {
  readonly code: string;

  constructor(code: "ETIMEDOUT" | "ECONNRESET", message: string) {
    super(message);
    this.name = code === "ETIMEDOUT" ? "TimeoutError" : "TransportError";
    this.code = code;
  }
}

/**
 * What a failed attempt was, and whether another attempt can help.
 * `timedOut`: our own deadline fired (the SDK then reports an AbortError).
 */
export function classify(error: unknown, timedOut: boolean): Failure {
  const { name, httpStatus, code } = describeS3Error(error);
  const failure = (result: OriginResult, retryable: boolean, shown = name): Failure => ({
    result,
    retryable,
    name: shown,
    httpStatus,
  });
  if (timedOut) return failure(OriginResult.Timeout, true, "TimeoutError");
  if (name === "NotFound" || name === "NoSuchKey" || name === "NoSuchBucket" || httpStatus === 404) {
    return failure(OriginResult.NotFound, false);
  }
  if (name === "InvalidRange" || httpStatus === 416) return failure(OriginResult.OutOfRange, false);
  if (name === "PreconditionFailed" || httpStatus === 412)
    return failure(OriginResult.PreconditionFailed, false);
  if (throttlingCodes.has(name) || httpStatus === 429) return failure(OriginResult.Throttled, true);
  if (httpStatus !== undefined && httpStatus >= 500) return failure(OriginResult.ServerError, true);
  // S3's 400 RequestTimeout: it gave up waiting on our side of the socket.
  if (name === "RequestTimeout") return failure(OriginResult.Timeout, true);
  if (clockSkewCodes.has(name)) return failure(OriginResult.Error, true);
  if (code !== undefined && connectionCodes.has(code)) return failure(OriginResult.Reset, true, code);
  // The SDK names ECONNRESET a TimeoutError too, hence after the codes.
  if (code === "ETIMEDOUT" || name === "TimeoutError")
    return failure(OriginResult.Timeout, true, code ?? name);
  if (name === "AbortError") return failure(OriginResult.Aborted, false);
  return failure(OriginResult.Error, false);
}

export function describeS3Error(error: unknown): {
  name: string;
  httpStatus: number | undefined;
  code: string | undefined;
} {
  if (typeof error !== "object" || error === null)
    return { name: "Error", httpStatus: undefined, code: undefined };
  const e = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const name = typeof e.name === "string" ? e.name : "Error";
  const status = e.$metadata?.httpStatusCode;
  const code = typeof e.code === "string" ? e.code : undefined;
  return { name, httpStatus: typeof status === "number" ? status : undefined, code };
}
