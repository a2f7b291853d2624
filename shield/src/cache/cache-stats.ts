/**
 * Counters the cache adds to on its data path. Plain numbers: a slice costs
 * an addition, and the shield's metrics read them at scrape time.
 */
export interface CacheStats {
  /** Slices a reader found in memory. */
  memoryHits: number;
  /** Slices a reader had loaded from the disk tier. */
  diskHits: number;
  /** Slices a reader had to fetch from S3 (it started the GET). */
  misses: number;
  /** Slices a reader took from a fetch already in flight (one GET, several readers). */
  collapsed: number;
  /** Bytes of the slices readers used, by where each came from (as the four counts above). */
  memoryHitBytes: number;
  diskHitBytes: number;
  missBytes: number;
  collapsedBytes: number;
  /** Slices read-ahead started fetching before anyone asked. */
  readAhead: number;
  /** Fetches aborted because no reader was left and too little had arrived to be worth finishing. */
  abandoned: number;
  /** Disk files that failed verification on read or on the start-up scan, and were deleted. */
  diskCorrupt: number;
  diskWrites: number;
  /** Slices not written because the disk write queue was full (the hot path never waits for disk). */
  diskWritesDropped: number;
  diskWriteErrors: number;
  statHits: number;
  /** Stats that went to S3: first sight, expired entries and revalidations. */
  statMisses: number;
  /** Revalidations S3 answered 304 (the entry was kept and refreshed). */
  statRevalidated: number;
  /** Revalidations that found a new ETag. */
  statChanged: number;
  /** Stats answered "not found" from a cached 404. */
  statNegativeHits: number;
  /** Stale entries served because S3 failed to revalidate them. */
  statStale: number;
}

export function newCacheStats(): CacheStats {
  return {
    memoryHits: 0,
    diskHits: 0,
    misses: 0,
    collapsed: 0,
    memoryHitBytes: 0,
    diskHitBytes: 0,
    missBytes: 0,
    collapsedBytes: 0,
    readAhead: 0,
    abandoned: 0,
    diskCorrupt: 0,
    diskWrites: 0,
    diskWritesDropped: 0,
    diskWriteErrors: 0,
    statHits: 0,
    statMisses: 0,
    statRevalidated: 0,
    statChanged: 0,
    statNegativeHits: 0,
    statStale: 0,
  };
}

/** What the metrics read from a cache at scrape time. */
export interface CacheReadout {
  readonly stats: Readonly<CacheStats>;
  readonly memoryBytes: number;
  readonly diskBytes: number;
  /** Bytes reserved by fetches in flight (S3 or disk), not yet in a tier. */
  readonly fetchingBytes: number;
  readonly memoryEvictions: number;
  readonly diskEvictions: number;
}
