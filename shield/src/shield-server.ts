import { hostname } from "node:os";
import type { S3Client } from "@aws-sdk/client-s3";
import { Server } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { InternalTls } from "../../lib/grpc/internal-tls.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import type { Logger } from "../../lib/log.js";
import { bindGrpc } from "../../lib/net/listen.js";
import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { ShieldServiceService } from "../../proto/gen/streamfront/shield/v1/shield.js";
import { AccessLogWriter } from "./access-log-writer.js";
import { BucketAllowlist } from "./bucket-allowlist.js";
import { CachingOrigin } from "./cache/caching-origin.js";
import { type ShieldConfig, shieldSettings } from "./config.js";
import { ShieldMetrics } from "./metrics.js";
import { S3Origin } from "./s3-origin.js";
import { ShieldService } from "./shield-service.js";

/** Largest request message the server accepts (requests are under 2 KiB). */
const maxRequestBytes = 64 * 1024;
/** Concurrent calls per HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
const maxConcurrentStreams = 1_024;
/** The server pings a connection this often, and closes it when no answer comes within the timeout. */
const keepaliveTimeMs = 60_000;
const keepaliveTimeoutMs = 20_000;

export interface ShieldServerDeps {
  readonly config: ShieldConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly s3Client: S3Client;
  /** See ShieldServiceOptions.maxInFlightPieces. @default 4 */
  readonly maxInFlightPieces?: number;
  /** Milliseconds clock of the cache's freshness; tests pass their own. */
  readonly now?: () => number;
  /** Internal-link credentials (role shield). @default InternalTls.fromConfig(config): fails without tls-* files unless internal-tls is plaintext */
  readonly tls?: InternalTls;
}

/** Who may call a shield: edges only (a shield or controller has no reason to read media through one). */
export const shieldCallers = { "streamfront.shield.v1.ShieldService": [PeerRole.Edge] } as const;

/**
 * One shield: the ShieldService on a gRPC server, reading S3 through
 * S3Origin behind the slice cache (CachingOrigin, unless both cache tiers
 * are off), refusing buckets outside its allowlist, and (when a controller
 * is configured) keeping that allowlist in step with the distributions.
 */
export class ShieldServer {
  readonly metrics: ShieldMetrics;
  readonly service: ShieldService;
  readonly buckets: BucketAllowlist;
  /** The slice cache; undefined when cache-memory-bytes is 0 and there is no cache-disk-dir. */
  readonly cache: CachingOrigin | undefined;
  readonly #config: ShieldConfig;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #watcher: ConfigWatcher | undefined;
  readonly tls: InternalTls;
  #address = "";
  /** The distributions of the last pushed config: whose Logging the access-log writer follows. */
  #distributions: ReadonlyMap<string, Distribution> = new Map();

  constructor(deps: ShieldServerDeps) {
    this.#config = deps.config;
    this.tls =
      deps.tls ??
      InternalTls.fromConfig(deps.config, PeerRole.Shield, deps.logger.child({ module: "internal-tls" }));
    this.#logger = deps.logger;
    this.metrics = new ShieldMetrics(deps.registry);
    this.tls.publishMetrics(deps.registry, "shield");
    this.buckets = new BucketAllowlist(deps.config.allowedBuckets);
    const s3 = new S3Origin({
      client: deps.s3Client,
      logger: deps.logger.child({ module: "s3-origin" }),
      observer: this.metrics,
      maxAttempts: deps.config.s3MaxAttempts,
      timeoutMs: deps.config.s3TimeoutMs,
      maxConcurrencyPerBucket: deps.config.s3MaxConcurrencyPerBucket,
      maxLookupsPerBucket: deps.config.s3MaxLookupsPerBucket,
      maxQueuedLookupsPerBucket: deps.config.s3MaxQueuedLookupsPerBucket,
    });
    this.metrics.attachQueues(() => s3.queuedByLane());
    const config = deps.config;
    this.cache =
      config.cacheMemoryBytes > 0 || config.cacheDiskDir !== ""
        ? new CachingOrigin({
            origin: s3,
            logger: deps.logger.child({ module: "slice-cache" }),
            sliceBytes: config.cacheSliceBytes,
            memoryBytes: config.cacheMemoryBytes,
            ...(config.cacheDiskDir === ""
              ? {}
              : { disk: { directory: config.cacheDiskDir, maxBytes: config.cacheDiskBytes } }),
            readAheadSlices: config.readAheadSlices,
            freshness: {
              defaultTtlMs: config.defaultTtlSeconds * 1000,
              minTtlMs: config.minTtlSeconds * 1000,
              maxTtlMs: config.maxTtlSeconds * 1000,
            },
            negativeTtlMs: config.negativeTtlSeconds * 1000,
            // A backstop only: the S3 layer times out and retries each attempt
            // itself, so a slice fetch is failed for silence only well past its
            // worst case (every attempt timing out after the longest backoff),
            // with room for a wait in the per-bucket queue.
            fetchIdleTimeoutMs: config.s3MaxAttempts * (config.s3TimeoutMs + 2_000) + 30_000,
            stats: this.metrics.cache,
            ...(deps.now === undefined ? {} : { now: deps.now }),
          })
        : undefined;
    if (this.cache) this.metrics.attachCache(this.cache);
    const origin = this.cache ?? s3;
    this.service = new ShieldService({
      origin,
      buckets: this.buckets,
      metrics: this.metrics,
      logger: deps.logger.child({ module: "shield-service" }),
      maxPieceBytes: deps.config.maxPieceBytes,
      ...(deps.maxInFlightPieces === undefined ? {} : { maxInFlightPieces: deps.maxInFlightPieces }),
      // The one writer to logging buckets: edges hold no S3 credentials (README: Access logs).
      accessLogs: new AccessLogWriter({
        client: deps.s3Client,
        logging: (id) => this.#distributions.get(id)?.logging,
        logger: deps.logger.child({ module: "access-log-writer" }),
        timeoutMs: deps.config.s3TimeoutMs,
        maxAttempts: deps.config.s3MaxAttempts,
      }),
    });
    this.#server = new Server({
      // Edges reconnect to another shield on GOAWAY; long-lived
      // connections would pin edges to one pod after a scale-out.
      "grpc.max_connection_age_ms": 30 * 60_000,
      "grpc.max_connection_age_grace_ms": 60_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
      // Requests are a bucket, a key (≤ 1 KiB) and a few numbers: anything
      // bigger is refused before it is buffered (the default is 4 MiB).
      "grpc.max_receive_message_length": maxRequestBytes,
      // Calls one connection may run at once; more wait in the client's
      // HTTP/2 queue, so one edge cannot hold unbounded server state.
      "grpc.max_concurrent_streams": maxConcurrentStreams,
      // A peer that stops answering pings is closed (a dead edge, or a
      // connection that never spoke gRPC); an idle connection is closed too.
      "grpc.keepalive_time_ms": keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": keepaliveTimeoutMs,
      "grpc.max_connection_idle_ms": deps.config.grpcIdleTimeoutMs,
      // The role check runs before any handler: a caller that is not an edge reads nothing.
      interceptors: this.tls.serverInterceptors(shieldCallers),
    });
    this.#server.addService(ShieldServiceService, this.service.handlers());
    if (deps.config.controller) {
      const watcher = new ConfigWatcher({
        address: deps.config.controller,
        nodeId: deps.config.nodeId || hostname(),
        role: "shield",
        tls: this.tls,
        logger: deps.logger.child({ module: "config-watcher" }),
        heartbeatMs: deps.config.controllerHeartbeatMs,
        stateFile: deps.config.configStateFile,
      });
      watcher.onChange((table) => this.applyDistributions(table.distributions));
      this.#watcher = watcher;
    } else if (deps.config.allowedBuckets.length === 0) {
      deps.logger.warn(
        "neither controller nor allowed-buckets is set: every request will be refused with PERMISSION_DENIED",
      );
    }
  }

  /**
   * The distributions of a pushed config: their origin buckets are the
   * allowlist, their Logging where access logs go. Called by the config
   * watcher (tests without a controller call it themselves).
   */
  applyDistributions(distributions: ReadonlyMap<string, Distribution>): void {
    this.#distributions = distributions;
    this.buckets.setDistributionBuckets([...distributions.values()].map((d) => d.originBucket));
  }

  /** Binds the gRPC port and starts watching the controller; resolves with host:port. */
  async start(): Promise<string> {
    // The disk tier's index is rebuilt before the first call can miss it.
    await this.cache?.open();
    this.#address = await bindGrpc(
      this.#server,
      this.#config.host,
      this.#config.grpcPort,
      this.tls.serverCredentials(),
      shieldSettings.grpcPort,
    );
    this.#watcher?.start();
    return this.#address;
  }

  get address(): string {
    return this.#address;
  }

  /** Serving, and (with a controller) holding a config so the allowlist is real. */
  isReady(): boolean {
    return this.#address !== "" && (this.#watcher === undefined || this.#watcher.isSynced());
  }

  /**
   * Stops taking calls and lets running ones finish for up to deadlineMs,
   * then ends them with SHIELD_ERR_SHUTTING_DOWN (edges fail over to
   * another shield) and, once they have answered or answerDeadlineMs later,
   * closes every connection.
   */
  async close(deadlineMs = 2_500, answerDeadlineMs = 500): Promise<void> {
    this.#watcher?.stop();
    await new Promise<void>((resolve) => {
      let forced: NodeJS.Timeout | undefined;
      const force = () => {
        if (forced) clearTimeout(forced);
        this.#server.forceShutdown();
        resolve();
      };
      const timer = setTimeout(() => {
        this.#logger.warn(
          { activeCalls: this.service.activeCalls },
          "shield close deadline passed; ending calls",
        );
        // The statuses must reach the edges before the connections go, or they see a reset instead of the
        // code: once every call has answered, tryShutdown's own close of the connections completes.
        forced = setTimeout(force, answerDeadlineMs);
        forced.unref();
        void this.service.abortAll();
      }, deadlineMs);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        if (forced) clearTimeout(forced);
        resolve();
      });
    });
    await this.cache?.close();
  }
}
