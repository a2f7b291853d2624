/**
 * The bytes of partly received RTMP messages that all connections of one
 * edge may hold at once. Each connection's ChunkDecoder reserves what it
 * allocates for reassembly here and releases it when the message
 * completes, is aborted, or the connection ends, so a crowd of connections
 * that each stay under their own bound still cannot exhaust the heap
 * together. One instance per edge, passed to every decoder.
 */
export class ReassemblyBudget {
  readonly limitBytes: number;
  #usedBytes = 0;

  constructor(limitBytes: number) {
    if (!(limitBytes >= 0)) throw new RangeError(`reassembly budget of ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }

  /** Bytes reserved now, by every connection together. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Reserves `bytes` if they fit under the limit; false (and nothing reserved) if not. */
  tryReserve(bytes: number): boolean {
    if (this.#usedBytes + bytes > this.limitBytes) return false;
    this.#usedBytes += bytes;
    return true;
  }

  /** Returns bytes an earlier tryReserve took. */
  release(bytes: number): void {
    this.#usedBytes = Math.max(0, this.#usedBytes - bytes);
  }
}
