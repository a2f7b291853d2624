import type { DeploymentTracker } from "./deployment.js";

export interface DeploymentLatencyOptions {
  readonly deployment: Pick<DeploymentTracker, "minAppliedVersion">;
  /** Told the seconds from a change to the edges having applied it (the histogram). */
  readonly observe: (seconds: number) => void;
  /** How often pending changes are checked while there are any. @default 250 */
  readonly pollMs?: number;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
}

/**
 * Times each distribution change this replica made from InProgress to
 * Deployed. Only the replica that accepted the change times it, so with
 * several replicas on one store every deployment is observed exactly once
 * and the histogram sums across replicas. A change made again while still
 * InProgress keeps the first start and waits for the newest version: the
 * time the distribution was InProgress without a break.
 *
 * While changes are pending the live edges' applied versions are read every
 * pollMs (one store read for all of them); with none pending nothing runs.
 * A change pending when the replica stops is not observed.
 */
export class DeploymentLatency {
  readonly #deployment: Pick<DeploymentTracker, "minAppliedVersion">;
  readonly #observe: (seconds: number) => void;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #pending = new Map<string, { version: number; startedMs: number }>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: DeploymentLatencyOptions) {
    this.#deployment = options.deployment;
    this.#observe = options.observe;
    this.#pollMs = options.pollMs ?? 250;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Changes waiting for the edges now. */
  get pending(): number {
    return this.#pending.size;
  }

  /** This replica stored a create or update of `id`, carried by config version `version`. */
  changed(id: string, version: number): void {
    if (this.#closed) return;
    const earlier = this.#pending.get(id);
    this.#pending.set(id, { version, startedMs: earlier?.startedMs ?? this.#now() });
    this.#schedule();
  }

  /** The distribution was deleted: nothing of it is waited for any more. */
  deleted(id: string): void {
    this.#pending.delete(id);
  }

  /** Observes every pending change the live edges have applied (also run by the poll). */
  async check(): Promise<void> {
    if (this.#pending.size === 0) return;
    const minApplied = await this.#deployment.minAppliedVersion().catch(() => undefined);
    // The store is down: try again at the next poll.
    if (minApplied === undefined) return;
    const now = this.#now();
    for (const [id, change] of this.#pending) {
      if (minApplied < change.version) continue;
      this.#pending.delete(id);
      this.#observe((now - change.startedMs) / 1000);
    }
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.check().finally(() => {
        if (this.#pending.size > 0) this.#schedule();
      });
    }, this.#pollMs);
    this.#timer.unref();
  }
}
