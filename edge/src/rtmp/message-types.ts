/**
 * RTMP message type ids (the one-byte "message type id" of a fmt 0/1 chunk
 * header). Ids 1–6 are protocol control messages and travel on chunk stream 2
 * with message stream id 0.
 */
export const MessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  SharedObjectAmf3: 16,
  CommandAmf3: 17,
  DataAmf0: 18,
  SharedObjectAmf0: 19,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Event types carried in the first two bytes of a UserControl (type 4) payload. */
export const UserControlEvent = {
  StreamBegin: 0,
  StreamEOF: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
  /** FMS 3.5 metering: one client buffer's worth of data has been sent. */
  BufferEmpty: 31,
  /** FMS 3.5 metering: the next burst follows. */
  BufferReady: 32,
} as const;
export type UserControlEvent = (typeof UserControlEvent)[keyof typeof UserControlEvent];

/** The limit type byte of SetPeerBandwidth (type 6). */
export const PeerBandwidthLimit = {
  Hard: 0,
  Soft: 1,
  Dynamic: 2,
} as const;
export type PeerBandwidthLimit = (typeof PeerBandwidthLimit)[keyof typeof PeerBandwidthLimit];

/**
 * One complete RTMP message, reassembled from (or to be split into) chunks.
 * `timestamp` is the absolute 32-bit message timestamp in milliseconds; it
 * wraps modulo 2^32.
 */
export interface RtmpMessage {
  chunkStreamId: number;
  messageTypeId: number;
  messageStreamId: number;
  timestamp: number;
  payload: Buffer;
}
