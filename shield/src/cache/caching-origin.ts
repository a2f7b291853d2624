import { errorCode } from "../../../lib/errors.js";
import type { Logger } from "../../../lib/log.js";
import { traces } from "../../../lib/trace/channels.js";
import { ShieldError, ShieldErrorCode } from "../errors.js";
import { type ObjectInfo, type Origin, type OriginRange, StatKind, type StatOptions } from "../origin.js";
import { type CacheReadout, type CacheStats, newCacheStats } from "./cache-stats.js";
import { DiskTier } from "./disk-tier.js";
import { FetchBudget } from "./fetch-budget.js";
import { checkFreshnessPolicy, type FreshnessPolicy } from "./freshness.js";
import { type CachedSlice, MemoryTier } from "./memory-tier.js";
import { ReadAhead } from "./read-ahead.js";
import { SliceFetch } from "./slice-fetch.js";
import { type ObjectVersion, sliceId, sliceIndexOf, sliceLengthOf, versionId } from "./slice-key.js";
import { StatCache } from "./stat-cache.js";

export interface CachingOriginOptions {
  /** Where misses go (S3Origin in the shield). */
  readonly origin: Origin;
  readonly logger: Logger;
  /** Slice size: the unit of caching, collapsing and S3 range GETs. */
  readonly sliceBytes: number;
  /** Bound on the memory tier's bytes; 0 keeps nothing in memory (collapsing still works). */
  readonly memoryBytes: number;
  /** The disk tier, when wanted. */
  readonly disk?: { readonly directory: string; readonly maxBytes: number };
  /** Slices prefetched past a sequential reader's read; 0 turns read-ahead off. */
  readonly readAheadSlices: number;
  readonly freshness: FreshnessPolicy;
  /** How long a 404 is remembered; 0: not at all. */
  readonly negativeTtlMs: number;
  /** Where the counters go; the shield passes its metrics' object. @default a fresh one */
  readonly stats?: CacheStats;
  /**
   * Slices one reader holds at once: the one it is sending plus those it
   * fetches ahead inside its own range, so a long range streams without a
   * GET round trip per slice. With maxPieceBytes this bounds what a slow
   * reader pins, whatever its range's length. @default 2
   */
  readonly readerWindowSlices?: number;
  /**
   * Bound on the bytes of slices being fetched at once, over all readers
   * (readers beyond it wait; read-ahead skips past half of it).
   * @default max(16 slices, memoryBytes / 4)
   */
  readonly maxFetchingBytes?: number;
  /** See SliceFetchOptions.finishFraction. @default 0.5 */
  readonly finishFraction?: number;
  /** A fetch with no progress for this long fails. @default 30000 */
  readonly fetchIdleTimeoutMs?: number;
  /** Bound on the stat cache's estimated bytes. @default 16 MiB */
  readonly statCacheBytes?: number;
  /** Milliseconds clock for freshness; tests pass their own. */
  readonly now?: () => number;
}

/** A slice a reader holds: complete in the memory tier, or a fetch it is attached to. */
/** Where a reader's slice came from, for the byte counters (CacheStats). */
type HeldFrom = "memoryHit" | "collapsed" | "diskHit" | "miss";
type Held = ({ readonly slice: CachedSlice; readonly fetch?: undefined } | { readonly fetch: SliceFetch }) & {
  readonly from: HeldFrom;
};

/** One readRange's iteration state. */
interface ReadState {
  readonly version: ObjectVersion;
  readonly signal: AbortSignal;
  /** Slices held now, by index; at most readerWindowSlices. */
  readonly held: Map<number, Held>;
  readonly offset: number;
  end: number;
  first: number;
  last: number;
  objectSize: number;
  readonly onAbort: () => void;
}

/**
 * An Origin that serves another Origin's objects through a slice cache.
 *
 * - stat: through the StatCache (CloudFront-style TTLs, conditional HEAD
 *   revalidation, 404s remembered briefly; concurrent stats share a HEAD).
 * - readRange: pinned to an ETag — the one given, else the one the stat
 *   cache holds (an unpinned read whose cached ETag S3 no longer has
 *   re-stats once and takes the new version). The range is assembled from
 *   aligned slices, each from the memory tier, the disk tier, or a
 *   SliceFetch that every concurrent reader of that slice shares (one S3
 *   GET, If-Match the ETag). A replaced object fails the read with
 *   ObjectChanged at the first slice S3 must supply, never mixing versions.
 * - Flow control: the returned iterable yields views of slices as the
 *   consumer pulls; a reader holds at most readerWindowSlices slices, so a
 *   slow reader pins a bounded amount whatever its range length.
 * - Cancellation: a reader that aborts or stops early releases its slices;
 *   a fetch left without readers is aborted (its S3 request with it) unless
 *   most of it has arrived (SliceFetch's abandon policy).
 * - Read-ahead: sequential readers get the next slices fetched ahead
 *   (ReadAhead), bounded per read and by the fetch budget.
 */
export class CachingOrigin implements Origin, CacheReadout {
  readonly stats: CacheStats;
  readonly memory: MemoryTier;
  readonly disk: DiskTier | undefined;
  readonly #origin: Origin;
  readonly #logger: Logger;
  readonly #sliceBytes: number;
  readonly #window: number;
  readonly #finishFraction: number;
  readonly #idleTimeoutMs: number;
  readonly #statCache: StatCache;
  readonly #readAhead: ReadAhead;
  readonly #budget: FetchBudget;
  /** Fetches in flight by slice id: the collapsing point. */
  readonly #fetches = new Map<string, SliceFetch>();
  #closed = false;

  constructor(options: CachingOriginOptions) {
    const sliceBytes = options.sliceBytes;
    if (!Number.isSafeInteger(sliceBytes) || sliceBytes < 4096) {
      throw new RangeError(`sliceBytes must be a whole number of at least 4096, got ${sliceBytes}`);
    }
    checkFreshnessPolicy(options.freshness);
    this.#origin = options.origin;
    this.#logger = options.logger;
    this.#sliceBytes = sliceBytes;
    this.stats = options.stats ?? newCacheStats();
    this.#window = Math.max(1, Math.floor(options.readerWindowSlices ?? 2));
    this.#finishFraction = options.finishFraction ?? 0.5;
    this.#idleTimeoutMs = options.fetchIdleTimeoutMs ?? 30_000;
    this.memory = new MemoryTier({
      maxBytes: options.memoryBytes,
      ghostEntries: Math.ceil(options.memoryBytes / sliceBytes),
    });
    this.disk = options.disk
      ? new DiskTier({
          directory: options.disk.directory,
          maxBytes: options.disk.maxBytes,
          maxSliceBytes: sliceBytes,
          logger: options.logger.child({ tier: "disk" }),
          stats: this.stats,
        })
      : undefined;
    this.#statCache = new StatCache({
      origin: options.origin,
      policy: options.freshness,
      negativeTtlMs: options.negativeTtlMs,
      logger: options.logger,
      stats: this.stats,
      ...(options.statCacheBytes === undefined ? {} : { maxBytes: options.statCacheBytes }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    this.#readAhead = new ReadAhead({ slices: options.readAheadSlices, sliceBytes });
    this.#budget = new FetchBudget(
      options.maxFetchingBytes ?? Math.max(16 * sliceBytes, Math.floor(options.memoryBytes / 4)),
    );
  }

  get sliceBytes(): number {
    return this.#sliceBytes;
  }

  get memoryBytes(): number {
    return this.memory.bytes;
  }

  get diskBytes(): number {
    return this.disk?.bytes ?? 0;
  }

  get fetchingBytes(): number {
    return this.#budget.used;
  }

  get memoryEvictions(): number {
    return this.memory.evictions;
  }

  get diskEvictions(): number {
    return this.disk?.evictions ?? 0;
  }

  /** Slice fetches in flight now. */
  get fetchesInFlight(): number {
    return this.#fetches.size;
  }

  /** Indexes the disk tier (when there is one); call before serving. */
  async open(): Promise<void> {
    await this.disk?.open();
  }

  /** Fails every fetch in flight and stops the disk tier (waiting for writes under way). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const fetch of [...this.#fetches.values()]) {
      fetch.fail(new ShieldError(ShieldErrorCode.ShuttingDown, "the shield is closing"));
    }
    await this.disk?.close();
  }

  stat(bucket: string, key: string, signal?: AbortSignal, options?: StatOptions): Promise<ObjectInfo> {
    // A caller's own revalidation is its business: passed through as asked.
    if (options?.ifNoneMatch) return this.#origin.stat(bucket, key, signal, options);
    return this.#statCache.get(bucket, key, signal, options?.kind);
  }

  async readRange(
    bucket: string,
    key: string,
    offset: number,
    length: number,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<OriginRange> {
    if (this.#closed) throw new ShieldError(ShieldErrorCode.ShuttingDown, "the shield is closing");
    if (etag) return this.#readVersion({ bucket, key, etag }, offset, length, signal, undefined);
    // An unpinned read is a play's open: it queues ahead of lookups.
    const info = await this.#statCache.get(bucket, key, signal, StatKind.Play);
    try {
      return await this.#readVersion({ bucket, key, etag: info.etag }, offset, length, signal, info);
    } catch (error) {
      if (!isCode(error, ShieldErrorCode.ObjectChanged)) throw error;
      // The stat cache held a version S3 no longer has. An unpinned read
      // wants whatever is current: forget the old ETag and read the new one
      // (once — a second change is reported).
      this.#statCache.invalidate(bucket, key, info.etag);
      const current = await this.#statCache.get(bucket, key, signal, StatKind.Play);
      return this.#readVersion({ bucket, key, etag: current.etag }, offset, length, signal, current);
    }
  }

  async #readVersion(
    version: ObjectVersion,
    offset: number,
    length: number,
    signal: AbortSignal,
    statted: ObjectInfo | undefined,
  ): Promise<OriginRange> {
    const { bucket, key, etag } = version;
    const known = this.#statCache.peekVersion(bucket, key, etag);
    // No ETag (some S3 clones) means no way to tell versions apart, and an
    // object CloudFront would not store (no-store/private, min TTL 0) is
    // not stored: both read straight through.
    if (!etag || known?.freshness.storable === false) {
      return this.#origin.readRange(bucket, key, offset, length, etag || undefined, signal);
    }
    const sizeHint = known?.info.size ?? statted?.size;
    if (sizeHint !== undefined && offset >= sizeHint) throw outOfRange(bucket, key);
    const state: ReadState = {
      version,
      signal,
      held: new Map(),
      offset,
      end: offset,
      first: sliceIndexOf(offset, this.#sliceBytes),
      last: -1,
      objectSize: -1,
      onAbort: () => this.#releaseAll(state),
    };
    signal.addEventListener("abort", state.onAbort, { once: true });
    try {
      const first = await this.#acquire(state, state.first);
      state.held.set(state.first, first);
      if (first.fetch) await first.fetch.ready(signal);
      state.objectSize = first.fetch ? first.fetch.objectSize : first.slice.objectSize;
      if (offset >= state.objectSize) throw outOfRange(bucket, key);
      state.end = offset + Math.min(length, state.objectSize - offset);
      state.last = sliceIndexOf(state.end - 1, this.#sliceBytes);
    } catch (error) {
      signal.removeEventListener("abort", state.onAbort);
      this.#releaseAll(state);
      if (signal.aborted && !isCode(error, ShieldErrorCode.Aborted)) {
        throw new ShieldError(ShieldErrorCode.Aborted, "read aborted", { cause: error });
      }
      throw error;
    }
    const prefetch = this.#readAhead.onRead(versionId(version), offset, state.end, state.objectSize);
    for (let index = prefetch.first; index <= prefetch.last; index++) this.#prefetch(version, index, signal);
    return {
      offset,
      length: state.end - offset,
      objectSize: state.objectSize,
      etag,
      [Symbol.asyncIterator]: () => this.#iterate(state),
    };
  }

  async *#iterate(state: ReadState): AsyncGenerator<Buffer> {
    const { signal } = state;
    const size = this.#sliceBytes;
    try {
      for (let index = state.first; index <= state.last; index++) {
        let held = state.held.get(index);
        if (!held) {
          held = await this.#acquire(state, index);
          state.held.set(index, held);
        }
        this.#fillWindow(state, index);
        if (held.fetch) await held.fetch.ready(signal);
        const length = held.fetch ? held.fetch.length : held.slice.data.length;
        const objectSize = held.fetch ? held.fetch.objectSize : held.slice.objectSize;
        const expected = sliceLengthOf(index, size, state.objectSize);
        if (objectSize !== state.objectSize || length !== expected) {
          throw new ShieldError(
            ShieldErrorCode.ObjectChanged,
            `${state.version.bucket}/${state.version.key}: slice ${index} of ETag ${state.version.etag} ` +
              `disagrees on the object (${length} bytes of ${objectSize}, expected ${expected} of ${state.objectSize})`,
          );
        }
        this.#countBytes(held.from, length);
        const base = index * size;
        const from = Math.max(state.offset, base) - base;
        const to = Math.min(state.end, base + length) - base;
        if (held.fetch) {
          yield* held.fetch.read(from, to, signal);
        } else {
          if (signal.aborted) throw new ShieldError(ShieldErrorCode.Aborted, "read aborted");
          yield held.slice.data.subarray(from, to);
        }
        this.#release(state, index, to < length);
      }
    } finally {
      signal.removeEventListener("abort", state.onAbort);
      this.#releaseAll(state);
    }
  }

  /** The slice for a reader, waiting for fetch budget if it must start a fetch. */
  async #acquire(state: ReadState, index: number): Promise<Held> {
    const id = sliceId(state.version, this.#sliceBytes, index);
    const now = this.#acquireNow(state.version, index, id);
    if (now) return now;
    await this.#budget.take(this.#sliceBytes, state.signal);
    // Another reader may have started or finished the slice meanwhile.
    const joined = this.#join(id);
    if (joined) {
      this.#budget.give(this.#sliceBytes);
      return joined;
    }
    return this.#startForReader(state.version, index, id);
  }

  /** The slice without waiting: from memory, joined, or newly fetched when the budget has room. */
  #acquireNow(version: ObjectVersion, index: number, id: string): Held | undefined {
    const joined = this.#join(id);
    if (joined) return joined;
    if (!this.#budget.tryTake(this.#sliceBytes)) return undefined;
    return this.#startForReader(version, index, id);
  }

  #join(id: string): Held | undefined {
    const slice = this.memory.get(id);
    if (slice) {
      this.stats.memoryHits += 1;
      return { slice, from: "memoryHit" };
    }
    const fetch = this.#liveFetch(id);
    if (fetch) {
      fetch.ref(true);
      this.stats.collapsed += 1;
      return { fetch, from: "collapsed" };
    }
    return undefined;
  }

  /**
   * The fetch in flight for a slice, if one is still worth joining. A
   * failed or abandoned fetch stays listed until it has settled (its
   * budget is returned then); a reader arriving meanwhile starts afresh
   * rather than inherit a failure meant for readers who left.
   */
  #liveFetch(id: string): SliceFetch | undefined {
    const fetch = this.#fetches.get(id);
    return fetch && fetch.state !== "failed" ? fetch : undefined;
  }

  /** Starts a fetch a reader asked for; the budget is already taken. */
  #startForReader(version: ObjectVersion, index: number, id: string): Held {
    const fromDisk = this.disk?.has(id) ?? false;
    if (fromDisk) this.stats.diskHits += 1;
    else this.stats.misses += 1;
    const fetch = this.#start(version, index, id, fromDisk).fetch;
    fetch.ref(true);
    return { fetch, from: fromDisk ? "diskHit" : "miss" };
  }

  /** Bytes of the slices readers used, by where each came from (once per slice a reader reads). */
  #countBytes(from: HeldFrom, length: number): void {
    const stats = this.stats;
    if (from === "memoryHit") stats.memoryHitBytes += length;
    else if (from === "diskHit") stats.diskHitBytes += length;
    else if (from === "collapsed") stats.collapsedBytes += length;
    else stats.missBytes += length;
  }

  /** Holds the slices after `index` inside the reader's range, up to its window, without waiting. */
  #fillWindow(state: ReadState, index: number): void {
    const until = Math.min(state.last, index + this.#window - 1);
    for (let next = index + 1; next <= until; next++) {
      if (state.held.has(next)) continue;
      const held = this.#acquireNow(state.version, next, sliceId(state.version, this.#sliceBytes, next));
      if (!held) return;
      state.held.set(next, held);
    }
  }

  /**
   * Starts fetching a slice nobody asked for yet. Skipped when it is held or
   * in flight already, or when less than half the fetch budget is free
   * (readers come first). The hold lasts until the slice is in, unless the
   * read whose stream asked for it is cancelled first (the viewer left).
   */
  #prefetch(version: ObjectVersion, index: number, signal: AbortSignal): void {
    const id = sliceId(version, this.#sliceBytes, index);
    if (this.memory.has(id) || this.#liveFetch(id)) return;
    if (!this.#budget.tryTake(this.#sliceBytes, this.#budget.maxBytes / 2)) return;
    this.stats.readAhead += 1;
    const { fetch, settled } = this.#start(version, index, id, this.disk?.has(id) ?? false);
    fetch.ref(false);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      signal.removeEventListener("abort", release);
      fetch.unref();
    };
    if (signal.aborted) release();
    else signal.addEventListener("abort", release, { once: true });
    void settled.then(() => signal.removeEventListener("abort", release));
  }

  /** Registers and runs a fetch; `settled` resolves once it is done and filed (or failed). */
  #start(
    version: ObjectVersion,
    index: number,
    id: string,
    fromDisk: boolean,
  ): { fetch: SliceFetch; settled: Promise<void> } {
    const fetch = new SliceFetch({
      id,
      finishFraction: this.#finishFraction,
      idleTimeoutMs: this.#idleTimeoutMs,
      onAbandon: () => {
        this.stats.abandoned += 1;
      },
    });
    this.#fetches.set(id, fetch);
    const started = traces.shieldCacheFetch.hasSubscribers ? performance.now() : 0;
    const settled = this.#load(fetch, version, index, fromDisk).then(
      (source) => {
        this.#settle(fetch, version, source);
        if (traces.shieldCacheFetch.hasSubscribers) traceSliceFetch(fetch, version, index, source, started);
      },
      (error: unknown) => {
        fetch.fail(error);
        this.#settle(fetch, version, "s3");
        if (traces.shieldCacheFetch.hasSubscribers) traceSliceFetch(fetch, version, index, "s3", started);
      },
    );
    return { fetch, settled };
  }

  async #load(
    fetch: SliceFetch,
    version: ObjectVersion,
    index: number,
    fromDisk: boolean,
  ): Promise<"disk" | "s3"> {
    if (fromDisk && this.disk) {
      const slice = await this.disk.read(fetch.id);
      if (slice) {
        fetch.adopt(slice.data, slice.objectSize);
        return "disk";
      }
      // Gone or failed verification (deleted by the tier): fetch it from S3.
      if (fetch.state === "failed") return "disk";
    }
    const size = this.#sliceBytes;
    const range = await this.#origin.readRange(
      version.bucket,
      version.key,
      index * size,
      size,
      version.etag,
      fetch.signal,
    );
    // Checked before begin() allocates: a slice buffer is never larger than a slice.
    if (!(range.length >= 0 && range.length <= size)) {
      throw new ShieldError(
        ShieldErrorCode.OriginUnavailable,
        `origin announced ${range.length} bytes for a slice`,
      );
    }
    fetch.begin(range.length, range.objectSize);
    for await (const chunk of range) {
      if (fetch.state !== "streaming") break;
      fetch.append(chunk);
    }
    fetch.finish();
    return "s3";
  }

  /** Files a finished fetch in the tiers (or learns from its failure) and frees its budget. */
  #settle(fetch: SliceFetch, version: ObjectVersion, source: "disk" | "s3"): void {
    if (this.#fetches.get(fetch.id) === fetch) this.#fetches.delete(fetch.id);
    this.#budget.give(this.#sliceBytes);
    const data = fetch.data;
    if (data && !this.#closed) {
      const slice: CachedSlice = { data, objectSize: fetch.objectSize };
      this.memory.insert(fetch.id, slice, {
        extraAccesses: Math.max(0, fetch.readers - 1),
        prefetched: fetch.readers === 0,
      });
      if (source === "s3") this.disk?.write(fetch.id, slice);
      return;
    }
    if (isCode(fetch.error, ShieldErrorCode.ObjectChanged)) {
      // S3 no longer has this version: new plays must not be handed it, and
      // fetches of it that no reader holds any more (finishing for a play
      // that was served) would only pull bytes nobody can use.
      this.#statCache.invalidate(version.bucket, version.key, version.etag);
      const suffix = `|${versionId(version)}`;
      for (const other of [...this.#fetches.values()]) {
        if (other === fetch || other.refs > 0 || !other.id.endsWith(suffix)) continue;
        other.fail(
          new ShieldError(ShieldErrorCode.ObjectChanged, `${version.bucket}/${version.key}: replaced in S3`),
        );
      }
    } else if (fetch.error !== undefined && !isCode(fetch.error, ShieldErrorCode.Aborted)) {
      this.#logger.debug({ slice: fetch.id, err: fetch.error }, "slice fetch failed");
    }
  }

  /** `served`: the reader's range ended inside this slice and it got all of it (see SliceFetch.unref). */
  #release(state: ReadState, index: number, served = false): void {
    const held = state.held.get(index);
    if (!held) return;
    state.held.delete(index);
    held.fetch?.unref(served);
  }

  #releaseAll(state: ReadState): void {
    for (const held of state.held.values()) held.fetch?.unref();
    state.held.clear();
  }
}

function isCode(error: unknown, code: ShieldErrorCode): boolean {
  return error instanceof ShieldError && error.code === code;
}

function outOfRange(bucket: string, key: string): ShieldError {
  return new ShieldError(
    ShieldErrorCode.RangeNotSatisfiable,
    `${bucket}/${key}: offset is at or past the end`,
  );
}

/** The shield:cache event of a settled slice fetch. */
function traceSliceFetch(
  fetch: SliceFetch,
  version: ObjectVersion,
  slice: number,
  source: "disk" | "s3",
  started: number,
): void {
  traces.shieldCacheFetch.publish({
    bucket: version.bucket,
    key: version.key,
    slice,
    source,
    bytes: fetch.received,
    readers: fetch.readers,
    durationMs: performance.now() - started,
    code: fetch.data ? null : (errorCode(fetch.error) ?? "internal"),
  });
}
