import { encodeMessage } from "../rtmp/chunk-encoder.js";
import type { RtmpMessage } from "../rtmp/message-types.js";

/** Bodies smaller than this are encoded per viewer: the lookup would cost more than the copy. */
const minSharedBytes = 1024;

/**
 * Encode once, send to every viewer: the chunked bytes of a media message
 * are kept with the bytes of its body and reused by every viewer that sends
 * the same body with the same header (timestamp, stream, chunk size).
 *
 * A body is identified by where it lives: the edge's slice cache hands out
 * views of one immutable slice to every reader, so two viewers of one
 * object get bodies in the same ArrayBuffer at the same offset. Encoded
 * buffers hang off that ArrayBuffer in a WeakMap, so they go when the slice
 * goes: no separate bound or eviction is needed, and nothing outlives the
 * cached bytes it was made from.
 */
interface Encoding {
  readonly length: number;
  readonly timestamp: number;
  readonly messageStreamId: number;
  readonly chunkStreamId: number;
  readonly messageTypeId: number;
  readonly chunkSize: number;
  readonly bytes: Buffer;
}

export class SharedEncoder {
  /** Backing store → body offset → the encodings of bodies starting there (almost always one). */
  readonly #byBacking = new WeakMap<ArrayBufferLike, Map<number, Encoding[]>>();
  /** Encodings served from the shared store, and made fresh; read at scrape. */
  readonly stats = { shared: 0, encoded: 0 };

  encode(message: RtmpMessage, chunkSize: number): Buffer {
    const body = message.payload;
    if (body.length < minSharedBytes) return encodeMessage(message, chunkSize);
    let byOffset = this.#byBacking.get(body.buffer);
    if (!byOffset) {
      byOffset = new Map();
      this.#byBacking.set(body.buffer, byOffset);
    }
    let encodings = byOffset.get(body.byteOffset);
    if (encodings) {
      for (const e of encodings) {
        if (
          e.length === body.length &&
          e.timestamp === message.timestamp &&
          e.messageStreamId === message.messageStreamId &&
          e.chunkStreamId === message.chunkStreamId &&
          e.messageTypeId === message.messageTypeId &&
          e.chunkSize === chunkSize
        ) {
          this.stats.shared++;
          return e.bytes;
        }
      }
    } else {
      encodings = [];
      byOffset.set(body.byteOffset, encodings);
    }
    const bytes = encodeMessage(message, chunkSize);
    encodings.push({
      length: body.length,
      timestamp: message.timestamp,
      messageStreamId: message.messageStreamId,
      chunkStreamId: message.chunkStreamId,
      messageTypeId: message.messageTypeId,
      chunkSize,
      bytes,
    });
    this.stats.encoded++;
    return bytes;
  }
}
