import type { Distribution, DistributionPatch, Tag } from "../distribution.js";
import type { PublicKeyPatch, PublicKeyRecord } from "../public-key.js";

/**
 * What changed in one step of the config version, or (from changesSince)
 * across several steps merged: distributions that now exist in their newest
 * form, and ids that no longer exist.
 */
export interface DistributionChange {
  readonly version: number;
  readonly upserts: readonly Distribution[];
  readonly removedIds: readonly string[];
  /** Public keys that now exist in their newest form (they share the config version). */
  readonly publicKeyUpserts: readonly PublicKeyRecord[];
  readonly removedPublicKeyIds: readonly string[];
}

export interface ConfigSnapshot {
  readonly version: number;
  readonly distributions: readonly Distribution[];
  readonly publicKeys: readonly PublicKeyRecord[];
}

export interface CreatePublicKeyOptions {
  /** Refuse with TooManyPublicKeys when this many already exist. @default unlimited */
  readonly maxPublicKeys?: number;
}

export type ChangeListener = (change: DistributionChange) => void;

export interface CreateOptions {
  /** Refuse with TooManyDistributions when this many already exist. @default unlimited */
  readonly maxDistributions?: number;
}

export interface UpdateOptions {
  /** When given, the update happens only if the current ETag equals it (else PreconditionFailed). */
  readonly ifMatch?: string;
}

export interface DeleteOptions {
  /** When given, the delete happens only if the current ETag equals it (else PreconditionFailed). */
  readonly ifMatch?: string;
  /** Refuse with NotDisabled while the distribution is enabled. @default false */
  readonly requireDisabled?: boolean;
}

export interface TagChange {
  /** Tags to set; a key already present gets the new value. */
  readonly set?: readonly Tag[];
  /** Keys to remove; unknown keys are ignored. */
  readonly removeKeys?: readonly string[];
}

export const WatcherRole = { Edge: "edge", Shield: "shield" } as const;
export type WatcherRole = (typeof WatcherRole)[keyof typeof WatcherRole];

/** A process watching the config, as last heard from (by any controller replica). */
export interface WatcherState {
  readonly nodeId: string;
  readonly role: WatcherRole;
  /** The newest version it acknowledged as applied. */
  readonly appliedVersion: number;
  /** When its entry expires unless it heartbeats again (ms since the epoch). */
  readonly expiresAtMs: number;
}

/**
 * Where the controller keeps distributions. MemoryStore is the embedded store
 * of single-machine mode; RedisStore serves several controller replicas on one
 * Redis. One contract test suite runs against both.
 *
 * Contract:
 * - Every successful create, update or delete bumps the config version by
 *   exactly one, stamps the distribution's configVersion with it (and, for
 *   create/update, a new etag and lastModifiedMs), and notifies subscribers
 *   with that version's change, in version order — including changes made by
 *   other replicas (RedisStore relays them).
 * - Each mutation is atomic: two replicas racing never both succeed where
 *   only one may (same CNAME, same CallerReference, same If-Match).
 * - CNAMEs and domain names are unique across distributions (CnameInUse);
 *   ids and domain names are never reused, even after a delete
 *   (DistributionExists).
 * - Tag changes do not touch the config version, the etag or subscribers:
 *   edges do not need tags.
 * - Returned distributions are frozen; callers never mutate them.
 * - When the backing service is unreachable every call rejects with
 *   StoreUnavailable and nothing is half-done.
 */
export interface DistributionStore {
  /**
   * Stores a new distribution (its id and domain name must never have been
   * used). Throws DistributionExists, CallerReferenceInUse (another
   * distribution has its callerReference), CnameInUse, TooManyDistributions.
   */
  create(distribution: Distribution, options?: CreateOptions): Promise<Distribution>;
  get(id: string): Promise<Distribution | undefined>;
  /** The distribution created with this CallerReference, if any. */
  getByCallerReference(callerReference: string): Promise<Distribution | undefined>;
  /** Every distribution, ordered by id. */
  list(): Promise<readonly Distribution[]>;
  /** Applies patch; throws DistributionNotFound, CnameInUse, InvalidDistribution, PreconditionFailed. */
  update(id: string, patch: DistributionPatch, options?: UpdateOptions): Promise<Distribution>;
  /** Throws DistributionNotFound, PreconditionFailed, NotDisabled. */
  delete(id: string, options?: DeleteOptions): Promise<void>;
  /** Changes tags; throws DistributionNotFound, TooManyTags (more than maxTags would remain). */
  changeTags(id: string, change: TagChange, maxTags: number): Promise<Distribution>;
  /** The current config version. */
  version(): Promise<number>;
  /** Every distribution and public key and the version they are at, read atomically. */
  snapshot(): Promise<ConfigSnapshot>;
  /**
   * The merged change from `version` (exclusive) to now; an empty change at
   * the current version when nothing changed; undefined when the store no
   * longer knows (or never knew) that version — the caller sends a snapshot.
   */
  changesSince(version: number): Promise<DistributionChange | undefined>;
  /** Calls listener after each mutation; returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
  /** Records that a watcher is alive and has applied appliedVersion, for ttlMs from now. */
  heartbeat(nodeId: string, role: WatcherRole, appliedVersion: number, ttlMs: number): Promise<void>;
  /** Removes a watcher at once (its stream closed cleanly). */
  dropWatcher(nodeId: string): Promise<void>;
  /** Watchers whose entry has not expired, ordered by nodeId. */
  liveWatchers(): Promise<readonly WatcherState[]>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/**
 * Where the controller keeps this account's public keys (CreatePublicKey).
 * Same contract as DistributionStore: every create, update and delete bumps
 * the one config version by one, and the change (publicKeyUpserts,
 * removedPublicKeyIds) reaches subscribers in version order with the
 * distribution changes; ids are never reused.
 */
export interface PublicKeyStore {
  /**
   * Stores a new public key (its id must never have been used). Bumps the
   * config version like a distribution change. Throws PublicKeyExists,
   * PublicKeyCallerReferenceInUse, TooManyPublicKeys.
   */
  createPublicKey(key: PublicKeyRecord, options?: CreatePublicKeyOptions): Promise<PublicKeyRecord>;
  getPublicKey(id: string): Promise<PublicKeyRecord | undefined>;
  getPublicKeyByCallerReference(callerReference: string): Promise<PublicKeyRecord | undefined>;
  /** Every public key, ordered by id. */
  listPublicKeys(): Promise<readonly PublicKeyRecord[]>;
  /** Changes the comment (new etag, new version); throws PublicKeyNotFound, PreconditionFailed. */
  updatePublicKey(id: string, patch: PublicKeyPatch, options?: UpdateOptions): Promise<PublicKeyRecord>;
  /** Throws PublicKeyNotFound, PreconditionFailed. */
  deletePublicKey(id: string, options?: UpdateOptions): Promise<void>;
}

/** Whether a store keeps public keys too (MemoryStore, FileStore and RedisStore do; a test double may not). */
export function isPublicKeyStore(store: DistributionStore): store is DistributionStore & PublicKeyStore {
  return "createPublicKey" in store && typeof store.createPublicKey === "function";
}
