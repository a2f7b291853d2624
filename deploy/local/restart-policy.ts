/**
 * When `npm start` restarts a component that died, and when it stops trying.
 * Pure: the caller passes the time, so the schedule tests in milliseconds.
 *
 * Each death (an exit nobody asked for, or a restart that could not start)
 * waits baseDelayMs × 2^(deaths in the window − 1), capped at maxDelayMs, so
 * a component that dies once is back within a second and one that keeps
 * dying does not spin a core. More than maxRestarts deaths within windowMs
 * means restarting does not help (a port taken, a broken build): give up and
 * say so, rather than hide a crash loop behind a running banner.
 */
export interface RestartPolicyOptions {
  /** @default 500 */
  readonly baseDelayMs?: number;
  /** @default 10_000 */
  readonly maxDelayMs?: number;
  /** @default 5 */
  readonly maxRestarts?: number;
  /** @default 120_000 */
  readonly windowMs?: number;
}

export type RestartDecision =
  | { readonly action: "restart"; readonly delayMs: number; readonly attempt: number }
  | { readonly action: "give-up"; readonly deaths: number; readonly windowMs: number };

export class RestartPolicy {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxRestarts: number;
  readonly #windowMs: number;
  /** Times of deaths within the window, oldest first. */
  readonly #deaths: number[] = [];

  constructor(options: RestartPolicyOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 10_000;
    this.#maxRestarts = options.maxRestarts ?? 5;
    this.#windowMs = options.windowMs ?? 120_000;
  }

  /** Records a death at nowMs and says what to do about it. */
  died(nowMs: number): RestartDecision {
    this.#deaths.push(nowMs);
    while (this.#deaths.length > 0 && this.#deaths[0]! <= nowMs - this.#windowMs) this.#deaths.shift();
    const deaths = this.#deaths.length;
    if (deaths > this.#maxRestarts) return { action: "give-up", deaths, windowMs: this.#windowMs };
    const delayMs = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (deaths - 1));
    return { action: "restart", delayMs, attempt: deaths };
  }
}
