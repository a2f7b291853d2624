import { parseCacheControl } from "../../../lib/http/cache-control.js";
import type { EdgeConfig } from "../config.js";

/** What open() needs of an object to serve it from the slice cache: its size and version. */
export interface ObjectMetadata {
  readonly size: number;
  readonly etag: string;
  readonly lastModifiedMs: number;
  readonly contentType: string;
  readonly cacheControl: string;
}

export interface MetadataCacheOptions {
  /** Objects whose metadata is kept (least recently used dropped first); 0 keeps none. */
  readonly maxEntries: number;
  /** How long metadata is usable when the object's Cache-Control gives no max-age or s-maxage. */
  readonly defaultTtlMs: number;
  /** Missing objects remembered (least recently used dropped first); 0 keeps none. */
  readonly maxNegativeEntries: number;
  /** How long a missing object (the shield's NOT_FOUND) is answered from memory; 0: never. */
  readonly negativeTtlMs: number;
  /** The clock (ms); a seam for tests. @default Date.now */
  readonly now?: () => number;
}

/** Counters read at scrape time. */
export interface MetadataCacheStats {
  /** Opens answered "not found" from a remembered NOT_FOUND, without asking the shield. */
  negativeHits: number;
  /** Opens served from remembered metadata because no shield replica answered the stat. */
  fallbacks: number;
  /** Opens that found no shield and no usable metadata (none, or past its TTL). */
  fallbackMisses: number;
}

interface Entry<T> {
  readonly value: T;
  readonly expiresAt: number;
}

/** Key length bound: stream names are at most 1 KiB (routing/stream-name.ts), bucket names 63 characters. */
const maxIdChars = 2048;

/**
 * The edge's memory of object metadata, two bounded LRU maps:
 *
 * - Found objects: the shield's last StatObject answer, kept for the TTL
 *   the object's Cache-Control gives (s-maxage, else max-age; no-cache,
 *   no-store and private are not kept), else the default TTL. The shield is
 *   still asked on every open while it answers (it holds the current ETag,
 *   and answers from its own stat cache); this copy is what an open falls
 *   back on when no replica answers, so objects whose slices the edge holds
 *   keep playing through a shield outage for as long as the object's
 *   headers in S3 (the origin) allowed them to be cached.
 * - Missing objects: NOT_FOUND answers, used while fresh without asking the
 *   shield, so a name played or looked up again and again costs one stat per
 *   negative TTL. Kept apart from found objects so a flood of random names
 *   cannot push out the metadata the fallback needs.
 */
export class MetadataCache {
  readonly stats: MetadataCacheStats = { negativeHits: 0, fallbacks: 0, fallbackMisses: 0 };
  readonly #options: MetadataCacheOptions;
  readonly #now: () => number;
  /** Map order is recency: a use moves the entry to the end; eviction takes from the front. */
  readonly #found = new Map<string, Entry<ObjectMetadata>>();
  readonly #missing = new Map<string, Entry<true>>();

  constructor(options: MetadataCacheOptions) {
    for (const field of ["maxEntries", "defaultTtlMs", "maxNegativeEntries", "negativeTtlMs"] as const) {
      const value = options[field];
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`${field} must be a whole number of at least 0, got ${value}`);
      }
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Entries held now: found objects and missing ones. */
  get size(): { readonly found: number; readonly missing: number } {
    return { found: this.#found.size, missing: this.#missing.size };
  }

  /** True when the object was found missing within the negative TTL (counted as a hit). */
  isKnownMissing(bucket: string, key: string): boolean {
    const id = entryId(bucket, key);
    const entry = this.#missing.get(id);
    if (!entry) return false;
    if (entry.expiresAt <= this.#now()) {
      this.#missing.delete(id);
      return false;
    }
    this.stats.negativeHits++;
    return true;
  }

  /** The shield answered the stat: remember it (and forget any NOT_FOUND). */
  rememberFound(bucket: string, key: string, metadata: ObjectMetadata): void {
    const id = entryId(bucket, key);
    this.#missing.delete(id);
    this.#found.delete(id);
    const ttlMs = this.#ttlOf(metadata.cacheControl);
    if (ttlMs <= 0 || this.#options.maxEntries === 0 || id.length > maxIdChars) return;
    // Copied field by field: the gRPC message must not be pinned (nor anything else on it).
    const value: ObjectMetadata = {
      size: metadata.size,
      etag: metadata.etag,
      lastModifiedMs: metadata.lastModifiedMs,
      contentType: metadata.contentType,
      cacheControl: metadata.cacheControl,
    };
    this.#found.set(id, { value, expiresAt: this.#now() + ttlMs });
    trim(this.#found, this.#options.maxEntries);
  }

  /** The shield answered NOT_FOUND: remember it for the negative TTL. */
  rememberMissing(bucket: string, key: string): void {
    const id = entryId(bucket, key);
    this.#found.delete(id);
    this.#missing.delete(id);
    const { negativeTtlMs, maxNegativeEntries } = this.#options;
    if (negativeTtlMs <= 0 || maxNegativeEntries === 0 || id.length > maxIdChars) return;
    this.#missing.set(id, { value: true, expiresAt: this.#now() + negativeTtlMs });
    trim(this.#missing, maxNegativeEntries);
  }

  /**
   * The metadata to serve the object with while no shield answers, if it
   * is still within its TTL; null otherwise. Counts a fallback, and a miss
   * unless told not to (a look before asking the shield is not one).
   */
  fallback(bucket: string, key: string, options: { countMiss?: boolean } = {}): ObjectMetadata | null {
    const id = entryId(bucket, key);
    const entry = this.#found.get(id);
    if (!entry || entry.expiresAt <= this.#now()) {
      if (entry) this.#found.delete(id);
      if (options.countMiss !== false) this.stats.fallbackMisses++;
      return null;
    }
    this.#found.delete(id);
    this.#found.set(id, entry);
    this.stats.fallbacks++;
    return entry.value;
  }

  /** The object's TTL at the edge: s-maxage (a shared cache's), else max-age, else the default. */
  #ttlOf(cacheControl: string): number {
    const d = parseCacheControl(cacheControl);
    if (d.noCache || d.noStore || d.private) return 0;
    const seconds = d.sMaxAge ?? d.maxAge;
    return seconds === undefined ? this.#options.defaultTtlMs : seconds * 1000;
  }
}

function entryId(bucket: string, key: string): string {
  // Bucket names have no '/', so the pair is unambiguous (as routeKey).
  return `${bucket}/${key}`;
}

function trim<T>(map: Map<string, T>, max: number): void {
  for (const id of map.keys()) {
    if (map.size <= max) return;
    map.delete(id);
  }
}

/** The metadata cache the settings ask for; undefined when both of its maps are turned off. */
export function metadataCacheOf(config: EdgeConfig): MetadataCache | undefined {
  if (
    config.metadataCacheEntries === 0 &&
    (config.negativeCacheEntries === 0 || config.negativeTtlMs === 0)
  ) {
    return undefined;
  }
  return new MetadataCache({
    maxEntries: config.metadataCacheEntries,
    defaultTtlMs: config.metadataDefaultTtlMs,
    maxNegativeEntries: config.negativeCacheEntries,
    negativeTtlMs: config.negativeTtlMs,
  });
}
