import { TransportError } from "./outcome.js";

/**
 * The signal one attempt runs under: fires when the caller's does, or when
 * timeoutMs pass without an answer (then `timedOut` tells the two apart,
 * and the reason is an ETIMEDOUT TransportError that classify() reads).
 */
export class Deadline {
  readonly signal: AbortSignal;
  readonly #own = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #timedOut = false;

  constructor(parent: AbortSignal | undefined, timeoutMs: number) {
    this.signal = parent ? AbortSignal.any([parent, this.#own.signal]) : this.#own.signal;
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#own.abort(new TransportError("ETIMEDOUT", `S3 did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  }

  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Stops the timer (the combined signal is released with the request that held it). */
  dispose(): void {
    clearTimeout(this.#timer);
  }
}

/** Fires after ms unless disarmed first; re-armed for every wait on S3. */
export class IdleTimer {
  readonly #ms: number;
  readonly #onIdle: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms;
    this.#onIdle = onIdle;
  }

  arm(): void {
    this.disarm();
    this.#timer = setTimeout(this.#onIdle, this.#ms);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
