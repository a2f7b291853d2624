import { randomBytes } from "node:crypto";

/** A pending timer or deferred call; cancel() is idempotent and safe after it ran. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * The session layer's one seam to time and chance: every clock read, timer,
 * deferred turn and random byte of RtmpSession, NetStream and StreamPlayer
 * goes through it, so tests drive a whole session with a manual clock
 * (edge/test/support/manual-scheduler.ts) and no wall time.
 */
export interface Scheduler {
  /** A monotonic clock in ms (performance.now()): pacing, timeouts, measured intervals. */
  now(): number;
  /** The wall clock in ms since the epoch (Date.now()): the handshake's S1 time field. */
  wallClockMs(): number;
  /** Calls fn once after ms; a pending timer never keeps the process alive. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Calls fn on a later turn of the event loop (setImmediate), after pending I/O. */
  defer(fn: () => void): TimerHandle;
  /** n bytes from the system CSPRNG (client ids, handshake packets, call ids). */
  randomBytes(n: number): Buffer;
}

/** Node's timers, clocks and crypto: what the edge runs on. */
export const realScheduler: Scheduler = {
  now: () => performance.now(),
  wallClockMs: () => Date.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  defer(fn) {
    const immediate = setImmediate(fn);
    return { cancel: () => clearImmediate(immediate) };
  },
  randomBytes: (n) => randomBytes(n),
};
