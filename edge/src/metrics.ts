import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type DistributionCell, DistributionLabels } from "./distribution-labels.js";
import type { MetadataCache } from "./edge-cache/metadata-cache.js";
import type { SliceCache } from "./edge-cache/slice-cache.js";
import { EdgeErrorCode } from "./errors.js";
import type { ReassemblyBudget } from "./rtmp/reassembly-budget.js";
import type { SharedEncoder } from "./session/shared-encoder.js";
import { type ShieldPool, ShieldResult } from "./shield-client/shield-pool.js";
import { LookupCommand, type PlayResult, Protocol, Rejection } from "./vocabulary.js";

/**
 * The edge's metrics. Hot-path counts (bytes out) are plain numbers that
 * prom-client reads at scrape time, so a media message costs an addition,
 * not a prom-client call.
 *
 * Metrics of viewers carry a `distribution` label: the distribution id,
 * "none" for connections not routed to one (distribution-labels.ts), or
 * "other" past max-distribution-labels. The labelled children are made
 * once per play or connection, never per message.
 */
export class EdgeMetrics {
  /** The distribution label values and their live numbers (egress bytes, viewers). */
  readonly distributions: DistributionLabels;
  readonly openConnections: Record<Protocol, number> = { rtmp: 0, rtmpe: 0, rtmpt: 0, rtmpte: 0, http: 0 };
  readonly connections: Counter<"protocol">;
  readonly #rejections: Counter<"distribution" | "rejection">;
  readonly #plays: Counter<"distribution" | "container" | "result">;
  /** Play events refused by a signed-URL distribution, by reason (signed-urls/signed-url-verifier.ts SignatureRefusal). */
  readonly #signedUrlRefusals: Counter<"distribution" | "reason">;
  readonly #timeToFirstFrame: Histogram<"distribution" | "container">;
  readonly sessionErrors: Counter<"code">;
  readonly slowViewerDrops: Counter;
  /** Admitted connections by class (pre_play, playing); set by the edge, read at scrape. */
  admitted: () => { prePlay: number; playing: number } = () => ({ prePlay: 0, playing: 0 });
  /** Tracks left out of plays (FLV cannot carry their codec), counted per play. */
  readonly skippedTracks: Counter<"codec" | "reason">;
  /** Lookups refused because the connection's lookup budget was spent. */
  readonly lookupsRefused: Counter<"command">;
  /** Reads of a play retried because no shield replica answered, or S3 failed behind them, by error code. */
  readonly playReadRetries: Counter<"code">;
  /** Plays that ended with NetStream.Play.Failed or FileStructureInvalid, by error code. */
  readonly #playFailures: Counter<"distribution" | "code">;
  /** Open RTMPT sessions; kept by the RTMPT gateway, read at scrape. */
  rtmptSessions = 0;
  /** RTMPT requests by command (ident, open, send, idle, close, invalid) and result. */
  readonly rtmptRequests: Counter<"command" | "result">;

  /** Access-log lines written to the spool. */
  readonly accessLogLines: Counter;
  /** Access-log lines lost, by reason (spool_full, logging_disabled). */
  readonly accessLogDropped: Counter<"reason">;
  /** Access-log files the shield confirmed written to the logging bucket. */
  readonly accessLogDelivered: Counter;
  /** Failed deliveries of access-log files (each retried), by error code. */
  readonly accessLogDeliveryFailures: Counter<"code">;

  readonly #registry: Registry;

  /** `maxDistributionLabels`: max-distribution-labels (distribution-labels.ts). */
  constructor(registry: Registry, maxDistributionLabels = 1000) {
    this.#registry = registry;
    const open = this.openConnections;
    const distributions = new DistributionLabels(maxDistributionLabels);
    this.distributions = distributions;
    new Counter({
      name: "streamfront_edge_egress_bytes_total",
      help: 'Bytes written to viewers (every byte: handshake, replies, media), by distribution and protocol; distribution="none" before a connect was accepted.',
      labelNames: ["distribution", "protocol"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const cell of distributions.cells()) {
          for (const protocol of Object.values(Protocol)) {
            const bytes = cell.egress[protocol];
            // "none" keeps a series per protocol, so a sum by protocol always exists.
            if (bytes > 0 || cell === distributions.none)
              this.inc({ distribution: cell.label, protocol }, bytes);
          }
        }
      },
    });
    new Gauge({
      name: "streamfront_edge_viewers",
      help: "Open connections that started a play (counted from their first play until they close), by distribution and protocol.",
      labelNames: ["distribution", "protocol"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const cell of distributions.cells()) {
          for (const protocol of Object.values(Protocol)) {
            if (cell.viewers[protocol] > 0 || cell.egress[protocol] > 0)
              this.set({ distribution: cell.label, protocol }, cell.viewers[protocol]);
          }
        }
      },
    });
    new Gauge({
      name: "streamfront_edge_distribution_labels",
      help: "Distributions with their own value of the distribution label now (at most max-distribution-labels; the rest are other).",
      registers: [registry],
      collect() {
        this.set(distributions.labelled);
      },
    });
    new Gauge({
      name: "streamfront_edge_connections",
      help: "Open viewer connections.",
      labelNames: ["protocol"] as const,
      registers: [registry],
      collect() {
        for (const [protocol, count] of Object.entries(open)) this.set({ protocol }, count);
      },
    });
    const metrics = this;
    new Gauge({
      name: "streamfront_edge_admitted_connections",
      help: "Connections and RTMPT sessions holding a place under the connection limits: pre_play (not playing yet, tightly capped per address) or playing.",
      labelNames: ["class"] as const,
      registers: [registry],
      collect() {
        const admitted = metrics.admitted();
        this.set({ class: "pre_play" }, admitted.prePlay);
        this.set({ class: "playing" }, admitted.playing);
      },
    });
    this.connections = new Counter({
      name: "streamfront_edge_connections_total",
      help: "Viewer connections accepted.",
      labelNames: ["protocol"] as const,
      registers: [registry],
    });
    this.#rejections = new Counter({
      name: "streamfront_edge_rejections_total",
      help:
        "Connections or connects refused, by rejection (the reason NetConnection.Connect.Rejected names) and distribution " +
        '(the disabled or web distribution the host named; "none" when the connection named none).',
      labelNames: ["distribution", "rejection"] as const,
      registers: [registry],
    });
    this.#plays = new Counter({
      name: "streamfront_edge_plays_total",
      help: "Play requests by distribution, container and result (started, completed, not_found, failed, denied).",
      labelNames: ["distribution", "container", "result"] as const,
      registers: [registry],
    });
    this.#signedUrlRefusals = new Counter({
      name: "streamfront_edge_signed_url_refusals_total",
      help: "Play events (play, play2, seek, unpause, getStreamLength) a distribution with trusted signers refused, by distribution and reason.",
      labelNames: ["distribution", "reason"] as const,
      registers: [registry],
    });
    this.#timeToFirstFrame = new Histogram({
      name: "streamfront_edge_time_to_first_frame_seconds",
      help: "From the play command to the first media message written, by distribution and container.",
      labelNames: ["distribution", "container"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    });
    this.sessionErrors = new Counter({
      name: "streamfront_edge_session_errors_total",
      help: "Connections closed because of a protocol or shield error, by error code.",
      labelNames: ["code"] as const,
      registers: [registry],
    });
    new Gauge({
      name: "streamfront_edge_rtmpt_sessions",
      help: "Open RTMPT (HTTP tunnel) sessions.",
      registers: [registry],
      collect() {
        this.set(metrics.rtmptSessions);
      },
    });
    this.rtmptRequests = new Counter({
      name: "streamfront_edge_rtmpt_requests_total",
      help: "RTMPT requests by command and result.",
      labelNames: ["command", "result"] as const,
      registers: [registry],
    });
    this.slowViewerDrops = new Counter({
      name: "streamfront_edge_slow_viewer_drops_total",
      help: "Viewers dropped because they read slower than their stream plays.",
      registers: [registry],
    });
    this.accessLogLines = new Counter({
      name: "streamfront_edge_access_log_lines_total",
      help: "Access-log lines written to the spool (one per playback event of a distribution with Logging).",
      registers: [registry],
    });
    this.accessLogDropped = new Counter({
      name: "streamfront_edge_access_log_lines_dropped_total",
      help: "Access-log lines lost: spool_full (the spool was at access-log-spool-bytes), logging_disabled (spooled for a distribution that no longer logs).",
      labelNames: ["reason"] as const,
      registers: [registry],
    });
    this.accessLogDropped.inc({ reason: "spool_full" }, 0);
    this.accessLogDelivered = new Counter({
      name: "streamfront_edge_access_log_files_delivered_total",
      help: "Access-log files a shield confirmed written to the logging bucket (then deleted from the spool).",
      registers: [registry],
    });
    this.accessLogDeliveryFailures = new Counter({
      name: "streamfront_edge_access_log_delivery_failures_total",
      help: "Failed deliveries of access-log files through a shield, by error code; the file stays spooled and is retried.",
      labelNames: ["code"] as const,
      registers: [registry],
    });
    this.skippedTracks = new Counter({
      name: "streamfront_edge_media_skipped_tracks_total",
      help: "Tracks left out of plays because RTMP cannot carry their codec, by codec and reason (counted per play).",
      labelNames: ["codec", "reason"] as const,
      registers: [registry],
    });
    this.lookupsRefused = new Counter({
      name: "streamfront_edge_lookups_refused_total",
      help: "getStreamLength calls and plays refused unasked because the connection spent its lookup budget.",
      labelNames: ["command"] as const,
      registers: [registry],
    });
    for (const command of Object.values(LookupCommand)) this.lookupsRefused.inc({ command }, 0);
    this.playReadRetries = new Counter({
      name: "streamfront_edge_play_read_retries_total",
      help:
        "Reads of a play retried within the viewer's buffer, by error code: EDGE_ERR_SHIELD_UNAVAILABLE (no shield " +
        'replica answered) or EDGE_ERR_ORIGIN_UNAVAILABLE (S3 failed behind them); a stall that ran out ends the play: plays_total{result="failed"}.',
      labelNames: ["code"] as const,
      registers: [registry],
    });
    this.#playFailures = new Counter({
      name: "streamfront_edge_play_failures_total",
      help: "Plays that failed (NetStream.Play.Failed, FileStructureInvalid), by distribution and error code (README: Error codes).",
      labelNames: ["distribution", "code"] as const,
      registers: [registry],
    });
    for (const code of [EdgeErrorCode.ShieldUnavailable, EdgeErrorCode.OriginUnavailable]) {
      this.playReadRetries.inc({ code }, 0);
    }
    for (const protocol of Object.values(Protocol)) this.connections.inc({ protocol }, 0);
    for (const rejection of Object.values(Rejection))
      this.#rejections.inc({ distribution: distributions.none.label, rejection }, 0);
  }

  /** A connection or connect refused; `cell` is the distribution it named, or none. */
  countRejection(rejection: string, cell: DistributionCell = this.distributions.none): void {
    const labels = { distribution: cell.label, rejection };
    this.#rejections.inc(labels);
    cell.track(`rejection\u0000${rejection}`, () => this.#rejections.remove(labels));
  }

  countPlay(cell: DistributionCell, container: string, result: PlayResult): void {
    const labels = { distribution: cell.label, container, result };
    this.#plays.inc(labels);
    cell.track(`play\u0000${container}\u0000${result}`, () => this.#plays.remove(labels));
  }

  countPlayFailure(cell: DistributionCell, code: string): void {
    const labels = { distribution: cell.label, code };
    this.#playFailures.inc(labels);
    cell.track(`failure\u0000${code}`, () => this.#playFailures.remove(labels));
  }

  countSignedUrlRefusal(cell: DistributionCell, reason: string): void {
    const labels = { distribution: cell.label, reason };
    this.#signedUrlRefusals.inc(labels);
    cell.track(`refusal\u0000${reason}`, () => this.#signedUrlRefusals.remove(labels));
  }

  observeFirstFrame(cell: DistributionCell, container: string, seconds: number): void {
    const labels = { distribution: cell.label, container };
    this.#timeToFirstFrame.observe(labels, seconds);
    cell.track(`ttff\u0000${container}`, () => this.#timeToFirstFrame.remove(labels));
  }

  /** Publishes the slice cache's counters, read at scrape time. */
  observeCache(cache: SliceCache): void {
    const registers = [this.#registry];
    const stats = cache.stats;
    new Counter({
      name: "streamfront_edge_cache_requests_total",
      help: "Slice lookups in the edge cache: hit, miss (fetched from the shield), collapsed (joined a fetch in flight).",
      labelNames: ["result"] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ result: "hit" }, stats.hits);
        this.inc({ result: "miss" }, stats.misses);
        this.inc({ result: "collapsed" }, stats.collapsed);
      },
    });
    new Counter({
      name: "streamfront_edge_cache_read_bytes_total",
      help: "Bytes of the slices looked up in the edge cache, by result: hit, miss (fetched from the shield), collapsed (joined a fetch in flight).",
      labelNames: ["result"] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ result: "hit" }, stats.hitBytes);
        this.inc({ result: "miss" }, stats.missBytes);
        this.inc({ result: "collapsed" }, stats.collapsedBytes);
      },
    });
    new Counter({
      name: "streamfront_edge_cache_evictions_total",
      help: "Slices dropped from the edge cache to stay within its memory bound.",
      registers,
      collect() {
        this.reset();
        this.inc(stats.evictions);
      },
    });
    new Counter({
      name: "streamfront_edge_cache_fill_bytes_total",
      help: "Bytes fetched from the shield into the edge cache (whole slices).",
      registers,
      collect() {
        this.reset();
        this.inc(stats.fetchedBytes);
      },
    });
    new Gauge({
      name: "streamfront_edge_cache_bytes",
      help: "Bytes held by the edge's slice cache, fetched and in flight.",
      registers,
      collect() {
        this.set(cache.bytes);
      },
    });
    new Gauge({
      name: "streamfront_edge_cache_slices",
      help: "Slices held by the edge's slice cache, fetched and in flight.",
      registers,
      collect() {
        this.set(cache.sliceCount);
      },
    });
  }

  /** Publishes the metadata cache's counters, read at scrape time. */
  observeMetadata(metadata: MetadataCache): void {
    const registers = [this.#registry];
    const stats = metadata.stats;
    new Counter({
      name: "streamfront_edge_metadata_cache_total",
      help:
        "Opens answered from remembered metadata: negative_hit (not found, shield not asked), fallback (served " +
        "while no shield replica answered), fallback_miss (no shield and nothing usable remembered).",
      labelNames: ["result"] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ result: "negative_hit" }, stats.negativeHits);
        this.inc({ result: "fallback" }, stats.fallbacks);
        this.inc({ result: "fallback_miss" }, stats.fallbackMisses);
      },
    });
    new Gauge({
      name: "streamfront_edge_metadata_cache_entries",
      help: "Objects the edge remembers metadata of: found, or missing (NOT_FOUND).",
      labelNames: ["kind"] as const,
      registers,
      collect() {
        const size = metadata.size;
        this.set({ kind: "found" }, size.found);
        this.set({ kind: "missing" }, size.missing);
      },
    });
  }

  /** Publishes the shield replicas' traffic and health, read at scrape time. */
  observeShield(pool: ShieldPool): void {
    const registers = [this.#registry];
    const stats = pool.stats;
    new Counter({
      name: "streamfront_edge_shield_requests_total",
      help: "StatObject and ReadRange calls to shield replicas, by replica and result (each failover attempt counts).",
      labelNames: ["replica", "result"] as const,
      registers,
      collect() {
        this.reset();
        for (const [replica, traffic] of stats.replicas()) {
          for (const result of Object.values(ShieldResult)) {
            const count = traffic.requests[result];
            if (count > 0) this.inc({ replica, result }, count);
          }
        }
      },
    });
    new Counter({
      name: "streamfront_edge_shield_bytes_total",
      help: "Object bytes received from shield replicas, by replica.",
      labelNames: ["replica"] as const,
      registers,
      collect() {
        this.reset();
        for (const [replica, traffic] of stats.replicas()) this.inc({ replica }, traffic.bytes);
      },
    });
    new Counter({
      name: "streamfront_edge_shield_failovers_total",
      help: "Shield calls moved to the next replica after a replica failed, timed out or went silent.",
      registers,
      collect() {
        this.reset();
        this.inc(stats.failovers);
      },
    });
    new Gauge({
      name: "streamfront_edge_shield_replicas",
      help: "Shield replicas known to the edge: healthy, or penalized (failed recently, tried last).",
      labelNames: ["state"] as const,
      registers,
      collect() {
        const health = pool.health();
        this.set({ state: "healthy" }, health.healthy);
        this.set({ state: "penalized" }, health.penalized);
      },
    });
  }

  /** Media messages encoded once and shared, and encoded fresh. */
  observeEncoder(encoder: SharedEncoder): void {
    const stats = encoder.stats;
    new Counter({
      name: "streamfront_edge_encoded_messages_total",
      help: "Media messages chunked for a viewer: shared (encoded once for another viewer) or fresh.",
      labelNames: ["result"] as const,
      registers: [this.#registry],
      collect() {
        this.reset();
        this.inc({ result: "shared" }, stats.shared);
        this.inc({ result: "fresh" }, stats.encoded);
      },
    });
  }

  /** Bytes of partly received RTMP messages held by all connections, read at scrape. */
  /** The access-log spool's size, read at scrape. */
  observeAccessLogSpool(spool: { readonly bytes: number }): void {
    new Gauge({
      name: "streamfront_edge_access_log_spool_bytes",
      help: "Bytes of access-log files spooled on disk and not yet delivered, against access-log-spool-bytes.",
      registers: [this.#registry],
      collect() {
        this.set(spool.bytes);
      },
    });
  }

  observeReassembly(budget: ReassemblyBudget): void {
    new Gauge({
      name: "streamfront_edge_reassembly_bytes",
      help: "Bytes held by viewers' partly received RTMP messages, against reassembly-budget-bytes.",
      registers: [this.#registry],
      collect() {
        this.set(budget.usedBytes);
      },
    });
  }
}
