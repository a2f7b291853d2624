import { errorCode } from "../../../lib/errors.js";
import { traces } from "../../../lib/trace/channels.js";
import { EdgeError, EdgeErrorCode } from "../errors.js";
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
  /** Bytes of the slices behind hits, misses and collapsed reads (whole slices, as counted above). */
  hitBytes: number;
  missBytes: number;
  collapsedBytes: number;
}

interface Slice {
  readonly id: string;
  /** Replaced by a settled empty promise on eviction, so a source still holding the slice pins nothing. */
  promise: Promise<Buffer>;
  /** The slice once fetched; reads then take views of it without waiting. Null again once evicted. */
  data: Buffer | null;
  readonly bytes: number;
  evicted: boolean;
  /**
   * Reads that start in this slice and end in the next, joined once and
   * handed to every reader of the same range (so encodings of the tag that
   * straddles the boundary are shared too). Few: one per boundary-crossing
   * tag, bounded by maxJoinsPerSlice.
   */
  joins: Map<number, Buffer> | null;
}

/** Slices one source has used, by index, so cached reads skip building the cache key. */
interface HeldSlices {
  readonly byIndex: Map<number, Slice>;
  /** The slice index of the source's last cached read; LRU recency is refreshed when it changes. */
  lastIndex: number;
}

const maxJoinsPerSlice = 16;
const evictedPromise: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));

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
  readonly stats: SliceCacheStats = {
    hits: 0,
    misses: 0,
    collapsed: 0,
    evictions: 0,
    fetchedBytes: 0,
    hitBytes: 0,
    missBytes: 0,
    collapsedBytes: 0,
  };

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
    const held: HeldSlices = { byIndex: new Map(), lastIndex: -1 };
    return {
      size: version.size,
      read: (offset, length) => this.#read(version, fetch, held, offset, length),
      readCached: (offset, length) => this.#readCached(version, held, offset, length),
    };
  }

  /**
   * The bytes when every slice they span is in memory, else null. A read in
   * one slice is a view of it; a read across two is joined once per slice
   * pair and offset and shared by every source of the version.
   */
  #readCached(version: ObjectVersion, held: HeldSlices, offset: number, length: number): Buffer | null {
    const end = Math.min(version.size, offset + Math.max(0, length));
    if (!(offset >= 0) || end <= offset) return null;
    const sliceBytes = this.#sliceBytes;
    const first = Math.floor(offset / sliceBytes);
    const slice = held.byIndex.get(first);
    if (!slice?.data) {
      if (slice?.evicted) held.byIndex.delete(first);
      return null;
    }
    if (held.lastIndex !== first) {
      held.lastIndex = first;
      this.#touch(slice);
    }
    const base = first * sliceBytes;
    if (end <= base + sliceBytes) return slice.data.subarray(offset - base, end - base);
    const joined = slice.joins?.get(offset);
    if (joined && joined.length === end - offset) return joined;
    const last = Math.floor((end - 1) / sliceBytes);
    const parts: Buffer[] = [];
    for (let index = first; index <= last; index++) {
      const part = held.byIndex.get(index)?.data;
      if (!part) return null;
      parts.push(part);
    }
    const out = this.#join(parts, first, offset, end);
    slice.joins ??= new Map();
    if (slice.joins.size >= maxJoinsPerSlice) slice.joins.clear();
    slice.joins.set(offset, out);
    return out;
  }

  #join(parts: readonly Buffer[], first: number, offset: number, end: number): Buffer {
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

  #touch(slice: Slice): void {
    if (slice.evicted) return;
    this.#slices.delete(slice.id);
    this.#slices.set(slice.id, slice);
    this.stats.hits++;
    this.stats.hitBytes += slice.bytes;
  }

  async #read(
    version: ObjectVersion,
    fetch: RangeFetch,
    held: HeldSlices,
    offset: number,
    length: number,
  ): Promise<Buffer> {
    const end = Math.min(version.size, offset + Math.max(0, length));
    if (!(offset >= 0) || end <= offset) return Buffer.alloc(0);
    const first = Math.floor(offset / this.#sliceBytes);
    const last = Math.floor((end - 1) / this.#sliceBytes);
    if (first === last) {
      const data = await this.#slice(version, fetch, held, first);
      const base = first * this.#sliceBytes;
      return data.subarray(offset - base, end - base);
    }
    const parts = await Promise.all(
      Array.from({ length: last - first + 1 }, (_, i) => this.#slice(version, fetch, held, first + i)),
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

  #slice(version: ObjectVersion, fetch: RangeFetch, held: HeldSlices, index: number): Promise<Buffer> {
    const id = `${version.bucket}\u0000${version.key}\u0000${version.etag}\u0000${index}`;
    const cached = this.#slices.get(id);
    if (cached) {
      this.#slices.delete(id);
      this.#slices.set(id, cached);
      if (cached.data) {
        this.stats.hits++;
        this.stats.hitBytes += cached.bytes;
      } else {
        this.stats.collapsed++;
        this.stats.collapsedBytes += cached.bytes;
      }
      if (traces.cacheLookup.hasSubscribers)
        traces.cacheLookup.publish({
          bucket: version.bucket,
          key: version.key,
          slice: index,
          outcome: cached.data ? "hit" : "collapsed",
        });
      held.byIndex.set(index, cached);
      return cached.promise;
    }
    this.stats.misses++;
    const offset = index * this.#sliceBytes;
    const bytes = Math.min(this.#sliceBytes, version.size - offset);
    this.stats.missBytes += bytes;
    if (traces.cacheLookup.hasSubscribers)
      traces.cacheLookup.publish({ bucket: version.bucket, key: version.key, slice: index, outcome: "miss" });
    const fetchStarted = traces.cacheFetch.hasSubscribers ? performance.now() : 0;
    const slice: Slice = {
      id,
      bytes,
      data: null,
      evicted: false,
      joins: null,
      promise: fetch(offset, bytes)
        .then((data) => {
          if (data.length !== bytes) {
            // The fetch is the shield client's, which returns whole ranges: a short one is a shield that failed the read.
            throw new EdgeError(
              EdgeErrorCode.ShieldUnavailable,
              `slice ${index} of ${version.key}: got ${data.length} of ${bytes} bytes`,
            );
          }
          slice.data = data;
          this.stats.fetchedBytes += data.length;
          if (traces.cacheFetch.hasSubscribers)
            traces.cacheFetch.publish({
              bucket: version.bucket,
              key: version.key,
              slice: index,
              offset,
              bytes,
              durationMs: performance.now() - fetchStarted,
              code: null,
            });
          return data;
        })
        .catch((error: unknown) => {
          if (traces.cacheFetch.hasSubscribers)
            traces.cacheFetch.publish({
              bucket: version.bucket,
              key: version.key,
              slice: index,
              offset,
              bytes,
              durationMs: performance.now() - fetchStarted,
              code: errorCode(error) ?? EdgeErrorCode.Internal,
            });
          // A failed fetch is not cached: the next read tries again.
          if (this.#slices.get(id) === slice) {
            this.#slices.delete(id);
            this.#bytes -= bytes;
          }
          slice.evicted = true;
          throw error;
        }),
    };
    this.#slices.set(id, slice);
    held.byIndex.set(index, slice);
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
      // Sources may still hold the Slice object; it must not keep the bytes alive.
      slice.evicted = true;
      slice.data = null;
      slice.joins = null;
      slice.promise = evictedPromise;
      this.stats.evictions++;
    }
  }
}
