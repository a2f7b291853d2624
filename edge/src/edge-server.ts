import type { Server as HttpServer } from "node:http";
import type { Registry } from "prom-client";
import { type Logger, LogRateLimiter } from "../../lib/log.js";
import { formatAddress, type PortSetting } from "../../lib/net/listen.js";
import type { Distribution, PublicKey } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { AccessLogger } from "./access-log/access-logger.js";
import type { LogDelivery } from "./access-log/log-shipper.js";
import { type EdgeConfig, edgeSettings } from "./config.js";
import type { MetadataCache } from "./edge-cache/metadata-cache.js";
import type { SliceCache } from "./edge-cache/slice-cache.js";
import { EdgeErrorCode } from "./errors.js";
import type { SkippedTrack } from "./media/media-tag.js";
import type { RangeSource } from "./media/range-source.js";
import { EdgeMetrics } from "./metrics.js";
import { DistributionTable, type LookupFailure } from "./routing/distribution-table.js";
import { ReassemblyBudget } from "./rtmp/reassembly-budget.js";
import { prepareDiffieHellman } from "./rtmp/rtmpe/diffie-hellman.js";
import { RtmpSession, type SessionContext, type ViewerTransport } from "./session/rtmp-session.js";
import { realScheduler, type Scheduler, type TimerHandle } from "./session/scheduler.js";
import { SharedEncoder } from "./session/shared-encoder.js";
import type { OpenPurpose } from "./shield-client/object-opener.js";
import type { ShieldPool } from "./shield-client/shield-pool.js";
import { PlayAuthorizer } from "./signed-urls/play-authorizer.js";
import { SignedUrlVerifier } from "./signed-urls/signed-url-verifier.js";
import { SignerKeyRegistry } from "./signed-urls/signer-key-registry.js";
import { type Admission, ConnectionLimits } from "./transport/connection-limits.js";
import { HttpDeadlines } from "./transport/http-deadlines.js";
import { createHttpResponder } from "./transport/http-responder.js";
import { RtmpListener } from "./transport/listener.js";
import { RtmptGateway } from "./transport/rtmpt/rtmpt-gateway.js";
import type { Protocol } from "./vocabulary.js";

/**
 * How often a drain looks for connections whose plays ended (a session has
 * no "play ended" event; a Play.Complete'd viewer that keeps its connection
 * waits at most this long to be ended).
 */
const drainPollMs = 250;
/** An ended connection's time to take its last bytes and close before it is destroyed. */
const closeGraceMs = 2000;

/** The distributions this edge knows, as the controller last pushed them. */
export interface DistributionSource {
  /** A new map object after every change, so identity tells a change. */
  current(): ReadonlyMap<string, Distribution>;
  /** The public keys trusted signers sign with (absent: none, so signed distributions refuse every play). */
  publicKeys?(): ReadonlyMap<string, PublicKey>;
}

/** Opens objects through the shield; null when the object does not exist. */
export interface ObjectOpener {
  open(bucket: string, key: string, purpose?: OpenPurpose): Promise<RangeSource | null>;
}

export interface EdgeServerDeps {
  readonly config: EdgeConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly distributions: DistributionSource;
  readonly objects: ObjectOpener;
  /** The slice cache the objects are read through, for its metrics. */
  readonly cache?: SliceCache;
  /** The shield replicas the objects come from, for their traffic and health metrics. */
  readonly shieldPool?: ShieldPool;
  /** The metadata cache the objects are opened with, for its metrics. */
  readonly metadata?: MetadataCache;
  /** The sessions' clocks, timers and randomness; Node's (realScheduler) unless a test brings its own. */
  readonly scheduler?: Scheduler;
  /**
   * How spooled access-log files leave the edge (through a shield), when
   * access-log-spool-dir is set; absent, or no spool dir: this edge writes
   * no access logs.
   */
  readonly accessLogDelivery?: AccessLogDelivery;
}

export interface AccessLogDelivery {
  readonly deliver: LogDelivery;
  /** Whether the distribution still logs by this edge's config (LogShipperOptions.isLogging). */
  isLogging(distributionId: string): boolean;
  /** This edge's node id: the spool's file names and x-edge-location's default. */
  readonly nodeId: string;
}

/**
 * An edge pod's viewer-facing side: the RTMP port and the shared RTMP/HTTP
 * port, connection limits, and one RtmpSession per viewer.
 */
export class EdgeServer {
  readonly #deps: EdgeServerDeps;
  readonly #metrics: EdgeMetrics;
  readonly #limits: ConnectionLimits;
  readonly #sessions = new Set<RtmpSession>();
  readonly #listeners: RtmpListener[] = [];
  readonly #http: HttpServer;
  readonly #httpDeadlines: HttpDeadlines;
  readonly #noisy: LogRateLimiter;
  readonly #noisyFlush: NodeJS.Timeout;
  readonly #encoder = new SharedEncoder();
  /** Objects whose skipped tracks were logged: once per object, not per viewer (bounded). */
  readonly #skipWarned = new Set<string>();
  readonly #reassemblyBudget: ReassemblyBudget;
  readonly #rtmpt: RtmptGateway;
  readonly #authorizer: PlayAuthorizer;
  /** The access log, when this edge writes one. */
  readonly accessLog: AccessLogger | undefined;
  readonly #edgeLocation: string;
  #table: DistributionTable = new DistributionTable([]);
  #tableSource: ReadonlyMap<string, Distribution> | null = null;
  #draining = false;
  #closing = false;
  /** While a drain runs: told when a session closes, so the last one ends the drain at once. */
  #onSessionGone: (() => void) | null = null;

  constructor(deps: EdgeServerDeps) {
    this.#deps = deps;
    this.#metrics = new EdgeMetrics(deps.registry, deps.config.maxDistributionLabels);
    // A scrape follows the table too, so a deleted distribution's series go even when no viewer connects.
    this.#metrics.distributions.syncOnScrape(() => deps.distributions.current());
    const noKeys: ReadonlyMap<string, PublicKey> = new Map();
    const keys = new SignerKeyRegistry(
      { publicKeys: () => deps.distributions.publicKeys?.() ?? noKeys },
      (key) =>
        deps.logger.warn(
          { keyPairId: key.id, problem: key.problem },
          "a pushed public key cannot verify signatures",
        ),
    );
    const scheduler = deps.scheduler ?? realScheduler;
    this.#authorizer = new PlayAuthorizer(new SignedUrlVerifier({ keys }), () => scheduler.wallClockMs());
    if (deps.cache) this.#metrics.observeCache(deps.cache);
    if (deps.shieldPool) this.#metrics.observeShield(deps.shieldPool);
    if (deps.metadata) this.#metrics.observeMetadata(deps.metadata);
    this.#metrics.observeEncoder(this.#encoder);
    this.#reassemblyBudget = new ReassemblyBudget(deps.config.reassemblyBudgetBytes);
    this.#metrics.observeReassembly(this.#reassemblyBudget);
    const { config } = deps;
    const delivery = deps.accessLogDelivery;
    this.#edgeLocation = config.edgeLocation || delivery?.nodeId || "";
    this.accessLog =
      delivery && config.accessLogSpoolDir !== ""
        ? new AccessLogger({
            dir: config.accessLogSpoolDir,
            nodeId: delivery.nodeId,
            maxBytes: config.accessLogSpoolBytes,
            maxFileBytes: config.accessLogMaxFileBytes,
            intervalMs: config.accessLogIntervalMs,
            retryMaxMs: config.accessLogRetryMaxMs,
            deliver: delivery.deliver,
            isLogging: (id) => delivery.isLogging(id),
            scheduler,
            logger: deps.logger.child({ module: "access-log" }),
            metrics: this.#metrics,
          })
        : undefined;
    this.#limits = new ConnectionLimits({
      maxTotal: config.maxConnections,
      maxPerIp: config.maxConnectionsPerIp,
      maxPrePlayPerIp: config.maxPrePlayConnectionsPerIp,
      prePlayTimeoutMs: config.prePlayTimeoutMs,
    });
    this.#metrics.admitted = () => ({ prePlay: this.#limits.prePlay, playing: this.#limits.playing });
    this.#noisy = new LogRateLimiter({
      maxLines: config.logRepeatLines,
      intervalMs: config.logRepeatIntervalMs,
    });
    // Summaries of suppressed lines are written even when the flood stops.
    this.#noisyFlush = setInterval(() => this.#noisy.flush(), config.logRepeatIntervalMs);
    this.#noisyFlush.unref();
    this.#rtmpt = new RtmptGateway({
      accept: (transport, protocol, admission) => this.acceptRtmp(transport, null, protocol, admission),
      admit: (ip, onPrePlayTimeout) => this.#limits.acquire(ip, onPrePlayTimeout),
      onPlayingRequest: (socket) => this.#limits.promoteSocket(socket),
      noisy: this.#noisy,
      logger: deps.logger,
      metrics: this.#metrics,
      limits: {
        maxSessions: config.rtmptMaxSessions,
        maxSessionsPerIp: config.rtmptMaxSessionsPerIp,
        idleTimeoutMs: config.rtmptIdleTimeoutMs,
        maxBodyBytes: config.rtmptMaxBodyBytes,
        maxResponseBytes: config.rtmptMaxResponseBytes,
        maxQueuedBytes: config.rtmptMaxQueuedBytes,
        // The session waits for 'drain' at maxQueuedBytes; the tunnel must signal by then.
        highWaterMark: config.maxQueuedBytes,
      },
    });
    this.#http = createHttpResponder(this.#rtmpt, (error) => {
      this.#metrics.sessionErrors.inc({ code: EdgeErrorCode.HttpInvalid });
      this.#noisy.warn(
        deps.logger,
        `closing:${EdgeErrorCode.HttpInvalid}`,
        { code: EdgeErrorCode.HttpInvalid, err: error.message },
        "closing connection",
      );
    });
    this.#http.keepAliveTimeout = config.httpIdleTimeoutMs;
    this.#httpDeadlines = new HttpDeadlines(
      this.#http,
      {
        headersTimeoutMs: config.httpHeadersTimeoutMs,
        requestTimeoutMs: config.httpRequestTimeoutMs,
        idleTimeoutMs: config.httpIdleTimeoutMs,
      },
      (socket, phase) => {
        this.#metrics.sessionErrors.inc({ code: EdgeErrorCode.HttpTimeout });
        this.#noisy.warn(
          deps.logger,
          `closing:${EdgeErrorCode.HttpTimeout}:${phase}`,
          { code: EdgeErrorCode.HttpTimeout, remote: socket.remoteAddress, phase },
          "closing connection",
        );
      },
    );
  }

  get metrics(): EdgeMetrics {
    return this.#metrics;
  }

  /** Binds the listeners; returns their addresses by name (rtmp, http). */
  async start(): Promise<Record<string, string>> {
    const { config, logger } = this.#deps;
    // OpenSSL checks the RTMPE group's prime once (~50–90 ms); do it now, not in a viewer's handshake.
    prepareDiffieHellman();
    // Files a killed edge left were picked up by the spool; deliver them now, and new ones every interval.
    this.accessLog?.start();
    const addresses: Record<string, string> = {};
    const specs: { name: string; port: number; setting: PortSetting; http: boolean }[] = [
      { name: "rtmp", port: config.rtmpPort, setting: edgeSettings.rtmpPort, http: false },
    ];
    if (config.httpPort >= 0)
      specs.push({ name: "http", port: config.httpPort, setting: edgeSettings.httpPort, http: true });
    for (const spec of specs) {
      const listener = new RtmpListener({
        name: spec.name,
        host: config.host,
        port: spec.port,
        portSetting: spec.setting,
        logger,
        metrics: this.#metrics,
        limits: this.#limits,
        noisy: this.#noisy,
        firstBytesTimeoutMs: config.handshakeTimeoutMs,
        acceptRtmp: (socket, head, protocol, admission) => this.acceptRtmp(socket, head, protocol, admission),
        ...(spec.http ? { http: { server: this.#http, deadlines: this.#httpDeadlines } } : {}),
      });
      const address = await listener.listen();
      this.#listeners.push(listener);
      addresses[spec.name] = formatAddress(address.address, address.port);
    }
    return addresses;
  }

  /**
   * Starts an RTMP session on a TCP socket or an RTMPT tunnel's stream;
   * its first play moves `admission` to the playing class.
   */
  acceptRtmp(
    socket: ViewerTransport,
    head: Buffer | null,
    protocol: Protocol,
    admission: Admission | null = null,
  ): void {
    this.#metrics.connections.inc({ protocol });
    this.#metrics.openConnections[protocol]++;
    const session = new RtmpSession(
      socket,
      {
        config: this.#deps.config,
        logger: this.#deps.logger,
        metrics: this.#metrics,
        protocol,
        scheduler: this.#deps.scheduler ?? realScheduler,
        encoder: this.#encoder,
        reassemblyBudget: this.#reassemblyBudget,
        resolveDistribution: (host) => this.#resolve(host),
        openObject: (bucket, key, purpose) => this.#deps.objects.open(bucket, key, purpose),
        authorizePlay: (distribution, request, address) =>
          this.#authorizer.authorize(distribution, request, address),
        noisy: this.#noisy,
        ...(admission ? { onPlaying: () => admission.promote() } : {}),
        reportSkipped: (bucket, key, tracks) => this.#reportSkipped(bucket, key, tracks),
        ...(this.accessLog ? this.#accessLogContext(this.accessLog) : {}),
      },
      () => {
        this.#sessions.delete(session);
        this.#metrics.openConnections[protocol]--;
        this.#onSessionGone?.();
      },
    );
    this.#sessions.add(session);
    if (head) session.feed(head);
  }

  #accessLogContext(log: AccessLogger): Pick<SessionContext, "accessLog" | "edgeLocation"> {
    return {
      accessLog: (distribution, record) => log.record(distribution, record),
      edgeLocation: this.#edgeLocation,
    };
  }

  /**
   * A play left tracks out: counted every time, logged once per object
   * (the set forgets everything past 4096 objects, so it stays bounded and
   * a long-lived edge logs again now and then).
   */
  #reportSkipped(bucket: string, key: string, tracks: readonly SkippedTrack[]): void {
    for (const t of tracks) this.#metrics.skippedTracks.inc({ codec: t.codec, reason: t.reason });
    const id = `${bucket}/${key}`;
    if (this.#skipWarned.has(id)) return;
    if (this.#skipWarned.size >= 4096) this.#skipWarned.clear();
    this.#skipWarned.add(id);
    this.#deps.logger.warn(
      { bucket, key, skipped: tracks.map((t) => `${t.kind} ${t.codec} (${t.reason})`) },
      "object plays without tracks RTMP cannot carry",
    );
  }

  #resolve(host: string): Distribution | { readonly failure: LookupFailure; readonly id?: string } {
    const current = this.#deps.distributions.current();
    if (current !== this.#tableSource) {
      this.#table = new DistributionTable(current.values());
      this.#tableSource = current;
      this.#metrics.distributions.sync(current);
    }
    return this.#table.resolve(host);
  }

  /** A drain began (SIGTERM): /readyz answers 503 from then on. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * The first half of a shutdown (README: Draining): new connections are
   * refused at once (the RTMP port closes; on the shared port, kept open
   * for RTMPT tunnels under way, RTMP is closed at its C0 and a new
   * tunnel's open is 503), connections with nothing playing are ended,
   * and plays under way go on until they
   * end or timeoutMs passes; then each gets NetStream.Play.Stop "the edge is
   * shutting down" and its connection is ended. Resolves when no connection
   * is left, or closeGraceMs after it ended the last ones (close() then
   * destroys what is still open).
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    for (const listener of this.#listeners) listener.stopAccepting();
    this.#rtmpt.stopOpening();
    const scheduler = this.#deps.scheduler ?? realScheduler;
    const startedAt = scheduler.now();
    const { logger } = this.#deps;
    logger.info({ sessions: this.#sessions.size, timeoutMs }, "draining");
    /** Connections ended by the drain, and when: an ended one that does not close is dropped closeGraceMs later. */
    const ended = new Map<RtmpSession, number>();
    let stopped = false;
    await new Promise<void>((resolve) => {
      let poll: TimerHandle | null = null;
      const check = () => {
        poll = null;
        const now = scheduler.now();
        const late = now - startedAt >= timeoutMs;
        if (late && !stopped) {
          stopped = true;
          const playing = [...this.#sessions].filter((session) => session.playing).length;
          if (playing > 0) logger.info({ playing }, "drain timeout: ending the plays under way");
        }
        for (const session of this.#sessions) {
          const at = ended.get(session);
          if (at === undefined) {
            if (!late && session.playing) continue;
            session.endForShutdown();
            ended.set(session, now);
          } else if (now - at >= closeGraceMs) {
            session.close();
          }
        }
        if (this.#sessions.size === 0) {
          resolve();
          return;
        }
        const untilTimeout = startedAt + timeoutMs - now;
        poll = scheduler.setTimer(
          untilTimeout > 0 ? Math.min(drainPollMs, untilTimeout) : drainPollMs,
          check,
        );
      };
      this.#onSessionGone = () => {
        if (this.#sessions.size > 0 || poll === null) return;
        poll.cancel();
        check();
      };
      check();
    });
    this.#onSessionGone = null;
    const ms = Math.round(scheduler.now() - startedAt);
    // close() came first (a second signal): it destroyed what was left.
    if (this.#closing) logger.info({ ms }, "drain cut short by close");
    else logger.info({ ms, endedPlays: stopped }, "drained");
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#noisyFlush);
    this.#noisy.flush(true);
    this.#rtmpt.close();
    for (const session of this.#sessions) session.close();
    await Promise.all(this.#listeners.map((l) => l.close()));
    this.#http.close();
    if (this.accessLog) {
      // The sessions' disconnect lines first (a destroyed socket closes on a later turn), then one last delivery.
      for (let turns = 0; this.#sessions.size > 0 && turns < 100; turns++)
        await new Promise((resolve) => setImmediate(resolve));
      await this.accessLog.close();
    }
  }
}
