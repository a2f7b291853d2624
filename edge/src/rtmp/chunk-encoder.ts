import type { RtmpMessage } from "./message-types.js";

/**
 * Splits messages into chunks: one fmt 0 chunk (full 11-byte header) then
 * fmt 3 continuation chunks (basic header only) until the payload is out.
 * Header layouts are documented in chunk-decoder.ts.
 *
 * Every message starts with fmt 0, so the output never depends on what was
 * sent before on the chunk stream; that keeps the encoder stateless at the
 * cost of a few header bytes per message.
 */

const EXTENDED_TIMESTAMP = 0xffffff;
const MAX_MESSAGE_LENGTH = 0xffffff;
const MIN_CHUNK_STREAM_ID = 2;
const MAX_CHUNK_STREAM_ID = 65599;

/** Size of the basic header for `csid`: 1 byte up to 63, 2 bytes up to 319, else 3. */
export function basicHeaderSize(csid: number): 1 | 2 | 3 {
  if (csid < 64) return 1;
  if (csid < 320) return 2;
  return 3;
}

/** Bytes `encodeMessage` produces for a payload of `payloadLength` bytes. */
export function chunkedSize(
  payloadLength: number,
  chunkSize: number,
  csid: number,
  extended: boolean,
): number {
  const chunks = Math.max(1, Math.ceil(payloadLength / chunkSize));
  const basic = basicHeaderSize(csid);
  const ext = extended ? 4 : 0;
  return basic + 11 + ext + payloadLength + (chunks - 1) * (basic + ext);
}

function checkArguments(message: RtmpMessage, chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 0x7fffffff) {
    throw new RangeError(`chunk size ${chunkSize} outside [1, 2^31-1]`);
  }
  const csid = message.chunkStreamId;
  if (!Number.isInteger(csid) || csid < MIN_CHUNK_STREAM_ID || csid > MAX_CHUNK_STREAM_ID) {
    throw new RangeError(`chunk stream id ${csid} outside [2, 65599]`);
  }
  if (message.payload.length > MAX_MESSAGE_LENGTH) {
    throw new RangeError(`message payload of ${message.payload.length} bytes does not fit a 24-bit length`);
  }
}

/** Writes a basic header at `offset` and returns the offset after it. */
function writeBasicHeader(out: Buffer, offset: number, fmt: number, csid: number): number {
  const size = basicHeaderSize(csid);
  if (size === 1) {
    out[offset] = (fmt << 6) | csid;
  } else if (size === 2) {
    out[offset] = fmt << 6;
    out[offset + 1] = csid - 64;
  } else {
    const rest = csid - 64;
    out[offset] = (fmt << 6) | 1;
    out[offset + 1] = rest & 0xff;
    out[offset + 2] = rest >> 8;
  }
  return offset + size;
}

/** Writes the chunks of `message` into `out` at `offset`; returns the offset after them. */
function writeMessage(out: Buffer, offset: number, message: RtmpMessage, chunkSize: number): number {
  const { chunkStreamId: csid, payload } = message;
  const timestamp = message.timestamp >>> 0;
  const extended = timestamp >= EXTENDED_TIMESTAMP;

  let at = writeBasicHeader(out, offset, 0, csid);
  out.writeUIntBE(extended ? EXTENDED_TIMESTAMP : timestamp, at, 3);
  out.writeUIntBE(payload.length, at + 3, 3);
  out[at + 6] = message.messageTypeId & 0xff;
  out.writeUInt32LE(message.messageStreamId >>> 0, at + 7);
  at += 11;
  if (extended) at = out.writeUInt32BE(timestamp, at);

  let sent = 0;
  for (;;) {
    const take = Math.min(chunkSize, payload.length - sent);
    at += payload.copy(out, at, sent, sent + take);
    sent += take;
    if (sent >= payload.length) return at;
    at = writeBasicHeader(out, at, 3, csid);
    // Flash Player and FMS repeat the extended timestamp on every fmt 3 chunk.
    if (extended) at = out.writeUInt32BE(timestamp, at);
  }
}

/**
 * Encodes one message as fmt 0 + fmt 3 chunks into a single Buffer.
 * Timestamps are taken modulo 2^32.
 *
 * @throws RangeError for a chunk size outside [1, 2^31-1], a chunk stream id
 *   outside [2, 65599] or a payload longer than 2^24-1 bytes (caller bugs).
 */
export function encodeMessage(message: RtmpMessage, chunkSize: number): Buffer {
  checkArguments(message, chunkSize);
  const extended = message.timestamp >>> 0 >= EXTENDED_TIMESTAMP;
  const out = Buffer.allocUnsafe(
    chunkedSize(message.payload.length, chunkSize, message.chunkStreamId, extended),
  );
  writeMessage(out, 0, message, chunkSize);
  return out;
}

/** Encodes several messages back to back into one Buffer, so they can leave in one write. */
export function encodeMessages(messages: readonly RtmpMessage[], chunkSize: number): Buffer {
  let total = 0;
  for (const message of messages) {
    checkArguments(message, chunkSize);
    const extended = message.timestamp >>> 0 >= EXTENDED_TIMESTAMP;
    total += chunkedSize(message.payload.length, chunkSize, message.chunkStreamId, extended);
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const message of messages) offset = writeMessage(out, offset, message, chunkSize);
  return out;
}
