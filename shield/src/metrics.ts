import { Counter, exponentialBuckets, Gauge, Histogram, type Registry } from "prom-client";
import { Lane } from "./bucket-limiter.js";
import { type CacheReadout, type CacheStats, newCacheStats } from "./cache/cache-stats.js";
import { type OriginObserver, OriginOperation, OriginResult } from "./s3/outcome.js";

/** gRPC outcomes of the shield's calls, a fixed set for the `grpc_status` label. */
export const CallCode = {
  Ok: "ok",
  InvalidArgument: "invalid_argument",
  PermissionDenied: "permission_denied",
  NotFound: "not_found",
  OutOfRange: "out_of_range",
  FailedPrecondition: "failed_precondition",
  Unavailable: "unavailable",
  /** Shed: too many lookups to the bucket (SHIELD_ERR_LOOKUPS_SHED). */
  ResourceExhausted: "resource_exhausted",
  Cancelled: "cancelled",
  Internal: "internal",
} as const;
export type CallCode = (typeof CallCode)[keyof typeof CallCode];

/**
 * The shield's metrics. Byte counts are plain numbers the data path adds to
 * and prom-client reads at scrape time, so a piece costs an addition, not a
 * prom-client call; per-request counters and the latency histogram are
 * updated once per request.
 *
 * S3 metrics carry a `bucket` label: only buckets the shield reads, which
 * are its allowlist (and the logging buckets of access logs) — a refused
 * bucket is never asked for, so it never becomes a label value.
 */
export class ShieldMetrics implements OriginObserver {
  readonly #accessLogDeliveries: Counter<"grpc_status">;
  /** Body bytes read from S3, by bucket. */
  readonly #originBytes = new Map<string, number>();
  /** Data bytes sent to edges in ReadRange responses. */
  servedBytes = 0;
  /** ReadRange calls streaming right now. */
  activeRangeReads = 0;
  /** Response bytes handed to gRPC and not yet taken by HTTP/2, over all calls. */
  queuedBytes = 0;
  /** The slice cache's counters; it adds to them, the scrape reads them. */
  readonly cache: CacheStats = newCacheStats();
  /** Live sizes of the cache, once the shield has one (all zero without). */
  #cacheReadout: CacheReadout | undefined;
  readonly #originRequests: Counter<"bucket" | "operation" | "result">;
  readonly #originLatency: Histogram<"bucket" | "operation">;
  /** Buckets whose request series were set to zero already. */
  readonly #bucketsSeen = new Set<string>();
  readonly #rangeReads: Counter<"grpc_status">;
  readonly #statRequests: Counter<"grpc_status">;
  readonly #originRefused: Counter<"bucket" | "operation">;
  #queueReadout: (() => Readonly<Record<Lane, number>>) | undefined;

  constructor(registry: Registry) {
    this.#originRequests = new Counter({
      name: "streamfront_shield_origin_requests_total",
      help: "Requests the shield made to S3 (each retry counts), by bucket, operation (head, get) and result.",
      labelNames: ["bucket", "operation", "result"] as const,
      registers: [registry],
    });
    this.#originLatency = new Histogram({
      name: "streamfront_shield_origin_request_duration_seconds",
      help: "Time until S3 answered a request (headers; the body streams afterwards), by bucket and operation.",
      labelNames: ["bucket", "operation"] as const,
      buckets: exponentialBuckets(0.005, 2, 12),
      registers: [registry],
    });
    this.#originRefused = new Counter({
      name: "streamfront_shield_origin_refused_total",
      help:
        "S3 requests the shield refused before asking S3 because the bucket's lane was full: " +
        "head (lookups shed, SHIELD_ERR_LOOKUPS_SHED) or get (read queue full, SHIELD_ERR_OVERLOADED), by bucket.",
      labelNames: ["bucket", "operation"] as const,
      registers: [registry],
    });
    this.#rangeReads = new Counter({
      name: "streamfront_shield_range_reads_total",
      help: "ReadRange calls finished, by gRPC status.",
      labelNames: ["grpc_status"] as const,
      registers: [registry],
    });
    this.#statRequests = new Counter({
      name: "streamfront_shield_stat_requests_total",
      help: "StatObject calls finished, by gRPC status.",
      labelNames: ["grpc_status"] as const,
      registers: [registry],
    });
    this.#accessLogDeliveries = new Counter({
      name: "streamfront_shield_access_log_deliveries_total",
      help: "DeliverAccessLog calls finished (access-log files written to logging buckets for edges), by gRPC status.",
      labelNames: ["grpc_status"] as const,
      registers: [registry],
    });
    this.#accessLogDeliveries.inc({ grpc_status: CallCode.Ok }, 0);
    for (const code of [CallCode.Ok, CallCode.NotFound, CallCode.Unavailable]) {
      this.#rangeReads.inc({ grpc_status: code }, 0);
      this.#statRequests.inc({ grpc_status: code }, 0);
    }
    const self = this;
    new Counter({
      name: "streamfront_shield_origin_bytes_total",
      help: "Body bytes read from S3, by bucket.",
      labelNames: ["bucket"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [bucket, bytes] of self.#originBytes) this.inc({ bucket }, bytes);
      },
    });
    publishTotal(
      registry,
      "streamfront_shield_served_bytes_total",
      "Object bytes sent to edges in ReadRange responses.",
      () => self.servedBytes,
    );
    new Gauge({
      name: "streamfront_shield_active_range_reads",
      help: "ReadRange calls streaming now.",
      registers: [registry],
      collect() {
        this.set(self.activeRangeReads);
      },
    });
    this.#registerCacheMetrics(registry);
    new Gauge({
      name: "streamfront_shield_origin_queued_requests",
      help: "S3 requests waiting for a bucket slot now, by lane (read: range GETs; open: a play's HEAD; lookup: other HEADs).",
      labelNames: ["lane"] as const,
      registers: [registry],
      collect() {
        const queued = self.#queueReadout?.();
        for (const lane of Object.values(Lane)) this.set({ lane }, queued?.[lane] ?? 0);
      },
    });
    new Gauge({
      name: "streamfront_shield_queued_bytes",
      help: "Response bytes waiting for HTTP/2 flow control, over all calls (bounded per call).",
      registers: [registry],
      collect() {
        this.set(self.queuedBytes);
      },
    });
  }

  /** Publishes the S3 requests waiting per lane (S3Origin.queuedByLane). */
  attachQueues(readout: () => Readonly<Record<Lane, number>>): void {
    this.#queueReadout = readout;
  }

  /** Publishes the cache's sizes and evictions (its counters are `cache`, which it was given). */
  attachCache(readout: CacheReadout): void {
    this.#cacheReadout = readout;
  }

  #registerCacheMetrics(registry: Registry): void {
    const self = this;
    const stats = this.cache;
    new Counter({
      name: "streamfront_shield_cache_hits_total",
      help: "Slices readers found in a cache tier (memory, disk).",
      labelNames: ["tier"] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ tier: "memory" }, stats.memoryHits);
        this.inc({ tier: "disk" }, stats.diskHits);
      },
    });
    new Counter({
      name: "streamfront_shield_cache_read_bytes_total",
      help:
        "Bytes of the slices readers used, by where each came from: memory_hit, disk_hit, collapsed " +
        "(joined a fetch in flight), miss (the reader's own S3 GET).",
      labelNames: ["result"] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: "memory_hit" }, stats.memoryHitBytes);
        this.inc({ result: "disk_hit" }, stats.diskHitBytes);
        this.inc({ result: "collapsed" }, stats.collapsedBytes);
        this.inc({ result: "miss" }, stats.missBytes);
      },
    });
    publishTotal(
      registry,
      "streamfront_shield_cache_misses_total",
      "Slices a reader had to fetch from S3 itself (it started the GET).",
      () => stats.misses,
    );
    publishTotal(
      registry,
      "streamfront_shield_cache_collapsed_total",
      "Slices a reader took from a fetch already in flight instead of starting its own S3 GET.",
      () => stats.collapsed,
    );
    publishTotal(
      registry,
      "streamfront_shield_cache_readahead_total",
      "Slices read-ahead started fetching before a sequential reader asked for them.",
      () => stats.readAhead,
    );
    publishTotal(
      registry,
      "streamfront_shield_cache_abandoned_total",
      "Slice fetches aborted (with their S3 request) because every reader left early.",
      () => stats.abandoned,
    );
    new Counter({
      name: "streamfront_shield_cache_evictions_total",
      help: "Slices dropped from a cache tier to stay within its bound.",
      labelNames: ["tier"] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ tier: "memory" }, self.#cacheReadout?.memoryEvictions ?? 0);
        this.inc({ tier: "disk" }, self.#cacheReadout?.diskEvictions ?? 0);
      },
    });
    new Gauge({
      name: "streamfront_shield_cache_bytes",
      help: "Bytes of slices held by each cache tier (each bounded by its setting).",
      labelNames: ["tier"] as const,
      registers: [registry],
      collect() {
        this.set({ tier: "memory" }, self.#cacheReadout?.memoryBytes ?? 0);
        this.set({ tier: "disk" }, self.#cacheReadout?.diskBytes ?? 0);
      },
    });
    new Gauge({
      name: "streamfront_shield_cache_fetching_bytes",
      help: "Bytes reserved by slice fetches in flight (from S3 or disk), not yet in a tier.",
      registers: [registry],
      collect() {
        this.set(self.#cacheReadout?.fetchingBytes ?? 0);
      },
    });
    new Counter({
      name: "streamfront_shield_cache_disk_operations_total",
      help: "Disk tier outcomes: slice files written, writes dropped (queue full), write errors, corrupt files deleted.",
      labelNames: ["result"] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: "written" }, stats.diskWrites);
        this.inc({ result: "dropped" }, stats.diskWritesDropped);
        this.inc({ result: "error" }, stats.diskWriteErrors);
        this.inc({ result: "corrupt" }, stats.diskCorrupt);
      },
    });
    new Counter({
      name: "streamfront_shield_stat_cache_total",
      help:
        "Object metadata lookups by result: hit (fresh), miss (asked S3), revalidated (304), changed (new ETag), " +
        "negative_hit (cached 404), stale (served stale because S3 failed).",
      labelNames: ["result"] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: "hit" }, stats.statHits);
        this.inc({ result: "miss" }, stats.statMisses);
        this.inc({ result: "revalidated" }, stats.statRevalidated);
        this.inc({ result: "changed" }, stats.statChanged);
        this.inc({ result: "negative_hit" }, stats.statNegativeHits);
        this.inc({ result: "stale" }, stats.statStale);
      },
    });
  }

  request(operation: OriginOperation, result: OriginResult, seconds: number, bucket: string): void {
    this.#seeBucket(bucket);
    this.#originRequests.inc({ bucket, operation, result });
    this.#originLatency.observe({ bucket, operation }, seconds);
  }

  bytes(count: number, bucket: string): void {
    this.#originBytes.set(bucket, (this.#originBytes.get(bucket) ?? 0) + count);
  }

  /** Body bytes read from S3, all buckets. */
  get originBytes(): number {
    let total = 0;
    for (const bytes of this.#originBytes.values()) total += bytes;
    return total;
  }

  refused(operation: OriginOperation, bucket: string): void {
    this.#seeBucket(bucket);
    this.#originRefused.inc({ bucket, operation });
  }

  /** A bucket's first request: every result starts at zero, so ratios over it have their series. */
  #seeBucket(bucket: string): void {
    if (this.#bucketsSeen.has(bucket)) return;
    this.#bucketsSeen.add(bucket);
    for (const operation of Object.values(OriginOperation)) {
      this.#originRefused.inc({ bucket, operation }, 0);
      for (const result of Object.values(OriginResult))
        this.#originRequests.inc({ bucket, operation, result }, 0);
    }
  }

  rangeReadDone(code: CallCode): void {
    this.#rangeReads.inc({ grpc_status: code });
  }

  accessLogDone(code: CallCode): void {
    this.#accessLogDeliveries.inc({ grpc_status: code });
  }

  statDone(code: CallCode): void {
    this.#statRequests.inc({ grpc_status: code });
  }
}

function publishTotal(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
