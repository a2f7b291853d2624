import { Duplex } from "node:stream";

export interface TunnelStreamOptions {
  /** The address that opened the tunnel, for the RTMP session's logs. */
  readonly remoteAddress: string;
  /**
   * The writable side's highWaterMark. It must not exceed the byte count at
   * which the RTMP session waits for 'drain': write() returns false from
   * here on, which is what makes Node emit 'drain' once polls took every byte.
   */
  readonly highWaterMark: number;
  readonly now: () => number;
}

/**
 * The byte stream an RtmpSession sees for one RTMPT tunnel: a Duplex whose
 * readable side carries the /send bodies and whose writable side is emptied
 * by the answers to /send and /idle.
 *
 * A write completes only when polls have taken all of its bytes, so Node's
 * own buffer is the tunnel's queue: `writableLength` counts the bytes no
 * poll has taken yet (the chunk being taken counts whole until its last
 * byte leaves), and 'drain' follows the poll that empties it, as on a
 * socket.
 */
export class TunnelStream extends Duplex {
  readonly remoteAddress: string;
  readonly #now: () => number;
  #chunk: Buffer | null = null;
  #offset = 0;
  #done: ((error?: Error | null) => void) | null = null;
  #timeoutMs = 0;
  #lastActivity: number;

  constructor(options: TunnelStreamOptions) {
    super({ writableHighWaterMark: options.highWaterMark, decodeStrings: true, allowHalfOpen: false });
    this.remoteAddress = options.remoteAddress;
    this.#now = options.now;
    this.#lastActivity = options.now();
  }

  /**
   * Like Socket#setTimeout: 'timeout' is emitted after `ms` without a byte
   * moving either way (empty polls do not count). 0 turns it off. The
   * gateway's sweep calls checkTimeout; there is no timer per stream.
   */
  setTimeout(ms: number): this {
    this.#timeoutMs = ms;
    this.#lastActivity = this.#now();
    return this;
  }

  checkTimeout(now: number): void {
    if (this.#timeoutMs <= 0 || this.destroyed) return;
    if (now - this.#lastActivity >= this.#timeoutMs) {
      this.#lastActivity = now;
      this.emit("timeout");
    }
  }

  /** Client bytes from a /send body, in request order. */
  deliver(bytes: Buffer): void {
    if (this.destroyed || bytes.length === 0) return;
    this.#lastActivity = this.#now();
    this.push(bytes);
  }

  /**
   * Takes up to `maxBytes` of the queued server bytes for one answer. Each
   * write whose last byte leaves completes, and Node hands over the next
   * buffered one at once, so one call can span many writes.
   */
  takeQueued(maxBytes: number): Buffer[] {
    const parts: Buffer[] = [];
    let room = maxBytes;
    while (room > 0 && this.#chunk !== null) {
      const chunk = this.#chunk;
      const n = Math.min(room, chunk.length - this.#offset);
      parts.push(chunk.subarray(this.#offset, this.#offset + n));
      this.#offset += n;
      room -= n;
      if (this.#offset === chunk.length) {
        const done = this.#done!;
        this.#chunk = null;
        this.#done = null;
        this.#offset = 0;
        done();
      }
    }
    if (parts.length > 0) this.#lastActivity = this.#now();
    return parts;
  }

  override _read(): void {
    // Bytes are pushed as /send bodies arrive; there is nothing to pull.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (chunk.length === 0) {
      done();
      return;
    }
    this.#chunk = chunk;
    this.#offset = 0;
    this.#done = done;
  }

  override _final(done: (error?: Error | null) => void): void {
    // end(): every byte has been polled. The tunnel is over; the next poll
    // is answered "closed". Destroy after Node has finished its own steps.
    done();
    process.nextTick(() => this.destroy());
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // Bytes not yet polled are dropped, as a socket's unsent bytes are.
    this.#chunk = null;
    this.#done = null;
    done(error);
  }
}
