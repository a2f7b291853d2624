/** A slice as the tiers keep it: its bytes and the size of the object it belongs to. */
export interface CachedSlice {
  readonly data: Buffer;
  /** Lets a read pinned to an ETag learn the object's size from any slice of it. */
  readonly objectSize: number;
}

export interface MemoryTierOptions {
  /** Bound on the bytes of all slices held (their data lengths). 0 keeps nothing. */
  readonly maxBytes: number;
  /**
   * Keys remembered after eviction from the small queue (keys only, no
   * bytes); a slice asked for again while remembered goes straight to the
   * main queue. About the number of slices the tier holds is what S3-FIFO
   * recommends.
   */
  readonly ghostEntries: number;
  /** Share of maxBytes for the small (probation) queue. @default 0.1 */
  readonly smallFraction?: number;
}

export interface InsertOptions {
  /**
   * Readers beyond the first that shared the fetch (collapsed joins): they
   * count as re-use, so a slice fifty viewers waited for starts out popular.
   */
  readonly extraAccesses?: number;
  /**
   * Inserted by read-ahead before anyone asked for it. The first real read
   * of such a slice is its first use, not a re-use: without this, every
   * slice of a single sequential play would look accessed twice and be
   * promoted, and read-ahead would defeat the scan resistance.
   */
  readonly prefetched?: boolean;
}

interface Entry {
  readonly slice: CachedSlice;
  readonly bytes: number;
  /** S3-FIFO's 2-bit frequency: re-uses since insertion (or since last spared), capped at 3. */
  freq: number;
  prefetched: boolean;
}

const maxFreq = 3;

/**
 * The memory tier: slices in memory, bounded in bytes, evicted by S3-FIFO
 * (Yang et al., "FIFO queues are all you need for cache eviction", SOSP
 * 2023).
 *
 * Why S3-FIFO rather than LRU, SLRU or 2Q: a streaming shield's traffic is
 * mostly long sequential scans (one viewer playing through a VOD file, each
 * slice read once) mixed with a popular head (many viewers of the same
 * titles). Under LRU every scanned slice pushes a popular one out. S3-FIFO
 * admits new slices into a small FIFO (10%) and only moves those re-used
 * while there into the main FIFO, so a scan of any length churns only the
 * small queue; a ghost list of recently dropped keys gives slices that come
 * back soon a direct path to main. Compared with SLRU/2Q it needs no list
 * moves on a hit (a hit bumps a counter: lazy promotion), which matters when
 * fifty readers of one slice hit it at once, and it matches or beats ARC,
 * 2Q and LRU on the miss ratio of the CDN traces in the paper. Map insertion
 * order gives O(1) FIFOs without a linked list.
 *
 * Buffers handed out by get() may outlive their entry: a reader still
 * sending an evicted slice keeps it alive. The tier's bound is on what the
 * tier holds; readers hold at most a bounded window each (caching-origin).
 */
export class MemoryTier {
  readonly #maxBytes: number;
  readonly #smallMax: number;
  readonly #ghostMax: number;
  /** Oldest first. */
  readonly #small = new Map<string, Entry>();
  readonly #main = new Map<string, Entry>();
  readonly #ghost = new Map<string, true>();
  #smallBytes = 0;
  #mainBytes = 0;
  #evictions = 0;

  constructor(options: MemoryTierOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
      throw new RangeError(`maxBytes must be a whole number ≥ 0, got ${options.maxBytes}`);
    }
    const fraction = options.smallFraction ?? 0.1;
    if (!(fraction > 0 && fraction < 1))
      throw new RangeError(`smallFraction must be in (0, 1), got ${fraction}`);
    this.#maxBytes = options.maxBytes;
    this.#smallMax = Math.floor(options.maxBytes * fraction);
    this.#ghostMax = Math.max(0, Math.floor(options.ghostEntries));
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Bytes held now; never above maxBytes. */
  get bytes(): number {
    return this.#smallBytes + this.#mainBytes;
  }

  get smallBytes(): number {
    return this.#smallBytes;
  }

  get mainBytes(): number {
    return this.#mainBytes;
  }

  get size(): number {
    return this.#small.size + this.#main.size;
  }

  /** Slices dropped to stay under the bound, since construction. */
  get evictions(): number {
    return this.#evictions;
  }

  /** The slice, counting the access. */
  get(id: string): CachedSlice | undefined {
    const entry = this.#small.get(id) ?? this.#main.get(id);
    if (!entry) return undefined;
    if (entry.prefetched) entry.prefetched = false;
    else if (entry.freq < maxFreq) entry.freq += 1;
    return entry.slice;
  }

  /** Whether the slice is held, without counting an access (read-ahead asks this). */
  has(id: string): boolean {
    return this.#small.has(id) || this.#main.has(id);
  }

  /** Which queue holds the slice; for tests of the policy. */
  queueOf(id: string): "small" | "main" | "ghost" | undefined {
    if (this.#small.has(id)) return "small";
    if (this.#main.has(id)) return "main";
    if (this.#ghost.has(id)) return "ghost";
    return undefined;
  }

  /**
   * Adds a slice (a no-op returning false when it cannot fit at all), then
   * evicts until the tier is within its bound again.
   */
  insert(id: string, slice: CachedSlice, options: InsertOptions = {}): boolean {
    const bytes = slice.data.length;
    if (bytes > this.#maxBytes) return false;
    const existing = this.#small.get(id) ?? this.#main.get(id);
    if (existing) {
      // A slice fetched twice (a race the collapsing avoids, but harmless):
      // keep the entry, count the use.
      if (existing.freq < maxFreq) existing.freq += 1;
      return true;
    }
    const entry: Entry = {
      slice,
      bytes,
      freq: Math.min(maxFreq, Math.max(0, Math.floor(options.extraAccesses ?? 0))),
      prefetched: options.prefetched === true,
    };
    if (this.#ghost.delete(id)) {
      // Dropped from probation recently and wanted again: it has proven
      // re-use, so it skips probation.
      this.#main.set(id, entry);
      this.#mainBytes += bytes;
    } else {
      this.#small.set(id, entry);
      this.#smallBytes += bytes;
    }
    this.#evict();
    return true;
  }

  delete(id: string): boolean {
    const small = this.#small.get(id);
    if (small) {
      this.#small.delete(id);
      this.#smallBytes -= small.bytes;
      return true;
    }
    const main = this.#main.get(id);
    if (main) {
      this.#main.delete(id);
      this.#mainBytes -= main.bytes;
      return true;
    }
    return false;
  }

  clear(): void {
    this.#small.clear();
    this.#main.clear();
    this.#ghost.clear();
    this.#smallBytes = 0;
    this.#mainBytes = 0;
  }

  #evict(): void {
    while (this.#smallBytes + this.#mainBytes > this.#maxBytes) {
      if (this.#smallBytes > this.#smallMax || this.#main.size === 0) this.#evictSmall();
      else this.#evictMain();
    }
  }

  /** Takes the oldest probation slice: re-used ones move to main, the rest leave (key kept as a ghost). */
  #evictSmall(): void {
    const first = this.#small.entries().next();
    if (first.done) return;
    const [id, entry] = first.value;
    this.#small.delete(id);
    this.#smallBytes -= entry.bytes;
    if (entry.freq > 0) {
      entry.freq = 0;
      this.#main.set(id, entry);
      this.#mainBytes += entry.bytes;
      return;
    }
    this.#evictions += 1;
    if (this.#ghostMax === 0) return;
    this.#ghost.set(id, true);
    if (this.#ghost.size > this.#ghostMax) {
      const oldest = this.#ghost.keys().next();
      if (!oldest.done) this.#ghost.delete(oldest.value);
    }
  }

  /** Second chance in main: a re-used slice goes back to the tail with one use spent; an unused one leaves. */
  #evictMain(): void {
    for (;;) {
      const first = this.#main.entries().next();
      if (first.done) return;
      const [id, entry] = first.value;
      this.#main.delete(id);
      if (entry.freq > 0) {
        entry.freq -= 1;
        this.#main.set(id, entry);
        continue;
      }
      this.#mainBytes -= entry.bytes;
      this.#evictions += 1;
      return;
    }
  }
}
