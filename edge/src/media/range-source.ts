/** Random access to one immutable object; reads may go over the network. */
export interface RangeSource {
  readonly size: number;
  /** Resolves exactly min(length, size - offset) bytes starting at offset. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * The same bytes as read(), synchronously, when the source already holds
   * them (a cache); null when they would take I/O. A source shared by many
   * readers (the edge's slice cache) returns the same Buffer to all of them,
   * so what is built from it (chunked messages) can be shared too.
   */
  readCached?(offset: number, length: number): Buffer | null;
}

/** An in-memory RangeSource, for tests and for objects already held whole. */
export function bufferSource(buf: Buffer): RangeSource {
  return {
    size: buf.length,
    read(offset: number, length: number): Promise<Buffer> {
      const start = Math.max(0, Math.min(offset, buf.length));
      return Promise.resolve(buf.subarray(start, Math.min(buf.length, start + Math.max(0, length))));
    },
  };
}
