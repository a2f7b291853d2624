import { ShieldError, ShieldErrorCode } from "./errors.js";

/**
 * Which kind of S3 request wants a slot. Reads (range GETs: bytes a viewer
 * is waiting for) always go first. HEADs have their own, smaller bounds,
 * because anyone who can name random keys can make them and each name that
 * does not exist costs one: a play's open (Open) waits ahead of other
 * lookups (Lookup: getStreamLength, revalidations, callers that do not
 * say), and both share the HEAD in-flight bound.
 */
export const Lane = { Read: "read", Open: "open", Lookup: "lookup" } as const;
export type Lane = (typeof Lane)[keyof typeof Lane];

export interface BucketLimiterOptions {
  /** S3 requests to one bucket in flight at once, both lanes (a GET counts until its body is done). */
  readonly maxConcurrent: number;
  /**
   * Reads that may wait for a slot per bucket; beyond that a read fails at
   * once with Overloaded instead of queueing without bound (the edge
   * retries on another replica, or later).
   */
  readonly maxQueued: number;
  /**
   * Lookups in flight per bucket, out of maxConcurrent: the rest of the
   * slots are only ever used by reads, so a flood of lookups cannot take
   * every socket. @default min(maxConcurrent, 16)
   */
  readonly maxLookups?: number;
  /**
   * Lookups that may wait per bucket, and as many opens; beyond that a
   * HEAD is shed at once with LookupsShed (RESOURCE_EXHAUSTED). @default 64
   */
  readonly maxQueuedLookups?: number;
}

export const bucketLimiterDefaults = { maxLookups: 16, maxQueuedLookups: 64 } as const;

/** Gives the slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

interface Waiter {
  readonly grant: () => void;
}

interface BucketState {
  /** Slots held, both lanes. */
  active: number;
  /** Slots held by HEADs, opens and lookups (part of active). */
  lookups: number;
  readonly reads: Waiter[];
  readonly openQueue: Waiter[];
  readonly lookupQueue: Waiter[];
}

/**
 * A counting semaphore per bucket with two bounded FIFO wait queues (lanes).
 * One bucket's hot object cannot take every socket of the shield, and a
 * throttling bucket (S3 SlowDown is per prefix) sees at most maxConcurrent
 * requests from this shield. A freed slot goes to the oldest waiting read,
 * then (while lookups hold fewer than maxLookups) to the oldest waiting
 * lookup, so reads are never queued behind lookups. Buckets with nothing in
 * flight and nobody waiting are forgotten, so the map stays as small as the
 * working set.
 */
export class BucketLimiter {
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #maxLookups: number;
  readonly #maxQueuedLookups: number;
  readonly #buckets = new Map<string, BucketState>();
  /** Lookups shed since start, for the metrics. */
  #shedLookups = 0;

  constructor(options: BucketLimiterOptions) {
    const maxLookups =
      options.maxLookups ?? Math.min(options.maxConcurrent, bucketLimiterDefaults.maxLookups);
    const maxQueuedLookups = options.maxQueuedLookups ?? bucketLimiterDefaults.maxQueuedLookups;
    positive("maxConcurrent", options.maxConcurrent);
    nonNegative("maxQueued", options.maxQueued);
    positive("maxLookups", maxLookups);
    nonNegative("maxQueuedLookups", maxQueuedLookups);
    this.#maxConcurrent = options.maxConcurrent;
    this.#maxQueued = options.maxQueued;
    this.#maxLookups = Math.min(maxLookups, options.maxConcurrent);
    this.#maxQueuedLookups = maxQueuedLookups;
  }

  /**
   * Resolves with a release function once the bucket has a free slot for
   * the lane. Rejects with ShieldError Aborted when the signal fires while
   * waiting; Overloaded when the bucket's read queue is full;
   * LookupsShed when its lookup queue is full.
   */
  acquire(bucket: string, signal?: AbortSignal, lane: Lane = Lane.Read): Promise<ReleaseSlot> {
    if (signal?.aborted) {
      return Promise.reject(
        new ShieldError(ShieldErrorCode.Aborted, `${bucket}: aborted before S3 was asked`),
      );
    }
    let state = this.#buckets.get(bucket);
    if (!state) {
      state = { active: 0, lookups: 0, reads: [], openQueue: [], lookupQueue: [] };
      this.#buckets.set(bucket, state);
    }
    const isLookup = lane !== Lane.Read;
    if (this.#canGrant(state, lane)) {
      return Promise.resolve(this.#take(bucket, state, isLookup));
    }
    const queue = lane === Lane.Read ? state.reads : lane === Lane.Open ? state.openQueue : state.lookupQueue;
    if (isLookup && queue.length >= this.#maxQueuedLookups) {
      this.#shedLookups += 1;
      this.#forgetIfIdle(bucket, state);
      return Promise.reject(
        new ShieldError(
          ShieldErrorCode.LookupsShed,
          `${bucket}: too many S3 lookups (${state.lookups} in flight, ${queue.length} ${lane}s waiting); try again later`,
        ),
      );
    }
    if (!isLookup && queue.length >= this.#maxQueued) {
      return Promise.reject(
        new ShieldError(
          ShieldErrorCode.Overloaded,
          `${bucket}: too many S3 requests waiting (${queue.length} queued behind ${state.active} in flight)`,
        ),
      );
    }
    const queued = state;
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const onAbort = () => {
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        // A read leaving may unblock lookups that waited behind it.
        this.#dispatch(queued);
        this.#forgetIfIdle(bucket, queued);
        reject(new ShieldError(ShieldErrorCode.Aborted, `${bucket}: aborted while waiting for an S3 slot`));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#take(bucket, queued, isLookup));
        },
      };
      queue.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Requests to the bucket holding a slot now, both lanes. */
  inFlight(bucket: string): number {
    return this.#buckets.get(bucket)?.active ?? 0;
  }

  /** Lookups to the bucket holding a slot now. */
  lookupsInFlight(bucket: string): number {
    return this.#buckets.get(bucket)?.lookups ?? 0;
  }

  /** Requests to the bucket waiting for a slot now, both lanes. */
  queued(bucket: string): number {
    const state = this.#buckets.get(bucket);
    return state ? state.reads.length + state.openQueue.length + state.lookupQueue.length : 0;
  }

  /** HEADs (opens and lookups) to the bucket waiting for a slot now. */
  queuedLookups(bucket: string): number {
    const state = this.#buckets.get(bucket);
    return state ? state.openQueue.length + state.lookupQueue.length : 0;
  }

  /** Requests waiting now over all buckets, by lane (walks the buckets: for scrapes, not the data path). */
  queuedByLane(): Record<Lane, number> {
    const out: Record<Lane, number> = { read: 0, open: 0, lookup: 0 };
    for (const state of this.#buckets.values()) {
      out.read += state.reads.length;
      out.open += state.openQueue.length;
      out.lookup += state.lookupQueue.length;
    }
    return out;
  }

  /** Lookups refused with LookupsShed since start. */
  get shedLookups(): number {
    return this.#shedLookups;
  }

  #canGrant(state: BucketState, lane: Lane): boolean {
    if (state.active >= this.#maxConcurrent) return false;
    // Nobody overtakes a waiting request of its own lane or of a lane
    // ahead of it (the queues are FIFO: reads, then opens, then lookups).
    if (state.reads.length > 0) return false;
    if (lane === Lane.Read) return true;
    if (state.lookups >= this.#maxLookups || state.openQueue.length > 0) return false;
    return lane === Lane.Open || state.lookupQueue.length === 0;
  }

  #take(bucket: string, state: BucketState, isLookup: boolean): ReleaseSlot {
    state.active += 1;
    if (isLookup) state.lookups += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.active -= 1;
      if (isLookup) state.lookups -= 1;
      this.#dispatch(state);
      this.#forgetIfIdle(bucket, state);
    };
  }

  /**
   * Hands free slots to waiters, reads first. Runs synchronously inside a
   * release, so a request arriving afterwards cannot overtake the queues.
   */
  #dispatch(state: BucketState): void {
    while (state.active < this.#maxConcurrent) {
      const read = state.reads.shift();
      if (read) {
        read.grant();
        continue;
      }
      if (state.lookups >= this.#maxLookups) return;
      const head = state.openQueue.shift() ?? state.lookupQueue.shift();
      if (!head) return;
      head.grant();
    }
  }

  #forgetIfIdle(bucket: string, state: BucketState): void {
    if (
      state.active === 0 &&
      state.reads.length === 0 &&
      state.openQueue.length === 0 &&
      state.lookupQueue.length === 0 &&
      this.#buckets.get(bucket) === state
    ) {
      this.#buckets.delete(bucket);
    }
  }
}

function positive(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer (got ${value})`);
  }
}

function nonNegative(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer (got ${value})`);
  }
}
