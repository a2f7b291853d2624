import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { errorMessage } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { ShieldError, ShieldErrorCode } from "./errors.js";
import type { ObjectInfo, Origin, OriginRange } from "./origin.js";

/** S3 operations, a fixed set for the metrics label. */
export const OriginOperation = { Head: "head", Get: "get" } as const;
export type OriginOperation = (typeof OriginOperation)[keyof typeof OriginOperation];

/** How one S3 request ended, a fixed set for the metrics label. */
export const OriginResult = {
  Ok: "ok",
  NotFound: "not_found",
  OutOfRange: "out_of_range",
  PreconditionFailed: "precondition_failed",
  Aborted: "aborted",
  Error: "error",
} as const;
export type OriginResult = (typeof OriginResult)[keyof typeof OriginResult];

/** Receives what S3Origin measures; the shield's metrics implement it. */
export interface OriginObserver {
  /** Once per S3 request; seconds until S3 answered (headers, not the whole body). */
  request(operation: OriginOperation, result: OriginResult, seconds: number): void;
  /** Body bytes read from S3. Called per chunk, so implementations only add. */
  bytes(count: number): void;
}

export interface S3OriginOptions {
  readonly client: S3Client;
  readonly logger: Logger;
  readonly observer?: OriginObserver;
}

const noObserver: OriginObserver = {
  request() {},
  bytes() {},
};

/**
 * Reads objects from S3 with HeadObject and ranged GetObject. Never reads
 * more than asked: the body is consumed only as fast as the caller iterates,
 * so a slow viewer slows the S3 read instead of filling memory.
 */
export class S3Origin implements Origin {
  readonly #client: S3Client;
  readonly #logger: Logger;
  readonly #observer: OriginObserver;

  constructor(options: S3OriginOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#observer = options.observer ?? noObserver;
  }

  async stat(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    const log = this.#logger.child({ op: OriginOperation.Head, bucket, key });
    const started = performance.now();
    try {
      const out = await this.#client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key }),
        signal ? { abortSignal: signal } : {},
      );
      const seconds = (performance.now() - started) / 1000;
      this.#observer.request(OriginOperation.Head, OriginResult.Ok, seconds);
      log.debug({ ms: Math.round(seconds * 1000), size: out.ContentLength }, "S3 request done");
      return {
        size: out.ContentLength ?? 0,
        etag: out.ETag ?? "",
        lastModifiedMs: out.LastModified?.getTime() ?? 0,
        contentType: out.ContentType ?? "",
        cacheControl: out.CacheControl ?? "",
      };
    } catch (error) {
      throw this.#failed(error, OriginOperation.Head, started, log, `${bucket}/${key}`, signal);
    }
  }

  async readRange(
    bucket: string,
    key: string,
    offset: number,
    length: number,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<OriginRange> {
    const range = `bytes=${offset}-${offset + length - 1}`;
    const log = this.#logger.child({ op: OriginOperation.Get, bucket, key, range });
    const started = performance.now();
    let body: Readable;
    let objectSize: number;
    let actualEtag: string;
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: range, ...(etag ? { IfMatch: etag } : {}) }),
        { abortSignal: signal },
      );
      if (!(out.Body instanceof Readable)) {
        throw new ShieldError(ShieldErrorCode.OriginUnavailable, "S3 returned no readable body");
      }
      body = out.Body;
      actualEtag = out.ETag ?? "";
      objectSize = sizeFromContentRange(out.ContentRange) ?? offset + (out.ContentLength ?? 0);
      // Some S3 clones ignore If-Match; the ETag of the response decides.
      if (etag && actualEtag && actualEtag !== etag) {
        body.destroy();
        this.#observer.request(OriginOperation.Get, OriginResult.PreconditionFailed, elapsed(started));
        log.debug({ expected: etag, actual: actualEtag }, "S3 object changed");
        throw objectChanged(bucket, key, etag, actualEtag);
      }
    } catch (error) {
      if (error instanceof ShieldError) throw error;
      throw this.#failed(error, OriginOperation.Get, started, log, `${bucket}/${key} ${range}`, signal);
    }
    const seconds = elapsed(started);
    this.#observer.request(OriginOperation.Get, OriginResult.Ok, seconds);
    log.debug({ ms: Math.round(seconds * 1000), objectSize }, "S3 request answered");
    const total = Math.max(0, Math.min(length, objectSize - offset));
    // Registered before anyone iterates, so aborting also releases a body
    // that is never consumed (the caller failed between here and the loop).
    const onAbort = () => body.destroy();
    if (signal.aborted) body.destroy();
    else signal.addEventListener("abort", onAbort, { once: true });
    const cleanup = () => signal.removeEventListener("abort", onAbort);
    return {
      offset,
      length: total,
      objectSize,
      etag: actualEtag,
      [Symbol.asyncIterator]: () => this.#iterate(body, total, signal, log, cleanup),
    };
  }

  /**
   * Yields the body's chunks, cut at `total` bytes: a server that ignores
   * the end of the Range header (s3rver answers `bytes=0-0` with the whole
   * object) must not make the shield send more than was asked.
   */
  async *#iterate(
    body: Readable,
    total: number,
    signal: AbortSignal,
    log: Logger,
    cleanup: () => void,
  ): AsyncGenerator<Buffer> {
    let read = 0;
    try {
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        const take = Math.min(buf.length, total - read);
        if (take <= 0) break;
        read += take;
        this.#observer.bytes(take);
        yield take === buf.length ? buf : buf.subarray(0, take);
        if (read >= total) break;
      }
      if (read < total) {
        throw new ShieldError(
          ShieldErrorCode.OriginUnavailable,
          `S3 body ended after ${read} of ${total} bytes`,
        );
      }
    } catch (error) {
      if (signal.aborted) {
        log.debug({ read, total }, "S3 read aborted");
        throw new ShieldError(ShieldErrorCode.Aborted, "read aborted", { cause: error });
      }
      log.warn({ err: error, read, total }, "S3 body failed");
      if (error instanceof ShieldError) throw error;
      throw new ShieldError(ShieldErrorCode.OriginUnavailable, `S3 body failed: ${errorMessage(error)}`, {
        cause: error,
      });
    } finally {
      cleanup();
      // Stopping early (break, or the consumer's return()) leaves the
      // socket mid-body; destroying it is what cancels the S3 transfer.
      if (!body.readableEnded) body.destroy();
    }
  }

  #failed(
    error: unknown,
    operation: OriginOperation,
    started: number,
    log: Logger,
    what: string,
    signal: AbortSignal | undefined,
  ): ShieldError {
    const { name, httpStatus } = describeS3Error(error);
    const seconds = elapsed(started);
    if (signal?.aborted || name === "AbortError") {
      this.#observer.request(operation, OriginResult.Aborted, seconds);
      log.debug("S3 request aborted");
      return new ShieldError(ShieldErrorCode.Aborted, `${what}: aborted`, { cause: error });
    }
    if (name === "NotFound" || name === "NoSuchKey" || name === "NoSuchBucket" || httpStatus === 404) {
      this.#observer.request(operation, OriginResult.NotFound, seconds);
      log.debug({ s3Error: name }, "S3 object not found");
      const what404 = name === "NoSuchBucket" ? "bucket does not exist" : "object does not exist";
      return new ShieldError(ShieldErrorCode.ObjectNotFound, `${what}: ${what404}`, { cause: error });
    }
    if (name === "InvalidRange" || httpStatus === 416) {
      this.#observer.request(operation, OriginResult.OutOfRange, seconds);
      log.debug("S3 range not satisfiable");
      return new ShieldError(ShieldErrorCode.RangeNotSatisfiable, `${what}: offset is at or past the end`, {
        cause: error,
      });
    }
    if (name === "PreconditionFailed" || httpStatus === 412) {
      this.#observer.request(operation, OriginResult.PreconditionFailed, seconds);
      log.debug("S3 precondition failed");
      return new ShieldError(ShieldErrorCode.ObjectChanged, `${what}: the object changed (ETag differs)`, {
        cause: error,
      });
    }
    this.#observer.request(operation, OriginResult.Error, seconds);
    log.warn({ err: error, s3Error: name, httpStatus, ms: Math.round(seconds * 1000) }, "S3 request failed");
    return new ShieldError(
      ShieldErrorCode.OriginUnavailable,
      `${what}: S3 failed (${name}${httpStatus ? ` ${httpStatus}` : ""})`,
      { cause: error },
    );
  }
}

export function objectChanged(bucket: string, key: string, expected: string, actual: string): ShieldError {
  return new ShieldError(
    ShieldErrorCode.ObjectChanged,
    `${bucket}/${key}: the object changed (ETag ${actual} vs expected ${expected})`,
  );
}

function elapsed(started: number): number {
  return (performance.now() - started) / 1000;
}

/** "bytes 0-99/1234" → 1234; undefined when absent or "*". */
export function sizeFromContentRange(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const match = /^bytes \d+-\d+\/(\d+)$/.exec(header.trim());
  return match ? Number(match[1]) : undefined;
}

function describeS3Error(error: unknown): { name: string; httpStatus: number | undefined } {
  if (typeof error !== "object" || error === null) return { name: "Error", httpStatus: undefined };
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const name = typeof e.name === "string" ? e.name : "Error";
  const code = e.$metadata?.httpStatusCode;
  return { name, httpStatus: typeof code === "number" ? code : undefined };
}
