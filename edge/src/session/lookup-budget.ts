export interface LookupBudgetOptions {
  /** Lookups allowed at once (the bucket's size). */
  readonly burst: number;
  /** Lookups the budget regains per second. */
  readonly perSecond: number;
  /** The clock (ms); a seam for tests. */
  readonly now: () => number;
}

/**
 * One connection's budget of metadata lookups: a token bucket. Each lookup
 * the edge cannot answer from memory costs the shield a stat and, for a name
 * nobody asked for before, S3 a HEAD; a viewer needs a few per play, a
 * script asking for thousands of random names would otherwise send each one
 * to S3. getStreamLength takes a token before it asks; a play takes one only
 * once its name turned out not to exist (real plays are never refused), and
 * is refused while the budget is empty.
 */
export class LookupBudget {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(options: LookupBudgetOptions) {
    if (!(options.burst >= 1) || !(options.perSecond > 0)) {
      throw new RangeError(
        `burst must be at least 1 and perSecond above 0 (${options.burst}, ${options.perSecond})`,
      );
    }
    this.#burst = options.burst;
    this.#perMs = options.perSecond / 1000;
    this.#now = options.now;
    this.#tokens = options.burst;
    this.#at = options.now();
  }

  /** Whether a lookup may go ahead now (a whole token is left), without taking it. */
  available(): boolean {
    this.#refill();
    return this.#tokens >= 1;
  }

  /** Takes a token when one is left; false (and nothing taken) when the budget is spent. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Charges a lookup already made (a play whose name was not found): down to an empty budget, never below. */
  charge(): void {
    this.#refill();
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = now - this.#at;
    this.#at = now;
    if (elapsed > 0) this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
  }
}
