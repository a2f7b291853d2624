import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { errorMessage } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { BucketLimiter, bucketLimiterDefaults, Lane } from "./bucket-limiter.js";
import { ShieldError, ShieldErrorCode } from "./errors.js";
import { bucketProblem, keyProblem } from "./object-key.js";
import {
  notModifiedInfo,
  type ObjectInfo,
  type Origin,
  type OriginRange,
  StatKind,
  type StatOptions,
} from "./origin.js";
import { type BackoffPolicy, backoffDelayMs, defaultBackoff, sleep } from "./retry.js";

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
  request(operation: OriginOperation, result: OriginResult, seconds: number): void;
  /** Body bytes read from S3. Called per chunk, so implementations only add. */
  bytes(count: number): void;
  /**
   * A request refused before S3 was asked because its bucket's lane was
   * full: a lookup shed (LookupsShed) or a read over the queue bound.
   */
  refused(operation: OriginOperation): void;
}

export interface S3OriginOptions {
  /**
   * The client, or a function choosing one per bucket (origins in several
   * regions or endpoints, e.g. an S3ClientPool behind a bucket table). The
   * client's own retries should be off (createS3Client's default): S3Origin
   * retries itself.
   */
  readonly client: S3Client | ((bucket: string) => S3Client);
  readonly logger: Logger;
  readonly observer?: OriginObserver;
  /** Attempts per request, the first included; also bounds the resumes of a body without progress (s3-max-attempts). @default 4 */
  readonly maxAttempts?: number;
  /** Per attempt: ms until S3 answers, and the longest wait for the next body bytes (s3-timeout-ms). @default 10000 */
  readonly timeoutMs?: number;
  /** S3 requests in flight per bucket (s3-max-concurrency-per-bucket). @default 64 */
  readonly maxConcurrencyPerBucket?: number;
  /** Reads that may wait for a slot per bucket before new ones fail with OriginUnavailable. @default 1024 */
  readonly maxQueuedPerBucket?: number;
  /** HEADs in flight per bucket, out of maxConcurrencyPerBucket (s3-max-lookups-per-bucket). @default 16 */
  readonly maxLookupsPerBucket?: number;
  /** HEADs that may wait per bucket before new ones are shed with LookupsShed (s3-max-queued-lookups-per-bucket). @default 64 */
  readonly maxQueuedLookupsPerBucket?: number;
  /** Wait before retries. @default { baseMs: 50, capMs: 2000 } */
  readonly backoff?: BackoffPolicy;
  /** Source of the backoff jitter, [0, 1). @default Math.random */
  readonly random?: () => number;
}

export const s3OriginDefaults = {
  maxAttempts: 4,
  timeoutMs: 10_000,
  maxConcurrencyPerBucket: 64,
  maxQueuedPerBucket: 1_024,
  maxLookupsPerBucket: bucketLimiterDefaults.maxLookups,
  maxQueuedLookupsPerBucket: bucketLimiterDefaults.maxQueuedLookups,
} as const;

const noObserver: OriginObserver = {
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
class TransportError extends Error {
  readonly code: string;

  constructor(code: "ETIMEDOUT" | "ECONNRESET", message: string) {
    super(message);
    this.name = code === "ETIMEDOUT" ? "TimeoutError" : "TransportError";
    this.code = code;
  }
}

/**
 * One S3 request that answered: its output, and the bookkeeping to do once
 * when it ends (count it, give the bucket slot back).
 */
interface Exchange<T> {
  readonly output: T;
  /** 1 for the first attempt of this request. */
  readonly attempt: number;
  /** Idempotent: only the first call counts. */
  finish(result: OriginResult): void;
}

/** A GET that answered, with its body not yet (fully) consumed. */
interface BodyExchange {
  readonly body: Readable;
  readonly etag: string;
  readonly objectSize: number;
  readonly attempt: number;
  /** Stops the body (unless it ended), counts the request, frees its slot; idempotent. */
  finish(result: OriginResult): void;
}

/** A range being read, possibly over several GETs. */
interface RangeRead {
  readonly bucket: string;
  readonly key: string;
  readonly offset: number;
  readonly total: number;
  /** The version every resumed GET is pinned to (If-Match); empty when S3 sent no ETag. */
  readonly etag: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  current: BodyExchange;
}

/**
 * Reads objects from S3 with HeadObject and ranged GetObject. Never reads
 * more than asked: the body is consumed only as fast as the caller iterates,
 * so a slow viewer slows the S3 read instead of filling memory.
 *
 * Resilience, all per attempt and visible in the observer:
 * - Retries with full-jitter backoff on 5xx, throttling, broken connections
 *   and timeouts, for HEAD and for GET until it answered; up to maxAttempts.
 * - A body that breaks mid-stream is resumed with a ranged GET from the
 *   next byte, pinned with If-Match to the ETag of the first answer: a
 *   replaced object fails with ObjectChanged, it never mixes versions.
 * - Timeouts: timeoutMs until the headers, and timeoutMs of silence while
 *   waiting for body bytes (time the caller spends with a chunk does not
 *   count, so backpressure is not mistaken for a dead S3).
 * - At most maxConcurrencyPerBucket requests per bucket in flight; the
 *   rest wait in a bounded queue, leaving it when their signal aborts.
 */
export class S3Origin implements Origin {
  readonly #clientFor: (bucket: string) => S3Client;
  readonly #logger: Logger;
  readonly #observer: OriginObserver;
  readonly #maxAttempts: number;
  readonly #timeoutMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #limiter: BucketLimiter;

  constructor(options: S3OriginOptions) {
    const client = options.client;
    this.#clientFor = typeof client === "function" ? client : () => client;
    this.#logger = options.logger;
    this.#observer = options.observer ?? noObserver;
    this.#maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? s3OriginDefaults.maxAttempts));
    this.#timeoutMs = options.timeoutMs ?? s3OriginDefaults.timeoutMs;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#random = options.random ?? Math.random;
    this.#limiter = new BucketLimiter({
      maxConcurrent: options.maxConcurrencyPerBucket ?? s3OriginDefaults.maxConcurrencyPerBucket,
      maxQueued: options.maxQueuedPerBucket ?? s3OriginDefaults.maxQueuedPerBucket,
      maxLookups: Math.min(
        options.maxLookupsPerBucket ?? s3OriginDefaults.maxLookupsPerBucket,
        options.maxConcurrencyPerBucket ?? s3OriginDefaults.maxConcurrencyPerBucket,
      ),
      maxQueuedLookups: options.maxQueuedLookupsPerBucket ?? s3OriginDefaults.maxQueuedLookupsPerBucket,
    });
  }

  /** Requests to the bucket in flight now (GETs until their body is done). */
  inFlight(bucket: string): number {
    return this.#limiter.inFlight(bucket);
  }

  /** Requests waiting for a slot now over all buckets, by lane. */
  queuedByLane(): Record<Lane, number> {
    return this.#limiter.queuedByLane();
  }

  /** HEADs to the bucket in flight now. */
  lookupsInFlight(bucket: string): number {
    return this.#limiter.lookupsInFlight(bucket);
  }

  /** Requests to the bucket waiting for a slot now (both lanes). */
  queued(bucket: string): number {
    return this.#limiter.queued(bucket);
  }

  async stat(bucket: string, key: string, signal?: AbortSignal, options?: StatOptions): Promise<ObjectInfo> {
    checkAddressable(bucket, key);
    const log = this.#logger.child({ op: OriginOperation.Head, bucket, key });
    const ifNoneMatch = options?.ifNoneMatch;
    const exchange = await this.#send(
      OriginOperation.Head,
      options?.kind === StatKind.Play ? Lane.Open : Lane.Lookup,
      bucket,
      `${bucket}/${key}`,
      log,
      signal,
      1,
      async (abortSignal): Promise<HeadObjectCommandOutput | undefined> => {
        try {
          return await this.#clientFor(bucket).send(
            new HeadObjectCommand({
              Bucket: bucket,
              Key: key,
              ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}),
            }),
            { abortSignal },
          );
        } catch (error) {
          // The SDK throws on a 304; for a conditional HEAD it is the answer "unchanged".
          if (ifNoneMatch && describeS3Error(error).httpStatus === 304) return undefined;
          throw error;
        }
      },
    );
    const out = exchange.output;
    if (!out) {
      exchange.finish(OriginResult.NotModified);
      log.debug("S3 object not modified");
      return notModifiedInfo(ifNoneMatch ?? "");
    }
    exchange.finish(OriginResult.Ok);
    log.debug({ size: out.ContentLength, attempt: exchange.attempt }, "S3 request done");
    return {
      size: out.ContentLength ?? 0,
      etag: out.ETag ?? "",
      lastModifiedMs: out.LastModified?.getTime() ?? 0,
      contentType: out.ContentType ?? "",
      cacheControl: out.CacheControl ?? "",
    };
  }

  async readRange(
    bucket: string,
    key: string,
    offset: number,
    length: number,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<OriginRange> {
    checkAddressable(bucket, key);
    const log = this.#logger.child({
      op: OriginOperation.Get,
      bucket,
      key,
      range: rangeHeader(offset, length),
    });
    const first = await this.#get(bucket, key, offset, offset + length - 1, etag, signal, log, 1);
    const total = Math.max(0, Math.min(length, first.objectSize - offset));
    const read: RangeRead = {
      bucket,
      key,
      offset,
      total,
      etag: etag || first.etag,
      signal,
      log,
      current: first,
    };
    // Registered before anyone iterates, so aborting also releases a body
    // that is never consumed (the caller failed between here and the loop).
    // It always stops the GET of the moment, resumed ones included.
    const onAbort = () => read.current.finish(OriginResult.Aborted);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    const cleanup = () => signal.removeEventListener("abort", onAbort);
    return {
      offset,
      length: total,
      objectSize: first.objectSize,
      etag: first.etag,
      [Symbol.asyncIterator]: () => this.#iterate(read, cleanup),
    };
  }

  /**
   * Yields the body's chunks, cut at `total` bytes: a server that ignores
   * the end of the Range header (s3rver answers `bytes=0-0` with the whole
   * object) must not make the shield send more than was asked. When the
   * body breaks, continues from the next byte with a new GET pinned to the
   * same ETag; attempts without a single new byte are bounded by maxAttempts.
   */
  async *#iterate(read: RangeRead, cleanup: () => void): AsyncGenerator<Buffer> {
    const { signal, log, total } = read;
    let done = 0;
    /** Attempts in the current run of failures without progress, the one in flight included. */
    let attempt = read.current.attempt;
    try {
      for (;;) {
        const current = read.current;
        const before = done;
        try {
          const idle = new IdleTimer(this.#timeoutMs, () =>
            current.body.destroy(new TransportError("ETIMEDOUT", `no body bytes for ${this.#timeoutMs} ms`)),
          );
          try {
            idle.arm();
            for await (const chunk of current.body) {
              idle.disarm();
              const buf = chunk as Buffer;
              const take = Math.min(buf.length, total - done);
              if (take <= 0) break;
              done += take;
              this.#observer.bytes(take);
              yield take === buf.length ? buf : buf.subarray(0, take);
              if (done >= total) break;
              idle.arm();
            }
          } finally {
            idle.disarm();
          }
          if (done >= total) {
            current.finish(OriginResult.Ok);
            return;
          }
          throw new TransportError("ECONNRESET", `S3 body ended after ${done} of ${total} bytes`);
        } catch (error) {
          if (signal.aborted) throw error;
          const failure = classify(error, false);
          current.finish(failure.result);
          if (done > before) attempt = 1;
          const why = `${failure.name}${failure.httpStatus ? ` ${failure.httpStatus}` : ""}`;
          if (!failure.retryable || !read.etag || attempt >= this.#maxAttempts) {
            log.warn({ err: error, read: done, total, attempt }, "S3 body failed");
            const reason = !read.etag && failure.retryable ? "; no ETag to resume against" : "";
            throw new ShieldError(
              ShieldErrorCode.OriginUnavailable,
              `${read.bucket}/${read.key}: S3 body failed after ${done} of ${total} bytes (${why}${reason})`,
              { cause: error },
            );
          }
          const waitMs = backoffDelayMs(attempt, this.#backoff, this.#random);
          log.debug(
            { read: done, total, attempt, result: failure.result, waitMs },
            "S3 body failed; resuming",
          );
          await sleep(waitMs, signal);
          read.current = await this.#get(
            read.bucket,
            read.key,
            read.offset + done,
            read.offset + total - 1,
            read.etag,
            signal,
            log,
            attempt + 1,
          );
          attempt = read.current.attempt;
          // An abort while that GET was being answered fired on the previous one.
          if (signal.aborted) read.current.finish(OriginResult.Aborted);
        }
      }
    } catch (error) {
      if (signal.aborted) {
        read.current.finish(OriginResult.Aborted);
        log.debug({ read: done, total }, "S3 read aborted");
        throw new ShieldError(ShieldErrorCode.Aborted, "read aborted", { cause: error });
      }
      if (error instanceof ShieldError) throw error;
      throw new ShieldError(ShieldErrorCode.OriginUnavailable, `S3 body failed: ${errorMessage(error)}`, {
        cause: error,
      });
    } finally {
      cleanup();
      // Stopping early (break, or the consumer's return()) leaves the
      // socket mid-body; destroying it is what cancels the S3 transfer.
      // S3 did nothing wrong then, so the request counts as ok.
      read.current.finish(OriginResult.Ok);
    }
  }

  /** A ranged GET, retried until it answers; checks that the answer is the asked-for version and start. */
  async #get(
    bucket: string,
    key: string,
    start: number,
    end: number,
    ifMatch: string | undefined,
    signal: AbortSignal,
    log: Logger,
    firstAttempt: number,
  ): Promise<BodyExchange> {
    const range = `bytes=${start}-${end}`;
    const exchange = await this.#send(
      OriginOperation.Get,
      Lane.Read,
      bucket,
      `${bucket}/${key} ${range}`,
      log,
      signal,
      firstAttempt,
      (abortSignal): Promise<GetObjectCommandOutput> =>
        this.#clientFor(bucket).send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            Range: range,
            ...(ifMatch ? { IfMatch: ifMatch } : {}),
          }),
          { abortSignal },
        ),
    );
    const out = exchange.output;
    const body = out.Body;
    if (!(body instanceof Readable)) {
      exchange.finish(OriginResult.Error);
      throw new ShieldError(ShieldErrorCode.OriginUnavailable, "S3 returned no readable body");
    }
    const finish = (result: OriginResult) => {
      if (!body.readableEnded) body.destroy();
      exchange.finish(result);
    };
    const actualEtag = out.ETag ?? "";
    // Some S3 clones ignore If-Match; the ETag of the response decides.
    if (ifMatch && actualEtag && actualEtag !== ifMatch) {
      finish(OriginResult.PreconditionFailed);
      log.debug({ expected: ifMatch, actual: actualEtag }, "S3 object changed");
      throw objectChanged(bucket, key, ifMatch, actualEtag);
    }
    const contentRange = parseContentRange(out.ContentRange);
    // A server that ignored Range (200, whole object) would hand a resumed
    // read the wrong bytes.
    const answeredFrom = contentRange?.start ?? 0;
    if (answeredFrom !== start) {
      finish(OriginResult.Error);
      throw new ShieldError(
        ShieldErrorCode.OriginUnavailable,
        `${bucket}/${key}: S3 answered ${range} from byte ${answeredFrom}`,
      );
    }
    return {
      body,
      etag: actualEtag,
      objectSize: contentRange?.size ?? start + (out.ContentLength ?? 0),
      attempt: exchange.attempt,
      finish,
    };
  }

  /**
   * Sends one request with retries: takes a bucket slot, times the wait for
   * the answer, and on a retryable failure waits (full jitter) and tries
   * again, up to maxAttempts counted from firstAttempt. Every attempt is
   * reported to the observer; the answered one when the caller finishes it.
   */
  async #send<T>(
    operation: OriginOperation,
    lane: Lane,
    bucket: string,
    what: string,
    log: Logger,
    signal: AbortSignal | undefined,
    firstAttempt: number,
    call: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<Exchange<T>> {
    for (let attempt = firstAttempt; ; attempt++) {
      const release = await this.#limiter.acquire(bucket, signal, lane).catch((error: unknown) => {
        if (
          error instanceof ShieldError &&
          (error.code === ShieldErrorCode.OriginUnavailable || error.code === ShieldErrorCode.LookupsShed)
        ) {
          // Counted, logged at debug only: under a flood a line per refusal
          // would be a second flood, into the logs.
          this.#observer.refused(operation);
          log.debug(
            { inFlight: this.#limiter.inFlight(bucket), lane },
            "S3 request refused: bucket lane full",
          );
        }
        throw error;
      });
      const started = performance.now();
      const deadline = new Deadline(signal, this.#timeoutMs);
      let output: T;
      try {
        output = await call(deadline.signal);
      } catch (error) {
        deadline.dispose();
        release();
        const seconds = elapsed(started);
        const failure = classify(error, deadline.timedOut && !signal?.aborted);
        const result = signal?.aborted ? OriginResult.Aborted : failure.result;
        this.#observer.request(operation, result, seconds);
        if (signal?.aborted) {
          log.debug("S3 request aborted");
          throw new ShieldError(ShieldErrorCode.Aborted, `${what}: aborted`, { cause: error });
        }
        if (!failure.retryable || attempt >= this.#maxAttempts) {
          throw this.#giveUp(failure, error, what, attempt, seconds, log);
        }
        const waitMs = backoffDelayMs(attempt, this.#backoff, this.#random);
        log.debug(
          { attempt, result: failure.result, s3Error: failure.name, httpStatus: failure.httpStatus, waitMs },
          "S3 request failed; retrying",
        );
        await sleep(waitMs, signal);
        continue;
      }
      deadline.dispose();
      const seconds = elapsed(started);
      let finished = false;
      return {
        output,
        attempt,
        finish: (result) => {
          if (finished) return;
          finished = true;
          release();
          this.#observer.request(operation, result, seconds);
        },
      };
    }
  }

  /** The ShieldError a request ends with once it will not be retried. */
  #giveUp(
    failure: Failure,
    error: unknown,
    what: string,
    attempts: number,
    seconds: number,
    log: Logger,
  ): ShieldError {
    const name = failure.name;
    switch (failure.result) {
      case OriginResult.NotFound: {
        log.debug({ s3Error: name }, "S3 object not found");
        const what404 = name === "NoSuchBucket" ? "bucket does not exist" : "object does not exist";
        return new ShieldError(ShieldErrorCode.ObjectNotFound, `${what}: ${what404}`, { cause: error });
      }
      case OriginResult.OutOfRange:
        log.debug("S3 range not satisfiable");
        return new ShieldError(ShieldErrorCode.RangeNotSatisfiable, `${what}: offset is at or past the end`, {
          cause: error,
        });
      case OriginResult.PreconditionFailed:
        log.debug("S3 precondition failed");
        return new ShieldError(ShieldErrorCode.ObjectChanged, `${what}: the object changed (ETag differs)`, {
          cause: error,
        });
      default: {
        const status = failure.httpStatus;
        log.warn(
          { err: error, s3Error: name, httpStatus: status, attempts, ms: Math.round(seconds * 1000) },
          "S3 request failed",
        );
        const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
        return new ShieldError(
          ShieldErrorCode.OriginUnavailable,
          `${what}: S3 failed${tries} (${name}${status ? ` ${status}` : ""})`,
          { cause: error },
        );
      }
    }
  }
}

/**
 * The last line before the SDK builds a URL from bucket and key: the
 * service refuses these already, but an Origin may have other callers, and
 * a key S3 would reinterpret (object-key.ts) must never reach it.
 */
function checkAddressable(bucket: string, key: string): void {
  const problem = bucketProblem(bucket) ?? keyProblem(key);
  if (problem) throw new ShieldError(ShieldErrorCode.InvalidKey, `${problem}; S3 was not asked`);
}

export function objectChanged(bucket: string, key: string, expected: string, actual: string): ShieldError {
  return new ShieldError(
    ShieldErrorCode.ObjectChanged,
    `${bucket}/${key}: the object changed (ETag ${actual} vs expected ${expected})`,
  );
}

/**
 * The signal one attempt runs under: fires when the caller's does, or when
 * timeoutMs pass without an answer (then `timedOut` tells the two apart).
 */
class Deadline {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #onParentAbort = () => this.#controller.abort(this.#parent?.reason);
  #timedOut = false;

  constructor(parent: AbortSignal | undefined, timeoutMs: number) {
    this.#parent = parent;
    if (parent?.aborted) this.#controller.abort(parent.reason);
    else parent?.addEventListener("abort", this.#onParentAbort, { once: true });
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(new TransportError("ETIMEDOUT", `S3 did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Stops the timer and the link to the caller's signal (the SDK's listener goes with the request). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#parent?.removeEventListener("abort", this.#onParentAbort);
  }
}

/** Fires after ms unless disarmed first; re-armed for every wait on S3. */
class IdleTimer {
  readonly #ms: number;
  readonly #onIdle: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms;
    this.#onIdle = onIdle;
  }

  arm(): void {
    this.disarm();
    this.#timer = setTimeout(this.#onIdle, this.#ms);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function elapsed(started: number): number {
  return (performance.now() - started) / 1000;
}

function rangeHeader(offset: number, length: number): string {
  return `bytes=${offset}-${offset + length - 1}`;
}

/** "bytes 0-99/1234" → 1234; undefined when absent or "*". */
export function sizeFromContentRange(header: string | undefined): number | undefined {
  return parseContentRange(header)?.size;
}

function parseContentRange(header: string | undefined): { start: number; size: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes (\d+)-\d+\/(\d+)$/.exec(header.trim());
  return match ? { start: Number(match[1]), size: Number(match[2]) } : undefined;
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

function describeS3Error(error: unknown): {
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
