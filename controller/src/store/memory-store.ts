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
import { StoreDataError } from "./store-codec.js";
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
  tooManyDistributions,
  tooManyPublicKeys,
} from "./store-rules.js";

export interface MemoryStoreOptions {
  /** Milliseconds since the epoch, for lastModifiedMs and watcher expiry. @default Date.now */
  readonly clock?: () => number;
  /**
   * The version before the first mutation. Defaults to the start time in
   * milliseconds: versions then keep growing across controller restarts
   * (the memory store forgets everything), so a watcher resuming from a
   * version of the previous run never matches one of this run and gets a
   * fresh snapshot instead of a wrong "nothing changed".
   */
  readonly initialVersion?: number;
  /** Changes kept for changesSince; older resumes get a snapshot. @default 1000 */
  readonly historyLimit?: number;
  /** Random bytes for ETags; tests inject a fixed source. @default crypto.randomBytes */
  readonly random?: RandomBytes;
  /**
   * Called with whatever a listener throws. A listener's failure must not
   * turn a committed mutation into a rejected call, nor keep later listeners
   * from hearing of it. @default process.emitWarning
   */
  readonly onListenerError?: (error: unknown) => void;
  /**
   * Distributions to start with (a FileStore's saved state). They are
   * indexed by the same rules as create; a conflict throws StoreDataError.
   * The version starts at the larger of the saved one and initialVersion.
   */
  readonly restore?: MemoryStoreState;
}

/** Everything a MemoryStore must keep to be the same store after a restart. */
export interface MemoryStoreState {
  readonly version: number;
  readonly distributions: readonly Distribution[];
  /** Ids and domain names ever stored, deleted ones included (never reused). */
  readonly usedIds: readonly string[];
  readonly usedDomains: readonly string[];
  /** Public keys, and every public-key id ever stored (never reused). Absent in older saved files. */
  readonly publicKeys?: readonly PublicKeyRecord[];
  readonly usedPublicKeyIds?: readonly string[];
}

interface MutableWatcher {
  role: WatcherRole;
  appliedVersion: number;
  expiresAtMs: number;
}

/**
 * The embedded DistributionStore of single-machine mode: everything in this
 * process. Each method does all its checks before its first change, and
 * none awaits in between, so every mutation is atomic.
 */
export class MemoryStore implements DistributionStore, PublicKeyStore {
  readonly #clock: () => number;
  readonly #historyLimit: number;
  readonly #random: RandomBytes | undefined;
  readonly #onListenerError: (error: unknown) => void;
  readonly #byId = new Map<string, Distribution>();
  /** CNAME and domain name → owning distribution id. */
  readonly #hosts = new Map<string, string>();
  /** CallerReference → id of the live distribution created with it. */
  readonly #callerReferences = new Map<string, string>();
  /** Every id and domain name ever stored, deleted ones included: they are never reused. */
  readonly #usedIds = new Set<string>();
  readonly #usedDomains = new Set<string>();
  readonly #keys = new Map<string, PublicKeyRecord>();
  /** CallerReference → id of the live public key created with it. */
  readonly #keyReferences = new Map<string, string>();
  readonly #usedKeyIds = new Set<string>();
  readonly #history: DistributionChange[] = [];
  readonly #listeners = new Set<ChangeListener>();
  readonly #watchers = new Map<string, MutableWatcher>();
  /** Changes committed but not yet handed to every listener (see #notify). */
  readonly #undelivered: DistributionChange[] = [];
  #notifying = false;
  #version: number;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#version = options.initialVersion ?? Date.now();
    this.#historyLimit = Math.max(1, options.historyLimit ?? 1000);
    this.#random = options.random;
    this.#onListenerError =
      options.onListenerError ??
      ((error) => process.emitWarning(`a distribution store listener threw: ${String(error)}`));
    if (options.restore) this.#restore(options.restore);
  }

  /**
   * The distributions (tags included), used ids and domains and the version,
   * for a FileStore to save. Readable after close, so a last write can happen.
   */
  exportState(): MemoryStoreState {
    return {
      version: this.#version,
      distributions: this.#sorted(),
      usedIds: [...this.#usedIds].sort(),
      usedDomains: [...this.#usedDomains].sort(),
      publicKeys: this.#sortedKeys(),
      usedPublicKeyIds: [...this.#usedKeyIds].sort(),
    };
  }

  #restore(state: MemoryStoreState): void {
    this.#version = Math.max(this.#version, state.version);
    for (const id of state.usedIds) this.#usedIds.add(id);
    for (const domain of state.usedDomains) this.#usedDomains.add(domain);
    for (const d of state.distributions) {
      if (this.#byId.has(d.id)) throw new StoreDataError(`distribution ${d.id} appears twice`);
      for (const host of [d.domainName, ...d.cnames]) {
        const owner = this.#hosts.get(host);
        if (owner !== undefined) throw new StoreDataError(`${host} belongs to both ${owner} and ${d.id}`);
      }
      const refOwner = this.#callerReferences.get(d.callerReference);
      if (refOwner !== undefined) {
        throw new StoreDataError(
          `CallerReference ${d.callerReference} is used by both ${refOwner} and ${d.id}`,
        );
      }
      if (d.configVersion > state.version) {
        throw new StoreDataError(
          `distribution ${d.id} is at version ${d.configVersion}, after the store's ${state.version}`,
        );
      }
      this.#index(d);
      this.#callerReferences.set(d.callerReference, d.id);
      this.#usedIds.add(d.id);
      this.#usedDomains.add(d.domainName);
    }
    for (const id of state.usedPublicKeyIds ?? []) this.#usedKeyIds.add(id);
    for (const k of state.publicKeys ?? []) {
      if (this.#keys.has(k.id)) throw new StoreDataError(`public key ${k.id} appears twice`);
      const refOwner = this.#keyReferences.get(k.callerReference);
      if (refOwner !== undefined) {
        throw new StoreDataError(
          `CallerReference ${k.callerReference} is used by both public keys ${refOwner} and ${k.id}`,
        );
      }
      if (k.configVersion > state.version) {
        throw new StoreDataError(
          `public key ${k.id} is at version ${k.configVersion}, after the store's ${state.version}`,
        );
      }
      this.#keys.set(k.id, k);
      this.#keyReferences.set(k.callerReference, k.id);
      this.#usedKeyIds.add(k.id);
    }
  }

  async create(distribution: Distribution, options: CreateOptions = {}): Promise<Distribution> {
    this.#open();
    const d = checkDistribution(distribution);
    // The order of the checks is part of the contract (RedisStore's Lua keeps it).
    if (this.#usedIds.has(d.id) || this.#usedDomains.has(d.domainName) || this.#hosts.has(d.domainName)) {
      throw distributionExists(d.id, d.domainName);
    }
    const refOwner = this.#callerReferences.get(d.callerReference);
    if (refOwner !== undefined) throw callerReferenceInUse(d.callerReference, refOwner);
    if (options.maxDistributions !== undefined && this.#byId.size >= options.maxDistributions) {
      throw tooManyDistributions(options.maxDistributions);
    }
    this.#checkCnames(d.id, d.cnames);
    const stored = checkDistribution({
      ...d,
      etag: newEtag(this.#random),
      configVersion: this.#version + 1,
      lastModifiedMs: this.#clock(),
    });
    this.#index(stored);
    this.#callerReferences.set(stored.callerReference, stored.id);
    this.#usedIds.add(stored.id);
    this.#usedDomains.add(stored.domainName);
    this.#commit({ upserts: [stored], removedIds: [] });
    return stored;
  }

  async createPublicKey(
    key: PublicKeyRecord,
    options: CreatePublicKeyOptions = {},
  ): Promise<PublicKeyRecord> {
    this.#open();
    const k = checkPublicKey(key);
    // The order of the checks is part of the contract (RedisStore keeps it).
    if (this.#usedKeyIds.has(k.id)) throw publicKeyExists(k.id);
    const refOwner = this.#keyReferences.get(k.callerReference);
    if (refOwner !== undefined) throw publicKeyCallerReferenceInUse(k.callerReference, refOwner);
    if (options.maxPublicKeys !== undefined && this.#keys.size >= options.maxPublicKeys) {
      throw tooManyPublicKeys(options.maxPublicKeys);
    }
    const stored = checkPublicKey({
      ...k,
      etag: newEtag(this.#random),
      configVersion: this.#version + 1,
      createdMs: this.#clock(),
    });
    this.#keys.set(stored.id, stored);
    this.#keyReferences.set(stored.callerReference, stored.id);
    this.#usedKeyIds.add(stored.id);
    this.#commit({ publicKeyUpserts: [stored] });
    return stored;
  }

  async getPublicKey(id: string): Promise<PublicKeyRecord | undefined> {
    this.#open();
    return this.#keys.get(id);
  }

  async getPublicKeyByCallerReference(callerReference: string): Promise<PublicKeyRecord | undefined> {
    this.#open();
    const id = this.#keyReferences.get(callerReference);
    return id === undefined ? undefined : this.#keys.get(id);
  }

  async listPublicKeys(): Promise<readonly PublicKeyRecord[]> {
    this.#open();
    return this.#sortedKeys();
  }

  async updatePublicKey(
    id: string,
    patch: PublicKeyPatch,
    options: UpdateOptions = {},
  ): Promise<PublicKeyRecord> {
    this.#open();
    const current = this.#requireKey(id);
    if (options.ifMatch !== undefined && options.ifMatch !== current.etag) {
      throw publicKeyPreconditionFailed(id, options.ifMatch, current.etag);
    }
    const stored = checkPublicKey({
      ...current,
      comment: patch.comment,
      etag: newEtag(this.#random),
      configVersion: this.#version + 1,
    });
    this.#keys.set(id, stored);
    this.#commit({ publicKeyUpserts: [stored] });
    return stored;
  }

  async deletePublicKey(id: string, options: UpdateOptions = {}): Promise<void> {
    this.#open();
    const current = this.#requireKey(id);
    if (options.ifMatch !== undefined && options.ifMatch !== current.etag) {
      throw publicKeyPreconditionFailed(id, options.ifMatch, current.etag);
    }
    this.#keys.delete(id);
    if (this.#keyReferences.get(current.callerReference) === id) {
      this.#keyReferences.delete(current.callerReference);
    }
    this.#commit({ removedPublicKeyIds: [id] });
  }

  async get(id: string): Promise<Distribution | undefined> {
    this.#open();
    return this.#byId.get(id);
  }

  async getByCallerReference(callerReference: string): Promise<Distribution | undefined> {
    this.#open();
    const id = this.#callerReferences.get(callerReference);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  async list(): Promise<readonly Distribution[]> {
    this.#open();
    return this.#sorted();
  }

  async update(id: string, patch: DistributionPatch, options: UpdateOptions = {}): Promise<Distribution> {
    this.#open();
    const current = this.#require(id);
    if (options.ifMatch !== undefined && options.ifMatch !== current.etag) {
      throw preconditionFailed(id, options.ifMatch, current.etag);
    }
    const next = patched(current, patch, newEtag(this.#random), this.#clock());
    this.#checkCnames(id, next.cnames);
    const stored = checkDistribution({ ...next, configVersion: this.#version + 1 });
    this.#unindex(current);
    this.#index(stored);
    this.#commit({ upserts: [stored], removedIds: [] });
    return stored;
  }

  async delete(id: string, options: DeleteOptions = {}): Promise<void> {
    this.#open();
    const current = this.#require(id);
    if (options.ifMatch !== undefined && options.ifMatch !== current.etag) {
      throw preconditionFailed(id, options.ifMatch, current.etag);
    }
    if (options.requireDisabled === true && current.enabled) throw notDisabled(id);
    this.#unindex(current);
    if (this.#callerReferences.get(current.callerReference) === id) {
      this.#callerReferences.delete(current.callerReference);
    }
    this.#commit({ upserts: [], removedIds: [id] });
  }

  async changeTags(id: string, change: TagChange, maxTags: number): Promise<Distribution> {
    this.#open();
    const next = retagged(this.#require(id), change, maxTags);
    // Tags are not config: no version, no ETag, no notification.
    this.#byId.set(id, next);
    return next;
  }

  async version(): Promise<number> {
    this.#open();
    return this.#version;
  }

  async snapshot(): Promise<ConfigSnapshot> {
    this.#open();
    return { version: this.#version, distributions: this.#sorted(), publicKeys: this.#sortedKeys() };
  }

  async changesSince(version: number): Promise<DistributionChange | undefined> {
    this.#open();
    if (version === this.#version) {
      return { version, upserts: [], removedIds: [], publicKeyUpserts: [], removedPublicKeyIds: [] };
    }
    if (version > this.#version) return undefined;
    const oldest = this.#history[0];
    // The history must hold the change right after `version`.
    if (!oldest || oldest.version > version + 1) return undefined;
    const touched = new Set<string>();
    const touchedKeys = new Set<string>();
    for (const change of this.#history) {
      if (change.version <= version) continue;
      for (const d of change.upserts) touched.add(d.id);
      for (const removed of change.removedIds) touched.add(removed);
      for (const k of change.publicKeyUpserts) touchedKeys.add(k.id);
      for (const removed of change.removedPublicKeyIds) touchedKeys.add(removed);
    }
    const publicKeyUpserts: PublicKeyRecord[] = [];
    const removedPublicKeyIds: string[] = [];
    for (const id of [...touchedKeys].sort()) {
      const k = this.#keys.get(id);
      if (k) publicKeyUpserts.push(k);
      else removedPublicKeyIds.push(id);
    }
    const upserts: Distribution[] = [];
    const removedIds: string[] = [];
    for (const id of [...touched].sort()) {
      const d = this.#byId.get(id);
      if (d) upserts.push(d);
      else removedIds.push(id);
    }
    return { version: this.#version, upserts, removedIds, publicKeyUpserts, removedPublicKeyIds };
  }

  subscribe(listener: ChangeListener): () => void {
    if (this.#closed) return () => {};
    // A wrapper, so that subscribing the same function twice gives two
    // independent subscriptions, as with RedisStore.
    const entry: ChangeListener = (change) => listener(change);
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  async heartbeat(nodeId: string, role: WatcherRole, appliedVersion: number, ttlMs: number): Promise<void> {
    this.#open();
    const now = this.#clock();
    this.#pruneWatchers(now);
    this.#watchers.set(nodeId, { role, appliedVersion, expiresAtMs: now + ttlMs });
  }

  async dropWatcher(nodeId: string): Promise<void> {
    this.#open();
    this.#watchers.delete(nodeId);
  }

  async liveWatchers(): Promise<readonly WatcherState[]> {
    this.#open();
    this.#pruneWatchers(this.#clock());
    return [...this.#watchers]
      .map(([nodeId, w]) => Object.freeze({ nodeId, ...w }))
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#undelivered.length = 0;
  }

  #open(): void {
    if (this.#closed) throw storeClosed();
  }

  #require(id: string): Distribution {
    const d = this.#byId.get(id);
    if (!d) throw notFound(id);
    return d;
  }

  #requireKey(id: string): PublicKeyRecord {
    const k = this.#keys.get(id);
    if (!k) throw publicKeyNotFound(id);
    return k;
  }

  #checkCnames(id: string, cnames: readonly string[]): void {
    for (const cname of cnames) {
      const owner = this.#hosts.get(cname);
      if (owner !== undefined && owner !== id) throw cnameInUse(cname, owner);
    }
  }

  #index(d: Distribution): void {
    this.#byId.set(d.id, d);
    this.#hosts.set(d.domainName, d.id);
    for (const cname of d.cnames) this.#hosts.set(cname, d.id);
  }

  #unindex(d: Distribution): void {
    this.#byId.delete(d.id);
    for (const host of [d.domainName, ...d.cnames]) {
      if (this.#hosts.get(host) === d.id) this.#hosts.delete(host);
    }
  }

  #pruneWatchers(now: number): void {
    for (const [nodeId, w] of this.#watchers) if (w.expiresAtMs <= now) this.#watchers.delete(nodeId);
  }

  #commit(change: Partial<Omit<DistributionChange, "version">>): void {
    this.#version += 1;
    const full: DistributionChange = Object.freeze({
      version: this.#version,
      upserts: Object.freeze([...(change.upserts ?? [])]),
      removedIds: Object.freeze([...(change.removedIds ?? [])]),
      publicKeyUpserts: Object.freeze([...(change.publicKeyUpserts ?? [])]),
      removedPublicKeyIds: Object.freeze([...(change.removedPublicKeyIds ?? [])]),
    });
    this.#history.push(full);
    if (this.#history.length > this.#historyLimit) this.#history.shift();
    this.#undelivered.push(full);
    this.#notify();
  }

  /**
   * Hands queued changes to the listeners, oldest first. A listener that
   * mutates the store from inside its callback commits synchronously; the
   * queue makes every listener still see that change after the one being
   * delivered, so each sees versions in order.
   */
  #notify(): void {
    if (this.#notifying) return;
    this.#notifying = true;
    try {
      for (let change = this.#undelivered.shift(); change; change = this.#undelivered.shift()) {
        for (const listener of [...this.#listeners]) {
          // One unsubscribed by an earlier listener of this change hears no more.
          if (!this.#listeners.has(listener)) continue;
          try {
            listener(change);
          } catch (error) {
            this.#onListenerError(error);
          }
        }
      }
    } finally {
      this.#notifying = false;
    }
  }

  #sorted(): Distribution[] {
    return [...this.#byId.values()].sort(byId);
  }

  #sortedKeys(): PublicKeyRecord[] {
    return [...this.#keys.values()].sort(byPublicKeyId);
  }
}
