/**
 * The change feed of a RedisStore: how the distribution changes committed by
 * any replica reach this replica's subscribers, in version order, each
 * version once.
 *
 * The feed has a connection of its own subscribed to the changes channel
 * (every mutation script PUBLISHes the new version on it). On a message, on
 * every (re)connect, after each of this replica's own mutations and on a
 * slow poll, it reads the change log after the last version it delivered and
 * hands each entry to its listeners, in order. Pub/sub is at-most-once, so
 * the message only says "look now"; the log is what is delivered. When the
 * feed fell further behind than the log reaches (or the log is unreadable),
 * it delivers one merged change built from a snapshot: every distribution,
 * plus the ids it knew that are gone.
 *
 * Scripts run on the store's commands connection (the `script` option); only
 * the SUBSCRIBE uses the feed's own.
 */
import type { Logger } from "../../../lib/log.js";
import { ControllerError, ControllerErrorCode } from "../errors.js";
import type { ChangeListener, ConfigSnapshot, DistributionChange } from "./distribution-store.js";
import { integer, mapError, quit, text } from "./redis-calls.js";
import {
  createRedisClient,
  type RedisClient,
  type RedisClientTuning,
  type RedisConnectionOptions,
} from "./redis-connection.js";
import { type ScriptName, ScriptStatus } from "./redis-scripts.js";
import { decodeChange, StoreDataError } from "./store-codec.js";
import { storeUnavailable } from "./store-rules.js";

export interface RedisChangeFeedOptions {
  readonly connection: RedisConnectionOptions;
  readonly tuning: Omit<RedisClientTuning, "role" | "connectionName">;
  /** The channel the mutation scripts PUBLISH the new version on. */
  readonly channel: string;
  /** The change log's key, for messages. */
  readonly logKey: string;
  /** Runs one of the store's scripts on its commands connection. */
  readonly script: (name: ScriptName, args: readonly (string | number)[]) => Promise<unknown[]>;
  /** Reads every distribution and their version atomically (to catch up past the log). */
  readonly readSnapshot: () => Promise<ConfigSnapshot>;
  /** A mutation waits at most this long for its change to reach the listeners. */
  readonly deliveryTimeoutMs: number;
  /** Checks for changes this often even without a message. */
  readonly pollIntervalMs: number;
  /** Called on every poll before the check (the store re-measures Redis's clock then). */
  readonly onPoll: () => void;
  /** Trouble on the feed's connection. */
  readonly onConnectionError: (connection: string, error: unknown) => void;
  readonly onListenerError: (error: unknown) => void;
  readonly logger?: Logger;
}

interface DeliveryWaiter {
  readonly version: number;
  readonly done: () => void;
}

export class RedisChangeFeed {
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #logKey: string;
  readonly #script: RedisChangeFeedOptions["script"];
  readonly #readSnapshot: () => Promise<ConfigSnapshot>;
  readonly #deliveryTimeoutMs: number;
  readonly #onListenerError: (error: unknown) => void;
  readonly #log: Logger | undefined;
  readonly #listeners = new Set<ChangeListener>();
  #deliveryWaiters: DeliveryWaiter[] = [];
  readonly #pollTimer: NodeJS.Timeout;
  /** The newest version handed to listeners; undefined until the first read of the store. */
  #delivered: number | undefined;
  /** Ids existing at #delivered, to name the removed ones when catching up from a snapshot. */
  #knownIds = new Set<string>();
  /** Public-key ids the listeners were last told exist (for removals across a resync). */
  #knownKeyIds = new Set<string>();
  #syncing: Promise<void> | undefined;
  #syncAgain = false;
  #lastSyncError: Error | undefined;
  #closed = false;

  constructor(options: RedisChangeFeedOptions) {
    this.#channel = options.channel;
    this.#logKey = options.logKey;
    this.#script = options.script;
    this.#readSnapshot = options.readSnapshot;
    this.#deliveryTimeoutMs = options.deliveryTimeoutMs;
    this.#onListenerError = options.onListenerError;
    this.#log = options.logger;
    this.#subscriber = createRedisClient(options.connection, {
      ...options.tuning,
      role: "subscriber",
      connectionName: "streamfront-store-sub",
    });
    this.#subscriber.on("error", (error: Error) => options.onConnectionError("subscriber", error));
    this.#subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      const version = Number(message);
      if (this.#delivered !== undefined && Number.isSafeInteger(version) && version <= this.#delivered)
        return;
      void this.catchUp();
    });
    this.#subscriber.on("ready", () => {
      // Catch up once subscribed: whatever committed while the subscriber
      // was away published to nobody.
      this.#subscriber
        .subscribe(this.#channel)
        .then(() => this.catchUp())
        .catch((error: unknown) => options.onConnectionError("subscriber", error));
    });
    this.#pollTimer = setInterval(() => {
      options.onPoll();
      void this.catchUp();
    }, options.pollIntervalMs);
    this.#pollTimer.unref();
  }

  subscribe(listener: ChangeListener): () => void {
    if (this.#closed) return () => {};
    const entry: ChangeListener = (change) => listener(change);
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /**
   * Makes sure the version listeners hear the changes after is known,
   * reading it if need be: it must be read before anything the store does
   * or lets a caller read.
   */
  async ensureBaseline(): Promise<void> {
    if (this.#delivered !== undefined) return;
    await this.catchUp();
    if (this.#delivered === undefined) {
      throw storeUnavailable("could not read the store's version from Redis", this.#lastSyncError);
    }
  }

  /** Resolves once listeners heard of version (or after deliveryTimeoutMs, or when catching up fails). */
  async awaitDelivery(version: number): Promise<void> {
    if (this.#closed || (this.#delivered !== undefined && this.#delivered >= version)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => waiter.done(), this.#deliveryTimeoutMs);
      const waiter: DeliveryWaiter = {
        version,
        done: () => {
          clearTimeout(timer);
          this.#deliveryWaiters = this.#deliveryWaiters.filter((w) => w !== waiter);
          resolve();
        },
      };
      this.#deliveryWaiters.push(waiter);
      void this.catchUp();
    });
  }

  /** Reads what is new. One catch-up at a time; a request during a run makes it go round once more. */
  catchUp(): Promise<void> {
    this.#syncAgain = true;
    this.#syncing ??= this.#syncLoop().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  /** Stops at once (listeners and waiters are let go before the first await), then closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pollTimer);
    this.#listeners.clear();
    for (const waiter of this.#deliveryWaiters) waiter.done();
    this.#deliveryWaiters = [];
    await quit(this.#subscriber);
    await this.#syncing;
  }

  async #syncLoop(): Promise<void> {
    while (this.#syncAgain && !this.#closed) {
      this.#syncAgain = false;
      try {
        await this.#syncOnce();
      } catch (error) {
        // Redis is away: the next (re)connect or poll catches up.
        const mapped = mapError(error, "catch-up read");
        this.#lastSyncError = mapped;
        // Waiting mutations need not sit out their timeout: their change is
        // committed and will be delivered once Redis answers again.
        for (const waiter of this.#deliveryWaiters) waiter.done();
        if (mapped instanceof ControllerError && mapped.code === ControllerErrorCode.StoreUnavailable) {
          this.#log?.debug({ err: mapped }, "catch-up read failed");
        } else {
          this.#log?.error({ err: mapped }, "cannot catch up with the store");
        }
        return;
      }
    }
  }

  async #syncOnce(): Promise<void> {
    const delivered = this.#delivered;
    if (delivered === undefined) {
      const reply = await this.#script("sfBaseline", []);
      this.#delivered = integer(reply[0], "version");
      const end = 2 + integer(reply[1], "distribution count");
      this.#knownIds = new Set(reply.slice(2, end).map((id) => text(id, "id")));
      this.#knownKeyIds = new Set(reply.slice(end).map((id) => text(id, "id")));
      this.#releaseWaiters();
      return;
    }
    const reply = await this.#script("sfLogSince", [delivered]);
    if (reply[1] === ScriptStatus.Same) return;
    if (reply[1] === ScriptStatus.Ok) {
      try {
        const changes = reply
          .slice(2)
          .map((raw) => decodeChange(text(raw, "entry"), `${this.#logKey} entry`));
        for (const change of changes) {
          if (this.#closed) return;
          if (change.version !== (this.#delivered ?? 0) + 1) {
            throw new StoreDataError(`${this.#logKey} skips from ${this.#delivered} to ${change.version}`);
          }
          for (const d of change.upserts) this.#knownIds.add(d.id);
          for (const id of change.removedIds) this.#knownIds.delete(id);
          for (const k of change.publicKeyUpserts) this.#knownKeyIds.add(k.id);
          for (const id of change.removedPublicKeyIds) this.#knownKeyIds.delete(id);
          this.#delivered = change.version;
          this.#emit(change);
        }
        this.#releaseWaiters();
        return;
      } catch (error) {
        if (!(error instanceof StoreDataError)) throw error;
        this.#log?.error({ err: error }, "unreadable change log; resending the whole config to listeners");
      }
    } else {
      this.#log?.warn(
        { delivered, current: reply[0] },
        "fell behind the change log; resending the whole config to listeners",
      );
    }
    const snapshot = await this.#readSnapshot();
    if (snapshot.version === this.#delivered) return;
    if (this.#delivered !== undefined && snapshot.version < this.#delivered) {
      this.#log?.error(
        { delivered: this.#delivered, current: snapshot.version },
        "the store's version went backwards: Redis lost its data",
      );
    }
    const ids = new Set(snapshot.distributions.map((d) => d.id));
    const removedIds = [...this.#knownIds].filter((id) => !ids.has(id)).sort();
    const keyIds = new Set(snapshot.publicKeys.map((k) => k.id));
    const removedPublicKeyIds = [...this.#knownKeyIds].filter((id) => !keyIds.has(id)).sort();
    this.#delivered = snapshot.version;
    this.#knownIds = ids;
    this.#knownKeyIds = keyIds;
    this.#emit(
      Object.freeze({
        version: snapshot.version,
        upserts: Object.freeze([...snapshot.distributions]),
        removedIds: Object.freeze(removedIds),
        publicKeyUpserts: Object.freeze([...snapshot.publicKeys]),
        removedPublicKeyIds: Object.freeze(removedPublicKeyIds),
      }),
    );
    this.#releaseWaiters();
  }

  #emit(change: DistributionChange): void {
    for (const listener of [...this.#listeners]) {
      if (!this.#listeners.has(listener)) continue;
      try {
        listener(change);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  #releaseWaiters(): void {
    const delivered = this.#delivered;
    if (delivered === undefined) return;
    for (const waiter of this.#deliveryWaiters.filter((w) => w.version <= delivered)) waiter.done();
  }
}
