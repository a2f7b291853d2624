import type { Protocol } from "../../vocabulary.js";
import { isRtmpeC0 } from "../first-byte.js";
import { closedMarker, PollingDelay } from "./polling-delay.js";
import { TunnelStream } from "./tunnel-stream.js";

export interface TunnelSessionOptions {
  readonly id: string;
  readonly remoteAddress: string;
  /** The tunnel stream's writable highWaterMark (see TunnelStream). */
  readonly highWaterMark: number;
  readonly now: () => number;
}

/**
 * Which label a tunnel gets, from the first byte the client sent through it
 * (C0). An unknown version is labelled rtmpt; the handshake then rejects it.
 */
export function tunnelProtocol(firstByte: number): Protocol {
  return isRtmpeC0(firstByte) ? "rtmpte" : "rtmpt";
}

const closedBody = Buffer.from([closedMarker]);

/**
 * One RTMPT session: its id, the next sequence number it accepts, its
 * polling back-off and the stream its RtmpSession reads and writes. No
 * sockets and no timers: the gateway brings the requests and the time.
 */
export class TunnelSession {
  readonly id: string;
  readonly remoteAddress: string;
  readonly stream: TunnelStream;
  readonly #polling = new PollingDelay();
  #nextSeq = 0;
  #protocol: Protocol | null = null;
  #lastRequestAt: number;

  constructor(options: TunnelSessionOptions) {
    this.id = options.id;
    this.remoteAddress = options.remoteAddress;
    this.#lastRequestAt = options.now();
    this.stream = new TunnelStream({
      remoteAddress: options.remoteAddress,
      highWaterMark: options.highWaterMark,
      now: options.now,
    });
  }

  /** The protocol label once the first client bytes arrived; null before. */
  get protocol(): Protocol | null {
    return this.#protocol;
  }

  /** The RTMP side destroyed the stream, or the tunnel was closed. */
  get closed(): boolean {
    return this.stream.destroyed;
  }

  get lastRequestAt(): number {
    return this.#lastRequestAt;
  }

  get expectedSeq(): number {
    return this.#nextSeq;
  }

  touch(now: number): void {
    this.#lastRequestAt = now;
  }

  /**
   * Sequence numbers go up by exactly one per request after the open,
   * from 0. A wrong one is refused and changes nothing, so the client's
   * next request with the right number still works.
   */
  acceptSeq(seq: number): boolean {
    if (seq !== this.#nextSeq) return false;
    this.#nextSeq++;
    return true;
  }

  /**
   * Records the first client bytes' label. Returns the protocol when this
   * call started the session (the caller then starts the RTMP side), or
   * null when it had already started.
   */
  start(firstByte: number): Protocol | null {
    if (this.#protocol !== null) return null;
    this.#protocol = tunnelProtocol(firstByte);
    return this.#protocol;
  }

  /**
   * The body of an answer to /send or /idle: the polling byte and up to
   * `maxBytes - 1` queued server bytes, or the single closed marker once
   * the session has ended. `received` when the request itself carried
   * client bytes (that resets the back-off as well).
   */
  answer(maxBytes: number, received: boolean): Buffer {
    if (this.closed) return closedBody;
    const parts = this.stream.takeQueued(maxBytes - 1);
    const byte = this.#polling.next(received || parts.length > 0);
    return Buffer.concat([Buffer.from([byte]), ...parts]);
  }
}

/** The answer body for a session that has ended. */
export function closedAnswer(): Buffer {
  return closedBody;
}
