import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import {
  ConfigServiceClient,
  type Distribution,
  DistributionKind,
  NodeRole,
  type PublicKey,
  type WatchConfigRequest,
  type WatchConfigResponse,
} from "../proto/gen/streamfront/controller/v1/controller.js";
import { errorMessage } from "./errors.js";
import type { InternalTls } from "./grpc/internal-tls.js";
import { PeerRole } from "./grpc/peer-role.js";
import type { Logger } from "./log.js";

export type { Distribution, PublicKey } from "../proto/gen/streamfront/controller/v1/controller.js";

/**
 * The configuration a watcher holds at one version: every distribution by
 * id, and every public key trusted signers sign play URLs with, by id.
 */
export interface ConfigTable {
  readonly version: number;
  readonly distributions: ReadonlyMap<string, Distribution>;
  readonly publicKeys: ReadonlyMap<string, PublicKey>;
}

export const emptyConfigTable: ConfigTable = Object.freeze({
  version: 0,
  distributions: new Map(),
  publicKeys: new Map(),
});

/**
 * The table after one update from the controller. A snapshot replaces the
 * table; an incremental update applies upserts then removals. An
 * incremental update not newer than the table is stale (a duplicate after a
 * reconnect) and leaves it unchanged. Never mutates its input: holders of
 * the previous table keep a consistent view.
 */
export function applyUpdate(table: ConfigTable, update: WatchConfigResponse): ConfigTable {
  if (!update.snapshot && update.version <= table.version) return table;
  const distributions = update.snapshot ? new Map<string, Distribution>() : new Map(table.distributions);
  for (const d of update.upserts) distributions.set(d.id, freezeDistribution(d));
  for (const id of update.removedIds) distributions.delete(id);
  const publicKeys = update.snapshot ? new Map<string, PublicKey>() : new Map(table.publicKeys);
  for (const k of update.publicKeyUpserts) publicKeys.set(k.id, Object.freeze({ ...k }));
  for (const id of update.removedPublicKeyIds) publicKeys.delete(id);
  return Object.freeze({ version: update.version, distributions, publicKeys });
}

/** What a distribution without TrustedSigners or Logging means: public, no access log. */
const noTrustedSigners = Object.freeze({
  enabled: false,
  accountIds: Object.freeze([]) as unknown as string[],
});
const noLogging = Object.freeze({ enabled: false, bucket: "", prefix: "" });

function freezeDistribution(d: Distribution): Distribution {
  return Object.freeze({
    ...d,
    cnames: Object.freeze([...d.cnames]) as string[],
    trustedSigners: d.trustedSigners
      ? Object.freeze({
          enabled: d.trustedSigners.enabled,
          accountIds: Object.freeze([...d.trustedSigners.accountIds]) as string[],
        })
      : noTrustedSigners,
    logging: d.logging ? Object.freeze({ ...d.logging }) : noLogging,
  });
}

export type WatcherRole = "edge" | "shield";

export interface ConfigWatcherOptions {
  /** host:port of the controller's ConfigService. */
  readonly address: string;
  /** Stable name of this process (pod name); the controller tracks acks by it. */
  readonly nodeId: string;
  readonly role: WatcherRole;
  /** This process's internal-link credentials; the controller's certificate must name the controller role. */
  readonly tls: InternalTls;
  readonly logger: Logger;
  /** First reconnect delay. @default 100 */
  readonly initialBackoffMs?: number;
  /** Longest reconnect delay. @default 5000 */
  readonly maxBackoffMs?: number;
  /**
   * While connected, the applied version is acknowledged again this often:
   * the controller's heartbeat that keeps this node in the live set its
   * deployments wait for. Must be well under the controller's watcher TTL.
   * @default 5000
   */
  readonly heartbeatMs?: number;
  /**
   * A file the applied config is kept in (written after each change,
   * atomically) and read at start: a node restarted while the controller is
   * unreachable serves its last config instead of nothing. Empty: memory only.
   */
  readonly stateFile?: string;
}

export type ConfigChangeListener = (table: ConfigTable, update: WatchConfigResponse) => void;

const roles: Readonly<Record<WatcherRole, NodeRole>> = {
  edge: NodeRole.NODE_ROLE_EDGE,
  shield: NodeRole.NODE_ROLE_SHIELD,
};

/**
 * Keeps a live copy of the controller's distributions over one WatchConfig
 * stream: sends hello with the last applied version, applies each update,
 * acknowledges it, and notifies listeners. When the stream breaks it keeps
 * serving the last applied config and reconnects with jittered exponential
 * backoff, resuming from its version so the controller can send only what
 * changed.
 */
export class ConfigWatcher {
  readonly #options: ConfigWatcherOptions;
  readonly #listeners = new Set<ConfigChangeListener>();
  #client: ConfigServiceClient | undefined;
  #call: ClientDuplexStream<WatchConfigRequest, WatchConfigResponse> | undefined;
  #table: ConfigTable = emptyConfigTable;
  #synced = false;
  #connected = false;
  #stopped = true;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Set while a write of the state file is under way; the newest table is written after it. */
  #saving: Promise<void> | null = null;
  #saveAgain = false;

  constructor(options: ConfigWatcherOptions) {
    this.#options = options;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loadState();
    const tls = this.#options.tls;
    this.#client = new ConfigServiceClient(
      this.#options.address,
      tls.channelCredentials(PeerRole.Controller),
      {
        ...tls.channelOptions(PeerRole.Controller),
        // Find a dead controller (or a silently dropped connection) within
        // seconds rather than at the next TCP timeout.
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.keepalive_permit_without_calls": 1,
        // The snapshot of a large fleet of distributions can exceed 4 MiB.
        "grpc.max_receive_message_length": 64 * 1024 * 1024,
      },
    );
    this.#connect();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
    this.#client?.close();
    this.#client = undefined;
    this.#connected = false;
  }

  /** The distributions applied last, by id; empty until the first snapshot. */
  current(): ReadonlyMap<string, Distribution> {
    return this.#table.distributions;
  }

  /** The public keys as last pushed; a new map object after every change. */
  publicKeys(): ReadonlyMap<string, PublicKey> {
    return this.#table.publicKeys;
  }

  get table(): ConfigTable {
    return this.#table;
  }

  get version(): number {
    return this.#table.version;
  }

  /** Resolves once the state file holds the newest applied table (tests, shutdown). */
  async flushState(): Promise<void> {
    while (this.#saving) await this.#saving;
  }

  /** True once a full snapshot was applied (or loaded from the state file); stays true while disconnected. */
  isSynced(): boolean {
    return this.#synced;
  }

  /** True while a watch stream is open and has delivered its first update. */
  isConnected(): boolean {
    return this.#connected;
  }

  /** Calls listener after each applied update that changed the table; returns an unsubscribe. */
  onChange(listener: ConfigChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #connect(): void {
    const client = this.#client;
    if (this.#stopped || !client) return;
    const log = this.#options.logger;
    const call = client.watchConfig();
    this.#call = call;
    let ended = false;
    const onEnded = (reason: string) => {
      if (ended) return;
      ended = true;
      if (this.#call === call) this.#call = undefined;
      this.#connected = false;
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
      if (this.#stopped) return;
      const delay = this.#nextDelay();
      log.warn(
        { reason, retryInMs: delay, version: this.#table.version },
        "config watch stream ended; reconnecting",
      );
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#connect();
      }, delay);
    };
    call.on("data", (update: WatchConfigResponse) => {
      if (!this.#connected) {
        this.#connected = true;
        this.#attempt = 0;
        log.info({ address: this.#options.address, version: update.version }, "config watch connected");
        clearInterval(this.#heartbeat);
        this.#heartbeat = setInterval(() => {
          if (this.#call === call) call.write({ ack: { version: this.#table.version } });
        }, this.#options.heartbeatMs ?? 5_000);
        this.#heartbeat.unref();
      }
      this.#apply(update);
      call.write({ ack: { version: this.#table.version } });
    });
    call.on("error", (error: Error) => onEnded(errorMessage(error)));
    call.on("end", () => onEnded("the controller ended the stream"));
    call.write({
      hello: {
        nodeId: this.#options.nodeId,
        role: roles[this.#options.role],
        resumeFromVersion: this.#synced ? this.#table.version : 0,
      },
    });
  }

  #apply(update: WatchConfigResponse): void {
    const before = this.#table;
    const after = applyUpdate(before, update);
    if (update.snapshot) this.#synced = true;
    if (after === before) return;
    this.#table = after;
    this.#saveState();
    this.#options.logger.info(
      {
        version: after.version,
        snapshot: update.snapshot,
        upserts: update.upserts.length,
        removed: update.removedIds.length,
        distributions: after.distributions.size,
      },
      "config applied",
    );
    for (const listener of this.#listeners) {
      try {
        listener(after, update);
      } catch (error) {
        this.#options.logger.error({ err: error }, "config change listener failed");
      }
    }
  }

  /**
   * State file layout (JSON, one object):
   *   { "format": "streamfront-config/1", "version": <number>, "distributions": [<Distribution>…] }
   * Read once at start; anything unreadable or malformed is logged and
   * ignored (the controller's snapshot replaces it anyway).
   */
  #loadState(): void {
    const file = this.#options.stateFile;
    if (!file || this.#synced) return;
    const log = this.#options.logger;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        log.warn({ err: error, file }, "could not read the config state file; starting empty");
      }
      return;
    }
    const table = parseState(text);
    if (!table) {
      log.warn({ file }, "the config state file is malformed; starting empty");
      return;
    }
    this.#table = table;
    this.#synced = true;
    log.info(
      { file, version: table.version, distributions: table.distributions.size },
      "serving the last applied config from the state file until the controller answers",
    );
    for (const listener of this.#listeners) {
      try {
        listener(table, {
          version: table.version,
          snapshot: true,
          upserts: [...table.distributions.values()],
          removedIds: [],
          publicKeyUpserts: [...table.publicKeys.values()],
          removedPublicKeyIds: [],
        });
      } catch (error) {
        log.error({ err: error }, "config change listener failed");
      }
    }
  }

  #saveState(): void {
    const file = this.#options.stateFile;
    if (!file) return;
    if (this.#saving) {
      this.#saveAgain = true;
      return;
    }
    this.#saving = (async () => {
      do {
        this.#saveAgain = false;
        const table = this.#table;
        const text = JSON.stringify({
          format: stateFormat,
          version: table.version,
          distributions: [...table.distributions.values()],
          publicKeys: [...table.publicKeys.values()],
        });
        const temp = `${file}.${process.pid}.tmp`;
        try {
          await writeFile(temp, text, { mode: 0o600 });
          await rename(temp, file);
        } catch (error) {
          this.#options.logger.warn({ err: error, file }, "could not write the config state file");
        }
      } while (this.#saveAgain);
    })().finally(() => {
      this.#saving = null;
    });
  }

  /** Full jitter: a random delay up to min(max, initial × 2^attempt). */
  #nextDelay(): number {
    const initial = this.#options.initialBackoffMs ?? 100;
    const max = this.#options.maxBackoffMs ?? 5_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.#attempt, 30));
    this.#attempt += 1;
    return Math.max(initial / 2, Math.random() * ceiling);
  }
}

const stateFormat = "streamfront-config/1";
/** A state file larger than this is not a config we wrote. */
const maxStateDistributions = 1_000_000;

/** The table in a state file, or null when it is not one we wrote. */
export function parseState(text: string): ConfigTable | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const v = value as { format?: unknown; version?: unknown; distributions?: unknown; publicKeys?: unknown };
  if (v.format !== stateFormat || !Number.isSafeInteger(v.version) || (v.version as number) < 0) return null;
  if (!Array.isArray(v.distributions) || v.distributions.length > maxStateDistributions) return null;
  const distributions = new Map<string, Distribution>();
  for (const item of v.distributions as unknown[]) {
    const d = asDistribution(item);
    if (!d) return null;
    distributions.set(d.id, freezeDistribution(d));
  }
  // Files written before public keys existed have none.
  const keyItems = v.publicKeys ?? [];
  if (!Array.isArray(keyItems) || keyItems.length > maxStateDistributions) return null;
  const publicKeys = new Map<string, PublicKey>();
  for (const item of keyItems as unknown[]) {
    const k = asPublicKey(item);
    if (!k) return null;
    publicKeys.set(k.id, Object.freeze(k));
  }
  return Object.freeze({ version: v.version as number, distributions, publicKeys });
}

function asPublicKey(item: unknown): PublicKey | null {
  if (typeof item !== "object" || item === null) return null;
  const k = item as Record<string, unknown>;
  if (typeof k.id !== "string" || typeof k.accountId !== "string" || typeof k.encodedKey !== "string")
    return null;
  return { id: k.id, accountId: k.accountId, encodedKey: k.encodedKey };
}

function asDistribution(item: unknown): Distribution | null {
  if (typeof item !== "object" || item === null) return null;
  const d = item as Record<string, unknown>;
  const strings = ["id", "domainName", "originBucket"] as const;
  if (!strings.every((k) => typeof d[k] === "string")) return null;
  if (!Array.isArray(d.cnames) || !d.cnames.every((c) => typeof c === "string")) return null;
  if (typeof d.enabled !== "boolean") return null;
  const kinds: readonly unknown[] = Object.values(DistributionKind);
  if (!kinds.includes(d.kind)) return null;
  const signers = d.trustedSigners as Record<string, unknown> | undefined;
  if (
    signers !== undefined &&
    (typeof signers !== "object" ||
      signers === null ||
      typeof signers.enabled !== "boolean" ||
      !Array.isArray(signers.accountIds) ||
      !signers.accountIds.every((a) => typeof a === "string"))
  ) {
    return null;
  }
  const logging = d.logging as Record<string, unknown> | undefined;
  if (
    logging !== undefined &&
    (typeof logging !== "object" ||
      logging === null ||
      typeof logging.enabled !== "boolean" ||
      typeof logging.bucket !== "string" ||
      typeof logging.prefix !== "string")
  ) {
    return null;
  }
  return {
    id: d.id as string,
    domainName: d.domainName as string,
    cnames: d.cnames as string[],
    originBucket: d.originBucket as string,
    enabled: d.enabled,
    kind: d.kind as DistributionKind,
    trustedSigners: signers
      ? { enabled: signers.enabled as boolean, accountIds: signers.accountIds as string[] }
      : undefined,
    logging: logging
      ? {
          enabled: logging.enabled as boolean,
          bucket: logging.bucket as string,
          prefix: logging.prefix as string,
        }
      : undefined,
  };
}
