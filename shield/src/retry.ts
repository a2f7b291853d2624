import { ShieldError, ShieldErrorCode } from "./errors.js";

/**
 * How long to wait before each retry: "full jitter" exponential backoff
 * (AWS Architecture Blog, "Exponential Backoff And Jitter"). The wait
 * before retry n is uniform in [0, min(capMs, baseMs × 2^(n-1))), so many
 * shields throttled at the same moment do not come back in lockstep.
 */
export interface BackoffPolicy {
  /** Ceiling of the first wait. @default 50 */
  readonly baseMs: number;
  /** No wait is longer than this. @default 2000 */
  readonly capMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 50, capMs: 2_000 } as const;

/**
 * The wait before retry number `retry` (1 for the first retry). `random`
 * returns [0, 1) like Math.random; tests pass their own to check the bounds.
 */
export function backoffDelayMs(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, retry - 1);
  // 2^exponent overflows to Infinity for huge exponents, which min() caps.
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

/** Resolves after ms; rejects with ShieldError Aborted as soon as the signal fires. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ShieldError(ShieldErrorCode.Aborted, "aborted while waiting to retry"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ShieldError(ShieldErrorCode.Aborted, "aborted while waiting to retry"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
