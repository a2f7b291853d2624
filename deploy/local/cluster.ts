import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import type { AccessKeyPair } from "../../controller/src/api/auth/access-keys.js";
import { errorMessage } from "../../lib/errors.js";
import { ComponentStartError, type LaunchedComponent, launchComponent } from "../../lib/process/launcher.js";
import { devCredentialsEnv } from "./dev-credentials.js";
import { EmbeddedS3 } from "./embedded-s3.js";
import { listFolder, type MediaChange, MediaMirror } from "./media-mirror.js";
import { describeObject, urlPathFor } from "./play-names.js";
import { RestartPolicy, type RestartPolicyOptions } from "./restart-policy.js";
import { ephemeralStateDir, StateDir } from "./state-dir.js";

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
  /**
   * Folder of what outlives a run (keys, the bucket, distributions; see
   * state-dir.ts), or "none" for a temporary one removed at stop. @default "none"
   */
  readonly stateDir?: string;
  /** Poll interval of the media folder while running (media-mirror.ts); 0 never. @default 0 */
  readonly mediaPollMs?: number;
  /** Told of each file added, replaced or removed in the media folder while running. */
  readonly onMediaUpdate?: (update: MediaUpdate) => void;
  /** Told when a media change could not be applied (it is retried at the next poll). */
  readonly onMediaError?: (error: unknown, key: string | undefined) => void;
}

/** One media-folder change as applied to the bucket, for the terminal. */
export type MediaUpdate =
  | { readonly kind: "added" | "replaced"; readonly key: string; readonly object: PlayableObject }
  | { readonly kind: "added" | "replaced"; readonly key: string; readonly unplayable: UnplayableObject }
  | { readonly kind: "removed"; readonly key: string };

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
  readonly #components = new Map<ComponentName, Supervised>();
  #stopping = false;
  #s3: EmbeddedS3 | null = null;
  #state: StateDir | null = null;
  #mirror: MediaMirror | null = null;
  #base = "";
  #addresses: Record<string, Readonly<Record<string, string>>> = {};
  #objects: PlayableObject[] = [];
  #unplayable: UnplayableObject[] = [];

  constructor(options: LocalClusterOptions) {
    this.options = options;
  }

  /** The control API's key pair (kept in the state folder; printed by npm start, used by tests). */
  get apiKeys(): AccessKeyPair {
    if (!this.#state) throw new Error("cluster not started");
    return this.#state.apiKeys;
  }

  /** The state folder in use (a temporary one with stateDir "none"). */
  get stateDir(): string {
    if (!this.#state) throw new Error("cluster not started");
    return this.#state.dir;
  }

  /** True when the state folder is a temporary one, removed at stop (stateDir "none"). */
  get stateIsTemporary(): boolean {
    return this.#state?.ephemeral ?? true;
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
      const state = await StateDir.open(o.stateDir ?? ephemeralStateDir);
      this.#state = state;
      this.#s3 = new EmbeddedS3({
        directory: state.s3DataDir,
        host: "127.0.0.1",
        port: 0,
        credentials: state.s3Keys,
      });
      const { endpoint } = await this.#s3.start();
      await this.#s3.ensureBucket(o.bucket);
      // Listed before the upload: a file changed meanwhile differs from it and is uploaded again.
      const baseline = await listFolder(o.mediaDir);
      const keys = await this.#s3.uploadDirectory(o.bucket, o.mediaDir);
      // Internal links are mutual TLS here too; the development CA lives (and stays) in the state dir.
      const tls = devCredentialsEnv(state.dir);
      const controller = await this.#launch("controller", {
        ...tls.controller,
        STREAMFRONT_CONTROLLER_HOST: "127.0.0.1",
        STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
        STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
        STREAMFRONT_CONTROLLER_API_HOST: "127.0.0.1",
        STREAMFRONT_CONTROLLER_API_PORT: String(o.apiPort),
        STREAMFRONT_CONTROLLER_API_ACCESS_KEYS: `${state.apiKeys.accessKeyId}:${state.apiKeys.secretAccessKey}`,
        STREAMFRONT_CONTROLLER_STORE_FILE: state.storeFile,
        STREAMFRONT_CONTROLLER_DEMO_BUCKET: o.bucket,
        STREAMFRONT_CONTROLLER_DEMO_CNAME: o.host,
        STREAMFRONT_CONTROLLER_LOG_LEVEL: o.logLevel,
      });
      const shield = await this.#launch("shield", {
        ...tls.shield,
        STREAMFRONT_SHIELD_HOST: "127.0.0.1",
        STREAMFRONT_SHIELD_GRPC_PORT: "0",
        STREAMFRONT_SHIELD_ADMIN_PORT: "0",
        STREAMFRONT_SHIELD_S3_ENDPOINT: endpoint,
        STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
        STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: state.s3Keys.accessKeyId,
        STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: state.s3Keys.secretAccessKey,
        STREAMFRONT_SHIELD_CONTROLLER: controller.grpc!,
        STREAMFRONT_SHIELD_LOG_LEVEL: o.logLevel,
      });
      const edge = await this.#launch("edge", {
        ...tls.edge,
        STREAMFRONT_EDGE_HOST: hostToBind(o.host),
        STREAMFRONT_EDGE_RTMP_PORT: String(o.rtmpPort),
        STREAMFRONT_EDGE_HTTP_PORT: String(o.httpPort),
        STREAMFRONT_EDGE_ADMIN_PORT: "0",
        STREAMFRONT_EDGE_CONTROLLER: controller.grpc!,
        STREAMFRONT_EDGE_SHIELD: shield.grpc!,
        STREAMFRONT_EDGE_NODE_ID: "local-edge",
        STREAMFRONT_EDGE_ACCESS_LOG_SPOOL_DIR: state.accessLogSpoolDir,
        // Ctrl-C stops the demo in a moment: plays under way get 2 s, not a pod's 30 s drain.
        STREAMFRONT_EDGE_DRAIN_TIMEOUT_MS: "2000",
        STREAMFRONT_EDGE_LOG_LEVEL: o.logLevel,
      });
      await waitReady([controller.admin!, shield.admin!, edge.admin!]);
      const port = portOf(edge.rtmp!);
      this.#base = `rtmp://${o.host}${port === 1935 ? "" : `:${port}`}/cfx/st`;
      for (const key of keys) await this.#list(key, join(o.mediaDir, key));
      const intervalMs = o.mediaPollMs ?? 0;
      if (intervalMs > 0) {
        this.#mirror = new MediaMirror({
          dir: o.mediaDir,
          intervalMs,
          apply: (change) => this.#applyMediaChange(change),
          onError: (error, change) => o.onMediaError?.(error, change?.key),
        });
        this.#mirror.start(baseline);
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Adds key to the listing (objects or unplayable), replacing an earlier entry; returns the entry. */
  async #list(key: string, file: string): Promise<PlayableObject | UnplayableObject> {
    this.#forget(key);
    const listed = await describeObject(key, file);
    if (listed.playName === null) {
      const entry = { key, reason: listed.note };
      this.#unplayable.push(entry);
      return entry;
    }
    const entry = {
      key,
      playName: listed.playName,
      url: `${this.#base}/${urlPathFor(listed.playName)}`,
      note: listed.note,
    };
    this.#objects.push(entry);
    return entry;
  }

  #forget(key: string): void {
    this.#objects = this.#objects.filter((o) => o.key !== key);
    this.#unplayable = this.#unplayable.filter((u) => u.key !== key);
  }

  /**
   * A file added or replaced in the media folder is uploaded; one removed
   * is deleted from the bucket (objects put through S3 under other keys are
   * never touched).
   */
  async #applyMediaChange(change: MediaChange): Promise<void> {
    const bucket = this.options.bucket;
    if (change.kind === "removed") {
      await this.s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: change.key }));
      this.#forget(change.key);
      this.options.onMediaUpdate?.({ kind: "removed", key: change.key });
      return;
    }
    await this.s3.uploadFile(bucket, change.key, change.file);
    const entry = await this.#list(change.key, change.file);
    this.options.onMediaUpdate?.(
      "url" in entry
        ? { kind: change.kind, key: change.key, object: entry }
        : { kind: change.kind, key: change.key, unplayable: entry },
    );
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

  /**
   * Stops the media mirror, then edge, shield, controller (in that order)
   * and the embedded S3; a temporary state folder is removed.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#mirror?.stop();
    this.#mirror = null;
    const components = [...this.#components.values()].reverse();
    this.#components.clear();
    for (const supervised of components) {
      if (supervised.timer) clearTimeout(supervised.timer);
      await supervised.current.stop();
    }
    await this.#s3?.close();
    this.#s3 = null;
    await this.#state?.remove();
    this.#state = null;
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

/** How npm start prints a media update: the start listing's lines under a heading. */
export function formatMediaUpdate(update: MediaUpdate): string {
  if (update.kind === "removed") {
    return `\nRemoved from the media folder (deleted from the bucket):\n  ${update.key}\n`;
  }
  const heading = update.kind === "added" ? "Added to the media folder" : "Replaced in the media folder";
  if ("object" in update) {
    const o = update.object;
    return `\n${heading}, play it:\n  ${o.url}${o.note ? `   (${o.note})` : ""}\n`;
  }
  return `\n${heading}, not playable over RTMP:\n  ${update.key}: ${update.unplayable.reason}\n`;
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
