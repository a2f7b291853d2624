/**
 * RedisStore: the DistributionStore (and PublicKeyStore) of several controller replicas sharing
 * one Redis (single server, Sentinel or Cluster).
 *
 * Key layout. P is the prefix option (default "streamfront:"); every key
 * carries the hash tag {sf}, so in a Redis Cluster they all live in one hash
 * slot and a Lua script may touch them together:
 *
 *   P{sf}:version         string  the config version (INCR); set to the
 *                                 writer's clock in ms when missing, so a
 *                                 wiped Redis continues above old versions
 *   P{sf}:dists           hash    id → distribution JSON (with configVersion)
 *   P{sf}:hosts           hash    domain name or CNAME → id (uniqueness)
 *   P{sf}:callerrefs      hash    CallerReference → id of the live distribution
 *   P{sf}:used-ids        set     every id ever created (never reused)
 *   P{sf}:used-domains    set     every domain name ever created (never reused)
 *   P{sf}:log             zset    score version → JSON {version, upserts
 *                                 (full distributions), removedIds,
 *                                 publicKeyUpserts, removedPublicKeyIds}:
 *                                 exactly one entry per version, the newest
 *                                 changeLogLimit kept
 *   P{sf}:watchers        hash    nodeId → JSON {role, appliedVersion}
 *   P{sf}:watcher-expiry  zset    score expiry (Redis server ms) → nodeId
 *   P{sf}:public-keys     hash    id → public key JSON (with configVersion)
 *   P{sf}:public-key-refs hash    CallerReference → id of the live public key
 *   P{sf}:used-public-key-ids set every public-key id ever created
 *   P{sf}:changes         channel PUBLISHed the new version after each commit
 *
 * Writes. Each create, update, delete and tag change is one Lua script
 * (redis-scripts.ts) that checks every precondition before its first write
 * and applies the change, the version bump, the log entry and the PUBLISH
 * together; its status is mapped to the ControllerError MemoryStore would
 * raise. Updates and tag changes are computed here (the patch rules are
 * TypeScript, shared with MemoryStore) from the JSON read, and the script
 * applies them only if the entry still holds exactly that JSON
 * (compare-and-set); otherwise this side reads again and retries, or answers
 * PreconditionFailed when If-Match no longer matches.
 *
 * Notifications. Subscribers hear every change, from any replica, through
 * the store's change feed (redis-change-feed.ts), which follows the channel
 * and the log. A mutation returns once this replica's subscribers heard of it.
 *
 * Outages. Commands fail at once while disconnected and time out after
 * commandTimeoutMs; a call waits up to connectWaitMs for a connection, then
 * rejects with StoreUnavailable. The client reconnects forever in the
 * background. Nothing is resent after a lost connection, and each mutation
 * carries a deadline in Redis time past which the script refuses to run, so
 * a call answered StoreUnavailable does not apply later when a stalled Redis
 * resumes. Only a reply lost after the script ran leaves the outcome open
 * (applied in full, or not at all); callers re-read, and create retries are
 * safe through the CallerReference.
 */
import { performance } from "node:perf_hooks";
import type { Logger } from "../../../lib/log.js";
import { checkDistribution, type Distribution, type DistributionPatch } from "../distribution.js";
import type { RandomBytes } from "../ids.js";
import { byPublicKeyId, checkPublicKey, type PublicKeyPatch, type PublicKeyRecord } from "../public-key.js";
import type {
  ChangeListener,
  ConfigSnapshot,
  CreateOptions,
  CreatePublicKeyOptions,
  DeleteOptions,
  DistributionChange,
  DistributionStore,
  PublicKeyStore,
  TagChange,
  UpdateOptions,
  WatcherRole,
  WatcherState,
} from "./distribution-store.js";
import { integer, mapError, quit, text, unexpected } from "./redis-calls.js";
import { RedisChangeFeed } from "./redis-change-feed.js";
import { createRedisClient, type RedisClient, type RedisConnectionOptions } from "./redis-connection.js";
import { keyNames, type ScriptName, ScriptStatus, scripts } from "./redis-scripts.js";
import {
  decodeDistribution,
  decodePublicKey,
  decodeWatcher,
  encodeDistribution,
  encodeUnstamped,
  encodeUnstampedPublicKey,
  encodeWatcher,
  StoreDataError,
} from "./store-codec.js";
import {
  byId,
  callerReferenceInUse,
  cnameInUse,
  distributionExists,
  newEtag,
  notDisabled,
  notFound,
  patched,
  preconditionFailed,
  publicKeyCallerReferenceInUse,
  publicKeyExists,
  publicKeyNotFound,
  publicKeyPreconditionFailed,
  retagged,
  storeClosed,
  storeUnavailable,
  tooManyDistributions,
  tooManyPublicKeys,
} from "./store-rules.js";

export { StoreDataError } from "./store-codec.js";

export interface RedisStoreOptions {
  readonly connection: RedisConnectionOptions;
  /** Start of every key and of the channel; no braces (the store adds the {sf} hash tag). @default "streamfront:" */
  readonly prefix?: string;
  /** Versions kept in the change log for changesSince and for catching up. @default 1000 */
  readonly changeLogLimit?: number;
  /** A Redis command without a reply after this fails with StoreUnavailable. @default 2000 */
  readonly commandTimeoutMs?: number;
  /** While disconnected, how long a call waits for the connection before StoreUnavailable. @default 1000 */
  readonly connectWaitMs?: number;
  /** A TCP connect attempt is abandoned (and retried) after this. @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Reconnect attempts back off from 50 ms up to this, forever. @default 2000 */
  readonly reconnectMaxDelayMs?: number;
  /** Checks for changes this often even without a message (pub/sub is at-most-once). @default 5000 */
  readonly pollIntervalMs?: number;
  /** Milliseconds since the epoch, for lastModifiedMs. @default Date.now */
  readonly clock?: () => number;
  /** Random bytes for ETags. @default crypto.randomBytes */
  readonly random?: RandomBytes;
  /** Connection trouble, catch-up resyncs and bad entries are logged here. */
  readonly logger?: Logger;
  /** Called with whatever a listener throws. @default logged, or process.emitWarning without a logger */
  readonly onListenerError?: (error: unknown) => void;
}

const redisStoreDefaults = {
  prefix: "streamfront:",
  changeLogLimit: 1000,
  commandTimeoutMs: 2000,
  connectWaitMs: 1000,
  connectTimeoutMs: 2000,
  reconnectMaxDelayMs: 2000,
  pollIntervalMs: 5000,
} as const;

/** Updates and tag changes losing this many compare-and-set races in a row give up. */
const maxCasAttempts = 100;

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

interface ReadyWaiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class RedisStore implements DistributionStore, PublicKeyStore {
  readonly #client: RedisClient;
  readonly #feed: RedisChangeFeed;
  readonly #scripts: Record<ScriptName, ScriptCall>;
  /** Every script's KEYS, in keyNames order (redis-scripts.ts). */
  readonly #keys: readonly string[];
  /** The same keys by name, for messages and direct reads. */
  readonly #key: Readonly<Record<(typeof keyNames)[number], string>>;
  readonly #distsKey: string;
  readonly #channel: string;
  readonly #logLimit: number;
  readonly #commandTimeoutMs: number;
  readonly #connectWaitMs: number;
  /** How much earlier than our own timeout a script's deadline falls, so a late run is refused, not answered into the void. */
  readonly #deadlineMarginMs: number;
  readonly #clock: () => number;
  readonly #random: RandomBytes | undefined;
  readonly #log: Logger | undefined;
  readonly #readyWaiters = new Set<ReadyWaiter>();
  /** Redis server time minus performance.now(), for script deadlines; undefined until measured. */
  #serverOffsetMs: number | undefined;
  #lastError: Error | undefined;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    const prefix = options.prefix ?? redisStoreDefaults.prefix;
    if (/[{}]/.test(prefix))
      throw new RangeError(`the Redis key prefix ${JSON.stringify(prefix)} must not contain braces`);
    const base = `${prefix}{sf}:`;
    this.#key = Object.fromEntries(keyNames.map((name) => [name, `${base}${name}`])) as Record<
      (typeof keyNames)[number],
      string
    >;
    this.#keys = keyNames.map((name) => this.#key[name]);
    this.#distsKey = this.#key.dists;
    this.#channel = `${base}changes`;
    this.#logLimit = Math.max(1, Math.floor(options.changeLogLimit ?? redisStoreDefaults.changeLogLimit));
    this.#commandTimeoutMs = options.commandTimeoutMs ?? redisStoreDefaults.commandTimeoutMs;
    this.#connectWaitMs = options.connectWaitMs ?? redisStoreDefaults.connectWaitMs;
    this.#deadlineMarginMs = Math.min(250, Math.max(10, Math.floor(this.#commandTimeoutMs / 4)));
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random;
    this.#log = options.logger;

    const tuning = {
      commandTimeoutMs: this.#commandTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? redisStoreDefaults.connectTimeoutMs,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? redisStoreDefaults.reconnectMaxDelayMs,
    };
    this.#client = createRedisClient(options.connection, {
      ...tuning,
      role: "commands",
      connectionName: "streamfront-store",
    });
    this.#scripts = defineScripts(this.#client);
    this.#feed = new RedisChangeFeed({
      connection: options.connection,
      tuning,
      channel: this.#channel,
      logKey: this.#key.log,
      script: (name, args) => this.#script(name, args),
      readSnapshot: () => this.#readSnapshot(),
      deliveryTimeoutMs: this.#commandTimeoutMs,
      pollIntervalMs: options.pollIntervalMs ?? redisStoreDefaults.pollIntervalMs,
      onPoll: () => {
        this.#serverOffsetMs = undefined;
      },
      onConnectionError: (connection, error) => this.#connectionError(connection, error),
      onListenerError:
        options.onListenerError ??
        ((error) => {
          if (this.#log) this.#log.error({ err: error }, "a distribution store listener threw");
          else process.emitWarning(`a distribution store listener threw: ${String(error)}`);
        }),
      ...(options.logger ? { logger: options.logger } : {}),
    });

    this.#client.on("error", (error: Error) => this.#connectionError("commands", error));
    this.#client.on("ready", () => {
      // Possibly another server now (a failover): measure its clock again.
      this.#serverOffsetMs = undefined;
      this.#lastError = undefined;
      for (const waiter of this.#readyWaiters) waiter.resolve();
      this.#readyWaiters.clear();
      this.#log?.info({ channel: this.#channel }, "connected to Redis");
      void this.#feed.catchUp();
    });
  }

  async create(distribution: Distribution, options: CreateOptions = {}): Promise<Distribution> {
    const d = checkDistribution(distribution);
    const next = checkDistribution({
      ...d,
      etag: newEtag(this.#random),
      configVersion: 0,
      lastModifiedMs: this.#clock(),
    });
    const max =
      options.maxDistributions === undefined ? -1 : Math.max(0, Math.floor(options.maxDistributions));
    return this.#run("create", async () => {
      const reply = await this.#mutate("sfCreate", [
        next.id,
        next.domainName,
        next.callerReference,
        encodeUnstamped(next),
        max,
        ...next.cnames,
      ]);
      switch (reply[0]) {
        case ScriptStatus.Exists:
          throw distributionExists(next.id, next.domainName);
        case ScriptStatus.CallerReference:
          throw callerReferenceInUse(next.callerReference, text(reply[1], "owner"));
        case ScriptStatus.Quota:
          throw tooManyDistributions(integer(reply[1], "quota"));
        case ScriptStatus.Cname:
          throw cnameInUse(text(reply[1], "CNAME"), text(reply[2], "owner"));
      }
      return this.#committed(reply, next);
    });
  }

  async get(id: string): Promise<Distribution | undefined> {
    return this.#run("get", async () => {
      const raw = await this.#client.hget(this.#distsKey, id);
      return raw === null ? undefined : decodeDistribution(raw, this.#where(id), id);
    });
  }

  async getByCallerReference(callerReference: string): Promise<Distribution | undefined> {
    return this.#run("caller reference lookup", async () => {
      const reply = await this.#script("sfByCallerReference", [callerReference]);
      if (reply.length === 0) return undefined;
      const d = decodeDistribution(
        text(reply[0], "distribution"),
        `${this.#distsKey} entry for ${callerReference}`,
      );
      return d.callerReference === callerReference ? d : undefined;
    });
  }

  async list(): Promise<readonly Distribution[]> {
    return this.#run("list", async () => {
      const all = await this.#client.hgetall(this.#distsKey);
      return Object.entries(all)
        .map(([id, raw]) => decodeDistribution(raw, this.#where(id), id))
        .sort(byId);
    });
  }

  async update(id: string, patch: DistributionPatch, options: UpdateOptions = {}): Promise<Distribution> {
    return this.#run("update", async () => {
      for (let attempt = 1; ; attempt++) {
        const { raw, current } = await this.#readForWrite(id);
        if (options.ifMatch !== undefined && options.ifMatch !== current.etag) {
          throw preconditionFailed(id, options.ifMatch, current.etag);
        }
        const next = patched(current, patch, newEtag(this.#random), this.#clock());
        const reply = await this.#mutate("sfUpdate", [
          id,
          raw,
          encodeUnstamped(next),
          next.domainName,
          current.cnames.length,
          ...current.cnames,
          ...next.cnames,
        ]);
        switch (reply[0]) {
          case ScriptStatus.Conflict:
            this.#checkContention(attempt, id);
            continue;
          case ScriptStatus.Cname:
            throw cnameInUse(text(reply[1], "CNAME"), text(reply[2], "owner"));
        }
        return this.#committed(reply, next);
      }
    });
  }

  async delete(id: string, options: DeleteOptions = {}): Promise<void> {
    return this.#run("delete", async () => {
      const reply = await this.#mutate("sfDelete", [
        id,
        options.ifMatch === undefined ? "0" : "1",
        options.ifMatch ?? "",
        options.requireDisabled === true ? "1" : "0",
      ]);
      switch (reply[0]) {
        case ScriptStatus.Precondition:
          throw preconditionFailed(id, options.ifMatch ?? "", text(reply[1], "etag"));
        case ScriptStatus.NotDisabled:
          throw notDisabled(id);
      }
      await this.#committed(reply);
    });
  }

  async changeTags(id: string, change: TagChange, maxTags: number): Promise<Distribution> {
    return this.#run("tag change", async () => {
      for (let attempt = 1; ; attempt++) {
        const { raw, current } = await this.#readForWrite(id);
        const next = retagged(current, change, maxTags);
        const reply = await this.#mutate("sfPutTags", [id, raw, encodeDistribution(next)]);
        if (reply[0] === ScriptStatus.Conflict) {
          this.#checkContention(attempt, id);
          continue;
        }
        this.#refused(reply, id);
        return next;
      }
    });
  }

  async createPublicKey(
    key: PublicKeyRecord,
    options: CreatePublicKeyOptions = {},
  ): Promise<PublicKeyRecord> {
    const k = checkPublicKey(key);
    const next = checkPublicKey({
      ...k,
      etag: newEtag(this.#random),
      configVersion: 0,
      createdMs: this.#clock(),
    });
    const max = options.maxPublicKeys === undefined ? -1 : Math.max(0, Math.floor(options.maxPublicKeys));
    return this.#run("public key create", async () => {
      const reply = await this.#mutate("sfCreatePublicKey", [
        next.id,
        next.callerReference,
        encodeUnstampedPublicKey(next),
        max,
      ]);
      switch (reply[0]) {
        case ScriptStatus.Exists:
          throw publicKeyExists(next.id);
        case ScriptStatus.CallerReference:
          throw publicKeyCallerReferenceInUse(next.callerReference, text(reply[1], "owner"));
        case ScriptStatus.Quota:
          throw tooManyPublicKeys(integer(reply[1], "quota"));
      }
      return this.#committedKey(reply, next);
    });
  }

  async getPublicKey(id: string): Promise<PublicKeyRecord | undefined> {
    return this.#run("public key get", async () => {
      const raw = await this.#client.hget(this.#key["public-keys"], id);
      return raw === null ? undefined : decodePublicKey(raw, this.#whereKey(id), id);
    });
  }

  async getPublicKeyByCallerReference(callerReference: string): Promise<PublicKeyRecord | undefined> {
    return this.#run("public key caller reference lookup", async () => {
      const reply = await this.#script("sfPublicKeyByCallerReference", [callerReference]);
      if (reply.length === 0) return undefined;
      const k = decodePublicKey(
        text(reply[0], "public key"),
        `${this.#key["public-keys"]} entry for ${callerReference}`,
      );
      return k.callerReference === callerReference ? k : undefined;
    });
  }

  async listPublicKeys(): Promise<readonly PublicKeyRecord[]> {
    return this.#run("public key list", async () => {
      const all = await this.#client.hgetall(this.#key["public-keys"]);
      return Object.entries(all)
        .map(([id, raw]) => decodePublicKey(raw, this.#whereKey(id), id))
        .sort(byPublicKeyId);
    });
  }

  async updatePublicKey(
    id: string,
    patch: PublicKeyPatch,
    options: UpdateOptions = {},
  ): Promise<PublicKeyRecord> {
    return this.#run("public key update", async () => {
      for (let attempt = 1; ; attempt++) {
        const raw = await this.#client.hget(this.#key["public-keys"], id);
        if (raw === null) throw publicKeyNotFound(id);
        const current = decodePublicKey(raw, this.#whereKey(id), id);
        if (options.ifMatch !== undefined && options.ifMatch !== current.etag) {
          throw publicKeyPreconditionFailed(id, options.ifMatch, current.etag);
        }
        const next = checkPublicKey({ ...current, comment: patch.comment, etag: newEtag(this.#random) });
        const reply = await this.#mutate("sfUpdatePublicKey", [id, raw, encodeUnstampedPublicKey(next)]);
        if (reply[0] === ScriptStatus.Conflict) {
          this.#checkContention(attempt, id);
          continue;
        }
        return this.#committedKey(reply, next);
      }
    });
  }

  async deletePublicKey(id: string, options: UpdateOptions = {}): Promise<void> {
    return this.#run("public key delete", async () => {
      const reply = await this.#mutate("sfDeletePublicKey", [
        id,
        options.ifMatch === undefined ? "0" : "1",
        options.ifMatch ?? "",
      ]);
      if (reply[0] === ScriptStatus.Precondition) {
        throw publicKeyPreconditionFailed(id, options.ifMatch ?? "", text(reply[1], "etag"));
      }
      if (reply[0] === ScriptStatus.NotFound) throw publicKeyNotFound(id);
      await this.#committed(reply);
    });
  }

  async version(): Promise<number> {
    return this.#run("version read", async () =>
      integer((await this.#script("sfVersion", []))[0], "version"),
    );
  }

  async snapshot(): Promise<ConfigSnapshot> {
    return this.#run("snapshot", () => this.#readSnapshot());
  }

  async changesSince(version: number): Promise<DistributionChange | undefined> {
    return this.#run("changesSince", async () => {
      if (!Number.isSafeInteger(version)) return undefined;
      const reply = await this.#script("sfChangesSince", [version]);
      const current = integer(reply[0], "version");
      switch (reply[1]) {
        case ScriptStatus.Same:
          return {
            version: current,
            upserts: [],
            removedIds: [],
            publicKeyUpserts: [],
            removedPublicKeyIds: [],
          };
        case ScriptStatus.Unknown:
          return undefined;
        case ScriptStatus.Corrupt:
          throw new StoreDataError(`damaged store data: ${text(reply[2], "what")}`);
        case ScriptStatus.Ok:
          break;
        default:
          throw unexpected(reply, "changesSince");
      }
      const upserts: Distribution[] = [];
      const removedIds: string[] = [];
      const publicKeyUpserts: PublicKeyRecord[] = [];
      const removedPublicKeyIds: string[] = [];
      for (let i = 2; i + 1 < reply.length; i += 2) {
        const kind = reply[i];
        if (kind === "U")
          upserts.push(decodeDistribution(text(reply[i + 1], "distribution"), this.#distsKey));
        else if (kind === "R") removedIds.push(text(reply[i + 1], "id"));
        else if (kind === "KU")
          publicKeyUpserts.push(decodePublicKey(text(reply[i + 1], "public key"), this.#key["public-keys"]));
        else removedPublicKeyIds.push(text(reply[i + 1], "id"));
      }
      upserts.sort(byId);
      removedIds.sort();
      publicKeyUpserts.sort(byPublicKeyId);
      removedPublicKeyIds.sort();
      return { version: current, upserts, removedIds, publicKeyUpserts, removedPublicKeyIds };
    });
  }

  /**
   * Resolves once the store has reached Redis and read the version it
   * delivers changes after: listeners hear every change committed after
   * that (every call waits for it too, so a caller that subscribes and then
   * reads misses nothing). Rejects with StoreUnavailable when Redis cannot
   * be reached within connectWaitMs. Optional: nothing else needs it first.
   */
  async ready(): Promise<void> {
    await this.#run("start", async () => {});
  }

  subscribe(listener: ChangeListener): () => void {
    return this.#feed.subscribe(listener);
  }

  async heartbeat(nodeId: string, role: WatcherRole, appliedVersion: number, ttlMs: number): Promise<void> {
    return this.#run("heartbeat", async () => {
      const reply = await this.#script("sfHeartbeat", [
        nodeId,
        encodeWatcher({ role, appliedVersion }),
        Math.max(0, Math.floor(ttlMs)),
      ]);
      this.#refused(reply, nodeId);
    });
  }

  async dropWatcher(nodeId: string): Promise<void> {
    return this.#run("watcher removal", async () => {
      this.#refused(await this.#script("sfDropWatcher", [nodeId]), nodeId);
    });
  }

  async liveWatchers(): Promise<readonly WatcherState[]> {
    return this.#run("watcher list", async () => {
      const reply = await this.#script("sfLiveWatchers", []);
      this.#refused(reply, "watchers");
      const out: WatcherState[] = [];
      for (let i = 1; i + 2 < reply.length; i += 3) {
        const nodeId = text(reply[i], "node id");
        const w = decodeWatcher(text(reply[i + 2], "watcher"), `watcher ${nodeId} in ${this.#key.watchers}`);
        out.push(Object.freeze({ nodeId, ...w, expiresAtMs: integer(Number(reply[i + 1]), "expiry") }));
      }
      return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The feed lets its listeners and waiters go before its first await.
    const feedClosed = this.#feed.close();
    for (const waiter of this.#readyWaiters) waiter.reject(storeClosed());
    this.#readyWaiters.clear();
    await Promise.all([quit(this.#client), feedClosed]);
  }

  // --- calls ---------------------------------------------------------------

  /**
   * Runs one public call: refuses once closed, waits (bounded) for a
   * connection, and maps what Redis or ioredis throws to StoreUnavailable or
   * StoreDataError. ControllerErrors raised by the call pass unchanged.
   */
  async #run<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (this.#closed) throw storeClosed();
    await this.#whenReady();
    // Before anything is read or written: a caller that subscribes and then
    // reads must hear every change after what it read (see ready()).
    await this.#feed.ensureBaseline();
    try {
      return await call();
    } catch (error) {
      throw mapError(error, what);
    }
  }

  async #whenReady(): Promise<void> {
    if (this.#client.status === "ready") return;
    const status = this.#client.status;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(waiter);
        const reason = this.#lastError ? `: ${this.#lastError.message}` : "";
        reject(
          storeUnavailable(
            `Redis is not reachable (connection ${status}, waited ${this.#connectWaitMs} ms)${reason}`,
            this.#lastError,
          ),
        );
      }, this.#connectWaitMs);
      const waiter: ReadyWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#readyWaiters.add(waiter);
    });
  }

  async #script(name: ScriptName, args: readonly (string | number)[]): Promise<unknown[]> {
    const reply = await this.#scripts[name](...this.#keys, String(Date.now()), ...args);
    if (!Array.isArray(reply)) throw unexpected(reply, name);
    return reply;
  }

  /**
   * Runs a mutation script with the shared arguments. EXPIRED means the
   * script refused to run (see redis-scripts.ts); when that happened well
   * before our own timeout, our idea of the server's clock was off: measure
   * again and try once more (nothing was applied, so that is safe).
   */
  async #mutate(name: ScriptName, args: readonly (string | number)[]): Promise<unknown[]> {
    for (let attempt = 1; ; attempt++) {
      const offset = await this.#serverOffset();
      const sentAt = performance.now();
      const deadline = Math.floor(sentAt + offset + this.#commandTimeoutMs - this.#deadlineMarginMs);
      const reply = await this.#script(name, [deadline, this.#logLimit, this.#channel, ...args]);
      if (reply[0] !== ScriptStatus.Expired) return reply;
      const early = performance.now() - sentAt < this.#commandTimeoutMs - this.#deadlineMarginMs;
      if (attempt === 1 && early) {
        this.#serverOffsetMs = undefined;
        continue;
      }
      throw storeUnavailable(`Redis started the ${name} after its deadline and refused it; nothing changed`);
    }
  }

  /** Redis server time minus performance.now() (a monotonic clock: local clock steps do not move deadlines). */
  async #serverOffset(): Promise<number> {
    if (this.#serverOffsetMs !== undefined) return this.#serverOffsetMs;
    const before = performance.now();
    const [seconds, micros] = await this.#client.time();
    const after = performance.now();
    const serverMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    if (!Number.isFinite(serverMs)) throw unexpected([seconds, micros], "TIME");
    this.#serverOffsetMs = serverMs - (before + after) / 2;
    return this.#serverOffsetMs;
  }

  async #readForWrite(id: string): Promise<{ raw: string; current: Distribution }> {
    const raw = await this.#client.hget(this.#distsKey, id);
    if (raw === null) throw notFound(id);
    return { raw, current: decodeDistribution(raw, this.#where(id), id) };
  }

  async #readSnapshot(): Promise<ConfigSnapshot> {
    const reply = await this.#script("sfSnapshot", []);
    const version = integer(reply[0], "version");
    const end = 2 + 2 * integer(reply[1], "distribution count");
    const distributions: Distribution[] = [];
    for (let i = 2; i + 1 < end; i += 2) {
      const id = text(reply[i], "id");
      distributions.push(decodeDistribution(text(reply[i + 1], "distribution"), this.#where(id), id));
    }
    const publicKeys: PublicKeyRecord[] = [];
    for (let i = end; i + 1 < reply.length; i += 2) {
      const id = text(reply[i], "id");
      publicKeys.push(decodePublicKey(text(reply[i + 1], "public key"), this.#whereKey(id), id));
    }
    return { version, distributions: distributions.sort(byId), publicKeys: publicKeys.sort(byPublicKeyId) };
  }

  /** Throws for a refusal status common to every mutation (anything not OK). */
  #refused(reply: readonly unknown[], id: string): void {
    switch (reply[0]) {
      case ScriptStatus.Ok:
        return;
      case ScriptStatus.NotFound:
        throw notFound(id);
      case ScriptStatus.Corrupt:
        throw new StoreDataError(`damaged store data: ${text(reply[1], "what")}`);
      default:
        throw unexpected(reply, `change to ${id}`);
    }
  }

  /** After an OK mutation: waits until our listeners heard of it, returns it stamped. */
  async #committed(reply: readonly unknown[]): Promise<undefined>;
  async #committed(reply: readonly unknown[], next: Distribution): Promise<Distribution>;
  async #committed(reply: readonly unknown[], next?: Distribution): Promise<Distribution | undefined> {
    this.#refused(reply, next?.id ?? "");
    const version = integer(reply[1], "version");
    // Listeners of this replica hear of the change before the call returns,
    // as with MemoryStore; bounded, since a committed change must not turn
    // into a failure because the read that delivers it did.
    await this.#feed.awaitDelivery(version);
    return next === undefined ? undefined : checkDistribution({ ...next, configVersion: version });
  }

  /** After an OK public-key mutation: as #committed, for a key. */
  async #committedKey(reply: readonly unknown[], next: PublicKeyRecord): Promise<PublicKeyRecord> {
    if (reply[0] === ScriptStatus.NotFound) throw publicKeyNotFound(next.id);
    await this.#committed(reply);
    return checkPublicKey({ ...next, configVersion: integer(reply[1], "version") });
  }

  #whereKey(id: string): string {
    return `public key ${id} in ${this.#key["public-keys"]}`;
  }

  #checkContention(attempt: number, id: string): void {
    if (attempt >= maxCasAttempts) {
      throw storeUnavailable(`distribution ${id} kept changing under ${attempt} attempts to change it`);
    }
  }

  #where(id: string): string {
    return `distribution ${id} in ${this.#distsKey}`;
  }

  #connectionError(connection: string, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    // Reconnects repeat the same error every attempt: log changes only.
    if (this.#lastError?.message !== err.message) {
      this.#log?.warn({ err, connection }, "Redis connection trouble");
    }
    this.#lastError = err;
  }
}

/** The scripts as ioredis commands (EVALSHA, falling back to EVAL once per connection). */
function defineScripts(client: RedisClient): Record<ScriptName, ScriptCall> {
  const calls: Partial<Record<ScriptName, ScriptCall>> = {};
  for (const name of Object.keys(scripts) as ScriptName[]) {
    client.defineCommand(name, { lua: scripts[name], numberOfKeys: keyNames.length });
    const command: unknown = Reflect.get(client, name);
    if (typeof command !== "function") throw new Error(`ioredis did not define the command ${name}`);
    calls[name] = (...args) => command.apply(client, args) as Promise<unknown>;
  }
  return calls as Record<ScriptName, ScriptCall>;
}
