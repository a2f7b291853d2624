import { EdgeError, EdgeErrorCode } from "../errors.js";
import { MessageType, type PeerBandwidthLimit, type RtmpMessage, UserControlEvent } from "./message-types.js";

/**
 * Protocol control messages (types 1–6). They always travel on chunk stream
 * 2, message stream 0, timestamp 0. Payload layouts (big-endian):
 *
 *   SetChunkSize (1)      u32 size (top bit zero)
 *   Abort (2)             u32 chunk stream id
 *   Acknowledgement (3)   u32 sequence number (bytes received, mod 2^32)
 *   UserControl (4)       u16 event type, then event data (below)
 *   WindowAckSize (5)     u32 window size
 *   SetPeerBandwidth (6)  u32 window size, u8 limit type
 *
 * User control event data:
 *
 *   StreamBegin/EOF/Dry/IsRecorded, BufferEmpty/Ready   u32 stream id
 *   SetBufferLength                                      u32 stream id, u32 buffer ms
 *   PingRequest/PingResponse                             u32 timestamp
 */

const CONTROL_CHUNK_STREAM_ID = 2;

function control(messageTypeId: number, payload: Buffer): RtmpMessage {
  return { chunkStreamId: CONTROL_CHUNK_STREAM_ID, messageTypeId, messageStreamId: 0, timestamp: 0, payload };
}

function uint32Payload(value: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(value >>> 0, 0);
  return payload;
}

/** @throws RangeError for a size outside [1, 2^31-1]. */
export function setChunkSize(size: number): RtmpMessage {
  if (!Number.isInteger(size) || size < 1 || size > 0x7fffffff) {
    throw new RangeError(`chunk size ${size} outside [1, 2^31-1]`);
  }
  return control(MessageType.SetChunkSize, uint32Payload(size));
}

export function abort(chunkStreamId: number): RtmpMessage {
  return control(MessageType.Abort, uint32Payload(chunkStreamId));
}

/** `sequenceNumber` is the count of bytes received so far; it is sent modulo 2^32. */
export function acknowledgement(sequenceNumber: number): RtmpMessage {
  return control(MessageType.Acknowledgement, uint32Payload(sequenceNumber % 0x1_0000_0000));
}

export function windowAckSize(size: number): RtmpMessage {
  return control(MessageType.WindowAckSize, uint32Payload(size));
}

export function setPeerBandwidth(size: number, limitType: PeerBandwidthLimit): RtmpMessage {
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt32BE(size >>> 0, 0);
  payload[4] = limitType;
  return control(MessageType.SetPeerBandwidth, payload);
}

/** A user control event whose data is one u32 (a stream id, or a timestamp for pings). */
export function userControl(event: UserControlEvent, streamId: number): RtmpMessage {
  const payload = Buffer.allocUnsafe(6);
  payload.writeUInt16BE(event, 0);
  payload.writeUInt32BE(streamId >>> 0, 2);
  return control(MessageType.UserControl, payload);
}

/** SetBufferLength is sent by clients; servers only parse it, but tests and tools build it. */
export function userControlSetBufferLength(streamId: number, bufferMs: number): RtmpMessage {
  const payload = Buffer.allocUnsafe(10);
  payload.writeUInt16BE(UserControlEvent.SetBufferLength, 0);
  payload.writeUInt32BE(streamId >>> 0, 2);
  payload.writeUInt32BE(bufferMs >>> 0, 6);
  return control(MessageType.UserControl, payload);
}

export function pingRequest(timestamp: number): RtmpMessage {
  return userControl(UserControlEvent.PingRequest, timestamp);
}

export function pingResponse(timestamp: number): RtmpMessage {
  return userControl(UserControlEvent.PingResponse, timestamp);
}

export interface UserControlInfo {
  event: number;
  streamId?: number;
  bufferMs?: number;
  timestamp?: number;
}

/**
 * Parses a UserControl payload. Events this edge does not know (for
 * example SWF verification, 26/27) come back with only `event` set.
 *
 * @throws EdgeError ChunkInvalid when the payload is shorter than its event needs.
 */
export function parseUserControl(payload: Buffer): UserControlInfo {
  requireLength(payload, 2, "user control");
  const event = payload.readUInt16BE(0);
  switch (event) {
    case UserControlEvent.StreamBegin:
    case UserControlEvent.StreamEOF:
    case UserControlEvent.StreamDry:
    case UserControlEvent.StreamIsRecorded:
    case UserControlEvent.BufferEmpty:
    case UserControlEvent.BufferReady:
      requireLength(payload, 6, `user control event ${event}`);
      return { event, streamId: payload.readUInt32BE(2) };
    case UserControlEvent.SetBufferLength:
      requireLength(payload, 10, "user control SetBufferLength");
      return { event, streamId: payload.readUInt32BE(2), bufferMs: payload.readUInt32BE(6) };
    case UserControlEvent.PingRequest:
    case UserControlEvent.PingResponse:
      requireLength(payload, 6, `user control ping event ${event}`);
      return { event, timestamp: payload.readUInt32BE(2) };
    default:
      return { event };
  }
}

/**
 * The u32 at the start of a SetChunkSize, Abort, Acknowledgement or
 * WindowAckSize payload (also the window size of SetPeerBandwidth).
 *
 * @throws EdgeError ChunkInvalid when the payload is shorter than 4 bytes.
 */
export function parseControlUint32(payload: Buffer): number {
  requireLength(payload, 4, "protocol control");
  return payload.readUInt32BE(0);
}

function requireLength(payload: Buffer, length: number, what: string): void {
  if (payload.length < length) {
    throw new EdgeError(
      EdgeErrorCode.ChunkInvalid,
      `${what} payload of ${payload.length} bytes, expected at least ${length}`,
    );
  }
}
