import type { Distribution } from "./distribution.js";
import { type DistributionStore, WatcherRole } from "./store/distribution-store.js";

export const DeploymentStatus = { InProgress: "InProgress", Deployed: "Deployed" } as const;
export type DeploymentStatus = (typeof DeploymentStatus)[keyof typeof DeploymentStatus];

export interface DeploymentTrackerOptions {
  readonly store: DistributionStore;
  /**
   * How long one read of the live edges serves status questions. A List of
   * 100 distributions asks once; a client polling Get sees Deployed at most
   * this much later than it happened. @default 25
   */
  readonly cacheMs?: number;
  readonly clock?: () => number;
}

/**
 * Whether a distribution's current config has reached the edges. Every
 * create and update stamps the distribution with the config version that
 * carried it; a live edge acknowledges each version it applied (through any
 * controller replica, recorded in the store with a heartbeat TTL). The
 * distribution is Deployed once every live edge has applied that version.
 *
 * With no live edge at all there is nothing to wait for, and the answer is
 * Deployed: a single-machine run without edges, or a region being built.
 */
export class DeploymentTracker {
  readonly #store: DistributionStore;
  readonly #cacheMs: number;
  readonly #clock: () => number;
  #cached: { atMs: number; minApplied: Promise<number> } | null = null;

  constructor(options: DeploymentTrackerOptions) {
    this.#store = options.store;
    this.#cacheMs = options.cacheMs ?? 25;
    this.#clock = options.clock ?? Date.now;
  }

  /** The lowest version every live edge has applied; Infinity when no edge is live. */
  minAppliedVersion(): Promise<number> {
    const now = this.#clock();
    if (this.#cached && now - this.#cached.atMs < this.#cacheMs) return this.#cached.minApplied;
    const minApplied = this.#store.liveWatchers().then((watchers) => {
      let min = Number.POSITIVE_INFINITY;
      for (const w of watchers) if (w.role === WatcherRole.Edge) min = Math.min(min, w.appliedVersion);
      return min;
    });
    // A failed read is not cached: the next question asks again.
    minApplied.catch(() => {
      if (this.#cached?.minApplied === minApplied) this.#cached = null;
    });
    this.#cached = { atMs: now, minApplied };
    return minApplied;
  }

  async statusOf(distribution: Distribution): Promise<DeploymentStatus> {
    return statusFor(distribution, await this.minAppliedVersion());
  }

  /** Forgets the cached read, e.g. right after a mutation. */
  invalidate(): void {
    this.#cached = null;
  }
}

export function statusFor(distribution: Distribution, minAppliedVersion: number): DeploymentStatus {
  return minAppliedVersion >= distribution.configVersion
    ? DeploymentStatus.Deployed
    : DeploymentStatus.InProgress;
}
