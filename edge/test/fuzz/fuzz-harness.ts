import { getHeapStatistics } from "node:v8";
import { Prng } from "../../../lib/testing/prng.js";
import { EdgeError, type EdgeErrorCode } from "../../src/errors.js";

/**
 * A small property-fuzzing harness for the edge's pure decoders.
 *
 * A target turns a per-case PRNG into an input and runs the decoder on it.
 * The oracle is the same for every target:
 *
 *   - the decoder returns, or throws an EdgeError with one of the target's
 *     documented codes; anything else (RangeError, TypeError, stack
 *     overflow, an assertion) is a crash;
 *   - a target may also check properties of what was decoded (round trips,
 *     bounds) and throw PropertyViolation;
 *   - a case finishes within the time bound (the campaign's watchdog kills a
 *     case that never returns; a case that returns late is "slow");
 *   - a case does not allocate more than MEMORY_BASE + MEMORY_PER_INPUT_BYTE ×
 *     its input size (V8 heap + external memory, measured around the case).
 *
 * Every case draws from its own PRNG seeded by (campaign seed, target name,
 * case index), so one failure replays alone with `--seed S --target T --case N`.
 */

export { Prng };

/** Thrown by a target when the decoder returned, or threw, but broke a stated property. */
export class PropertyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PropertyViolation";
  }
}

/** Throws PropertyViolation with `message()` unless `condition` holds. */
export function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new PropertyViolation(message());
}

export interface FuzzTarget<I> {
  readonly name: string;
  /** One line for `--list` and the report. */
  readonly summary: string;
  /** The EdgeError codes a bad input may produce; any other throw is a failure. */
  readonly codes: readonly EdgeErrorCode[];
  /** Builds one input. Must depend only on `rng`, so a case replays from its seed. */
  generate(rng: Prng): I;
  /** Runs the decoder(s) on `input`; returns or throws. */
  execute(input: I): void | Promise<void>;
  /** The bytes under test: sized for the memory bound, printed and shrunk on failure. */
  bytes(input: I): Buffer;
  /** `input` with its bytes replaced, for minimization; omit to skip minimizing. */
  withBytes?(input: I, bytes: Buffer): I;
  /** Everything besides the bytes needed to understand a failure (split points, mode, seek times). */
  describe?(input: I): string;
}

/** One generated case, with its input type erased. */
export interface PreparedCase {
  readonly bytes: Buffer;
  run(): void | Promise<void>;
  describe(): string;
  /** The same case on other bytes, or null when the target cannot be minimized. */
  readonly shrink: ((bytes: Buffer) => PreparedCase) | null;
}

export interface Target {
  readonly name: string;
  readonly summary: string;
  readonly codes: ReadonlySet<string>;
  prepare(rng: Prng): PreparedCase;
}

export function defineTarget<I>(target: FuzzTarget<I>): Target {
  const prepared = (input: I): PreparedCase => {
    const { withBytes } = target;
    return {
      bytes: target.bytes(input),
      run: () => target.execute(input),
      describe: () => target.describe?.(input) ?? "",
      shrink: withBytes ? (bytes) => prepared(withBytes.call(target, input, bytes)) : null,
    };
  };
  return {
    name: target.name,
    summary: target.summary,
    codes: new Set<string>(target.codes),
    prepare: (rng) => prepared(target.generate(rng)),
  };
}

// ---------------------------------------------------------------------------
// Seeds

/** murmur3's 32-bit finalizer: spreads nearby integers over the whole range. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The seed of case `index` of `target` in a campaign seeded with `seed`. */
export function caseSeed(seed: number, target: string, index: number): number {
  return mix32(mix32(seed ^ hashString(target)) ^ mix32(index + 0x9e3779b9));
}

/** A seed from the clock, for runs that should explore rather than repeat. */
export function timeSeed(): number {
  return mix32(Date.now() ^ (process.pid << 16)) & 0x7fffffff;
}

// ---------------------------------------------------------------------------
// Running one case

export const DEFAULT_CASE_TIMEOUT_MS = 2000;
/** Any case may use this much memory regardless of its input… */
export const MEMORY_BASE = 64 * 1024 * 1024;
/** …plus this many bytes per input byte. */
export const MEMORY_PER_INPUT_BYTE = 32;

export type FailureKind =
  | "crash"
  | "unexpected-code"
  | "property"
  | "slow"
  | "memory"
  | "hang"
  | "worker-exit";

export interface Failure {
  target: string;
  seed: number;
  caseIndex: number;
  kind: FailureKind;
  /** The error message, or what the watchdog saw. */
  message: string;
  stack: string;
  inputLength: number;
  inputHex: string;
  details: string;
  /** Filled in when minimization found a smaller input that fails the same way. */
  minimizedLength?: number;
  minimizedHex?: string;
}

export type CaseOutcome =
  | { status: "accepted"; ms: number; memory: number }
  | { status: "rejected"; code: string; message: string; ms: number; memory: number }
  | { status: "failed"; kind: FailureKind; error: unknown; ms: number; memory: number };

export interface CaseLimits {
  timeoutMs: number;
}

function memoryInUse(): number {
  const stats = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & { external_memory?: number };
  return stats.used_heap_size + (stats.external_memory ?? 0);
}

/** Runs a prepared case and classifies what happened (hangs are the watchdog's business). */
export async function runPrepared(
  target: Target,
  prepared: PreparedCase,
  limits: CaseLimits,
): Promise<CaseOutcome> {
  const memoryBefore = memoryInUse();
  const start = performance.now();
  let thrown: unknown = null;
  let threw = false;
  try {
    const pending = prepared.run();
    if (pending !== undefined) await pending;
  } catch (error) {
    threw = true;
    thrown = error;
  }
  const ms = performance.now() - start;
  const memory = memoryInUse() - memoryBefore;
  const memoryLimit = MEMORY_BASE + MEMORY_PER_INPUT_BYTE * prepared.bytes.length;
  if (threw && !(thrown instanceof EdgeError && target.codes.has(thrown.code))) {
    const kind: FailureKind =
      thrown instanceof PropertyViolation
        ? "property"
        : thrown instanceof EdgeError
          ? "unexpected-code"
          : "crash";
    return { status: "failed", kind, error: thrown, ms, memory };
  }
  if (ms > limits.timeoutMs) {
    return {
      status: "failed",
      kind: "slow",
      error: new Error(`case took ${ms.toFixed(0)} ms (limit ${limits.timeoutMs})`),
      ms,
      memory,
    };
  }
  if (memory > memoryLimit) {
    return {
      status: "failed",
      kind: "memory",
      error: new Error(
        `case grew heap + external memory by ${memory} bytes (limit ${memoryLimit} for ${prepared.bytes.length} input bytes)`,
      ),
      ms,
      memory,
    };
  }
  if (threw) {
    const error = thrown as EdgeError;
    return { status: "rejected", code: error.code, message: error.message, ms, memory };
  }
  return { status: "accepted", ms, memory };
}

/** The prepared case for `index` (generation itself may throw: that is a harness bug, reported as a crash). */
export function prepareCase(target: Target, seed: number, index: number): PreparedCase {
  return target.prepare(new Prng(caseSeed(seed, target.name, index)));
}

/** What makes two failures "the same" while minimizing: kind, error class and message shape. */
export function failureSignature(kind: FailureKind, error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return `${kind}|${name}|${normalizeMessage(message)}`;
}

/** A message with its numbers and quoted values blanked, so outcomes group by code path. */
export function normalizeMessage(message: string): string {
  return message
    .slice(0, 160)
    .replace(/0x[0-9a-f]+/gi, "#")
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, "#")
    .replace(/"[^"]*"|'[^']*'/g, "…");
}

export interface MinimizeBudget {
  maxRuns: number;
  maxMs: number;
  timeoutMs: number;
}

/**
 * Shrinks a failing case's bytes, ddmin style: remove chunks of halving
 * size while the case still fails with the same signature. Bounded by runs
 * and wall time; returns the smallest failing bytes found.
 */
export async function minimize(
  target: Target,
  prepared: PreparedCase,
  signature: string,
  budget: MinimizeBudget,
  /** Called before each attempt (the worker restarts its watchdog clock there). */
  onAttempt: () => void = () => {},
): Promise<Buffer> {
  const shrink = prepared.shrink;
  let best = prepared.bytes;
  if (shrink === null) return best;
  const deadline = performance.now() + budget.maxMs;
  let runs = 0;
  const stillFails = async (candidate: Buffer): Promise<boolean> => {
    runs++;
    onAttempt();
    let outcome: CaseOutcome;
    try {
      outcome = await runPrepared(target, shrink(candidate), { timeoutMs: budget.timeoutMs });
    } catch {
      return false;
    }
    return outcome.status === "failed" && failureSignature(outcome.kind, outcome.error) === signature;
  };
  let chunk = Math.max(1, best.length >> 1);
  while (chunk >= 1 && runs < budget.maxRuns && performance.now() < deadline) {
    let removed = false;
    for (let at = 0; at < best.length && runs < budget.maxRuns && performance.now() < deadline; ) {
      const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + chunk)]);
      if (await stillFails(candidate)) {
        best = candidate;
        removed = true;
      } else {
        at += chunk;
      }
    }
    if (!removed) chunk >>= 1;
  }
  return best;
}

// ---------------------------------------------------------------------------
// Reporting helpers

/** Hex of at most `max` bytes, noting what was cut. */
export function hexPreview(bytes: Buffer, max = 4096): string {
  if (bytes.length <= max) return bytes.toString("hex");
  return `${bytes.subarray(0, max).toString("hex")}… (${bytes.length - max} more bytes)`;
}

export function describeError(error: unknown): { message: string; stack: string } {
  if (error instanceof Error) return { message: `${error.name}: ${error.message}`, stack: error.stack ?? "" };
  return { message: String(error), stack: "" };
}
