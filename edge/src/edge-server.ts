import type { Server as HttpServer } from "node:http";
import type { Registry } from "prom-client";
import type { Logger } from "../../lib/log.js";
import { formatAddress } from "../../lib/net/listen.js";
import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";
import type { EdgeConfig } from "./config.js";
import { DistributionTable, type LookupFailure } from "./distribution-table.js";
import { createHttpResponder } from "./http-responder.js";
import type { RangeSource } from "./media/range-source.js";
import { EdgeMetrics, type Protocol } from "./metrics.js";
import type { ShieldPool } from "./origin/shield-pool.js";
import type { SliceCache } from "./origin/slice-cache.js";
import { ReassemblyBudget } from "./rtmp/reassembly-budget.js";
import { prepareDiffieHellman } from "./rtmp/rtmpe/diffie-hellman.js";
import { ConnectionLimits, RtmpListener } from "./rtmp-listener.js";
import { RtmptGateway } from "./rtmpt/rtmpt-gateway.js";
import { RtmpSession, type ViewerTransport } from "./session/rtmp-session.js";
import { SharedEncoder } from "./session/shared-encoder.js";

/** The distributions this edge knows, as the controller last pushed them. */
export interface DistributionSource {
  /** A new map object after every change, so identity tells a change. */
  current(): ReadonlyMap<string, Distribution>;
}

/** Opens objects through the shield; null when the object does not exist. */
export interface ObjectOpener {
  open(bucket: string, key: string): Promise<RangeSource | null>;
}

export interface EdgeServerDeps {
  readonly config: EdgeConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly distributions: DistributionSource;
  readonly origin: ObjectOpener;
  /** The slice cache behind the origin, for its metrics. */
  readonly cache?: SliceCache;
  /** The shield replicas behind the origin, for their traffic and health metrics. */
  readonly shieldPool?: ShieldPool;
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
  readonly #encoder = new SharedEncoder();
  readonly #reassemblyBudget: ReassemblyBudget;
  readonly #rtmpt: RtmptGateway;
  #table: DistributionTable = new DistributionTable([]);
  #tableSource: ReadonlyMap<string, Distribution> | null = null;

  constructor(deps: EdgeServerDeps) {
    this.#deps = deps;
    this.#metrics = new EdgeMetrics(deps.registry);
    if (deps.cache) this.#metrics.observeCache(deps.cache);
    if (deps.shieldPool) this.#metrics.observeShield(deps.shieldPool);
    this.#metrics.observeEncoder(this.#encoder);
    this.#reassemblyBudget = new ReassemblyBudget(deps.config.reassemblyBudgetBytes);
    this.#metrics.observeReassembly(this.#reassemblyBudget);
    this.#limits = new ConnectionLimits(deps.config.maxConnections, deps.config.maxConnectionsPerIp);
    const { config } = deps;
    this.#rtmpt = new RtmptGateway({
      accept: (transport, protocol) => this.acceptRtmp(transport, null, protocol),
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
    this.#http = createHttpResponder(this.#rtmpt);
  }

  get metrics(): EdgeMetrics {
    return this.#metrics;
  }

  /** Binds the listeners; returns their addresses by name (rtmp, http). */
  async start(): Promise<Record<string, string>> {
    const { config, logger } = this.#deps;
    // OpenSSL checks the RTMPE group's prime once (~50–90 ms); do it now, not in a viewer's handshake.
    prepareDiffieHellman();
    const addresses: Record<string, string> = {};
    const specs: { name: string; port: number; http: boolean }[] = [
      { name: "rtmp", port: config.rtmpPort, http: false },
    ];
    if (config.httpPort >= 0) specs.push({ name: "http", port: config.httpPort, http: true });
    for (const spec of specs) {
      const listener = new RtmpListener({
        name: spec.name,
        host: config.host,
        port: spec.port,
        logger,
        metrics: this.#metrics,
        limits: this.#limits,
        firstBytesTimeoutMs: config.handshakeTimeoutMs,
        acceptRtmp: (socket, head, protocol) => this.acceptRtmp(socket, head, protocol),
        ...(spec.http ? { http: this.#http } : {}),
      });
      const address = await listener.listen();
      this.#listeners.push(listener);
      addresses[spec.name] = formatAddress(address.address, address.port);
    }
    return addresses;
  }

  /** Starts an RTMP session on a TCP socket or an RTMPT tunnel's stream. */
  acceptRtmp(socket: ViewerTransport, head: Buffer | null, protocol: Protocol): void {
    this.#metrics.connections.inc({ protocol });
    this.#metrics.openConnections[protocol]++;
    const session = new RtmpSession(
      socket,
      {
        config: this.#deps.config,
        logger: this.#deps.logger,
        metrics: this.#metrics,
        protocol,
        encoder: this.#encoder,
        reassemblyBudget: this.#reassemblyBudget,
        resolveDistribution: (host) => this.#resolve(host),
        openObject: (bucket, key) => this.#deps.origin.open(bucket, key),
      },
      () => {
        this.#sessions.delete(session);
        this.#metrics.openConnections[protocol]--;
      },
    );
    this.#sessions.add(session);
    if (head) session.feed(head);
  }

  #resolve(host: string): Distribution | LookupFailure {
    const current = this.#deps.distributions.current();
    if (current !== this.#tableSource) {
      this.#table = new DistributionTable(current.values());
      this.#tableSource = current;
    }
    return this.#table.lookup(host);
  }

  async close(): Promise<void> {
    this.#rtmpt.close();
    for (const session of this.#sessions) session.close();
    await Promise.all(this.#listeners.map((l) => l.close()));
    this.#http.close();
  }
}
