import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { Logger } from "../../lib/log.js";
import { traces } from "../../lib/trace/channels.js";
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
import { Deadline } from "./s3/attempt-deadline.js";
import { parseContentRange, rangeHeader } from "./s3/content-range.js";
import {
  classify,
  describeS3Error,
  type Failure,
  noObserver,
  type OriginObserver,
  OriginOperation,
  OriginResult,
} from "./s3/outcome.js";
import {
  type BodyExchange,
  type ResumableRead,
  type ResumePolicy,
  resumableBody,
} from "./s3/resumable-body.js";

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
  /** Reads that may wait for a slot per bucket before new ones fail with Overloaded. @default 1024 */
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

const s3OriginDefaults = {
  maxAttempts: 4,
  timeoutMs: 10_000,
  maxConcurrencyPerBucket: 64,
  maxQueuedPerBucket: 1_024,
  maxLookupsPerBucket: bucketLimiterDefaults.maxLookups,
  maxQueuedLookupsPerBucket: bucketLimiterDefaults.maxQueuedLookups,
} as const;

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

/** One S3 request as #send runs it (retries included). */
interface S3Request {
  readonly operation: OriginOperation;
  readonly lane: Lane;
  readonly bucket: string;
  /** bucket/key (and range), for messages. */
  readonly what: string;
  /** The object key and the GET's Range header (null for a HEAD), for the S3 trace events. */
  readonly key: string;
  readonly range: string | null;
  readonly log: Logger;
  readonly signal: AbortSignal | undefined;
  /** The attempt number of the first try: a resume continues its read's count. */
  readonly firstAttempt: number;
}

/** One ranged GET as #get sends it. */
interface RangeGet {
  readonly bucket: string;
  readonly key: string;
  /** First and last byte, inclusive (the Range header's numbers). */
  readonly start: number;
  readonly end: number;
  /** The ETag the answer must carry; undefined for the first GET of a read without one. */
  readonly ifMatch: string | undefined;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly firstAttempt: number;
}

/** A request that failed for good, as #giveUp reports it. */
interface EndedRequest {
  readonly error: unknown;
  readonly what: string;
  readonly attempts: number;
  readonly seconds: number;
  readonly log: Logger;
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
 *   replaced object fails with ObjectChanged, it never mixes versions
 *   (s3/resumable-body.ts).
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
  readonly #resumePolicy: ResumePolicy;

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
    this.#resumePolicy = {
      timeoutMs: this.#timeoutMs,
      maxAttempts: this.#maxAttempts,
      backoff: this.#backoff,
      random: this.#random,
      // Each body binds its own (with its bucket); see readRange.
      observer: { bytes() {} },
    };
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
    const request: S3Request = {
      operation: OriginOperation.Head,
      lane: options?.kind === StatKind.Play ? Lane.Open : Lane.Lookup,
      bucket,
      what: `${bucket}/${key}`,
      key,
      range: null,
      log,
      signal,
      firstAttempt: 1,
    };
    const exchange = await this.#send(
      request,
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
    const first = await this.#get({
      bucket,
      key,
      start: offset,
      end: offset + length - 1,
      ifMatch: etag,
      signal,
      log,
      firstAttempt: 1,
    });
    const total = Math.max(0, Math.min(length, first.objectSize - offset));
    const pinnedEtag = etag || first.etag;
    const read: ResumableRead = {
      what: `${bucket}/${key}`,
      total,
      etag: pinnedEtag,
      signal,
      log,
      current: first,
      resume: (from, firstAttempt) =>
        this.#get({
          bucket,
          key,
          start: offset + from,
          end: offset + total - 1,
          ifMatch: pinnedEtag,
          signal,
          log,
          firstAttempt,
        }),
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
      [Symbol.asyncIterator]: () => {
        const observer = this.#observer;
        // Bound once per body, so a chunk costs the observer's addition only.
        const policy = {
          ...this.#resumePolicy,
          observer: { bytes: (n: number) => observer.bytes(n, bucket) },
        };
        return resumableBody(read, policy, cleanup);
      },
    };
  }

  /** A ranged GET, retried until it answers; checks that the answer is the asked-for version and start. */
  async #get(get: RangeGet): Promise<BodyExchange> {
    const { bucket, key, start, end, ifMatch, log } = get;
    const range = `bytes=${start}-${end}`;
    const exchange = await this.#send(
      {
        operation: OriginOperation.Get,
        lane: Lane.Read,
        bucket,
        what: `${bucket}/${key} ${range}`,
        key,
        range,
        log,
        signal: get.signal,
        firstAttempt: get.firstAttempt,
      },
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
  async #send<T>(request: S3Request, call: (abortSignal: AbortSignal) => Promise<T>): Promise<Exchange<T>> {
    const { operation, lane, bucket, what, log, signal, firstAttempt } = request;
    for (let attempt = firstAttempt; ; attempt++) {
      const release = await this.#limiter.acquire(bucket, signal, lane).catch((error: unknown) => {
        if (
          error instanceof ShieldError &&
          (error.code === ShieldErrorCode.Overloaded || error.code === ShieldErrorCode.LookupsShed)
        ) {
          // Counted, logged at debug only: under a flood a line per refusal
          // would be a second flood, into the logs.
          this.#observer.refused(operation, bucket);
          log.debug(
            { inFlight: this.#limiter.inFlight(bucket), lane },
            "S3 request refused: bucket lane full",
          );
        }
        throw error;
      });
      const started = performance.now();
      if (traces.s3Request.hasSubscribers)
        traces.s3Request.publish({ operation, bucket, key: request.key, range: request.range, attempt });
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
        this.#ended(request, attempt, result, seconds);
        if (signal?.aborted) {
          log.debug("S3 request aborted");
          throw new ShieldError(ShieldErrorCode.Aborted, `${what}: aborted`, { cause: error });
        }
        if (!failure.retryable || attempt >= this.#maxAttempts) {
          throw this.#giveUp(failure, { error, what, attempts: attempt, seconds, log });
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
          this.#ended(request, attempt, result, seconds);
        },
      };
    }
  }

  /** The ShieldError a request ends with once it will not be retried. */
  /** One attempt's end, failed or answered: its metrics and, when traced, its shield:s3 response event. */
  #ended(request: S3Request, attempt: number, result: OriginResult, seconds: number): void {
    const { operation, bucket } = request;
    this.#observer.request(operation, result, seconds, bucket);
    if (traces.s3Response.hasSubscribers)
      traces.s3Response.publish({
        operation,
        bucket,
        key: request.key,
        range: request.range,
        attempt,
        result,
        durationMs: seconds * 1000,
      });
  }

  #giveUp(failure: Failure, ended: EndedRequest): ShieldError {
    const { error, what, attempts, seconds, log } = ended;
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

function objectChanged(bucket: string, key: string, expected: string, actual: string): ShieldError {
  return new ShieldError(
    ShieldErrorCode.ObjectChanged,
    `${bucket}/${key}: the object changed (ETag ${actual} vs expected ${expected})`,
  );
}

function elapsed(started: number): number {
  return (performance.now() - started) / 1000;
}
