import { type ClientDuplexStream, credentials } from "@grpc/grpc-js";
import {
  ConfigServiceClient,
  type Distribution,
  NodeRole,
  type WatchConfigRequest,
  type WatchConfigResponse,
} from "../proto/gen/streamfront/controller/v1/controller.js";
import { errorMessage } from "./errors.js";
import type { Logger } from "./log.js";

export type { Distribution } from "../proto/gen/streamfront/controller/v1/controller.js";

/** The configuration a watcher holds: every distribution by id, at one version. */
export interface ConfigTable {
  readonly version: number;
  readonly distributions: ReadonlyMap<string, Distribution>;
}

export const emptyConfigTable: ConfigTable = Object.freeze({ version: 0, distributions: new Map() });

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
  return Object.freeze({ version: update.version, distributions });
}

function freezeDistribution(d: Distribution): Distribution {
  return Object.freeze({ ...d, cnames: Object.freeze([...d.cnames]) as string[] });
}

export type WatcherRole = "edge" | "shield";

export interface ConfigWatcherOptions {
  /** host:port of the controller's ConfigService. */
  readonly address: string;
  /** Stable name of this process (pod name); the controller tracks acks by it. */
  readonly nodeId: string;
  readonly role: WatcherRole;
  readonly logger: Logger;
  /** First reconnect delay. @default 100 */
  readonly initialBackoffMs?: number;
  /** Longest reconnect delay. @default 5000 */
  readonly maxBackoffMs?: number;
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

  constructor(options: ConfigWatcherOptions) {
    this.#options = options;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#client = new ConfigServiceClient(this.#options.address, credentials.createInsecure(), {
      // Find a dead controller (or a silently dropped connection) within
      // seconds rather than at the next TCP timeout.
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
      // The snapshot of a large fleet of distributions can exceed 4 MiB.
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
    this.#connect();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
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

  get table(): ConfigTable {
    return this.#table;
  }

  get version(): number {
    return this.#table.version;
  }

  /** True once a full snapshot was applied; stays true while disconnected. */
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

  /** Full jitter: a random delay up to min(max, initial × 2^attempt). */
  #nextDelay(): number {
    const initial = this.#options.initialBackoffMs ?? 100;
    const max = this.#options.maxBackoffMs ?? 5_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.#attempt, 30));
    this.#attempt += 1;
    return Math.max(initial / 2, Math.random() * ceiling);
  }
}
