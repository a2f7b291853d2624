import type { Failure } from "./fuzz-harness.js";

/** What the campaign (main thread) and fuzz-worker.ts exchange. */

export interface WorkerJob {
  target: string;
  seed: number;
  from: number;
  to: number;
  timeoutMs: number;
  minimize: boolean;
  /** Report the input and outcome of every case (for replaying a single case). */
  verbose: boolean;
  maxFailures: number;
  /** Float64Array view: [case index, case start (Date.now()), phase]. */
  shared: SharedArrayBuffer;
}

/** What the worker is doing, as written to shared[2]. */
export const Phase = { Idle: 0, Running: 1, Minimizing: 2 } as const;

export interface WorkerStats {
  cases: number;
  accepted: number;
  rejected: number;
  codes: Record<string, number>;
  /** Distinct normalized rejection messages (a rough measure of how many code paths were reached). */
  outcomes: string[];
  failures: number;
  maxCaseMs: number;
  maxCaseIndex: number;
  maxMemoryBytes: number;
}

export type WorkerMessage =
  | { type: "failure"; failure: Failure }
  | { type: "minimized"; caseIndex: number; length: number; hex: string }
  | { type: "detail"; text: string }
  | { type: "progress"; stats: WorkerStats }
  | { type: "done"; stats: WorkerStats };

/** Counters of a run before its first case. */
export function emptyStats(): WorkerStats {
  return {
    cases: 0,
    accepted: 0,
    rejected: 0,
    codes: {},
    outcomes: [],
    failures: 0,
    maxCaseMs: 0,
    maxCaseIndex: -1,
    maxMemoryBytes: 0,
  };
}
