import type { RtmpMessage } from "../../edge/src/rtmp/message-types.js";

/**
 * A test-only chunk writer that compresses headers the way a real peer
 * (Flash Player, FMS) does — fmt 1 when only the stream id matches, fmt 2
 * when only the delta changed, fmt 3 when everything repeats — so decoder
 * tests exercise every header type. It is written independently of
 * chunk-encoder.ts (which always sends fmt 0).
 *
 * It follows the same convention as the decoder for a fmt 3 chunk starting
 * a message right after a fmt 0 header: the fmt 0 timestamp serves as the
 * delta.
 */
interface WriterStream {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
}

export class CompressingChunkWriter {
  readonly #streams = new Map<number, WriterStream>();
  chunkSize = 128;

  /**
   * The chunks of one message, each a separate Buffer so callers can
   * interleave chunk streams. `forceFmt0` disables compression for this message.
   */
  chunks(message: RtmpMessage, forceFmt0 = false): Buffer[] {
    const { chunkStreamId: csid, payload } = message;
    const timestamp = message.timestamp >>> 0;
    const previous = this.#streams.get(csid);
    const fmt = forceFmt0 ? 0 : this.peekFmt(message);
    const field = fmt === 0 ? timestamp : (timestamp - previous!.timestamp) >>> 0;
    const extended = fmt === 3 ? previous!.extended : field >= 0xffffff;
    this.#streams.set(csid, {
      timestamp,
      delta: field,
      length: payload.length,
      typeId: message.messageTypeId,
      streamId: message.messageStreamId,
      extended,
    });

    const out: Buffer[] = [];
    let sent = 0;
    let first = true;
    do {
      const take = Math.min(this.chunkSize, payload.length - sent);
      const header: number[] = [...basicHeader(first ? fmt : 3, csid)];
      if (first && fmt <= 2) header.push(...u24(extended ? 0xffffff : field));
      if (first && fmt <= 1) header.push(...u24(payload.length), message.messageTypeId);
      if (first && fmt === 0) header.push(...u32le(message.messageStreamId));
      if (extended) header.push(...u32be(field));
      out.push(Buffer.concat([Buffer.from(header), payload.subarray(sent, sent + take)]));
      sent += take;
      first = false;
    } while (sent < payload.length);
    return out;
  }

  /** The fmt the next `chunks(message)` would use for its first chunk. */
  peekFmt(message: RtmpMessage): 0 | 1 | 2 | 3 {
    const previous = this.#streams.get(message.chunkStreamId);
    if (previous === undefined || previous.streamId !== message.messageStreamId) return 0;
    if (previous.length !== message.payload.length || previous.typeId !== message.messageTypeId) return 1;
    if (previous.delta !== (message.timestamp - previous.timestamp) >>> 0) return 2;
    return 3;
  }

  write(message: RtmpMessage, forceFmt0 = false): Buffer {
    return Buffer.concat(this.chunks(message, forceFmt0));
  }
}

function basicHeader(fmt: number, csid: number): number[] {
  if (csid < 64) return [(fmt << 6) | csid];
  if (csid < 320) return [fmt << 6, csid - 64];
  return [(fmt << 6) | 1, (csid - 64) % 256, Math.floor((csid - 64) / 256)];
}

function u24(value: number): number[] {
  return [(value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function u32be(value: number): number[] {
  return [(value >>> 24) & 0xff, ...u24(value)];
}

function u32le(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}
