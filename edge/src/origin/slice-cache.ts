import type { RangeSource } from "../media/range-source.js";

/** One version of one object: reads of it are cached under its ETag. */
export interface ObjectVersion {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

/** An uncached read of exactly min(length, size - offset) bytes. */
export type RangeFetch = (offset: number, length: number) => Promise<Buffer>;

export interface SliceCacheOptions {
  /** Slice size; reads are rounded out to whole, aligned slices. */
  readonly sliceBytes: number;
  /** Bound on the bytes of all cached slices (in flight ones included). */
  readonly maxBytes: number;
}

/** Counters read at scrape time. */
export interface SliceCacheStats {
  hits: number;
  misses: number;
  /** Reads that joined a fetch already in flight instead of starting their own. */
  collapsed: number;
  evictions: number;
  fetchedBytes: number;
}

interface Slice {
  readonly promise: Promise<Buffer>;
  /** The slice once fetched; reads then take views of it without waiting. */
  data: Buffer | null;
  readonly bytes: number;
}

/**
 * The edge's memory tier: fixed-size aligned slices of objects, keyed by
 * bucket, key, ETag and slice index, in LRU order, bounded in bytes.
 * Concurrent misses of one slice share one fetch, so a popular object is read
 * from the shield once per slice however many viewers start it together.
 * A read inside one slice is a view of the cached bytes (no copy); a read
 * across slices is joined once.
 */
export class SliceCache {
  readonly #sliceBytes: number;
  readonly #maxBytes: number;
  /** Map order is recency: a hit moves the slice to the end; eviction takes from the front. */
  readonly #slices = new Map<string, Slice>();
  #bytes = 0;
  readonly stats: SliceCacheStats = { hits: 0, misses: 0, collapsed: 0, evictions: 0, fetchedBytes: 0 };

  constructor(options: SliceCacheOptions) {
    if (!Number.isSafeInteger(options.sliceBytes) || options.sliceBytes < 4096) {
      throw new RangeError(`sliceBytes must be a whole number of at least 4096, got ${options.sliceBytes}`);
    }
    if (!(options.maxBytes >= options.sliceBytes)) {
      throw new RangeError(
        `maxBytes (${options.maxBytes}) must hold at least one slice (${options.sliceBytes})`,
      );
    }
    this.#sliceBytes = options.sliceBytes;
    this.#maxBytes = options.maxBytes;
  }

  /** Bytes held now (fetched and in flight). */
  get bytes(): number {
    return this.#bytes;
  }

  get sliceCount(): number {
    return this.#slices.size;
  }

  /** A RangeSource over the version whose reads go through the cache. */
  source(version: ObjectVersion, fetch: RangeFetch): RangeSource {
    return {
      size: version.size,
      read: (offset, length) => this.#read(version, fetch, offset, length),
    };
  }

  async #read(version: ObjectVersion, fetch: RangeFetch, offset: number, length: number): Promise<Buffer> {
    const end = Math.min(version.size, offset + Math.max(0, length));
    if (!(offset >= 0) || end <= offset) return Buffer.alloc(0);
    const first = Math.floor(offset / this.#sliceBytes);
    const last = Math.floor((end - 1) / this.#sliceBytes);
    if (first === last) {
      const data = await this.#slice(version, fetch, first);
      const base = first * this.#sliceBytes;
      return data.subarray(offset - base, end - base);
    }
    const parts = await Promise.all(
      Array.from({ length: last - first + 1 }, (_, i) => this.#slice(version, fetch, first + i)),
    );
    const out = Buffer.allocUnsafe(end - offset);
    let written = 0;
    for (let i = 0; i < parts.length; i++) {
      const base = (first + i) * this.#sliceBytes;
      const from = Math.max(offset, base) - base;
      const to = Math.min(end, base + this.#sliceBytes) - base;
      written += parts[i]!.copy(out, written, from, to);
    }
    return out;
  }

  #slice(version: ObjectVersion, fetch: RangeFetch, index: number): Promise<Buffer> {
    const id = `${version.bucket}\u0000${version.key}\u0000${version.etag}\u0000${index}`;
    const cached = this.#slices.get(id);
    if (cached) {
      this.#slices.delete(id);
      this.#slices.set(id, cached);
      if (cached.data) this.stats.hits++;
      else this.stats.collapsed++;
      return cached.promise;
    }
    this.stats.misses++;
    const offset = index * this.#sliceBytes;
    const bytes = Math.min(this.#sliceBytes, version.size - offset);
    const slice: Slice = {
      bytes,
      data: null,
      promise: fetch(offset, bytes)
        .then((data) => {
          if (data.length !== bytes) {
            throw new Error(`slice ${index} of ${version.key}: got ${data.length} of ${bytes} bytes`);
          }
          slice.data = data;
          this.stats.fetchedBytes += data.length;
          return data;
        })
        .catch((error: unknown) => {
          // A failed fetch is not cached: the next read tries again.
          if (this.#slices.get(id) === slice) {
            this.#slices.delete(id);
            this.#bytes -= bytes;
          }
          throw error;
        }),
    };
    this.#slices.set(id, slice);
    this.#bytes += bytes;
    this.#evict();
    return slice.promise;
  }

  /** Drops least recently used slices until under the bound; slices in flight stay (they are being waited on). */
  #evict(): void {
    if (this.#bytes <= this.#maxBytes) return;
    for (const [id, slice] of this.#slices) {
      if (this.#bytes <= this.#maxBytes) return;
      if (!slice.data) continue;
      this.#slices.delete(id);
      this.#bytes -= slice.bytes;
      this.stats.evictions++;
    }
  }
}
