import { ShieldError, ShieldErrorCode } from "../errors.js";

export interface SliceFetchOptions {
  readonly id: string;
  /**
   * The abandon policy. When the last reader leaves (and no read-ahead
   * holds the fetch), the fetch is finished anyway if at least this share
   * of the slice has arrived — the rest costs less than fetching the slice
   * again later, and the next viewer of the object is likely to want it —
   * and otherwise aborted, which aborts the S3 request. Before S3 answered
   * nothing has arrived, so a fetch nobody waits for any more is always
   * aborted then. 1 aborts unless complete; 0 always finishes.
   */
  readonly finishFraction: number;
  /** No progress for this long fails the fetch (a stalled S3 body), with OriginUnavailable. */
  readonly idleTimeoutMs: number;
  /** Called once if the fetch is abandoned (for metrics). */
  readonly onAbandon?: () => void;
}

type State = "waiting" | "streaming" | "done" | "failed";

/**
 * One slice being loaded (from S3 or the disk tier), shared by every reader
 * that wants it: the unit of request collapsing.
 *
 * The loader announces the slice's length once the source answered
 * (begin), then appends chunks into one buffer of that length; readers take
 * views of whatever has arrived and wait for more, so a reader that joins
 * late gets the bytes already here at once and then follows the fetch
 * (read-while-fetch, like ATS's read-while-writer or Varnish's streaming
 * miss) instead of waiting for the end as nginx's cache lock does. Chunks
 * are copied once into the slice buffer — the buffer the memory tier keeps —
 * and never again: readers get subarrays.
 */
export class SliceFetch {
  readonly id: string;
  readonly #finishFraction: number;
  /** A holder was served from it and left (see unref). */
  #served = false;
  readonly #onAbandon: (() => void) | undefined;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #state: State = "waiting";
  #buffer: Buffer | undefined;
  #length = -1;
  #objectSize = -1;
  #received = 0;
  #error: unknown;
  #refs = 0;
  #readers = 0;
  #waiters: (() => void)[] = [];

  constructor(options: SliceFetchOptions) {
    this.id = options.id;
    this.#finishFraction = options.finishFraction;
    this.#onAbandon = options.onAbandon;
    this.#timer = setTimeout(() => {
      this.fail(
        new ShieldError(
          ShieldErrorCode.OriginUnavailable,
          `no bytes of slice for ${options.idleTimeoutMs} ms (the origin stalled)`,
        ),
      );
    }, options.idleTimeoutMs);
    this.#timer.unref();
  }

  /** Aborted when the fetch fails or is abandoned: the loader passes it to the origin. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get state(): State {
    return this.#state;
  }

  /** -1 until the source answered. */
  get length(): number {
    return this.#length;
  }

  /** -1 until the source answered. */
  get objectSize(): number {
    return this.#objectSize;
  }

  get received(): number {
    return this.#received;
  }

  /** Readers that took part (read-ahead holds not counted). */
  get readers(): number {
    return this.#readers;
  }

  get refs(): number {
    return this.#refs;
  }

  /** The whole slice once done. */
  get data(): Buffer | undefined {
    return this.#state === "done" ? this.#buffer : undefined;
  }

  get error(): unknown {
    return this.#error;
  }

  // The loader's side.

  /** The source answered: the slice has `length` bytes of an object of `objectSize`. */
  begin(length: number, objectSize: number): void {
    if (this.#state !== "waiting") return;
    this.#length = length;
    this.#objectSize = objectSize;
    this.#buffer = Buffer.allocUnsafe(length);
    this.#state = "streaming";
    this.#timer.refresh();
    this.#notify();
  }

  append(chunk: Buffer): void {
    if (this.#state !== "streaming") return;
    if (this.#received + chunk.length > this.#length) {
      this.fail(
        new ShieldError(
          ShieldErrorCode.OriginUnavailable,
          `the origin sent more than the ${this.#length} bytes of the slice`,
        ),
      );
      return;
    }
    chunk.copy(this.#buffer!, this.#received);
    this.#received += chunk.length;
    this.#timer.refresh();
    this.#notify();
  }

  /** The whole slice at once (a disk hit): adopted as it is, not copied. */
  adopt(data: Buffer, objectSize: number): void {
    if (this.#state !== "waiting") return;
    this.#buffer = data;
    this.#length = data.length;
    this.#objectSize = objectSize;
    this.#received = data.length;
    this.#state = "done";
    clearTimeout(this.#timer);
    this.#notify();
  }

  finish(): void {
    if (this.#state !== "streaming") return;
    if (this.#received !== this.#length) {
      this.fail(
        new ShieldError(
          ShieldErrorCode.OriginUnavailable,
          `the origin ended the slice after ${this.#received} of ${this.#length} bytes`,
        ),
      );
      return;
    }
    this.#state = "done";
    clearTimeout(this.#timer);
    this.#notify();
  }

  /** Ends the fetch with `error` for every reader and aborts the source. Idempotent. */
  fail(error: unknown): void {
    if (this.#state === "done" || this.#state === "failed") return;
    this.#state = "failed";
    this.#error = error;
    this.#buffer = undefined;
    clearTimeout(this.#timer);
    this.#controller.abort(error);
    this.#notify();
  }

  // The readers' side.

  /** Holds the fetch; `reader` false for a read-ahead hold. */
  ref(reader: boolean): void {
    this.#refs += 1;
    if (reader) this.#readers += 1;
  }

  /**
   * Releases a hold; the last release of an unfinished fetch applies the
   * abandon policy. `served`: the holder got all it asked of this slice
   * before the slice was complete (its range ended inside it); such a
   * fetch is finished, for the next read of the same play.
   */
  unref(served = false): void {
    this.#refs -= 1;
    if (served) this.#served = true;
    if (this.#refs > 0 || this.#state === "done" || this.#state === "failed") return;
    if (this.#served && this.#state === "streaming") return;
    if (this.#state === "streaming" && this.#received >= this.#length * this.#finishFraction) return;
    this.fail(new ShieldError(ShieldErrorCode.Aborted, "slice fetch abandoned: no reader left"));
    this.#onAbandon?.();
  }

  /** Resolves once the source answered (length and object size known); throws the fetch's error. */
  async ready(signal: AbortSignal): Promise<void> {
    while (this.#state === "waiting") await this.#next(signal);
    if (this.#state === "failed") throw this.#error;
  }

  /**
   * Yields bytes [from, to) of the slice as they arrive, as views of the
   * slice buffer. Call after ready(); `to` must not pass the length.
   */
  async *read(from: number, to: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    let pos = from;
    while (pos < to) {
      if (this.#state === "failed") throw this.#error;
      if (signal.aborted) throw aborted();
      if (this.#received > pos) {
        const end = Math.min(this.#received, to);
        const view = this.#buffer!.subarray(pos, end);
        pos = end;
        yield view;
        continue;
      }
      if (this.#state === "done") {
        throw new ShieldError(
          ShieldErrorCode.OriginUnavailable,
          `slice has ${this.#length} bytes, read wants ${to}`,
        );
      }
      await this.#next(signal);
    }
  }

  /** Resolves at the next progress (bytes, end, failure); rejects with Aborted when the signal fires first. */
  #next(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(aborted());
        return;
      }
      const onAbort = () => {
        const at = this.#waiters.indexOf(wake);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(aborted());
      };
      const wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#waiters.push(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #notify(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

function aborted(): ShieldError {
  return new ShieldError(ShieldErrorCode.Aborted, "read aborted");
}
