import { mediaInvalid, need } from "../media-error.js";

/**
 * FLV file header, 9 bytes in version 1:
 *
 *   0  "FLV"    signature
 *   3  u8       version (1)
 *   4  u8       flags: bit 2 = has audio, bit 0 = has video (others reserved)
 *   5  u32      data offset = header length (9 for version 1)
 *
 * Then u32 PreviousTagSize0 (0) and the tags, each followed by a u32
 * PreviousTagSize.
 */
export const FLV_HEADER_SIZE = 9;
export const PREVIOUS_TAG_SIZE_BYTES = 4;

/**
 * FLV tag header, 11 bytes:
 *
 *   0  u8       bit 5 = filter (encrypted body), bits 4..0 = tag type (8, 9, 18)
 *   1  u24      data size (body bytes after this header)
 *   4  u24      timestamp, ms, low 24 bits
 *   7  u8       timestamp extended: bits 31..24
 *   8  u24      stream id (always 0)
 */
export const TAG_HEADER_SIZE = 11;

/**
 * Bound on one tag's body. A u24 cannot exceed it, so today this only
 * documents the allocation bound; a declared size past the object's end
 * reads as a truncated last tag.
 */
export const MAX_TAG_DATA_SIZE = 16 * 1024 * 1024;

export interface FlvHeader {
  version: number;
  hasAudio: boolean;
  hasVideo: boolean;
  /** Offset of PreviousTagSize0; the first tag starts 4 bytes later. */
  dataOffset: number;
}

export interface FlvTagHeader {
  /** The low 5 bits of byte 0: 8 audio, 9 video, 18 script data. */
  type: number;
  /** The body is encrypted (FLV filter); this edge cannot serve those. */
  filtered: boolean;
  dataSize: number;
  timestampMs: number;
  streamId: number;
}

/** "FLV" followed by version 1. */
export function probeFlv(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x46 && bytes[1] === 0x4c && bytes[2] === 0x56 && bytes[3] === 1;
}

export function parseFlvHeader(bytes: Buffer): FlvHeader {
  if (!probeFlv(bytes)) throw mediaInvalid("object is not an FLV file");
  need(bytes, 0, FLV_HEADER_SIZE, "FLV header");
  const flags = bytes[4]!;
  const dataOffset = bytes.readUInt32BE(5);
  if (dataOffset < FLV_HEADER_SIZE) throw mediaInvalid(`FLV data offset ${dataOffset} is inside the header`);
  return { version: bytes[3]!, hasAudio: (flags & 0x04) !== 0, hasVideo: (flags & 0x01) !== 0, dataOffset };
}

export function parseTagHeader(bytes: Buffer, offset: number): FlvTagHeader {
  need(bytes, offset, TAG_HEADER_SIZE, "FLV tag header");
  const b0 = bytes[offset]!;
  // u24 low bits | extended byte as bits 31..24; kept unsigned.
  const timestampMs = (bytes.readUIntBE(offset + 4, 3) | (bytes[offset + 7]! << 24)) >>> 0;
  return {
    type: b0 & 0x1f,
    filtered: (b0 & 0x20) !== 0,
    dataSize: bytes.readUIntBE(offset + 1, 3),
    timestampMs,
    streamId: bytes.readUIntBE(offset + 8, 3),
  };
}

/**
 * First bytes of an FLV video tag body:
 *
 *   0  u8   bits 7..4 frame type (1 key, 2 inter, 3 disposable, 4 generated key, 5 info/command)
 *           bits 3..0 codec id (2 Sorenson, 4 VP6, 7 AVC, …)
 *   AVC only:
 *   1  u8   AVCPacketType: 0 sequence header (avcC), 1 NALUs, 2 end of sequence
 *   2  s24  composition time offset, ms
 */
export const VideoCodec = { Avc: 7 } as const;
export const VideoFrameType = { Key: 1, Inter: 2 } as const;
export const AVC_HEADER_SIZE = 5;

/**
 * First bytes of an FLV audio tag body:
 *
 *   0  u8   bits 7..4 sound format (2 MP3, 10 AAC, 14 MP3 8 kHz, …)
 *           bits 3..2 rate (0 5.5k, 1 11k, 2 22k, 3 44k), bit 1 16-bit, bit 0 stereo
 *   AAC only:
 *   1  u8   AACPacketType: 0 sequence header (AudioSpecificConfig), 1 raw frame
 */
export const SoundFormat = { Mp3: 2, Aac: 10, Mp38k: 14 } as const;
export const AAC_HEADER_SIZE = 2;

export function isVideoKeyframe(body: Uint8Array): boolean {
  return body.length > 0 && body[0]! >> 4 === VideoFrameType.Key;
}

/**
 * A key frame that decoding can start from: frame type 1, and for AVC a
 * NALU packet (an AVC end-of-sequence marker also carries frame type 1).
 */
export function isVideoSeekPoint(body: Uint8Array): boolean {
  if (!isVideoKeyframe(body)) return false;
  return (body[0]! & 0x0f) !== VideoCodec.Avc || body[1] === 1;
}

export function isAvcSequenceHeader(body: Uint8Array): boolean {
  return body.length >= 2 && (body[0]! & 0x0f) === VideoCodec.Avc && body[1] === 0;
}

export function isAacSequenceHeader(body: Uint8Array): boolean {
  return body.length >= 2 && body[0]! >> 4 === SoundFormat.Aac && body[1] === 0;
}
