import { Server } from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import { InternalTls } from "../../lib/grpc/internal-tls.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import type { Logger } from "../../lib/log.js";
import { bindGrpc, formatAddress } from "../../lib/net/listen.js";
import { ConfigServiceService } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { ApiServer } from "./api/api-server.js";
import {
  type AccessKeyLookup,
  type AccessKeyPair,
  AccessKeys,
  generateDevelopmentKeyPair,
  resolveAccessKeys,
} from "./api/auth/access-keys.js";
import { RequestAuthenticator } from "./api/auth/authenticator.js";
import { PublicKeyApi } from "./api/public-key-api.js";
import { StreamingApi } from "./api/streaming-api.js";
import { type ControllerConfig, controllerSettings } from "./config.js";
import { ConfigService } from "./config-service.js";
import { DeploymentTracker } from "./deployment.js";
import { DeploymentLatency } from "./deployment-latency.js";
import {
  type Distribution,
  type DistributionInput,
  DistributionKind,
  newDistribution,
} from "./distribution.js";
import { registerApiMetrics, registerControllerMetrics, registerDeploymentHistogram } from "./metrics.js";
import { type DistributionStore, isPublicKeyStore } from "./store/distribution-store.js";
import { FileStore } from "./store/file-store.js";
import { MemoryStore } from "./store/memory-store.js";
import { parseRedisUrl } from "./store/redis-connection.js";
import { RedisStore } from "./store/redis-store.js";
import { TrustedKeysFile } from "./trusted-keys.js";

/** The CallerReference of the distribution made from demo-bucket. */
const demoCallerReference = "streamfront-demo";

export interface ControllerServerDeps {
  readonly config: ControllerConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Where distributions live. @default a new MemoryStore (single-machine mode) */
  readonly store?: DistributionStore;
  /** See ConfigServiceOptions.maxQueuedUpdates. */
  readonly maxQueuedUpdates?: number;
  /** See ConfigServiceOptions.maxWatchers. */
  readonly maxWatchers?: number;
  /**
   * API keys when the config names none (tests). Without either, a
   * development pair is generated and shown once at start-up.
   */
  readonly accessKeys?: AccessKeyLookup;
  /** How often the trusted-keys file is checked for changes. @default 2000 */
  readonly trustedKeysPollMs?: number;
  /** Internal-link credentials (role controller). @default InternalTls.fromConfig(config): fails without tls-* files unless internal-tls is plaintext */
  readonly tls?: InternalTls;
}

/** Who may watch the config: edges and shields (the two kinds of node it pushes to). */
export const controllerCallers = {
  "streamfront.controller.v1.ConfigService": [PeerRole.Edge, PeerRole.Shield],
} as const;

/**
 * The controller: distributions in a store, pushed to edges and shields over
 * ConfigService. The HTTP API comes later; until then `store` and
 * `createDistribution` are how `npm start` and tests manage distributions.
 */
export class ControllerServer {
  readonly store: DistributionStore;
  readonly configService: ConfigService;
  readonly deployment: DeploymentTracker;
  readonly api: StreamingApi;
  readonly publicKeys: PublicKeyApi;
  /** The trusted-keys file, when trusted-keys-file is set. */
  readonly trustedKeys: TrustedKeysFile | undefined;
  /** Set when no keys were configured: the pair generated for this run (single-machine mode). */
  readonly developmentKeys: AccessKeyPair | undefined;
  readonly #config: ControllerConfig;
  readonly #logger: Logger;
  readonly #server: Server;
  /** Times this replica's changes from InProgress to Deployed. */
  readonly #deploymentLatency: DeploymentLatency;
  readonly #apiServer: ApiServer;
  /** A store passed in belongs to the caller, who closes it. */
  readonly #ownsStore: boolean;
  readonly tls: InternalTls;
  #address = "";
  #apiAddress = "";
  #demo: Distribution | undefined;

  constructor(deps: ControllerServerDeps) {
    this.#config = deps.config;
    this.#logger = deps.logger;
    // Before the store: a bad file stops start-up with nothing opened yet.
    this.trustedKeys =
      deps.config.trustedKeysFile === ""
        ? undefined
        : TrustedKeysFile.open({
            path: deps.config.trustedKeysFile,
            ownAccountId: deps.config.accountId,
            logger: deps.logger.child({ module: "trusted-keys" }),
            ...(deps.trustedKeysPollMs === undefined ? {} : { pollIntervalMs: deps.trustedKeysPollMs }),
          });
    this.tls =
      deps.tls ??
      InternalTls.fromConfig(deps.config, PeerRole.Controller, deps.logger.child({ module: "internal-tls" }));
    this.store = deps.store ?? createStore(deps.config, deps.logger);
    this.#ownsStore = deps.store === undefined;
    this.configService = new ConfigService({
      store: this.store,
      accountId: deps.config.accountId,
      ...(this.trustedKeys ? { trustedKeys: this.trustedKeys } : {}),
      logger: deps.logger.child({ module: "config-service" }),
      watcherTtlMs: deps.config.watcherTtlMs,
      ...(deps.maxQueuedUpdates === undefined ? {} : { maxQueuedUpdates: deps.maxQueuedUpdates }),
      ...(deps.maxWatchers === undefined ? {} : { maxWatchers: deps.maxWatchers }),
    });
    this.deployment = new DeploymentTracker({ store: this.store });
    const deploymentSeconds = registerDeploymentHistogram(deps.registry);
    this.#deploymentLatency = new DeploymentLatency({
      deployment: this.deployment,
      observe: (seconds) => deploymentSeconds.observe(seconds),
    });
    const latency = this.#deploymentLatency;
    this.api = new StreamingApi({
      store: this.store,
      deployment: this.deployment,
      onChange: (id, version) => (version === null ? latency.deleted(id) : latency.changed(id, version)),
      baseDomain: deps.config.baseDomain,
      accountId: deps.config.accountId,
      maxDistributions: deps.config.maxDistributions,
      maxTags: deps.config.maxTags,
      activeKeyPairIds: () => this.#activeKeyPairIds(),
    });
    this.publicKeys = new PublicKeyApi({
      store: isPublicKeyStore(this.store) ? this.store : undefined,
      maxPublicKeys: deps.config.maxPublicKeys,
    });
    let keys: AccessKeyLookup | undefined = resolveAccessKeys(deps.config) ?? deps.accessKeys;
    if (!keys) {
      this.developmentKeys = generateDevelopmentKeyPair();
      keys = AccessKeys.of([this.developmentKeys]);
    } else {
      this.developmentKeys = undefined;
    }
    this.#apiServer = new ApiServer({
      api: this.api,
      publicKeys: this.publicKeys,
      authenticator: new RequestAuthenticator({ keys }),
      logger: deps.logger.child({ module: "api" }),
      limits: {
        maxCnames: deps.config.maxCnames,
        maxTags: deps.config.maxTags,
        // Empty: any 12-digit account may be a signer.
        ...(deps.config.trustedSignerAccounts.length > 0
          ? { knownSignerAccounts: new Set(deps.config.trustedSignerAccounts) }
          : {}),
      },
      maxBodyBytes: deps.config.maxBodyBytes,
      maxConnections: deps.config.apiMaxConnections,
      maxConnectionsPerAddress: deps.config.apiMaxConnectionsPerAddress,
      maxConcurrentRequests: deps.config.apiMaxConcurrentRequests,
      headersTimeoutMs: deps.config.apiHeadersTimeoutMs,
      bodyTimeoutMs: deps.config.apiBodyTimeoutMs,
      ...(deps.config.apiPublicUrl ? { publicBaseUrl: deps.config.apiPublicUrl } : {}),
      observer: registerApiMetrics(deps.registry),
    });
    registerControllerMetrics(deps.registry, this.store, this.configService, this.deployment);
    this.tls.publishMetrics(deps.registry, "controller");
    this.#server = new Server({
      // Watch streams live for hours; keepalive pings find dead watchers.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
      // Watchers send hellos and acks of a few bytes: anything bigger is
      // refused (RESOURCE_EXHAUSTED) before it is buffered whole.
      "grpc.max_receive_message_length": 64 * 1024,
      // An edge or shield opens one watch; a connection carrying many is
      // not one, and each stream costs a store subscription.
      "grpc.max_concurrent_streams": 8,
      // A connection with no call for a minute (one that never opened a
      // watch, or whose watch ended) is closed.
      "grpc.max_connection_idle_ms": 60_000,
      // A watcher without a certificate naming an edge or a shield gets no config (it holds bucket names and keys).
      interceptors: this.tls.serverInterceptors(controllerCallers),
    });
    this.#server.addService(ConfigServiceService, this.configService.handlers());
  }

  /** Creates the demo distribution when configured, binds gRPC and the API; resolves with the gRPC host:port. */
  async start(): Promise<string> {
    if (this.#config.demoBucket) await this.#createDemo();
    this.#address = await bindGrpc(
      this.#server,
      this.#config.host,
      this.#config.grpcPort,
      this.tls.serverCredentials(),
      controllerSettings.grpcPort,
    );
    const api = await this.#apiServer.listen(
      this.#config.apiPort,
      this.#config.apiHost,
      controllerSettings.apiPort,
    );
    this.#apiAddress = formatAddress(api.address, api.port);
    return this.#address;
  }

  get address(): string {
    return this.#address;
  }

  /** host:port of the CloudFront control API. */
  get apiAddress(): string {
    return this.#apiAddress;
  }

  /** The distribution made from demo-bucket, when there is one. */
  get demoDistribution(): Distribution | undefined {
    return this.#demo;
  }

  isReady(): boolean {
    return this.#address !== "";
  }

  /** A new distribution with a fresh id and a domain name under the base domain. */
  /** This installation's account id (account-id): whose keys TrustedSigners' Self means. */
  get accountId(): string {
    return this.#config.accountId;
  }

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

  /**
   * ActiveTrustedSigners: "self" and account-id sign with this account's
   * public keys, other accounts with the trusted-keys file's.
   */
  async #activeKeyPairIds(): Promise<ReadonlyMap<string, readonly string[]>> {
    const own = isPublicKeyStore(this.store) ? (await this.store.listPublicKeys()).map((k) => k.id) : [];
    const out = new Map<string, string[]>([
      ["self", own],
      [this.#config.accountId, [...own]],
    ]);
    for (const k of this.trustedKeys?.current() ?? []) {
      const ids = out.get(k.accountId) ?? [];
      ids.push(k.id);
      out.set(k.accountId, ids);
    }
    return out;
  }

  /** Ends the watch streams (watchers keep their config and reconnect), then the server. */
  async close(deadlineMs = 2_000): Promise<void> {
    await this.#apiServer.close();
    this.#deploymentLatency.close();
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
    this.trustedKeys?.close();
    if (this.#ownsStore) await this.store.close();
  }

  /**
   * The demo distribution is made once per store: a restart on a kept store
   * (store-file, Redis) finds it by its CallerReference, or any distribution
   * holding the demo CNAME, and leaves it as the operator left it (disabled,
   * other CNAMEs). Only when neither exists (a new store, or the operator
   * deleted it) is one created.
   */
  async #createDemo(): Promise<void> {
    const cname = this.#config.demoCname.toLowerCase();
    const existing =
      (await this.store.getByCallerReference(demoCallerReference)) ??
      (await this.store.list()).find((d) => d.cnames.includes(cname));
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
      callerReference: demoCallerReference,
      comment: "created at start-up from demo-bucket",
    });
    this.#logger.info(
      { id: this.#demo.id, domainName: this.#demo.domainName, cname, originBucket: this.#demo.originBucket },
      `demo distribution ready: rtmp://${cname}/cfx/st`,
    );
  }
}

/** The embedded store (in a store-file when set), or Redis when redis-url is set. */
function createStore(config: ControllerConfig, logger: Logger): DistributionStore {
  if (config.redisUrl === "") {
    if (config.storeFile === "") return new MemoryStore();
    const store = FileStore.open(config.storeFile);
    logger.info(
      { storeFile: config.storeFile, distributions: store.exportState().distributions.length },
      "store file loaded",
    );
    return store;
  }
  return new RedisStore({
    connection: parseRedisUrl(config.redisUrl),
    prefix: config.redisPrefix,
    logger: logger.child({ module: "redis-store" }),
  });
}
