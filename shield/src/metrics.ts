import { Counter, exponentialBuckets, Gauge, Histogram, type Registry } from "prom-client";
import { type OriginObserver, OriginOperation, OriginResult } from "./s3-origin.js";

/** gRPC outcomes of the shield's calls, a fixed set for the `code` label. */
export const CallCode = {
  Ok: "ok",
  InvalidArgument: "invalid_argument",
  PermissionDenied: "permission_denied",
  NotFound: "not_found",
  OutOfRange: "out_of_range",
  FailedPrecondition: "failed_precondition",
  Unavailable: "unavailable",
  Cancelled: "cancelled",
  Internal: "internal",
} as const;
export type CallCode = (typeof CallCode)[keyof typeof CallCode];

/**
 * The shield's metrics. Byte counts are plain numbers the data path adds to
 * and prom-client reads at scrape time, so a piece costs an addition, not a
 * prom-client call; per-request counters and the latency histogram are
 * updated once per request.
 */
export class ShieldMetrics implements OriginObserver {
  /** Body bytes read from S3. */
  originBytes = 0;
  /** Data bytes sent to edges in ReadRange responses. */
  servedBytes = 0;
  /** ReadRange calls streaming right now. */
  activeRangeReads = 0;
  /** Response bytes handed to gRPC and not yet taken by HTTP/2, over all calls. */
  queuedBytes = 0;
  readonly #originRequests: Counter<"operation" | "result">;
  readonly #originLatency: Histogram<"operation">;
  readonly #rangeReads: Counter<"code">;
  readonly #statRequests: Counter<"code">;

  constructor(registry: Registry) {
    this.#originRequests = new Counter({
      name: "streamfront_shield_origin_requests_total",
      help: "Requests the shield made to S3, by operation (head, get) and result.",
      labelNames: ["operation", "result"] as const,
      registers: [registry],
    });
    for (const operation of Object.values(OriginOperation)) {
      for (const result of Object.values(OriginResult)) this.#originRequests.inc({ operation, result }, 0);
    }
    this.#originLatency = new Histogram({
      name: "streamfront_shield_origin_request_duration_seconds",
      help: "Time until S3 answered a request (headers; the body streams afterwards).",
      labelNames: ["operation"] as const,
      buckets: exponentialBuckets(0.005, 2, 12),
      registers: [registry],
    });
    this.#rangeReads = new Counter({
      name: "streamfront_shield_range_reads_total",
      help: "ReadRange calls finished, by gRPC status.",
      labelNames: ["code"] as const,
      registers: [registry],
    });
    this.#statRequests = new Counter({
      name: "streamfront_shield_stat_requests_total",
      help: "StatObject calls finished, by gRPC status.",
      labelNames: ["code"] as const,
      registers: [registry],
    });
    for (const code of [CallCode.Ok, CallCode.NotFound, CallCode.Unavailable]) {
      this.#rangeReads.inc({ code }, 0);
      this.#statRequests.inc({ code }, 0);
    }
    const self = this;
    publishTotal(
      registry,
      "streamfront_shield_origin_bytes_total",
      "Body bytes read from S3.",
      () => self.originBytes,
    );
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
    new Gauge({
      name: "streamfront_shield_queued_bytes",
      help: "Response bytes waiting for HTTP/2 flow control, over all calls (bounded per call).",
      registers: [registry],
      collect() {
        this.set(self.queuedBytes);
      },
    });
  }

  request(operation: OriginOperation, result: OriginResult, seconds: number): void {
    this.#originRequests.inc({ operation, result });
    this.#originLatency.observe({ operation }, seconds);
  }

  bytes(count: number): void {
    this.originBytes += count;
  }

  rangeReadDone(code: CallCode): void {
    this.#rangeReads.inc({ code });
  }

  statDone(code: CallCode): void {
    this.#statRequests.inc({ code });
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
