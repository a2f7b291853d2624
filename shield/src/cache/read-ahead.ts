export interface ReadAheadOptions {
  /** Slices fetched ahead of a sequential reader's last read. 0 turns read-ahead off. */
  readonly slices: number;
  readonly sliceBytes: number;
  /**
   * Read streams remembered (one per viewer position, so about the number
   * of plays running at once); the oldest is forgotten first. @default 4096
   */
  readonly maxStreams?: number;
}

/** Slices [first, last] to prefetch; empty when first > last. */
export interface PrefetchSpan {
  readonly first: number;
  readonly last: number;
}

const none: PrefetchSpan = { first: 1, last: 0 };

/**
 * Sequential-read detection per object version. A read that starts exactly
 * where an earlier read of the same version ended continues a stream (an
 * edge plays a file as consecutive block reads); for such a read the slices
 * after it are worth fetching before they are asked for, so the next read
 * finds them in memory or in flight instead of paying S3's first-byte
 * latency. Streams are keyed by version and end offset, so many viewers of
 * one object at different positions are told apart, and fifty viewers who
 * start the same object together are not mistaken for one sequential
 * reader. Bounded: at most `slices` slices past a read, never past the
 * object's end, and a bounded number of remembered streams.
 */
export class ReadAhead {
  readonly #slices: number;
  readonly #sliceBytes: number;
  readonly #maxStreams: number;
  /** `${endOffset}@${versionId}` → reads in the stream so far; least recently used first. */
  readonly #streams = new Map<string, number>();

  constructor(options: ReadAheadOptions) {
    this.#slices = Math.max(0, Math.floor(options.slices));
    this.#sliceBytes = options.sliceBytes;
    this.#maxStreams = Math.max(1, options.maxStreams ?? 4096);
  }

  get streams(): number {
    return this.#streams.size;
  }

  /**
   * Records the read [offset, end) of the version (an object of objectSize
   * bytes) and returns the slices to prefetch for it.
   */
  onRead(versionId: string, offset: number, end: number, objectSize: number): PrefetchSpan {
    if (this.#slices === 0) return none;
    const continued = `${offset}@${versionId}`;
    const run = this.#streams.get(continued);
    if (run !== undefined) this.#streams.delete(continued);
    if (end < objectSize) {
      this.#streams.set(`${end}@${versionId}`, (run ?? 0) + 1);
      if (this.#streams.size > this.#maxStreams) {
        const oldest = this.#streams.keys().next();
        if (!oldest.done) this.#streams.delete(oldest.value);
      }
    }
    if (run === undefined) return none;
    const lastRead = Math.floor((end - 1) / this.#sliceBytes);
    const lastSlice = Math.ceil(objectSize / this.#sliceBytes) - 1;
    return { first: lastRead + 1, last: Math.min(lastSlice, lastRead + this.#slices) };
  }
}
