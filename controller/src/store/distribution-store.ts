import type { Distribution, DistributionPatch } from "../distribution.js";

/**
 * What changed in one step of the config version, or (from changesSince)
 * across several steps merged: distributions that now exist in their newest
 * form, and ids that no longer exist.
 */
export interface DistributionChange {
  readonly version: number;
  readonly upserts: readonly Distribution[];
  readonly removedIds: readonly string[];
}

export interface ConfigSnapshot {
  readonly version: number;
  readonly distributions: readonly Distribution[];
}

export type ChangeListener = (change: DistributionChange) => void;

/**
 * Where the controller keeps distributions. MemoryStore is the embedded
 * store of single-machine mode; a Redis store (a later version) implements
 * the same contract for several controller replicas.
 *
 * Contract:
 * - Every successful mutation bumps the config version by exactly one and
 *   notifies subscribers with that version's change, in version order.
 * - CNAMEs are unique across distributions (ControllerError CnameInUse).
 * - Returned distributions are frozen; callers never mutate them.
 */
export interface DistributionStore {
  /** Stores a new distribution (its id and domain name must be unused). */
  create(distribution: Distribution): Promise<Distribution>;
  get(id: string): Promise<Distribution | undefined>;
  /** Every distribution, ordered by id. */
  list(): Promise<readonly Distribution[]>;
  /** Applies patch; throws DistributionNotFound, CnameInUse, InvalidDistribution. */
  update(id: string, patch: DistributionPatch): Promise<Distribution>;
  /** Throws DistributionNotFound. */
  delete(id: string): Promise<void>;
  /** The current config version. */
  version(): Promise<number>;
  /** Every distribution and the version they are at, read atomically. */
  snapshot(): Promise<ConfigSnapshot>;
  /**
   * The merged change from `version` (exclusive) to now; an empty change at
   * the current version when nothing changed; undefined when the store no
   * longer knows (or never knew) that version — the caller sends a snapshot.
   */
  changesSince(version: number): Promise<DistributionChange | undefined>;
  /** Calls listener after each mutation; returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
}
