import { ShieldError, ShieldErrorCode } from "../errors.js";

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
}

/**
 * A bound on the bytes of slices being fetched at once (S3 or disk), over
 * all readers: without it a thousand viewers of a thousand cold objects
 * would each hold a slice buffer outside every tier's bound. Readers wait
 * for room in arrival order; read-ahead never waits — it takes room only
 * while plenty is left, or skips.
 */
export class FetchBudget {
  readonly #maxBytes: number;
  readonly #waiters: Waiter[] = [];
  #used = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get used(): number {
    return this.#used;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes `bytes` if that leaves the total at or under `limit` (default the
   * whole budget) and nobody is queued ahead; returns whether it did.
   */
  tryTake(bytes: number, limit = this.#maxBytes): boolean {
    if (this.#waiters.length > 0 || this.#used + bytes > Math.min(limit, this.#maxBytes)) return false;
    this.#used += bytes;
    return true;
  }

  /** Takes `bytes`, waiting for room; rejects with Aborted when the signal fires first. */
  take(bytes: number, signal: AbortSignal): Promise<void> {
    if (this.tryTake(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(new ShieldError(ShieldErrorCode.Aborted, "read aborted"));
        return;
      }
      const waiter: Waiter = {
        bytes,
        resolve: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new ShieldError(ShieldErrorCode.Aborted, "read aborted"));
        // The one that left may have been holding up smaller requests behind it.
        this.#wake();
      };
      this.#waiters.push(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#wake();
    });
  }

  give(bytes: number): void {
    this.#used -= bytes;
    this.#wake();
  }

  #wake(): void {
    while (this.#waiters.length > 0) {
      const head = this.#waiters[0]!;
      // A request larger than the whole budget still goes through alone,
      // rather than waiting forever.
      if (this.#used > 0 && this.#used + head.bytes > this.#maxBytes) return;
      this.#waiters.shift();
      this.#used += head.bytes;
      head.resolve();
    }
  }
}
