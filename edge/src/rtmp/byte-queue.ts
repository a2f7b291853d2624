/**
 * The bytes received but not yet parsed, kept as the list of Buffers they
 * arrived in (undici ByteParser style). Reads hand out `subarray` views of
 * the input whenever the requested bytes sit inside one Buffer and copy only
 * when a read straddles two.
 *
 * Views alias the caller's Buffers: whoever pushes a Buffer must not reuse it
 * afterwards (socket reads always deliver fresh Buffers).
 */
export class ByteQueue {
  readonly #chunks: Buffer[] = [];
  /** Read position inside `#chunks[0]`. */
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  /** The byte `index` positions ahead of the read position; index must be < length. */
  peekByte(index: number): number {
    let i = index + this.#head;
    for (const chunk of this.#chunks) {
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
    throw new RangeError(`ByteQueue.peekByte(${index}) past ${this.#length} buffered bytes`);
  }

  /** Removes and returns the next `n` bytes (n ≤ length): a view when possible, else one copy. */
  consume(n: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.length - this.#head >= n) {
      const view = first.subarray(this.#head, this.#head + n);
      this.#advance(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(n - written, chunk.length - this.#head);
      chunk.copy(out, written, this.#head, this.#head + take);
      written += take;
      this.#advance(take);
    }
    return out;
  }

  /** Drops the next `n` bytes (n ≤ length) without handing them out. */
  skip(n: number): void {
    let left = n;
    while (left > 0) {
      const take = Math.min(left, this.#chunks[0]!.length - this.#head);
      left -= take;
      this.#advance(take);
    }
  }

  /**
   * Removes the next `n` bytes (n ≤ length), copying them into `target` at
   * `offset`. Reassembly copies rather than keeping views: a view per chunk
   * costs an object (~100 bytes) for as little as one payload byte, and
   * pins the whole socket read it came from for as long as the message is
   * incomplete.
   */
  copyInto(n: number, target: Buffer, offset: number): void {
    let left = n;
    let at = offset;
    while (left > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(left, chunk.length - this.#head);
      if (take <= 16) {
        // Tiny chunks (a peer may set chunk size 1): a byte loop beats a native copy call.
        for (let i = 0; i < take; i++) target[at + i] = chunk[this.#head + i]!;
      } else {
        chunk.copy(target, at, this.#head, this.#head + take);
      }
      left -= take;
      at += take;
      this.#advance(take);
    }
  }

  #advance(n: number): void {
    this.#head += n;
    this.#length -= n;
    if (this.#head === this.#chunks[0]!.length) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}
