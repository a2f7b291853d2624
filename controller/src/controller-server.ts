import { Server } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import type { Logger } from "../../lib/log.js";
import { bindGrpc } from "../../lib/net/listen.js";
import { ConfigServiceService } from "../../proto/gen/streamfront/controller/v1/controller.js";
import type { ControllerConfig } from "./config.js";
import { ConfigService } from "./config-service.js";
import {
  type Distribution,
  type DistributionInput,
  DistributionKind,
  newDistribution,
} from "./distribution.js";
import { registerControllerMetrics } from "./metrics.js";
import type { DistributionStore } from "./store/distribution-store.js";
import { MemoryStore } from "./store/memory-store.js";

export interface ControllerServerDeps {
  readonly config: ControllerConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Where distributions live. @default a new MemoryStore (single-machine mode) */
  readonly store?: DistributionStore;
  /** See ConfigServiceOptions.maxQueuedUpdates. */
  readonly maxQueuedUpdates?: number;
}

/**
 * The controller: distributions in a store, pushed to edges and shields over
 * ConfigService. The HTTP API comes later; until then `store` and
 * `createDistribution` are how `npm start` and tests manage distributions.
 */
export class ControllerServer {
  readonly store: DistributionStore;
  readonly configService: ConfigService;
  readonly #config: ControllerConfig;
  readonly #logger: Logger;
  readonly #server: Server;
  #address = "";
  #demo: Distribution | undefined;

  constructor(deps: ControllerServerDeps) {
    this.#config = deps.config;
    this.#logger = deps.logger;
    this.store = deps.store ?? new MemoryStore();
    this.configService = new ConfigService({
      store: this.store,
      logger: deps.logger.child({ module: "config-service" }),
      ...(deps.maxQueuedUpdates === undefined ? {} : { maxQueuedUpdates: deps.maxQueuedUpdates }),
    });
    registerControllerMetrics(deps.registry, this.store, this.configService);
    this.#server = new Server({
      // Watch streams live for hours; keepalive pings find dead watchers.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    });
    this.#server.addService(ConfigServiceService, this.configService.handlers());
  }

  /** Creates the demo distribution when configured, binds gRPC; resolves with host:port. */
  async start(): Promise<string> {
    if (this.#config.demoBucket) await this.#createDemo();
    this.#address = await bindGrpc(this.#server, this.#config.host, this.#config.grpcPort);
    return this.#address;
  }

  get address(): string {
    return this.#address;
  }

  /** The distribution made from demo-bucket, when there is one. */
  get demoDistribution(): Distribution | undefined {
    return this.#demo;
  }

  isReady(): boolean {
    return this.#address !== "";
  }

  /** A new distribution with a fresh id and a domain name under the base domain. */
  async createDistribution(input: DistributionInput): Promise<Distribution> {
    const created = await this.store.create(
      newDistribution(input, { baseDomain: this.#config.baseDomain, now: Date.now() }),
    );
    this.#logger.info(
      {
        id: created.id,
        domainName: created.domainName,
        cnames: created.cnames,
        originBucket: created.originBucket,
      },
      "distribution created",
    );
    return created;
  }

  /** Ends the watch streams (watchers keep their config and reconnect), then the server. */
  async close(deadlineMs = 2_000): Promise<void> {
    this.configService.closeAll();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, deadlineMs);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #createDemo(): Promise<void> {
    const cname = this.#config.demoCname.toLowerCase();
    const existing = (await this.store.list()).find((d) => d.cnames.includes(cname));
    if (existing) {
      this.#demo = existing;
      this.#logger.info(
        { id: existing.id, domainName: existing.domainName, cname },
        "demo distribution exists",
      );
      return;
    }
    this.#demo = await this.createDistribution({
      originBucket: this.#config.demoBucket,
      cnames: [cname],
      enabled: true,
      kind: DistributionKind.Streaming,
      callerReference: "streamfront-demo",
      comment: "created at start-up from demo-bucket",
    });
    this.#logger.info(
      { id: this.#demo.id, domainName: this.#demo.domainName, cname, originBucket: this.#demo.originBucket },
      `demo distribution ready: rtmp://${cname}/cfx/st`,
    );
  }
}
