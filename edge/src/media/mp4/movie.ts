import { mediaInvalid, NoPlayableTrackError, need } from "../media-error.js";
import { type SkippedTrack, SkipReason } from "../media-tag.js";
import { type BoxHeader, childBoxes, findBox, readFullBoxHeader, requireBox } from "./box.js";
import { readSampleEntry, type SampleEntry } from "./sample-entry.js";
import { readSampleTable, type SampleTable } from "./sample-table.js";

export interface Mp4Track {
  kind: "video" | "audio";
  trackId: number;
  /** mdhd timescale: ticks per second of this track's times. */
  timescale: number;
  /** mdhd duration, ticks. */
  durationTicks: number;
  language: string;
  entry: SampleEntry;
  samples: SampleTable;
  /**
   * Ticks added to every sample time to apply the edit list: a leading empty
   * edit delays the track, the first media edit's media_time skips into it
   * (encoder priming, B-frame reordering delay). The same rule ffmpeg's
   * demuxer applies, so the times match ffprobe's.
   */
  timeShiftTicks: number;
  /** Display size from tkhd (16.16 fixed point, rounded), 0 when unset. */
  displayWidth: number;
  displayHeight: number;
}

export interface Movie {
  /** mvhd timescale and duration. */
  timescale: number;
  durationTicks: number;
  /** The first playable track of each kind (RTMP carries one audio and one video stream). */
  video: Mp4Track | null;
  audio: Mp4Track | null;
  /** Tracks left out because FLV cannot carry their codec (named in logs, a metric and npm start's listing). */
  skipped: SkippedTrack[];
}

/**
 * Parses a moov box read whole into `bytes` (moov header at offset 0).
 * Audio and video tracks with codecs FLV cannot carry (HEVC, AV1, Opus, …)
 * are skipped and listed in `skipped`; text and hint tracks are ignored. A
 * movie without any playable track is MediaInvalid, naming what it skipped.
 */
export function parseMoov(bytes: Buffer, maxSamplesPerTrack: number): Movie {
  const moov = requireBox(bytes, ["moov"]);
  const mvhd = requireBox(bytes, ["mvhd"], moov.payload, moov.end);
  const header = readTimescaleAndDuration(bytes, mvhd);
  const movie: Movie = { ...header, video: null, audio: null, skipped: [] };
  for (const trak of childBoxes(bytes, moov.payload, moov.end)) {
    if (trak.type !== "trak") continue;
    const kind = handlerKind(bytes, trak);
    if (!kind || movie[kind]) continue;
    const track = readTrack(bytes, trak, kind, header.timescale, maxSamplesPerTrack);
    if ("skipped" in track) {
      // Bounded: at most one entry per distinct (kind, codec), whatever the moov holds.
      if (!movie.skipped.some((s) => s.kind === kind && s.codec === track.skipped))
        movie.skipped.push({ kind, codec: track.skipped, reason: SkipReason.CodecNotInFlv });
    } else if (track.samples.count > 0) movie[kind] = track;
  }
  if (!movie.video && !movie.audio) {
    const skipped = movie.skipped.map((s) => `${s.kind} ${s.codec}`).join(", ");
    throw new NoPlayableTrackError(
      skipped ? `no track RTMP can carry (skipped: ${skipped})` : "no H.264, AAC or MP3 track found",
      movie.skipped,
    );
  }
  return movie;
}

/**
 * mvhd / mdhd, after the full box header:
 *   version 0: u32 creation_time, u32 modification_time, u32 timescale, u32 duration
 *   version 1: u64 creation_time, u64 modification_time, u32 timescale, u64 duration
 * (mdhd then has u16 packed ISO-639-2 language.)
 */
function readTimescaleAndDuration(
  bytes: Buffer,
  box: BoxHeader,
): { timescale: number; durationTicks: number } {
  const { version, body } = readFullBoxHeader(bytes, box);
  const at = version === 1 ? body + 16 : body + 8;
  need(bytes, at, version === 1 ? 12 : 8, `'${box.type}' box`);
  const timescale = bytes.readUInt32BE(at);
  const durationTicks = version === 1 ? Number(bytes.readBigUInt64BE(at + 4)) : bytes.readUInt32BE(at + 4);
  if (timescale === 0) throw mediaInvalid(`'${box.type}' timescale is 0`);
  // All-ones means "unknown" (a live recording never finalised).
  const unknown = version === 1 ? durationTicks >= 2 ** 53 : durationTicks === 0xffffffff;
  return { timescale, durationTicks: unknown ? 0 : durationTicks };
}

/** hdlr, after the full box header: u32 pre_defined, 4cc handler_type ('vide', 'soun', …). */
function handlerKind(bytes: Buffer, trak: BoxHeader): "video" | "audio" | null {
  const hdlr = findBox(bytes, ["mdia", "hdlr"], trak.payload, trak.end);
  if (!hdlr) return null;
  const { body } = readFullBoxHeader(bytes, hdlr);
  need(bytes, body, 8, "'hdlr' box");
  const handler = bytes.toString("latin1", body + 4, body + 8);
  return handler === "vide" ? "video" : handler === "soun" ? "audio" : null;
}

function readTrack(
  bytes: Buffer,
  trak: BoxHeader,
  kind: "video" | "audio",
  movieTimescale: number,
  maxSamples: number,
): Mp4Track | { skipped: string } {
  const mdia = requireBox(bytes, ["mdia"], trak.payload, trak.end);
  const stbl = requireBox(bytes, ["minf", "stbl"], mdia.payload, mdia.end);
  const stsd = requireBox(bytes, ["stsd"], stbl.payload, stbl.end);
  const entry = readSampleEntry(bytes, stsd);
  if ("skipped" in entry) return entry;
  if ((entry.codec === "avc1") !== (kind === "video")) return { skipped: "other" };
  const mdhd = requireBox(bytes, ["mdhd"], mdia.payload, mdia.end);
  const { timescale, durationTicks } = readTimescaleAndDuration(bytes, mdhd);
  const tkhd = readTkhd(bytes, trak);
  const elst = findBox(bytes, ["edts", "elst"], trak.payload, trak.end);
  return {
    kind,
    trackId: tkhd.trackId,
    timescale,
    durationTicks,
    language: readLanguage(bytes, mdhd),
    entry,
    samples: readSampleTable(bytes, stbl, maxSamples),
    timeShiftTicks: elst ? editShift(bytes, elst, timescale, movieTimescale) : 0,
    displayWidth: tkhd.width,
    displayHeight: tkhd.height,
  };
}

/**
 * tkhd, after the full box header:
 *   version 0: u32 creation, u32 modification, u32 track_ID, u32 reserved, u32 duration
 *   version 1: u64 creation, u64 modification, u32 track_ID, u32 reserved, u64 duration
 *   then u32×2 reserved, s16 layer, s16 alternate_group, s16 volume, u16 reserved,
 *   s32×9 matrix, u32 width (16.16), u32 height (16.16)
 */
function readTkhd(bytes: Buffer, trak: BoxHeader): { trackId: number; width: number; height: number } {
  const tkhd = findBox(bytes, ["tkhd"], trak.payload, trak.end);
  if (!tkhd) return { trackId: 0, width: 0, height: 0 };
  const { version, body } = readFullBoxHeader(bytes, tkhd);
  const idAt = version === 1 ? body + 16 : body + 8;
  const sizeAt = version === 1 ? body + 84 : body + 72;
  need(bytes, idAt, 4, "'tkhd' box");
  if (sizeAt + 8 > tkhd.end) return { trackId: bytes.readUInt32BE(idAt), width: 0, height: 0 };
  return {
    trackId: bytes.readUInt32BE(idAt),
    width: Math.round(bytes.readUInt32BE(sizeAt) / 65536),
    height: Math.round(bytes.readUInt32BE(sizeAt + 4) / 65536),
  };
}

/** mdhd's u16 after the duration: pad bit, then three 5-bit letters offset by 0x60. */
function readLanguage(bytes: Buffer, mdhd: BoxHeader): string {
  const { version, body } = readFullBoxHeader(bytes, mdhd);
  const at = version === 1 ? body + 28 : body + 16;
  if (at + 2 > mdhd.end) return "und";
  const packed = bytes.readUInt16BE(at);
  const letters = [(packed >> 10) & 0x1f, (packed >> 5) & 0x1f, packed & 0x1f];
  return letters.every((c) => c > 0 && c <= 26)
    ? String.fromCharCode(...letters.map((c) => c + 0x60))
    : "und";
}

/**
 * elst, after the full box header: u32 entry_count, then entries of
 *   version 0: u32 segment_duration, s32 media_time, s16 rate, s16 rate_fraction
 *   version 1: u64 segment_duration, s64 media_time, s16 rate, s16 rate_fraction
 * segment_duration is in the movie timescale, media_time in the track's;
 * media_time -1 marks an empty edit (a delay before the track starts).
 * Only leading empty edits and the first media edit are honoured.
 */
function editShift(bytes: Buffer, elst: BoxHeader, timescale: number, movieTimescale: number): number {
  const { version, body } = readFullBoxHeader(bytes, elst);
  need(bytes, body, 4, "'elst' box");
  const count = bytes.readUInt32BE(body);
  const entrySize = version === 1 ? 20 : 12;
  let delay = 0;
  for (let i = 0; i < count; i++) {
    const at = body + 4 + i * entrySize;
    if (at + entrySize > elst.end) break;
    const duration = version === 1 ? Number(bytes.readBigUInt64BE(at)) : bytes.readUInt32BE(at);
    const mediaTime = version === 1 ? Number(bytes.readBigInt64BE(at + 8)) : bytes.readInt32BE(at + 4);
    if (mediaTime === -1) {
      delay += Math.round((duration * timescale) / movieTimescale);
      continue;
    }
    return delay - Math.max(0, mediaTime);
  }
  return delay;
}
