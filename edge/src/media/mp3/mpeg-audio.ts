import { id3v2Size } from "./id3.js";

/**
 * MPEG audio frame header, 4 bytes (ISO/IEC 11172-3, 13818-3, and the
 * unofficial MPEG 2.5), bit by bit from the most significant:
 *
 *   11  frame sync, all ones
 *    2  version: 00 = 2.5, 01 reserved, 10 = 2, 11 = 1
 *    2  layer: 01 = III, 10 = II, 11 = I (only III is served)
 *    1  protection bit (0 = a 16-bit CRC follows the header)
 *    4  bitrate index (0 = free format, 15 = bad)
 *    2  sample rate index (3 reserved)
 *    1  padding (one extra byte)
 *    1  private
 *    2  channel mode: 11 = mono, anything else two channels
 *    2  mode extension, 1 copyright, 1 original, 2 emphasis
 */
export interface MpegAudioHeader {
  /** 1, 2 or 2.5. */
  version: 1 | 2 | 2.5;
  layer: 3;
  bitrateKbps: number;
  sampleRate: number;
  padding: boolean;
  channels: 1 | 2;
  /** Whole frame including the header. */
  frameLength: number;
  samplesPerFrame: 1152 | 576;
}

export const MPEG_AUDIO_HEADER_SIZE = 4;

const BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const SAMPLE_RATES: Record<1 | 2 | 2.5, number[]> = {
  1: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  2.5: [11025, 12000, 8000],
};

/** The layer III frame header at `offset`, or null when the 4 bytes there are not one (or not all present). */
export function parseMpegAudioHeader(bytes: Uint8Array, offset: number): MpegAudioHeader | null {
  if (offset < 0 || offset + MPEG_AUDIO_HEADER_SIZE > bytes.length) return null;
  const b1 = bytes[offset + 1]!;
  const b2 = bytes[offset + 2]!;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const versionBits = (b1 >> 3) & 0x03;
  const layerBits = (b1 >> 1) & 0x03;
  if (versionBits === 0b01 || layerBits !== 0b01) return null;
  const version = versionBits === 0b11 ? 1 : versionBits === 0b10 ? 2 : 2.5;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 0x03;
  // Free-format frames have no computable length; bad/reserved indices are noise.
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const bitrateKbps = (version === 1 ? BITRATES_V1_L3 : BITRATES_V2_L3)[bitrateIndex]!;
  const sampleRate = SAMPLE_RATES[version][rateIndex]!;
  const padding = (b2 & 0x02) !== 0;
  const samplesPerFrame = version === 1 ? 1152 : 576;
  // Layer III: bytes = samples/8 × bitrate / rate (+1 padding byte).
  const frameLength =
    Math.floor(((samplesPerFrame / 8) * bitrateKbps * 1000) / sampleRate) + (padding ? 1 : 0);
  const channels = bytes[offset + 3]! >> 6 === 0b11 ? 1 : 2;
  return { version, layer: 3, bitrateKbps, sampleRate, padding, channels, frameLength, samplesPerFrame };
}

/** Same stream: a header differing in version, layer or rate is a false sync inside frame data. */
export function sameStream(a: MpegAudioHeader, b: MpegAudioHeader): boolean {
  return a.version === b.version && a.sampleRate === b.sampleRate;
}

/** How far into the object probe() looks for the first frame (some encoders leave a few junk bytes). */
const PROBE_SCAN_BYTES = 2048;

/**
 * An ID3v2 tag at the start, or near the start a frame header confirmed by
 * another header right after it (one header alone is too weak: 11 set bits
 * occur in other formats' data).
 */
export function probeMp3(bytes: Uint8Array): boolean {
  if (id3v2Size(bytes, 0) > 0) return true;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(buf.length, PROBE_SCAN_BYTES);
  for (let i = buf.indexOf(0xff); i >= 0 && i < limit; i = buf.indexOf(0xff, i + 1)) {
    const first = parseMpegAudioHeader(buf, i);
    if (!first) continue;
    if (i + first.frameLength + MPEG_AUDIO_HEADER_SIZE > buf.length) return i === 0;
    const second = parseMpegAudioHeader(buf, i + first.frameLength);
    if (second && sameStream(first, second)) return true;
  }
  return false;
}
