import type { BufferedReader } from "../buffered-reader.js";
import { mediaInvalid } from "../media-error.js";
import type { ResolvedMediaLimits } from "../media-limits.js";
import { type MediaReader, type MediaTag, TagKind } from "../media-tag.js";
import { amfObject, encodeOnMetaData } from "../on-metadata.js";
import { lastAtOrBefore } from "../sorted.js";
import { ID3_HEADER_SIZE, ID3V1_SIZE, id3v2Size, isId3v1 } from "./id3.js";
import {
  MPEG_AUDIO_HEADER_SIZE,
  type MpegAudioHeader,
  parseMpegAudioHeader,
  probeMp3,
  sameStream,
} from "./mpeg-audio.js";
import { parseVbrHeader, type VbrHeader } from "./vbr-header.js";

/** How far past the ID3 tags the first frame may be before the object is rejected. */
const MAX_LEADING_GARBAGE = 64 * 1024;
/** Bytes read per step while hunting for a frame header. */
const SYNC_WINDOW = 4096;
/** VBR files up to this many bytes of audio seek exactly by counting frames; larger ones use the Xing TOC. */
const EXACT_VBR_SEEK_BYTES = 16 * 1024 * 1024;
/** Walking a VBR file without a TOC remembers one seek point per this many frames. */
const SEEK_POINT_SPACING = 32;
/** Concatenated ID3v2 tags are legal; more than this is an attack. */
const MAX_ID3_TAGS = 16;

/** FLV sound format 2 (MP3) and 14 (MP3 8 kHz), in the sound byte's high nibble. */
const SOUND_FORMAT_MP3 = 2;
const SOUND_FORMAT_MP3_8K = 14;

/**
 * The FLV audio byte for MP3: format (4 bits), rate (2: 0 5.5k, 1 11k, 2 22k,
 * 3 44k), 16-bit (1), stereo (1). Flash decodes the rate from the MPEG
 * header itself; the nibble only has to name the nearest bucket (48 and
 * 32 kHz go in "44k"), except 8 kHz, which has its own format.
 */
export function mp3SoundByte(header: MpegAudioHeader): number {
  const stereo = header.channels === 2 ? 1 : 0;
  if (header.sampleRate === 8000) return (SOUND_FORMAT_MP3_8K << 4) | 0x02 | stereo;
  const rate = header.sampleRate >= 32000 ? 3 : header.sampleRate >= 16000 ? 2 : 1;
  return (SOUND_FORMAT_MP3 << 4) | (rate << 2) | 0x02 | stereo;
}

interface Frame {
  offset: number;
  header: MpegAudioHeader;
}

/**
 * Plays an MP3 object one MPEG frame per RTMP audio message. Timestamps
 * come from the frame count (frameIndex × samplesPerFrame / sampleRate),
 * never from byte positions, so VBR streams stay exact.
 */
export class Mp3Reader implements MediaReader {
  readonly metadata: Buffer;
  readonly durationMs: number;
  readonly hasAudio = true;
  readonly hasVideo = false;
  readonly sequenceHeaders: readonly MediaTag[] = [];

  readonly #reader: BufferedReader;
  readonly #first: MpegAudioHeader;
  /** Offset of the first audio frame (after ID3 and any Xing/Info/VBRI frame). */
  readonly #audioStart: number;
  /** Where the VBR header frame starts (its TOC is relative to it), else audioStart. */
  readonly #streamStart: number;
  /** Offset past the last audio byte (before an ID3v1 trailer). */
  readonly #audioEnd: number;
  readonly #vbr: VbrHeader | null;
  readonly #soundByte: number;
  #position: number;
  #frameIndex = 0;
  /** Seek points (frame index → offset) learned while walking a VBR file without a TOC. */
  readonly #pointFrames: number[] = [0];
  readonly #pointOffsets: number[];

  static probe(bytes: Uint8Array): boolean {
    return probeMp3(bytes);
  }

  static async open(reader: BufferedReader, _limits: ResolvedMediaLimits): Promise<Mp3Reader> {
    let start = 0;
    for (let i = 0; i < MAX_ID3_TAGS; i++) {
      const size = id3v2Size(await reader.readAt(start, ID3_HEADER_SIZE), 0);
      if (size === 0) break;
      start += size;
    }
    let audioEnd = reader.size;
    if (audioEnd - start >= ID3V1_SIZE && isId3v1(await reader.readAt(audioEnd - ID3V1_SIZE, 3))) {
      audioEnd -= ID3V1_SIZE;
    }
    const first = await findFrame(
      reader,
      start,
      Math.min(audioEnd, start + MAX_LEADING_GARBAGE),
      audioEnd,
      null,
    );
    if (!first) throw mediaInvalid("no MPEG audio layer III frame found");
    const firstBytes = await reader.readAt(first.offset, first.header.frameLength);
    const vbr = parseVbrHeader(firstBytes, first.header);
    const audioStart = vbr ? first.offset + first.header.frameLength : first.offset;
    return new Mp3Reader(reader, first, audioStart, audioEnd, vbr);
  }

  private constructor(
    reader: BufferedReader,
    first: Frame,
    audioStart: number,
    audioEnd: number,
    vbr: VbrHeader | null,
  ) {
    this.#reader = reader;
    this.#first = first.header;
    this.#streamStart = first.offset;
    this.#audioStart = audioStart;
    this.#audioEnd = audioEnd;
    this.#vbr = vbr;
    this.#position = audioStart;
    this.#pointOffsets = [audioStart];
    this.#soundByte = mp3SoundByte(first.header);
    const h = first.header;
    if (vbr?.frames) {
      this.durationMs = Math.floor((vbr.frames * h.samplesPerFrame * 1000) / h.sampleRate);
    } else {
      // Constant bitrate: bits / (kbit/s) = ms. A Xing/Info frame that runs
      // past the end leaves no audio: duration 0, never negative.
      this.durationMs = Math.max(0, Math.floor(((audioEnd - audioStart) * 8) / h.bitrateKbps));
    }
    this.metadata = encodeOnMetaData(
      amfObject({
        duration: this.durationMs / 1000,
        audiocodecid: SOUND_FORMAT_MP3,
        audiosamplerate: h.sampleRate,
        audiochannels: h.channels,
        stereo: h.channels === 2,
        audiodatarate:
          vbr?.tag === "Xing" && vbr.bytes && this.durationMs > 0
            ? Math.round((vbr.bytes * 8) / this.durationMs)
            : h.bitrateKbps,
        hasAudio: true,
        hasVideo: false,
      }),
    );
  }

  async next(): Promise<MediaTag | null> {
    let frame = await this.#frameAt(this.#position);
    if (!frame) {
      // Garbage between frames (a damaged upload, an embedded tag): resync.
      frame = await findFrame(this.#reader, this.#position + 1, this.#audioEnd, this.#audioEnd, this.#first);
      if (!frame) {
        this.#position = this.#audioEnd;
        return null;
      }
    }
    const { offset, header } = frame;
    const bytes = await this.#reader.readAt(offset, header.frameLength);
    if (bytes.length < header.frameLength || offset + header.frameLength > this.#audioEnd) {
      // A truncated last frame ends the stream cleanly.
      this.#position = this.#audioEnd;
      return null;
    }
    const body = Buffer.allocUnsafe(1 + bytes.length);
    body[0] = this.#soundByte;
    bytes.copy(body, 1);
    const timestampMs = this.#timeOf(this.#frameIndex);
    this.#frameIndex++;
    this.#position = offset + header.frameLength;
    this.#remember(this.#frameIndex, this.#position);
    return { kind: TagKind.Audio, timestampMs, body, keyframe: true, sequenceHeader: false };
  }

  async seek(ms: number): Promise<number> {
    const h = this.#first;
    const target = Number.isFinite(ms) ? Math.max(0, ms) : 0;
    // Mean frame length; exact for CBR, whose padding bit keeps the mean.
    const average = ((h.samplesPerFrame / 8) * h.bitrateKbps * 1000) / h.sampleRate;
    const vbr = this.#vbr;
    const frames = vbr?.frames || Math.floor((this.#audioEnd - this.#audioStart) / average);
    let index = Math.floor((target * h.sampleRate) / (h.samplesPerFrame * 1000));
    // Frame times are floored to ms, so the next frame may still be at or before the target.
    if (this.#timeOf(index + 1) <= target) index++;
    index = Math.min(index, Math.max(0, frames - 1));
    if (index === 0) return this.#place(0, this.#audioStart);

    // Up to this size a VBR file is seeked exactly, by counting frames from
    // the nearest remembered point (a few header reads per frame, through
    // the read-ahead blocks); larger ones use the Xing table of contents.
    const exact = this.#audioEnd - this.#audioStart <= EXACT_VBR_SEEK_BYTES;
    if (!exact && vbr?.tag === "Xing" && vbr.toc && vbr.bytes && this.durationMs > 0) {
      // TOC: byte position of each 1% of the duration, interpolated between
      // entries. The frame index is then the time's, not counted: VBR
      // seeking is approximate by nature.
      const percent = Math.min(99.999, (this.#timeOf(index) * 100) / this.durationMs);
      const a = Math.floor(percent);
      const fa = vbr.toc[a]!;
      const fb = a < 99 ? vbr.toc[a + 1]! : 256;
      const estimate = this.#streamStart + Math.floor(((fa + (fb - fa) * (percent - a)) / 256) * vbr.bytes);
      const frame = await this.#syncFrom(Math.max(this.#audioStart, estimate));
      if (frame && frame.offset + frame.header.frameLength < this.#audioEnd)
        return this.#place(index, frame.offset);
      return this.#walkTo(index);
    }
    if (!vbr || vbr.tag === "Info") {
      // Constant bitrate: frame k starts about k mean lengths in; start half
      // a frame early and take the first header after it.
      const estimate = this.#audioStart + Math.floor((index - 0.5) * average);
      const frame = await this.#syncFrom(Math.max(this.#audioStart, estimate));
      if (frame) return this.#place(Math.round((frame.offset - this.#audioStart) / average), frame.offset);
    }
    return this.#walkTo(index);
  }

  /** VBR without a TOC: count frames from the nearest remembered point. */
  async #walkTo(index: number): Promise<number> {
    const p = lastAtOrBefore(this.#pointFrames, index);
    let k = this.#pointFrames[p]!;
    let offset = this.#pointOffsets[p]!;
    while (k < index) {
      const frame = (await this.#frameAt(offset)) ?? (await this.#syncFrom(offset + 1));
      if (!frame || frame.offset + frame.header.frameLength >= this.#audioEnd) break;
      offset = frame.offset + frame.header.frameLength;
      k++;
      this.#remember(k, offset);
    }
    return this.#place(k, offset);
  }

  #place(index: number, offset: number): number {
    this.#frameIndex = index;
    this.#position = offset;
    return this.#timeOf(index);
  }

  #timeOf(index: number): number {
    // Rounded to the nearest ms, as ffmpeg times MP3 frames in FLV.
    return Math.round((index * this.#first.samplesPerFrame * 1000) / this.#first.sampleRate);
  }

  #remember(index: number, offset: number): void {
    const last = this.#pointFrames.length - 1;
    if (index >= this.#pointFrames[last]! + SEEK_POINT_SPACING) {
      this.#pointFrames.push(index);
      this.#pointOffsets.push(offset);
    }
  }

  /** The frame at exactly `offset` when its header belongs to this stream. */
  async #frameAt(offset: number): Promise<Frame | null> {
    if (offset + MPEG_AUDIO_HEADER_SIZE > this.#audioEnd) return null;
    const header = parseMpegAudioHeader(await this.#reader.readAt(offset, MPEG_AUDIO_HEADER_SIZE), 0);
    return header && sameStream(header, this.#first) ? { offset, header } : null;
  }

  #syncFrom(offset: number): Promise<Frame | null> {
    return findFrame(this.#reader, offset, this.#audioEnd, this.#audioEnd, this.#first);
  }
}

/**
 * The first frame header in [from, searchEnd) that is confirmed by a second
 * header right after it (or by the end of the audio), scanning for 0xFF
 * with indexOf over read-ahead windows.
 */
async function findFrame(
  reader: BufferedReader,
  from: number,
  searchEnd: number,
  audioEnd: number,
  like: MpegAudioHeader | null,
): Promise<Frame | null> {
  let offset = from;
  while (offset < searchEnd) {
    const window = await reader.readAt(offset, SYNC_WINDOW);
    if (window.length < MPEG_AUDIO_HEADER_SIZE) return null;
    let i = window.indexOf(0xff);
    while (i >= 0 && i + MPEG_AUDIO_HEADER_SIZE <= window.length && offset + i < searchEnd) {
      const header = parseMpegAudioHeader(window, i);
      if (header && (!like || sameStream(header, like))) {
        const candidate = offset + i;
        const nextAt = candidate + header.frameLength;
        if (nextAt >= audioEnd) return { offset: candidate, header };
        const next = parseMpegAudioHeader(await reader.readAt(nextAt, MPEG_AUDIO_HEADER_SIZE), 0);
        if (next && sameStream(next, header)) return { offset: candidate, header };
      }
      i = window.indexOf(0xff, i + 1);
    }
    // Step so a header straddling the window edge is seen whole next time.
    offset += Math.max(1, window.length - (MPEG_AUDIO_HEADER_SIZE - 1));
  }
  return null;
}
