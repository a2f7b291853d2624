import { Prng } from "../../../lib/testing/prng.js";
import type { Scheduler, TimerHandle } from "../../src/session/scheduler.js";

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A Scheduler whose clock moves only when the test says so: timers fire in
 * due order inside advance(), deferred turns run inside settle(), random
 * bytes come from a seeded PRNG. Between callbacks it lets the real event
 * loop turn once (setImmediate), which runs every promise continuation and
 * stream event already queued — in-memory media and transports need
 * nothing else — so a test sees the state after each step, in no wall time.
 */
export class ManualScheduler implements Scheduler {
  #now = 0;
  #seq = 0;
  #timers: Pending[] = [];
  #deferred: Pending[] = [];
  readonly #prng: Prng;
  /** The wall clock's value at now() = 0. */
  readonly #epochMs: number;

  constructor(options: { seed?: number; epochMs?: number } = {}) {
    this.#prng = new Prng(options.seed ?? 1);
    this.#epochMs = options.epochMs ?? Date.UTC(2026, 0, 1);
  }

  now(): number {
    return this.#now;
  }

  wallClockMs(): number {
    return this.#epochMs + this.#now;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const pending: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(pending);
    return {
      cancel: () => {
        pending.cancelled = true;
      },
    };
  }

  defer(fn: () => void): TimerHandle {
    const pending: Pending = { at: this.#now, seq: this.#seq++, fn, cancelled: false };
    this.#deferred.push(pending);
    return {
      cancel: () => {
        pending.cancelled = true;
      },
    };
  }

  randomBytes(n: number): Buffer {
    return this.#prng.bytes(n);
  }

  /** Timers not yet fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Deferred calls not yet run nor cancelled. */
  get pendingDeferred(): number {
    return this.#deferred.filter((d) => !d.cancelled).length;
  }

  /** When the next timer is due, or null. */
  get nextTimerAt(): number | null {
    const next = this.#nextTimer();
    return next ? next.at : null;
  }

  /**
   * Runs what is ready now: queued promise continuations and stream events,
   * deferred turns, and timers due at the current time, until none is left.
   */
  async settle(): Promise<void> {
    for (let rounds = 0; ; rounds++) {
      if (rounds > 100_000) throw new Error("ManualScheduler.settle: still busy after 100,000 rounds");
      // Two loop turns: a continuation run in the first may queue a stream event for the next.
      await loopTurn();
      await loopTurn();
      const deferred = this.#deferred.filter((d) => !d.cancelled);
      this.#deferred = [];
      if (deferred.length > 0) {
        for (const d of deferred) if (!d.cancelled) d.fn();
        continue;
      }
      const due = this.#nextTimer();
      if (due !== null && due.at <= this.#now) {
        this.#fire(due);
        continue;
      }
      return;
    }
  }

  /** Moves the clock ms forward, firing each timer at its due time (and settling after each). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.settle();
    for (;;) {
      const next = this.#nextTimer();
      if (next === null || next.at > target) break;
      this.#now = Math.max(this.#now, next.at);
      this.#fire(next);
      await this.settle();
    }
    this.#now = target;
    await this.settle();
  }

  #fire(timer: Pending): void {
    this.#timers = this.#timers.filter((t) => t !== timer);
    if (!timer.cancelled) timer.fn();
  }

  #nextTimer(): Pending | null {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let next: Pending | null = null;
    for (const t of this.#timers)
      if (next === null || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = t;
    return next;
  }
}

function loopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
