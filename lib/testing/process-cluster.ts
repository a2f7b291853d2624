import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { type AccessKeyPair, generateDevelopmentKeyPair } from "../../controller/src/api/auth/access-keys.js";
import { EmbeddedS3, embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { PeerRole } from "../grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../process/launcher.js";
import { testTlsEnv } from "./tls.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const logLevel = process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent";

/** One component process of the cluster, which a test may pause, resume or kill. */
export class ClusterProcess {
  readonly name: string;
  readonly launched: LaunchedComponent;
  readonly #exited: Promise<unknown>;

  constructor(name: string, launched: LaunchedComponent) {
    this.name = name;
    this.launched = launched;
    this.#exited = once(launched.child, "exit");
  }

  get addresses(): Readonly<Record<string, string>> {
    return this.launched.addresses;
  }

  get alive(): boolean {
    return this.launched.child.exitCode === null && this.launched.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.launched.child.kill(signal);
  }

  /** Ends it whatever its state (a stopped one is continued first) and waits for the exit. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.launched.child.kill("SIGCONT");
    this.launched.child.kill("SIGKILL");
    await this.#exited;
  }
}

export interface ProcessClusterOptions {
  readonly controllers?: number;
  readonly shields?: number;
  readonly edges?: number;
  /** Every controller uses this Redis (else each has its own embedded store; use one controller then). */
  readonly redisUrl?: string;
  /** Buckets created in the embedded S3. */
  readonly buckets: readonly string[];
  readonly controllerEnv?: Readonly<Record<string, string>>;
  readonly shieldEnv?: Readonly<Record<string, string>>;
  readonly edgeEnv?: Readonly<Record<string, string>>;
  /** Put in front of S3 by the shields instead of the embedded S3 itself (a fault proxy). */
  readonly s3EndpointFor?: (s3Endpoint: string) => string | Promise<string>;
  /**
   * The folder holding `<component>/src/main.js` to launch (e.g. an assembled
   * production image's dist); this build by default.
   */
  readonly buildRoot?: string;
  /** Launch every component as this user and group (a non-root image's USER). */
  readonly runAs?: { readonly uid: number; readonly gid: number };
}

/**
 * A streamfront of real processes on loopback, for tests that need several
 * of each component: an embedded S3 (in this process), controllers (sharing
 * a Redis when given), shields and edges, each launched from the same build
 * as this file. Edge i watches controller i % controllers and knows every
 * shield. Everything binds port 0.
 */
export class ProcessCluster {
  readonly s3: EmbeddedS3;
  readonly apiKeys: AccessKeyPair;
  readonly controllers: ClusterProcess[] = [];
  readonly shields: ClusterProcess[] = [];
  readonly edges: ClusterProcess[] = [];
  readonly #dirs: string[];
  readonly #options: ProcessClusterOptions;

  private constructor(s3: EmbeddedS3, dirs: string[], options: ProcessClusterOptions) {
    this.s3 = s3;
    this.#dirs = dirs;
    this.#options = options;
    this.apiKeys = generateDevelopmentKeyPair();
  }

  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const s3Dir = await mkdtemp(join(tmpdir(), "streamfront-cluster-s3-"));
    const stateDir = await mkdtemp(join(tmpdir(), "streamfront-cluster-state-"));
    const s3 = new EmbeddedS3({ directory: s3Dir, host: "127.0.0.1", port: 0 });
    await s3.start();
    const cluster = new ProcessCluster(s3, [s3Dir, stateDir], options);
    try {
      for (const bucket of options.buckets) await s3.ensureBucket(bucket);
      for (let i = 0; i < (options.controllers ?? 1); i++) await cluster.startController(i);
      for (let i = 0; i < (options.shields ?? 1); i++) await cluster.startShield(i);
      for (let i = 0; i < (options.edges ?? 1); i++) await cluster.startEdge(i);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  async startController(index: number): Promise<ClusterProcess> {
    const launched = await this.#launch("controller", {
      STREAMFRONT_CONTROLLER_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
      STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
      STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
      STREAMFRONT_CONTROLLER_API_PORT: "0",
      STREAMFRONT_CONTROLLER_API_ACCESS_KEYS: `${this.apiKeys.accessKeyId}:${this.apiKeys.secretAccessKey}`,
      STREAMFRONT_CONTROLLER_REDIS_URL: this.#options.redisUrl ?? "",
      STREAMFRONT_CONTROLLER_LOG_LEVEL: logLevel,
      ...this.#options.controllerEnv,
    });
    const process = new ClusterProcess(`controller-${index}`, launched);
    this.controllers[index] = process;
    return process;
  }

  async startShield(index: number): Promise<ClusterProcess> {
    const endpoint = (await this.#options.s3EndpointFor?.(this.s3.endpoint)) ?? this.s3.endpoint;
    const launched = await this.#launch("shield", {
      STREAMFRONT_SHIELD_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
      STREAMFRONT_SHIELD_GRPC_PORT: "0",
      STREAMFRONT_SHIELD_ADMIN_PORT: "0",
      STREAMFRONT_SHIELD_S3_ENDPOINT: endpoint,
      STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
      STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: embeddedS3Credentials.accessKeyId,
      STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: embeddedS3Credentials.secretAccessKey,
      STREAMFRONT_SHIELD_CONTROLLER: this.controllers[index % this.controllers.length]!.addresses.grpc!,
      STREAMFRONT_SHIELD_NODE_ID: `shield-${index}`,
      STREAMFRONT_SHIELD_LOG_LEVEL: logLevel,
      ...this.#options.shieldEnv,
    });
    const process = new ClusterProcess(`shield-${index}`, launched);
    this.shields[index] = process;
    return process;
  }

  async startEdge(index: number): Promise<ClusterProcess> {
    const launched = await this.#launch("edge", {
      STREAMFRONT_EDGE_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_EDGE", PeerRole.Edge),
      STREAMFRONT_EDGE_RTMP_PORT: "0",
      STREAMFRONT_EDGE_HTTP_PORT: "-1",
      STREAMFRONT_EDGE_ADMIN_PORT: "0",
      STREAMFRONT_EDGE_CONTROLLER: this.controllers[index % this.controllers.length]!.addresses.grpc!,
      STREAMFRONT_EDGE_SHIELD: this.shields.map((s) => s.addresses.grpc!).join(","),
      STREAMFRONT_EDGE_NODE_ID: `edge-${index}`,
      STREAMFRONT_EDGE_CONFIG_STATE_FILE: join(this.#dirs[1]!, `edge-${index}.json`),
      STREAMFRONT_EDGE_LOG_LEVEL: logLevel,
      ...this.#options.edgeEnv,
    });
    const process = new ClusterProcess(`edge-${index}`, launched);
    this.edges[index] = process;
    return process;
  }

  #launch(component: string, env: Record<string, string>): Promise<LaunchedComponent> {
    const root = this.#options.buildRoot;
    const entry = root
      ? join(root, component, "src", "main.js")
      : fileURLToPath(new URL(`../../${component}/src/main.js`, import.meta.url));
    return launchComponent(entry, {
      env,
      stdio: logLevel === "silent" ? "ignore" : "inherit",
      ...(this.#options.runAs ?? {}),
    });
  }

  /** The official CloudFront client, pointed at controller `index`'s API with the cluster's keys. */
  cloudfront(index = 0): CloudFrontClient {
    return new CloudFrontClient({
      endpoint: `http://${this.controllers[index]!.addresses.api}`,
      region: "us-east-1",
      credentials: this.apiKeys,
      // Tests look at each answer; the SDK's own retries would hide a 503.
      maxAttempts: 1,
    });
  }

  /** host:port of edge `index`'s RTMP listener. */
  rtmpAddress(index: number): string {
    return this.edges[index]!.addresses.rtmp!;
  }

  async metricsText(component: ClusterProcess): Promise<string> {
    return (await fetch(`http://${component.addresses.admin}/metrics`)).text();
  }

  async stop(): Promise<void> {
    for (const p of [...this.edges, ...this.shields, ...this.controllers]) await p?.kill();
    await this.s3.close();
    for (const dir of this.#dirs) await rm(dir, { recursive: true, force: true });
  }
}
