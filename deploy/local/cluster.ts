import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AccessKeyPair, generateDevelopmentKeyPair } from "../../controller/src/api/auth/access-keys.js";
import { errorMessage } from "../../lib/errors.js";
import { ComponentStartError, type LaunchedComponent, launchComponent } from "../../lib/process/launcher.js";
import { EmbeddedS3, embeddedS3Credentials } from "./embedded-s3.js";
import { describeObject, urlPathFor } from "./play-names.js";
import { RestartPolicy, type RestartPolicyOptions } from "./restart-policy.js";

export type ComponentName = "controller" | "shield" | "edge";

/**
 * What happens to a component while the cluster runs; `npm start` prints
 * each as a line, tests wait for them.
 */
export type ClusterEvent =
  /** It exited without being asked; it is started again after restartInMs. */
  | {
      readonly type: "exited";
      readonly component: ComponentName;
      readonly code: number | null;
      readonly signal: string | null;
      readonly restartInMs: number;
      readonly attempt: number;
    }
  /** Started again, on the ports it had (so its peers still find it). */
  | { readonly type: "restarted"; readonly component: ComponentName; readonly pid: number }
  /** A restart could not start (counts as another death). */
  | { readonly type: "restart-failed"; readonly component: ComponentName; readonly message: string }
  /** It kept dying: no more restarts. `npm start` stops everything and exits 1. */
  | {
      readonly type: "gave-up";
      readonly component: ComponentName;
      readonly deaths: number;
      readonly windowMs: number;
    };

interface Supervised {
  readonly name: ComponentName;
  readonly entry: string;
  /** The environment of the next launch: after the first, its ports are pinned to the ones it had. */
  env: Record<string, string>;
  current: LaunchedComponent;
  readonly policy: RestartPolicy;
  timer: NodeJS.Timeout | null;
}

export interface LocalClusterOptions {
  /** Folder whose files become the bucket's objects (keys = relative paths). */
  readonly mediaDir: string;
  /** Host the viewer-facing ports bind to, and the host in the printed URLs. */
  readonly host: string;
  readonly rtmpPort: number;
  /** -1 turns the shared RTMP/HTTP port off. */
  readonly httpPort: number;
  /** The controller's control API port (on 127.0.0.1). */
  readonly apiPort: number;
  readonly bucket: string;
  readonly logLevel: string;
  /** How the children's logs show: on this terminal, or nowhere (tests). */
  readonly stdio: "inherit" | "ignore";
  /** How a component that dies is restarted; false: it is not (it stays dead). @default RestartPolicy's defaults */
  readonly restart?: RestartPolicyOptions | false;
  /** Hears each component's exits and restarts (npm start prints them). */
  readonly onEvent?: (event: ClusterEvent) => void;
}

/** One object as a viewer plays it. */
export interface PlayableObject {
  readonly key: string;
  readonly playName: string;
  /** rtmp://host:port/cfx/st/<play name>, as ffmpeg/ffplay take it. */
  readonly url: string;
  /** Set when a play leaves tracks out (e.g. "plays audio only: video hevc cannot go over RTMP"). */
  readonly note: string;
}

/** A file of the media folder that cannot be played, and why (npm start lists it). */
export interface UnplayableObject {
  readonly key: string;
  readonly reason: string;
}

/**
 * A whole streamfront on one machine: an embedded S3 (s3rver) holding a
 * folder of media, and the controller, shield and edge each as its own
 * process, wired over loopback, with one demo distribution whose CNAME is
 * the host viewers use. `npm start` runs it; end-to-end tests too.
 */
export class LocalCluster {
  readonly options: LocalClusterOptions;
  /** The control API's key pair for this run (printed by npm start, used by tests). */
  readonly apiKeys: AccessKeyPair = generateDevelopmentKeyPair();
  readonly #components = new Map<ComponentName, Supervised>();
  #stopping = false;
  #s3: EmbeddedS3 | null = null;
  #dataDir: string | null = null;
  #addresses: Record<string, Readonly<Record<string, string>>> = {};
  #objects: PlayableObject[] = [];
  #unplayable: UnplayableObject[] = [];

  constructor(options: LocalClusterOptions) {
    this.options = options;
  }

  get s3(): EmbeddedS3 {
    if (!this.#s3) throw new Error("cluster not started");
    return this.#s3;
  }

  /** Listening addresses by component, e.g. addresses.edge.rtmp. */
  get addresses(): Readonly<Record<string, Readonly<Record<string, string>>>> {
    return this.#addresses;
  }

  get objects(): readonly PlayableObject[] {
    return this.#objects;
  }

  get unplayable(): readonly UnplayableObject[] {
    return this.#unplayable;
  }

  /** The edge's RTMP port as bound (useful with port 0). */
  get rtmpPort(): number {
    return portOf(this.#addresses.edge?.rtmp ?? "");
  }

  get httpPort(): number {
    return portOf(this.#addresses.edge?.http ?? "");
  }

  /** The running edge process (another one after a restart). */
  get edge(): LaunchedComponent {
    return this.#component("edge");
  }

  get shield(): LaunchedComponent {
    return this.#component("shield");
  }

  get controller(): LaunchedComponent {
    return this.#component("controller");
  }

  #component(name: ComponentName): LaunchedComponent {
    const supervised = this.#components.get(name);
    if (!supervised) throw new Error(`${name} not started`);
    return supervised.current;
  }

  async start(): Promise<void> {
    const o = this.options;
    try {
      this.#dataDir = await mkdtemp(join(tmpdir(), "streamfront-s3-"));
      this.#s3 = new EmbeddedS3({ directory: this.#dataDir, host: "127.0.0.1", port: 0 });
      const { endpoint } = await this.#s3.start();
      await this.#s3.ensureBucket(o.bucket);
      const keys = await this.#s3.uploadDirectory(o.bucket, o.mediaDir);
      const controller = await this.#launch("controller", {
        STREAMFRONT_CONTROLLER_HOST: "127.0.0.1",
        STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
        STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
        STREAMFRONT_CONTROLLER_API_HOST: "127.0.0.1",
        STREAMFRONT_CONTROLLER_API_PORT: String(o.apiPort),
        STREAMFRONT_CONTROLLER_API_ACCESS_KEYS: `${this.apiKeys.accessKeyId}:${this.apiKeys.secretAccessKey}`,
        STREAMFRONT_CONTROLLER_DEMO_BUCKET: o.bucket,
        STREAMFRONT_CONTROLLER_DEMO_CNAME: o.host,
        STREAMFRONT_CONTROLLER_LOG_LEVEL: o.logLevel,
      });
      const shield = await this.#launch("shield", {
        STREAMFRONT_SHIELD_HOST: "127.0.0.1",
        STREAMFRONT_SHIELD_GRPC_PORT: "0",
        STREAMFRONT_SHIELD_ADMIN_PORT: "0",
        STREAMFRONT_SHIELD_S3_ENDPOINT: endpoint,
        STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
        STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: embeddedS3Credentials.accessKeyId,
        STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: embeddedS3Credentials.secretAccessKey,
        STREAMFRONT_SHIELD_CONTROLLER: controller.grpc!,
        STREAMFRONT_SHIELD_LOG_LEVEL: o.logLevel,
      });
      const edge = await this.#launch("edge", {
        STREAMFRONT_EDGE_HOST: hostToBind(o.host),
        STREAMFRONT_EDGE_RTMP_PORT: String(o.rtmpPort),
        STREAMFRONT_EDGE_HTTP_PORT: String(o.httpPort),
        STREAMFRONT_EDGE_ADMIN_PORT: "0",
        STREAMFRONT_EDGE_CONTROLLER: controller.grpc!,
        STREAMFRONT_EDGE_SHIELD: shield.grpc!,
        STREAMFRONT_EDGE_NODE_ID: "local-edge",
        STREAMFRONT_EDGE_LOG_LEVEL: o.logLevel,
      });
      await waitReady([controller.admin!, shield.admin!, edge.admin!]);
      const port = portOf(edge.rtmp!);
      const base = `rtmp://${o.host}${port === 1935 ? "" : `:${port}`}/cfx/st`;
      for (const key of keys) {
        const listed = await describeObject(key, join(o.mediaDir, key));
        if (listed.playName === null) this.#unplayable.push({ key, reason: listed.note });
        else
          this.#objects.push({
            key,
            playName: listed.playName,
            url: `${base}/${urlPathFor(listed.playName)}`,
            note: listed.note,
          });
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async #launch(
    component: ComponentName,
    env: Record<string, string>,
  ): Promise<Readonly<Record<string, string>>> {
    // The component from the same build as this file (dist/ or any other build folder).
    const entry = fileURLToPath(new URL(`../../${component}/src/main.js`, import.meta.url));
    const child = await launchComponent(entry, { env, stdio: this.options.stdio });
    const supervised: Supervised = {
      name: component,
      entry,
      env: { ...env, ...pinnedPorts(component, child.addresses) },
      current: child,
      policy: new RestartPolicy(this.options.restart || {}),
      timer: null,
    };
    this.#components.set(component, supervised);
    this.#addresses[component] = child.addresses;
    this.#watch(supervised);
    return child.addresses;
  }

  /** Restarts the component when it exits on its own (a crash, an OOM kill, a kill -9 by hand). */
  #watch(supervised: Supervised): void {
    const { child } = supervised.current;
    child.once("exit", (code, signal) => {
      if (this.#stopping || this.options.restart === false) return;
      this.#died(supervised, () => ({ type: "exited", component: supervised.name, code, signal }));
    });
  }

  #died(
    supervised: Supervised,
    describe: () => Omit<Extract<ClusterEvent, { type: "exited" }>, "restartInMs" | "attempt">,
  ): void {
    const decision = supervised.policy.died(Date.now());
    if (decision.action === "give-up") {
      this.#emit({
        type: "gave-up",
        component: supervised.name,
        deaths: decision.deaths,
        windowMs: decision.windowMs,
      });
      return;
    }
    this.#emit({ ...describe(), restartInMs: decision.delayMs, attempt: decision.attempt });
    supervised.timer = setTimeout(() => {
      supervised.timer = null;
      void this.#relaunch(supervised);
    }, decision.delayMs);
  }

  async #relaunch(supervised: Supervised): Promise<void> {
    if (this.#stopping) return;
    try {
      const child = await launchComponent(supervised.entry, {
        env: supervised.env,
        stdio: this.options.stdio,
      });
      if (this.#stopping) {
        await child.stop();
        return;
      }
      supervised.current = child;
      this.#watch(supervised);
      this.#emit({ type: "restarted", component: supervised.name, pid: child.child.pid ?? 0 });
    } catch (error) {
      if (this.#stopping) return;
      this.#emit({ type: "restart-failed", component: supervised.name, message: errorMessage(error) });
      const code = error instanceof ComponentStartError ? error.exitCode : null;
      this.#died(supervised, () => ({ type: "exited", component: supervised.name, code, signal: null }));
    }
  }

  #emit(event: ClusterEvent): void {
    this.options.onEvent?.(event);
  }

  /** Stops edge, shield, controller (in that order) and the embedded S3. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const components = [...this.#components.values()].reverse();
    this.#components.clear();
    for (const supervised of components) {
      if (supervised.timer) clearTimeout(supervised.timer);
      await supervised.current.stop();
    }
    await this.#s3?.close();
    this.#s3 = null;
    if (this.#dataDir) await rm(this.#dataDir, { recursive: true, force: true });
    this.#dataDir = null;
  }
}

/**
 * The environment that binds a restarted component where the first one
 * listened: its peers were given those addresses, and viewers those ports.
 * Address names map to settings as STREAMFRONT_<COMPONENT>_<NAME>_PORT
 * (edge rtmp → STREAMFRONT_EDGE_RTMP_PORT, controller api → …_API_PORT).
 */
function pinnedPorts(
  component: ComponentName,
  addresses: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, address] of Object.entries(addresses))
    env[`STREAMFRONT_${component.toUpperCase()}_${name.toUpperCase()}_PORT`] = String(portOf(address));
  return env;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/** The edge binds where the printed host resolves; a name like localhost binds all loopback. */
function hostToBind(host: string): string {
  if (host === "localhost") return "127.0.0.1";
  return /^[\d.]+$/.test(host) || host.includes(":") ? host : "0.0.0.0";
}

/** Polls each /readyz until it answers 200 (config received, ports bound). */
async function waitReady(adminAddresses: readonly string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const address of adminAddresses) {
    for (;;) {
      try {
        const response = await fetch(`http://${address}/readyz`);
        if (response.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`${address}/readyz did not answer 200 within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
