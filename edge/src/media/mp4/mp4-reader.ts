import type { AmfObject } from "../../rtmp/amf0.js";
import type { BufferedReader } from "../buffered-reader.js";
import { mediaInvalid, mediaTooLarge } from "../media-error.js";
import type { ResolvedMediaLimits } from "../media-limits.js";
import { type MediaReader, type MediaTag, type SkippedTrack, TagKind } from "../media-tag.js";
import { amfObject, encodeOnMetaData } from "../on-metadata.js";
import { firstAtOrAfter, lastAtOrBefore } from "../sorted.js";
import { MAX_BOX_HEADER_SIZE, probeMp4, readBoxHeader } from "./box.js";
import { type Movie, type Mp4Track, parseMoov } from "./movie.js";

/** A file with more top-level boxes than this before its moov is not worth walking. */
const MAX_TOP_LEVEL_BOXES = 4096;

/** Bytes an FLV video body puts before the sample: frame type/codec, AVCPacketType, s24 composition time. */
const AVC_BODY_HEADER = 5;
/** Bytes an FLV audio body puts before the frame: sound format byte, AACPacketType. */
const AAC_BODY_HEADER = 2;
/**
 * AAC, "44 kHz", 16-bit, stereo. Flash takes the real rate and channels from
 * the AudioSpecificConfig and ignores these bits for AAC.
 */
const AAC_SOUND_BYTE = 0xaf;
/** FLV sound format 2 (MP3), 16-bit; the rate and channel bits are filled in from the track. */
const MP3_SOUND_BASE = 0x22;
const AVC_KEY = 0x17;
const AVC_INTER = 0x27;

/** Ticks → ms, rounding half up: the one rule used for every MP4 time so dts and pts stay consistent. */
function ticksToMs(ticks: number, timescale: number): number {
  return Math.floor((ticks * 1000) / timescale + 0.5);
}

interface TrackCursor {
  track: Mp4Track;
  kind: TagKind;
  /** Decode time of each sample in ms, shifted so the movie starts at >= 0. */
  dtsMs: Float64Array;
  /** pts - dts in ms, from the independently rounded pts and dts. */
  ctoMs: Int32Array;
  /** 1 for sync samples. */
  sync: Uint8Array;
  next: number;
  /** Set when the object ends before a sample does (truncated mdat). */
  ended: boolean;
}

/**
 * Plays an MP4/MOV/F4V/M4A/3GP object: locates moov by walking the
 * top-level box headers (it may follow a large mdat), reads only moov, then
 * reads each sample by range in decode order, wrapped as FLV tag bodies.
 */
export class Mp4Reader implements MediaReader {
  readonly metadata: Buffer;
  readonly durationMs: number;
  readonly hasAudio: boolean;
  readonly hasVideo: boolean;
  readonly sequenceHeaders: readonly MediaTag[];
  readonly skippedTracks: readonly SkippedTrack[];

  readonly #reader: BufferedReader;
  /** The FLV sound byte of every audio tag: AAC's, or MP3's with its rate and channels. */
  readonly #soundByte: number;
  readonly #audioHeader: number;
  readonly #video: TrackCursor | null;
  readonly #audio: TrackCursor | null;

  static probe(bytes: Uint8Array): boolean {
    return probeMp4(bytes);
  }

  static async open(reader: BufferedReader, limits: ResolvedMediaLimits): Promise<Mp4Reader> {
    const { moov, position } = await readMoov(reader, limits.maxHeaderBytes);
    // A moov cannot describe more samples than it has bytes for, except
    // through constant-size stsz; and every sample takes at least a byte of
    // the object. Both bound what the sample tables may allocate.
    const maxSamples = Math.min(Math.max(1024, Math.floor(limits.maxHeaderBytes / 4)), reader.size);
    const movie = parseMoov(moov, maxSamples);
    // Audio and video samples may sit in separate regions of mdat; two
    // blocks keep each track's read-ahead alive.
    reader.maxBlocks = Math.max(reader.maxBlocks, 2);
    return new Mp4Reader(reader, movie, position);
  }

  private constructor(reader: BufferedReader, movie: Movie, moovPosition: number) {
    this.#reader = reader;
    const video = movie.video ? cursor(movie.video, TagKind.Video) : null;
    const audio = movie.audio ? cursor(movie.audio, TagKind.Audio) : null;
    // RTMP timestamps are unsigned: an edit list can put the first dts
    // below zero (B-frame delay, AAC priming), so shift the whole movie by
    // the same amount, keeping audio and video in sync (as ffmpeg's FLV
    // muxer does).
    const firstDts = Math.min(video?.dtsMs[0] ?? 0, audio?.dtsMs[0] ?? 0);
    if (firstDts < 0) {
      for (const c of [video, audio]) {
        if (c) for (let i = 0; i < c.dtsMs.length; i++) c.dtsMs[i]! -= firstDts;
      }
    }
    this.#video = video;
    this.#audio = audio;
    this.hasVideo = video !== null;
    this.hasAudio = audio !== null;
    this.skippedTracks = movie.skipped;
    const mp3 = movie.audio?.entry.codec === "mp3" ? movie.audio.entry.mp3 : null;
    this.#soundByte = mp3 ? mp3SoundByte(mp3.sampleRate, mp3.channels) : AAC_SOUND_BYTE;
    // MP3 frames follow the sound byte directly; AAC has its AACPacketType byte first.
    this.#audioHeader = mp3 ? 1 : AAC_BODY_HEADER;

    const headers: MediaTag[] = [];
    if (movie.video?.entry.codec === "avc1") {
      const avcC = movie.video.entry.avc.avcC;
      const body = Buffer.alloc(AVC_BODY_HEADER + avcC.length);
      body[0] = AVC_KEY; // AVCPacketType 0 and composition time 0 stay zero
      avcC.copy(body, AVC_BODY_HEADER);
      headers.push({ kind: TagKind.Video, timestampMs: 0, body, keyframe: true, sequenceHeader: true });
    }
    if (movie.audio?.entry.codec === "mp4a") {
      const asc = movie.audio.entry.aac.asc;
      const body = Buffer.alloc(AAC_BODY_HEADER + asc.length);
      body[0] = AAC_SOUND_BYTE;
      asc.copy(body, AAC_BODY_HEADER);
      headers.push({ kind: TagKind.Audio, timestampMs: 0, body, keyframe: true, sequenceHeader: true });
    }
    this.sequenceHeaders = headers;
    this.durationMs = movieDurationMs(movie);
    this.metadata = encodeOnMetaData(buildMetadata(movie, this.durationMs, moovPosition));
  }

  async next(): Promise<MediaTag | null> {
    for (;;) {
      const c = this.#pick();
      if (!c) return null;
      const i = c.next;
      const size = c.track.samples.sizes[i]!;
      const data = await this.#reader.readAt(c.track.samples.offsets[i]!, size);
      // The cursor moves only once the sample is read: a failed read is retried at the same sample.
      const tag = this.#take(c, i, data, size);
      if (tag) return tag;
    }
  }

  /** next() without a promise when the sample is already in memory; undefined means "call next()". */
  nextSync(): MediaTag | null | undefined {
    for (;;) {
      const c = this.#pick();
      if (!c) return null;
      const i = c.next;
      const size = c.track.samples.sizes[i]!;
      const data = this.#reader.tryReadAt(c.track.samples.offsets[i]!, size);
      if (data === null) return undefined;
      const tag = this.#take(c, i, data, size);
      if (tag) return tag;
    }
  }

  /** Moves the cursor past sample i; its tag, or null when the object ends inside it. */
  #take(c: TrackCursor, i: number, data: Buffer, size: number): MediaTag | null {
    c.next = i + 1;
    if (data.length < size) {
      // The object ends inside mdat: this track is over, the other may go on.
      c.ended = true;
      return null;
    }
    const timestampMs = c.dtsMs[i]!;
    if (c.kind === TagKind.Video) {
      const keyframe = c.sync[i] === 1;
      const body = Buffer.allocUnsafe(AVC_BODY_HEADER + size);
      body[0] = keyframe ? AVC_KEY : AVC_INTER;
      body[1] = 1; // AVCPacketType 1: NALUs (MP4 samples are already length-prefixed)
      body.writeIntBE(clampS24(c.ctoMs[i]!), 2, 3);
      data.copy(body, AVC_BODY_HEADER);
      return { kind: TagKind.Video, timestampMs, body, keyframe, sequenceHeader: false };
    }
    const body = Buffer.allocUnsafe(this.#audioHeader + size);
    body[0] = this.#soundByte;
    if (this.#audioHeader === AAC_BODY_HEADER) body[1] = 1; // AACPacketType 1: raw frame
    data.copy(body, this.#audioHeader);
    return { kind: TagKind.Audio, timestampMs, body, keyframe: true, sequenceHeader: false };
  }

  async seek(ms: number): Promise<number> {
    const target = Number.isFinite(ms) ? Math.max(0, ms) : 0;
    for (const c of [this.#video, this.#audio]) {
      if (c) c.ended = false;
    }
    const video = this.#video;
    const audio = this.#audio;
    let timestampMs: number;
    if (video) {
      const i = Math.max(0, lastAtOrBefore(video.dtsMs, target));
      let k = i;
      while (k > 0 && video.sync[k] !== 1) k--;
      video.next = k;
      timestampMs = video.dtsMs[k]!;
      // Audio resumes with the first frame not before the keyframe, so the
      // merged order starts with the keyframe.
      if (audio) audio.next = k === 0 ? 0 : firstAtOrAfter(audio.dtsMs, timestampMs);
      if (k === 0 && audio) timestampMs = Math.min(timestampMs, audio.dtsMs[0]!);
    } else {
      const c = audio!;
      c.next = Math.max(0, lastAtOrBefore(c.dtsMs, target));
      timestampMs = c.dtsMs[c.next]!;
    }
    return Promise.resolve(timestampMs);
  }

  /** The track whose next sample decodes first; video wins ties so a seek resumes on its keyframe. */
  #pick(): TrackCursor | null {
    const v = this.#video;
    const a = this.#audio;
    const vOk = v !== null && !v.ended && v.next < v.dtsMs.length;
    const aOk = a !== null && !a.ended && a.next < a.dtsMs.length;
    if (vOk && aOk) return a.dtsMs[a.next]! < v.dtsMs[v.next]! ? a : v;
    return vOk ? v : aOk ? a : null;
  }
}

function cursor(track: Mp4Track, kind: TagKind): TrackCursor {
  const { count, dts, ctsOffsets, syncSamples } = track.samples;
  const dtsMs = new Float64Array(count);
  const ctoMs = new Int32Array(count);
  const shift = track.timeShiftTicks;
  for (let i = 0; i < count; i++) {
    const d = dts[i]! + shift;
    dtsMs[i] = ticksToMs(d, track.timescale);
    if (ctsOffsets) ctoMs[i] = ticksToMs(d + ctsOffsets[i]!, track.timescale) - dtsMs[i]!;
  }
  let sync: Uint8Array;
  if (syncSamples && kind === TagKind.Video) {
    sync = new Uint8Array(count);
    for (const i of syncSamples) sync[i] = 1;
  } else {
    sync = new Uint8Array(count).fill(1);
  }
  return { track, kind, dtsMs, ctoMs, sync, next: 0, ended: false };
}

/**
 * FLV audio byte for MP3: format 2, rate bits 0–3 (5.5/11/22/44 kHz: the
 * nearest; decoders take the real rate from the MP3 frame headers), 16-bit,
 * mono or stereo.
 */
function mp3SoundByte(sampleRate: number, channels: number): number {
  const rate = sampleRate >= 32000 ? 3 : sampleRate >= 16000 ? 2 : sampleRate >= 8000 ? 1 : 0;
  return MP3_SOUND_BASE | (rate << 2) | (channels > 1 ? 1 : 0);
}

function clampS24(value: number): number {
  return Math.max(-0x800000, Math.min(0x7fffff, value));
}

/**
 * Walks top-level box headers by range until moov, then reads moov whole.
 * Only headers are read on the way: a moov after a 2 GB mdat costs two
 * small reads plus moov itself.
 */
async function readMoov(
  reader: BufferedReader,
  maxHeaderBytes: number,
): Promise<{ moov: Buffer; position: number }> {
  const size = reader.size;
  let offset = 0;
  for (let n = 0; n < MAX_TOP_LEVEL_BOXES && offset < size; n++) {
    const head = await reader.readAt(offset, MAX_BOX_HEADER_SIZE);
    if (head.length < 8) break;
    const box = readBoxHeader(head, 0, size - offset);
    const length = box.end - box.start;
    if (box.type === "moov") {
      if (length > maxHeaderBytes) throw mediaTooLarge(`moov is ${length} bytes (max ${maxHeaderBytes})`);
      const moov = await reader.readAt(offset, length);
      if (moov.length < length) throw mediaInvalid(`moov at ${offset} is truncated`);
      return { moov, position: offset };
    }
    if (box.type === "moof") throw mediaInvalid("fragmented MP4 (moof) is not supported");
    offset += length;
  }
  throw mediaInvalid("no moov box found");
}

function movieDurationMs(movie: Movie): number {
  if (movie.durationTicks > 0) return ticksToMs(movie.durationTicks, movie.timescale);
  let ms = 0;
  for (const track of [movie.video, movie.audio]) {
    if (track) ms = Math.max(ms, ticksToMs(track.durationTicks, track.timescale));
  }
  return ms;
}

/** onMetaData as FMS built it from moov: codecs, sizes, rates, trackinfo. */
function buildMetadata(movie: Movie, durationMs: number, moovPosition: number): AmfObject {
  const { video, audio } = movie;
  const avc = video?.entry.codec === "avc1" ? video.entry.avc : null;
  const aac = audio?.entry.codec === "mp4a" ? audio.entry.aac : null;
  const mp3 = audio?.entry.codec === "mp3" ? audio.entry.mp3 : null;
  let framerate: number | undefined;
  if (video) {
    const seconds = video.durationTicks / video.timescale;
    framerate = seconds > 0 ? Math.round((video.samples.count / seconds) * 1000) / 1000 : undefined;
  }
  const trackinfo: AmfObject[] = [];
  for (const track of [video, audio]) {
    if (!track) continue;
    trackinfo.push(
      amfObject({
        length: track.durationTicks,
        timescale: track.timescale,
        language: track.language,
        sampledescription: [amfObject({ sampletype: track.entry.codec })],
      }),
    );
  }
  return amfObject({
    duration: durationMs / 1000,
    moovposition: moovPosition,
    width: avc ? video?.displayWidth || avc.width : undefined,
    height: avc ? video?.displayHeight || avc.height : undefined,
    videocodecid: avc ? "avc1" : undefined,
    avcprofile: avc?.profile,
    avclevel: avc?.level,
    framerate,
    videoframerate: framerate,
    audiocodecid: aac ? "mp4a" : mp3 ? ".mp3" : undefined,
    aacaot: aac?.objectType,
    audiosamplerate: aac?.sampleRate ?? mp3?.sampleRate,
    audiochannels: aac?.channels ?? mp3?.channels,
    hasVideo: video !== null,
    hasAudio: audio !== null,
    trackinfo,
  });
}
