import { mediaInvalid, need } from "../media-error.js";
import { type BoxHeader, childBoxes, findBox, readFullBoxHeader } from "./box.js";

export interface AvcConfig {
  /** The avcC payload (AVCDecoderConfigurationRecord), sent as the AVC sequence header. */
  avcC: Buffer;
  width: number;
  height: number;
  /** AVCProfileIndication and AVCLevelIndication from avcC. */
  profile: number;
  level: number;
}

export interface AacConfig {
  /** The AudioSpecificConfig, sent as the AAC sequence header. */
  asc: Buffer;
  sampleRate: number;
  channels: number;
  /** MPEG-4 audio object type (2 = AAC LC, 5 = SBR, …). */
  objectType: number;
}

/** MP3 in MP4 (mp4a with objectTypeIndication 0x69/0x6B, or a QuickTime '.mp3' entry). */
export interface Mp3Config {
  sampleRate: number;
  channels: number;
}

/** What stsd holds for a track RTMP can carry (FLV: H.264 codec 7, AAC sound format 10, MP3 format 2). */
export type SampleEntry =
  | { codec: "avc1"; avc: AvcConfig }
  | { codec: "mp4a"; aac: AacConfig }
  | { codec: "mp3"; mp3: Mp3Config };

/**
 * A track whose codec FLV cannot carry, by a short codec name from a fixed
 * set (it labels a metric): hevc, av1, vp9, mpeg4, ac3, eac3, opus, flac,
 * alac, aac-other (an MPEG-4 audio object type that is neither AAC nor MP3)
 * or other.
 */
export interface SkippedEntry {
  skipped: string;
}

const skippedCodecs: Record<string, string> = {
  hvc1: "hevc",
  hev1: "hevc",
  av01: "av1",
  vp08: "vp8",
  vp09: "vp9",
  mp4v: "mpeg4",
  "ac-3": "ac3",
  "ec-3": "eac3",
  Opus: "opus",
  fLaC: "flac",
  alac: "alac",
};

/**
 * stsd: full box, u32 entry_count, then sample entry boxes. Only the first
 * entry is used: files that switch descriptions mid-track are rare and
 * FMS did not handle them either.
 */
export function readSampleEntry(bytes: Buffer, stsd: BoxHeader): SampleEntry | SkippedEntry {
  const { body } = readFullBoxHeader(bytes, stsd);
  const entry = childBoxes(bytes, body + 4, stsd.end)[0];
  if (!entry) return { skipped: "other" };
  switch (entry.type) {
    case "avc1":
    case "avc3":
      return { codec: "avc1", avc: readAvcSampleEntry(bytes, entry) };
    case "mp4a":
      return readMp4aSampleEntry(bytes, entry);
    case ".mp3":
      return { codec: "mp3", mp3: audioEntryFields(bytes, entry) };
    default:
      return { skipped: skippedCodecs[entry.type] ?? "other" };
  }
}

/** channelcount and the integer part of samplerate of an AudioSampleEntry (layout below). */
function audioEntryFields(bytes: Buffer, entry: BoxHeader): Mp3Config {
  need(bytes, entry.payload, AUDIO_SAMPLE_ENTRY_SIZE, `'${entry.type}' sample entry`);
  return {
    channels: bytes.readUInt16BE(entry.payload + 16),
    sampleRate: bytes.readUInt16BE(entry.payload + 24),
  };
}

/**
 * VisualSampleEntry (avc1/avc3), after the box header:
 *
 *    0  6   reserved, u16 data_reference_index
 *    8  16  pre_defined / reserved
 *   24  u16 width, u16 height
 *   28  u32 horizresolution, u32 vertresolution, u32 reserved
 *   40  u16 frame_count, 32-byte compressorname, u16 depth, s16 pre_defined
 *   78  child boxes: avcC, btrt, pasp, …
 */
const VISUAL_SAMPLE_ENTRY_SIZE = 78;

function readAvcSampleEntry(bytes: Buffer, entry: BoxHeader): AvcConfig {
  need(bytes, entry.payload, VISUAL_SAMPLE_ENTRY_SIZE, `'${entry.type}' sample entry`);
  const avcC = findBox(bytes, ["avcC"], entry.payload + VISUAL_SAMPLE_ENTRY_SIZE, entry.end);
  if (!avcC) throw mediaInvalid(`'${entry.type}' sample entry has no avcC box`);
  // AVCDecoderConfigurationRecord: u8 version (1), u8 profile, u8 compatibility, u8 level, …
  if (avcC.end - avcC.payload < 7 || bytes[avcC.payload] !== 1) throw mediaInvalid("malformed avcC box");
  return {
    avcC: Buffer.from(bytes.subarray(avcC.payload, avcC.end)),
    width: bytes.readUInt16BE(entry.payload + 24),
    height: bytes.readUInt16BE(entry.payload + 26),
    profile: bytes[avcC.payload + 1]!,
    level: bytes[avcC.payload + 3]!,
  };
}

/**
 * AudioSampleEntry (mp4a), after the box header:
 *
 *    0  6   reserved, u16 data_reference_index
 *    8  u16 version (QuickTime: 0, 1 or 2), u16 revision, u32 vendor
 *   16  u16 channelcount, u16 samplesize, u16 compression_id, u16 packet_size
 *   24  u32 samplerate (16.16 fixed point)
 *   28  QuickTime version 1 adds 16 bytes, version 2 adds 36
 *       then child boxes: esds, or (MOV) a 'wave' box holding esds
 */
const AUDIO_SAMPLE_ENTRY_SIZE = 28;

function readMp4aSampleEntry(bytes: Buffer, entry: BoxHeader): SampleEntry | SkippedEntry {
  need(bytes, entry.payload, AUDIO_SAMPLE_ENTRY_SIZE, "'mp4a' sample entry");
  const version = bytes.readUInt16BE(entry.payload + 8);
  const extra = version === 1 ? 16 : version === 2 ? 36 : 0;
  const childrenStart = entry.payload + AUDIO_SAMPLE_ENTRY_SIZE + extra;
  if (childrenStart > entry.end) throw mediaInvalid("'mp4a' sample entry is too short");
  const esds =
    findBox(bytes, ["esds"], childrenStart, entry.end) ??
    findBox(bytes, ["wave", "esds"], childrenStart, entry.end);
  if (!esds) throw mediaInvalid("'mp4a' sample entry has no esds box");
  const { objectTypeIndication, decoderSpecificInfo } = readEsds(bytes, esds);
  // 0x69 MPEG-2 and 0x6B MPEG-1 audio (MP3): FLV sound format 2 carries the frames as they are.
  if (objectTypeIndication === 0x69 || objectTypeIndication === 0x6b)
    return { codec: "mp3", mp3: audioEntryFields(bytes, entry) };
  // 0x40 MPEG-4 audio, 0x66–0x68 MPEG-2 AAC profiles.
  if (objectTypeIndication !== 0x40 && (objectTypeIndication < 0x66 || objectTypeIndication > 0x68))
    return { skipped: "aac-other" };
  if (!decoderSpecificInfo || decoderSpecificInfo.length < 2)
    throw mediaInvalid("AAC track has no AudioSpecificConfig");
  const parsed = parseAudioSpecificConfig(decoderSpecificInfo);
  const aac: AacConfig = {
    asc: Buffer.from(decoderSpecificInfo),
    sampleRate: parsed.sampleRate || bytes.readUInt16BE(entry.payload + 24),
    channels: parsed.channels || bytes.readUInt16BE(entry.payload + 16),
    objectType: parsed.objectType,
  };
  return { codec: "mp4a", aac };
}

/**
 * esds: full box holding MPEG-4 descriptors (ISO/IEC 14496-1 §7.2), each
 * u8 tag + a length of 1–4 bytes, 7 bits per byte, high bit = more follows:
 *
 *   ES_Descriptor (tag 3): u16 ES_ID, u8 flags (0x80 dependsOn → u16,
 *     0x40 URL → u8 length + URL, 0x20 OCR → u16), then:
 *   DecoderConfigDescriptor (tag 4): u8 objectTypeIndication, u8 streamType,
 *     u24 bufferSize, u32 maxBitrate, u32 avgBitrate, then:
 *   DecoderSpecificInfo (tag 5): the AudioSpecificConfig bytes.
 */
export function readEsds(
  bytes: Buffer,
  esds: BoxHeader,
): { objectTypeIndication: number; decoderSpecificInfo: Buffer | null } {
  const { body } = readFullBoxHeader(bytes, esds);
  const end = esds.end;
  const es = readDescriptor(bytes, body, end);
  if (es.tag !== 3) throw mediaInvalid(`esds starts with descriptor tag ${es.tag}, not ES_Descriptor`);
  need(bytes, es.body, 3, "ES_Descriptor");
  const flags = bytes[es.body + 2]!;
  let offset = es.body + 3;
  if (flags & 0x80) offset += 2;
  if (flags & 0x40) {
    need(bytes, offset, 1, "ES_Descriptor URL");
    offset += 1 + bytes[offset]!;
  }
  if (flags & 0x20) offset += 2;
  const config = readDescriptor(bytes, offset, es.end);
  if (config.tag !== 4)
    throw mediaInvalid(`ES_Descriptor holds tag ${config.tag}, not DecoderConfigDescriptor`);
  need(bytes, config.body, 13, "DecoderConfigDescriptor");
  const objectTypeIndication = bytes[config.body]!;
  const infoStart = config.body + 13;
  if (config.end - infoStart < 2) return { objectTypeIndication, decoderSpecificInfo: null };
  const info = readDescriptor(bytes, infoStart, config.end);
  return {
    objectTypeIndication,
    decoderSpecificInfo: info.tag === 5 ? bytes.subarray(info.body, info.end) : null,
  };
}

function readDescriptor(
  bytes: Buffer,
  offset: number,
  limit: number,
): { tag: number; body: number; end: number } {
  need(bytes, offset, 2, "MPEG-4 descriptor");
  const tag = bytes[offset]!;
  let length = 0;
  let p = offset + 1;
  for (let i = 0; i < 4; i++) {
    need(bytes, p, 1, "MPEG-4 descriptor length");
    const b = bytes[p++]!;
    length = length * 128 + (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  const end = p + length;
  if (end > limit) throw mediaInvalid(`MPEG-4 descriptor tag ${tag} overruns its box`);
  return { tag, body: p, end };
}

const AAC_SAMPLE_RATES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/**
 * AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), bit-packed:
 *   5 bits audioObjectType (31 = escape: 6 more bits + 32)
 *   4 bits samplingFrequencyIndex (15 = explicit 24-bit frequency follows)
 *   4 bits channelConfiguration
 * Returns zeros for fields it cannot read; callers fall back to mp4a's fields.
 */
export function parseAudioSpecificConfig(asc: Uint8Array): {
  objectType: number;
  sampleRate: number;
  channels: number;
} {
  let bit = 0;
  const bits = (n: number): number => {
    let value = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = asc[bit >> 3];
      if (byte === undefined) return -1;
      value = (value << 1) | ((byte >> (7 - (bit & 7))) & 1);
    }
    return value;
  };
  let objectType = bits(5);
  if (objectType === 31) objectType = 32 + bits(6);
  const index = bits(4);
  const sampleRate = index === 15 ? bits(24) : (AAC_SAMPLE_RATES[index] ?? 0);
  const channels = bits(4);
  return {
    objectType: Math.max(0, objectType),
    sampleRate: Math.max(0, sampleRate),
    channels: Math.max(0, channels),
  };
}
