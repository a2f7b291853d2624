import type { RtmpMessage } from "../../../edge/src/rtmp/message-types.js";
import { MessageType } from "../../../edge/src/rtmp/message-types.js";

/**
 * An allocation-light RTMP chunk reader for load generation. It follows the
 * same chunk format as edge/src/rtmp/chunk-decoder.ts (header layouts are
 * documented there) but never reassembles media: audio, video and aggregate
 * messages are reported by type, timestamp and length only, their payload
 * bytes skipped where they lie in the read buffer. Every other message
 * (control, commands, data such as onMetaData or onPlayStatus) is small and
 * is copied out whole. So the caller may pass a read buffer it reuses.
 */
export interface ScannerSink {
  /** A complete audio (8), video (9) or aggregate (22) message. */
  onMedia(typeId: number, timestamp: number, length: number): void;
  /** A complete message of any other type; its payload is the scanner's own copy. */
  onMessage(message: RtmpMessage): void;
}

const EXTENDED_TIMESTAMP = 0xffffff;
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;
/** Largest basic + message header + extended timestamp. */
const MAX_HEADER = 3 + 11 + 4;
/** Non-media messages above this size are a protocol error here (onMetaData is a few KB). */
const MAX_COPIED_MESSAGE = 4 * 1024 * 1024;

interface ChunkStreamState {
  readonly id: number;
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
  inProgress: boolean;
  received: number;
  /** The copy of a non-media message being received; null for media. */
  payload: Buffer | null;
}

function isMedia(typeId: number): boolean {
  return typeId === MessageType.Audio || typeId === MessageType.Video || typeId === MessageType.Aggregate;
}

export class ChunkScanner {
  readonly #sink: ScannerSink;
  readonly #streams = new Map<number, ChunkStreamState>();
  readonly #stage = Buffer.alloc(MAX_HEADER);
  #stageLength = 0;
  #chunkSize = 128;
  #current: ChunkStreamState | null = null;
  /** Payload bytes left in the current chunk. */
  #remaining = 0;

  constructor(sink: ScannerSink) {
    this.#sink = sink;
  }

  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Scans bytes[offset, end). Nothing of `bytes` is kept after the call. */
  push(bytes: Buffer, offset = 0, end = bytes.length): void {
    let at = offset;
    while (at < end) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, end - at);
        this.#payload(bytes, at, take);
        at += take;
        continue;
      }
      if (this.#stageLength > 0) {
        const add = Math.min(MAX_HEADER - this.#stageLength, end - at);
        bytes.copy(this.#stage, this.#stageLength, at, at + add);
        const used = this.#header(this.#stage, 0, this.#stageLength + add);
        if (used < 0) {
          this.#stageLength += add;
          at += add;
        } else {
          at += used - this.#stageLength;
          this.#stageLength = 0;
        }
        continue;
      }
      const used = this.#header(bytes, at, end);
      if (used < 0) {
        bytes.copy(this.#stage, 0, at, end);
        this.#stageLength = end - at;
        at = end;
      } else {
        at += used;
      }
    }
  }

  /**
   * Parses one chunk header at b[at..limit); returns its size, or -1 (and
   * changes nothing) when the header is not complete yet.
   */
  #header(b: Buffer, at: number, limit: number): number {
    const available = limit - at;
    if (available < 1) return -1;
    const first = b[at]!;
    const fmt = first >> 6;
    const low = first & 0x3f;
    const basic = low === 0 ? 2 : low === 1 ? 3 : 1;
    const messageHeader = MESSAGE_HEADER_SIZE[fmt as 0 | 1 | 2 | 3];
    if (available < basic + messageHeader) return -1;
    const csid = low === 0 ? b[at + 1]! + 64 : low === 1 ? b[at + 2]! * 256 + b[at + 1]! + 64 : low;
    const p = at + basic;
    let stream = this.#streams.get(csid);
    if (stream === undefined && fmt !== 0)
      throw new Error(`fmt ${fmt} chunk on chunk stream ${csid} before any fmt 0 header`);
    const field = fmt < 3 ? b.readUIntBE(p, 3) : 0;
    const extended = fmt < 3 ? field === EXTENDED_TIMESTAMP : stream!.extended;
    const size = basic + messageHeader + (extended ? 4 : 0);
    if (available < size) return -1;
    if (stream === undefined) {
      stream = {
        id: csid,
        timestamp: 0,
        delta: 0,
        length: 0,
        typeId: 0,
        streamId: 0,
        extended: false,
        inProgress: false,
        received: 0,
        payload: null,
      };
      this.#streams.set(csid, stream);
    }
    if (fmt < 3) {
      if (stream.inProgress)
        throw new Error(`fmt ${fmt} header on chunk stream ${csid} inside an unfinished message`);
      stream.extended = extended;
      if (fmt <= 1) {
        stream.length = b.readUIntBE(p + 3, 3);
        stream.typeId = b[p + 6]!;
      }
      if (fmt === 0) stream.streamId = b.readUInt32LE(p + 7);
    }
    if (!stream.inProgress) {
      const value = extended ? b.readUInt32BE(p + messageHeader) : fmt === 3 ? stream.delta : field;
      stream.timestamp = fmt === 0 ? value : (stream.timestamp + value) >>> 0;
      stream.delta = value;
      stream.inProgress = true;
      stream.received = 0;
      if (isMedia(stream.typeId)) {
        stream.payload = null;
      } else {
        if (stream.length > MAX_COPIED_MESSAGE)
          throw new Error(`message of type ${stream.typeId} and ${stream.length} bytes is too large`);
        stream.payload = Buffer.allocUnsafe(stream.length);
      }
    }
    this.#current = stream;
    this.#remaining = Math.min(this.#chunkSize, stream.length - stream.received);
    if (this.#remaining === 0) this.#finish(stream);
    return size;
  }

  #payload(b: Buffer, at: number, take: number): void {
    const stream = this.#current!;
    if (stream.payload !== null) b.copy(stream.payload, stream.received, at, at + take);
    stream.received += take;
    this.#remaining -= take;
    if (stream.received === stream.length) this.#finish(stream);
  }

  #finish(stream: ChunkStreamState): void {
    stream.inProgress = false;
    const payload = stream.payload;
    stream.payload = null;
    if (payload === null) {
      this.#sink.onMedia(stream.typeId, stream.timestamp, stream.length);
      return;
    }
    if (stream.typeId === MessageType.SetChunkSize && payload.length >= 4) {
      const size = payload.readUInt32BE(0);
      if (size < 1 || size > 0x7fffffff) throw new Error(`peer set chunk size ${size}`);
      this.#chunkSize = size;
    } else if (stream.typeId === MessageType.Abort && payload.length >= 4) {
      const aborted = this.#streams.get(payload.readUInt32BE(0));
      if (aborted?.inProgress) {
        aborted.inProgress = false;
        aborted.payload = null;
        aborted.received = 0;
      }
    }
    this.#sink.onMessage({
      chunkStreamId: stream.id,
      messageTypeId: stream.typeId,
      messageStreamId: stream.streamId,
      timestamp: stream.timestamp,
      payload,
    });
  }
}
