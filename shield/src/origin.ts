/**
 * What the shield's gRPC service reads objects from. S3Origin is the first
 * implementation; a slice cache and request collapsing (a later version)
 * wrap an Origin and are one themselves, so the service does not change.
 */

export interface ObjectInfo {
  readonly size: number;
  /** As S3 sends it, with its quotes. */
  readonly etag: string;
  /** Milliseconds since the Unix epoch; 0 when unknown. */
  readonly lastModifiedMs: number;
  readonly contentType: string;
  readonly cacheControl: string;
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
  /** Throws ShieldError ObjectNotFound / OriginUnavailable / Aborted. */
  stat(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectInfo>;
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
