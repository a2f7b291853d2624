import type { Readable } from "node:stream";
import { errorMessage } from "../../../lib/errors.js";
import type { Logger } from "../../../lib/log.js";
import { ShieldError, ShieldErrorCode } from "../errors.js";
import { type BackoffPolicy, backoffDelayMs, sleep } from "../retry.js";
import { IdleTimer } from "./attempt-deadline.js";
import { classify, OriginResult, TransportError } from "./outcome.js";

/**
 * The body of a ranged read that survives a broken connection: when S3's
 * body stops short, the read goes on from the next byte with a new GET
 * pinned (If-Match) to the ETag of the first answer, so a replaced object
 * fails with ObjectChanged instead of mixing versions. S3Origin sends the
 * GETs; this is the reading, cutting and resuming.
 */

/** A GET that answered, with its body not yet (fully) consumed. */
export interface BodyExchange {
  readonly body: Readable;
  readonly etag: string;
  readonly objectSize: number;
  readonly attempt: number;
  /** Stops the body (unless it ended), counts the request, frees its slot; idempotent. */
  finish(result: OriginResult): void;
}

/** A range being read, possibly over several GETs. */
export interface ResumableRead {
  /** bucket/key, for messages. */
  readonly what: string;
  /** Bytes the caller gets at most. */
  readonly total: number;
  /** The version every resumed GET is pinned to (If-Match); empty when S3 sent no ETag, and then no resuming. */
  readonly etag: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The GET being read now. */
  current: BodyExchange;
  /** Sends the GET of the rest, from byte `from` of the range on, counting attempts from firstAttempt. */
  resume(from: number, firstAttempt: number): Promise<BodyExchange>;
}

/** How patient a read is: S3Origin's settings. */
export interface ResumePolicy {
  /** Silence while waiting for body bytes after which the body counts as broken. */
  readonly timeoutMs: number;
  /** Attempts in a run of failures without a single new byte. */
  readonly maxAttempts: number;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  /** Told of every body chunk; bound to the body's bucket by S3Origin. */
  readonly observer: { bytes(count: number): void };
}

/**
 * Yields the body's chunks, cut at `total` bytes: a server that ignores
 * the end of the Range header (s3rver answers `bytes=0-0` with the whole
 * object) must not make the shield send more than was asked. When the
 * body breaks, continues from the next byte with a new GET pinned to the
 * same ETag; attempts without a single new byte are bounded by maxAttempts.
 */
export async function* resumableBody(
  read: ResumableRead,
  policy: ResumePolicy,
  cleanup: () => void,
): AsyncGenerator<Buffer> {
  const { signal, log, total } = read;
  let done = 0;
  /** Attempts in the current run of failures without progress, the one in flight included. */
  let attempt = read.current.attempt;
  try {
    for (;;) {
      const current = read.current;
      const before = done;
      try {
        const idle = new IdleTimer(policy.timeoutMs, () =>
          current.body.destroy(new TransportError("ETIMEDOUT", `no body bytes for ${policy.timeoutMs} ms`)),
        );
        try {
          idle.arm();
          for await (const chunk of current.body) {
            idle.disarm();
            const buf = chunk as Buffer;
            const take = Math.min(buf.length, total - done);
            if (take <= 0) break;
            done += take;
            policy.observer.bytes(take);
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
        if (!failure.retryable || !read.etag || attempt >= policy.maxAttempts) {
          log.warn({ err: error, read: done, total, attempt }, "S3 body failed");
          const reason = !read.etag && failure.retryable ? "; no ETag to resume against" : "";
          throw new ShieldError(
            ShieldErrorCode.OriginUnavailable,
            `${read.what}: S3 body failed after ${done} of ${total} bytes (${why}${reason})`,
            { cause: error },
          );
        }
        const waitMs = backoffDelayMs(attempt, policy.backoff, policy.random);
        log.debug({ read: done, total, attempt, result: failure.result, waitMs }, "S3 body failed; resuming");
        await sleep(waitMs, signal);
        read.current = await read.resume(done, attempt + 1);
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
