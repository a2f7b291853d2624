import { ShieldError, ShieldErrorCode } from "./errors.js";

export interface BucketLimiterOptions {
  /** S3 requests to one bucket in flight at once (a GET counts until its body is done). */
  readonly maxConcurrent: number;
  /**
   * Requests that may wait for a slot per bucket; beyond that a request
   * fails at once with OriginUnavailable instead of queueing without bound
   * (the edge retries elsewhere or later).
   */
  readonly maxQueued: number;
}

/** Gives the slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

interface Waiter {
  readonly grant: () => void;
}

interface BucketState {
  active: number;
  readonly queue: Waiter[];
}

/**
 * A counting semaphore per bucket with a bounded FIFO wait queue. One
 * bucket's hot object cannot take every socket of the shield, and a
 * throttling bucket (S3 SlowDown is per prefix) sees at most maxConcurrent
 * requests from this shield. Buckets with nothing in flight and nobody
 * waiting are forgotten, so the map stays as small as the working set.
 */
export class BucketLimiter {
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #buckets = new Map<string, BucketState>();

  constructor(options: BucketLimiterOptions) {
    if (!Number.isInteger(options.maxConcurrent) || options.maxConcurrent < 1) {
      throw new RangeError(`maxConcurrent must be a positive integer (got ${options.maxConcurrent})`);
    }
    if (!Number.isInteger(options.maxQueued) || options.maxQueued < 0) {
      throw new RangeError(`maxQueued must be a non-negative integer (got ${options.maxQueued})`);
    }
    this.#maxConcurrent = options.maxConcurrent;
    this.#maxQueued = options.maxQueued;
  }

  /**
   * Resolves with a release function once the bucket has a free slot.
   * Rejects with ShieldError Aborted when the signal fires while waiting,
   * OriginUnavailable when the bucket's queue is full.
   */
  acquire(bucket: string, signal?: AbortSignal): Promise<ReleaseSlot> {
    if (signal?.aborted) {
      return Promise.reject(
        new ShieldError(ShieldErrorCode.Aborted, `${bucket}: aborted before S3 was asked`),
      );
    }
    let state = this.#buckets.get(bucket);
    if (!state) {
      state = { active: 0, queue: [] };
      this.#buckets.set(bucket, state);
    }
    if (state.active < this.#maxConcurrent) {
      state.active += 1;
      return Promise.resolve(this.#releaser(bucket, state));
    }
    if (state.queue.length >= this.#maxQueued) {
      return Promise.reject(
        new ShieldError(
          ShieldErrorCode.OriginUnavailable,
          `${bucket}: too many S3 requests waiting (${state.queue.length} queued behind ${state.active} in flight)`,
        ),
      );
    }
    const queued = state;
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const onAbort = () => {
        const index = queued.queue.indexOf(waiter);
        if (index >= 0) queued.queue.splice(index, 1);
        this.#forgetIfIdle(bucket, queued);
        reject(new ShieldError(ShieldErrorCode.Aborted, `${bucket}: aborted while waiting for an S3 slot`));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser(bucket, queued));
        },
      };
      queued.queue.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Requests to the bucket holding a slot now. */
  inFlight(bucket: string): number {
    return this.#buckets.get(bucket)?.active ?? 0;
  }

  /** Requests to the bucket waiting for a slot now. */
  queued(bucket: string): number {
    return this.#buckets.get(bucket)?.queue.length ?? 0;
  }

  #releaser(bucket: string, state: BucketState): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = state.queue.shift();
      // The slot passes straight to the next waiter, so a request arriving
      // now cannot overtake the queue.
      if (next) {
        next.grant();
        return;
      }
      state.active -= 1;
      this.#forgetIfIdle(bucket, state);
    };
  }

  #forgetIfIdle(bucket: string, state: BucketState): void {
    if (state.active === 0 && state.queue.length === 0 && this.#buckets.get(bucket) === state) {
      this.#buckets.delete(bucket);
    }
  }
}
