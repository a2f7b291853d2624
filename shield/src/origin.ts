/**
 * What the shield's gRPC service reads objects from. S3Origin reads S3;
 * CachingOrigin (cache/caching-origin.ts: slice cache, request collapsing)
 * wraps an Origin and is one itself, so the service does not change.
 */

export interface ObjectInfo {
  readonly size: number;
  /** As S3 sends it, with its quotes. */
  readonly etag: string;
  /** Milliseconds since the Unix epoch; 0 when unknown. */
  readonly lastModifiedMs: number;
  readonly contentType: string;
  readonly cacheControl: string;
  /**
   * Set only by a conditional stat (StatOptions.ifNoneMatch) whose ETag
   * still matched: the origin answered "not modified" (S3: HEAD with
   * If-None-Match → 304). `etag` is then that ETag and the other fields are
   * unknown (0 or ""); the caller keeps what it holds.
   */
  readonly notModified?: true;
}

/**
 * Why a stat is made. S3Origin queues a play's open (Play) ahead of other
 * lookups (getStreamLength, revalidations, callers that do not say), which
 * are the first to be shed when a bucket's HEADs are flooded.
 */
export const StatKind = { Play: "play", Lookup: "lookup" } as const;
export type StatKind = (typeof StatKind)[keyof typeof StatKind];

export interface StatOptions {
  /** @default StatKind.Lookup */
  readonly kind?: StatKind;
  /**
   * Revalidation: the ETag the caller holds. When the object still has it
   * the origin resolves with notModified instead of the full info.
   */
  readonly ifNoneMatch?: string;
}

/** The answer to a conditional stat whose ETag still matches. */
export function notModifiedInfo(etag: string): ObjectInfo {
  return { size: 0, etag, lastModifiedMs: 0, contentType: "", cacheControl: "", notModified: true };
}

/**
 * The bytes [offset, offset + length) of one version of an object, as an
 * async iterable of chunks in order. Whoever iterates it must either finish
 * or stop early (break/abort), which releases the underlying request.
 */
export interface OriginRange extends AsyncIterable<Buffer> {
  readonly offset: number;
  /** Bytes the iteration yields in total (already cut at the object's end). */
  readonly length: number;
  readonly objectSize: number;
  readonly etag: string;
}

export interface Origin {
  /**
   * Throws ShieldError ObjectNotFound / OriginUnavailable / Aborted. Without
   * options (or without ifNoneMatch) it never resolves with notModified.
   */
  stat(bucket: string, key: string, signal?: AbortSignal, options?: StatOptions): Promise<ObjectInfo>;
  /**
   * Starts reading; resolves once the origin answered, before any byte is
   * consumed, so refusals (ObjectNotFound, RangeNotSatisfiable,
   * ObjectChanged, OriginUnavailable) are thrown here rather than mid-stream.
   * Aborting the signal stops the origin request and ends the iteration with
   * ShieldError Aborted.
   */
  readRange(
    bucket: string,
    key: string,
    offset: number,
    length: number,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<OriginRange>;
}
