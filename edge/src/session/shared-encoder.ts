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
export class SharedEncoder {
  readonly #byBacking = new WeakMap<ArrayBufferLike, Map<string, Buffer>>();
  /** Encodings served from the shared store, and made fresh; read at scrape. */
  readonly stats = { shared: 0, encoded: 0 };

  encode(message: RtmpMessage, chunkSize: number): Buffer {
    const body = message.payload;
    if (body.length < minSharedBytes) return encodeMessage(message, chunkSize);
    let encodings = this.#byBacking.get(body.buffer);
    if (!encodings) {
      encodings = new Map();
      this.#byBacking.set(body.buffer, encodings);
    }
    const key = `${body.byteOffset}/${body.length}/${message.timestamp}/${message.messageStreamId}/${message.chunkStreamId}/${message.messageTypeId}/${chunkSize}`;
    const known = encodings.get(key);
    if (known) {
      this.stats.shared++;
      return known;
    }
    const encoded = encodeMessage(message, chunkSize);
    encodings.set(key, encoded);
    this.stats.encoded++;
    return encoded;
  }
}
