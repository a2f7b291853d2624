import type { BufferedReader } from "../buffered-reader.js";
import { mediaInvalid, mediaTooLarge } from "../media-error.js";
import type { ResolvedMediaLimits } from "../media-limits.js";
import { type MediaReader, type MediaTag, TagKind } from "../media-tag.js";
import {
  amfObject,
  decodeOnMetaData,
  encodeOnMetaData,
  type KeyframeIndex,
  keyframeIndex,
  numberProp,
} from "../on-metadata.js";
import { lastAtOrBefore } from "../sorted.js";
import {
  FLV_HEADER_SIZE,
  type FlvTagHeader,
  isAacSequenceHeader,
  isAvcSequenceHeader,
  isVideoKeyframe,
  isVideoSeekPoint,
  MAX_TAG_DATA_SIZE,
  PREVIOUS_TAG_SIZE_BYTES,
  parseFlvHeader,
  parseTagHeader,
  probeFlv,
  TAG_HEADER_SIZE,
} from "./flv-format.js";

interface Tag {
  offset: number;
  header: FlvTagHeader;
  body: Buffer;
  /** Offset of the tag after this one. */
  end: number;
}

/** Sequence headers are looked for only among the first tags; they always lead in practice. */
const MAX_LEADING_TAGS = 64;
/** Audio-only files remember one seek point per this many ms rather than every frame. */
const AUDIO_SEEK_POINT_SPACING_MS = 1000;

/**
 * Plays an FLV object tag by tag. Tag bodies are already RTMP message
 * bodies, so next() hands them out unchanged (as views into the read-ahead
 * block).
 */
/** Longest duration taken from onMetaData: 2^32 ms, the span of an RTMP timestamp. */
const MAX_DURATION_MS = 2 ** 32;

export class FlvReader implements MediaReader {
  readonly metadata: Buffer | null;
  readonly durationMs: number;
  readonly hasAudio: boolean;
  readonly hasVideo: boolean;
  readonly sequenceHeaders: readonly MediaTag[];

  readonly #reader: BufferedReader;
  readonly #firstMediaOffset: number;
  /** The onMetaData tag next() must not send again, or -1. */
  readonly #metadataOffset: number;
  #index: KeyframeIndex | null;
  #position: number;
  /** Seek points learned by reading tags: keyframes, or for audio-only files sparse audio frames. */
  readonly #pointTimes: number[] = [];
  readonly #pointOffsets: number[] = [];
  /** Every tag before this offset has been seen and its seek point recorded. */
  #frontier: number;
  #frontierTimeMs = -1;

  static probe(bytes: Uint8Array): boolean {
    return probeFlv(bytes);
  }

  /** Reads the header and leading tags through `reader`, which the FlvReader keeps. */
  static async open(reader: BufferedReader, limits: ResolvedMediaLimits): Promise<FlvReader> {
    const header = parseFlvHeader(await reader.readAt(0, FLV_HEADER_SIZE));
    const firstTag = header.dataOffset + PREVIOUS_TAG_SIZE_BYTES;

    let metadataBody: Buffer | null = null;
    let metadataOffset = -1;
    let videoHeader: MediaTag | null = null;
    let audioHeader: MediaTag | null = null;
    let offset = firstTag;
    for (let i = 0; i < MAX_LEADING_TAGS; i++) {
      const tag = await readTag(reader, offset, limits.maxHeaderBytes);
      if (tag === null) break;
      const { type, timestampMs } = tag.header;
      if (type === TagKind.Data && metadataOffset < 0 && decodeOnMetaData(tag.body) !== null) {
        metadataBody = Buffer.from(tag.body);
        metadataOffset = tag.offset;
      } else if (type === TagKind.Video && isAvcSequenceHeader(tag.body)) {
        videoHeader = sequenceHeader(TagKind.Video, timestampMs, tag.body);
      } else if (type === TagKind.Audio && isAacSequenceHeader(tag.body)) {
        audioHeader = sequenceHeader(TagKind.Audio, timestampMs, tag.body);
      } else if (isMediaType(type) && tag.body.length > 0) {
        break;
      }
      offset = tag.end;
    }

    const props = decodeOnMetaData(metadataBody ?? Buffer.alloc(0));
    const hasVideo =
      header.hasVideo || videoHeader !== null || numberProp(props, "videocodecid") !== undefined;
    const hasAudio =
      header.hasAudio || audioHeader !== null || numberProp(props, "audiocodecid") !== undefined;
    let durationMs = Math.round((numberProp(props, "duration") ?? 0) * 1000);
    // onMetaData is the file's word, not a fact: absurd values (1e306 s → Infinity ms) fall back too.
    if (!(durationMs > 0 && durationMs < MAX_DURATION_MS)) durationMs = await lastTagTime(reader);
    const metadata =
      metadataBody ?? encodeOnMetaData(amfObject({ duration: durationMs / 1000, hasAudio, hasVideo }));

    const sequenceHeaders: MediaTag[] = [];
    if (videoHeader) sequenceHeaders.push(videoHeader);
    if (audioHeader) sequenceHeaders.push(audioHeader);
    return new FlvReader({
      reader,
      metadata,
      metadataOffset,
      durationMs,
      hasAudio,
      hasVideo,
      sequenceHeaders,
      firstMediaOffset: firstTag,
      index: keyframeIndex(props, reader.size),
    });
  }

  private constructor(init: {
    reader: BufferedReader;
    metadata: Buffer;
    metadataOffset: number;
    durationMs: number;
    hasAudio: boolean;
    hasVideo: boolean;
    sequenceHeaders: MediaTag[];
    firstMediaOffset: number;
    index: KeyframeIndex | null;
  }) {
    this.#reader = init.reader;
    this.metadata = init.metadata;
    this.#metadataOffset = init.metadataOffset;
    this.durationMs = init.durationMs;
    this.hasAudio = init.hasAudio;
    this.hasVideo = init.hasVideo;
    this.sequenceHeaders = init.sequenceHeaders;
    this.#firstMediaOffset = init.firstMediaOffset;
    this.#position = init.firstMediaOffset;
    this.#frontier = init.firstMediaOffset;
    this.#index = init.index;
  }

  async next(): Promise<MediaTag | null> {
    for (;;) {
      const tag = await readTag(this.#reader, this.#position, MAX_TAG_DATA_SIZE);
      if (tag === null) {
        this.#position = this.#reader.size;
        return null;
      }
      const media = this.#accept(tag);
      if (media) return media;
    }
  }

  /**
   * next() without a promise when the tags are already in memory (the
   * edge's slice cache holds the file): undefined means "call next()".
   */
  nextSync(): MediaTag | null | undefined {
    for (;;) {
      const tag = readTagSync(this.#reader, this.#position, MAX_TAG_DATA_SIZE);
      if (tag === undefined) return undefined;
      if (tag === null) {
        this.#position = this.#reader.size;
        return null;
      }
      const media = this.#accept(tag);
      if (media) return media;
    }
  }

  /** Moves past tag, learning its seek point on the way; the tag to play, or null to skip it. */
  #accept(tag: Tag): MediaTag | null {
    this.#position = tag.end;
    if (tag.offset === this.#frontier) this.#learn(tag.offset, tag.header, tag.body, tag.end);
    return this.#toMediaTag(tag);
  }

  async seek(ms: number): Promise<number> {
    const target = Number.isFinite(ms) ? Math.max(0, ms) : 0;
    const found = (await this.#seekByIndex(target)) ?? (await this.#seekByScan(target));
    if (found) {
      this.#position = found.offset;
      return found.timestampMs;
    }
    // Before the first seek point: play from the start.
    this.#position = this.#firstMediaOffset;
    const first = await this.#peekHeader(this.#firstMediaOffset);
    return first?.header.timestampMs ?? 0;
  }

  #toMediaTag(tag: Tag): MediaTag | null {
    const { type, filtered, timestampMs } = tag.header;
    if (filtered) throw mediaInvalid(`FLV tag at ${tag.offset} is encrypted`);
    const body = tag.body;
    if (body.length === 0 || tag.offset === this.#metadataOffset) return null;
    switch (type) {
      case TagKind.Video: {
        const isHeader = isAvcSequenceHeader(body);
        if (isHeader && this.#isKnownHeader(TagKind.Video, body)) return null;
        return {
          kind: TagKind.Video,
          timestampMs,
          body,
          keyframe: isVideoKeyframe(body),
          sequenceHeader: isHeader,
        };
      }
      case TagKind.Audio: {
        const isHeader = isAacSequenceHeader(body);
        if (isHeader && this.#isKnownHeader(TagKind.Audio, body)) return null;
        return { kind: TagKind.Audio, timestampMs, body, keyframe: true, sequenceHeader: isHeader };
      }
      case TagKind.Data:
        return { kind: TagKind.Data, timestampMs, body, keyframe: false, sequenceHeader: false };
      default:
        // Reserved tag types carry nothing a player can use.
        return null;
    }
  }

  /** A repeat of a header already sent up front; a different one (a codec change) is passed on. */
  #isKnownHeader(kind: TagKind, body: Buffer): boolean {
    return this.sequenceHeaders.some((h) => h.kind === kind && h.body.equals(body));
  }

  async #seekByIndex(ms: number): Promise<{ offset: number; timestampMs: number } | null> {
    const index = this.#index;
    if (!index) return null;
    const i = lastAtOrBefore(index.timesMs, ms);
    if (i < 0) return null;
    const offset = index.positions[i]!;
    const peeked = await this.#peekHeader(offset);
    if (!peeked || peeked.header.type !== TagKind.Video || !isVideoSeekPoint(peeked.first)) {
      // The index does not match this file (e.g. edited after indexing): stop trusting it.
      this.#index = null;
      return null;
    }
    return { offset, timestampMs: peeked.header.timestampMs };
  }

  /**
   * Reads tag headers forward from what is already known until a tag after
   * ms, remembering seek points on the way so later seeks are free.
   */
  async #seekByScan(ms: number): Promise<{ offset: number; timestampMs: number } | null> {
    if (this.hasVideo) {
      while (this.#frontierTimeMs <= ms && this.#frontier < this.#reader.size) {
        if (!(await this.#scanOne(this.#frontier))) break;
      }
      const i = lastAtOrBefore(this.#pointTimes, ms);
      return i < 0 ? null : { offset: this.#pointOffsets[i]!, timestampMs: this.#pointTimes[i]! };
    }
    // Audio-only: every frame is a seek point, so walk from the nearest
    // remembered point to the last frame at or before ms.
    const i = lastAtOrBefore(this.#pointTimes, ms);
    let offset = i < 0 ? this.#firstMediaOffset : this.#pointOffsets[i]!;
    let best: { offset: number; timestampMs: number } | null = null;
    while (offset < this.#reader.size) {
      const peeked = await this.#peekHeader(offset);
      if (!peeked) break;
      const { header, end } = peeked;
      if (offset === this.#frontier) this.#learn(offset, header, peeked.first, end);
      if (header.timestampMs > ms) break;
      if (header.type === TagKind.Audio && header.dataSize > 0 && !isAacSequenceHeader(peeked.first)) {
        best = { offset, timestampMs: header.timestampMs };
      }
      offset = end;
    }
    return best;
  }

  async #scanOne(offset: number): Promise<boolean> {
    const peeked = await this.#peekHeader(offset);
    if (!peeked) {
      this.#frontier = this.#reader.size;
      return false;
    }
    this.#learn(offset, peeked.header, peeked.first, peeked.end);
    return true;
  }

  /** Records the tag at the frontier as a seek point if it is one, and moves the frontier past it. */
  #learn(offset: number, header: FlvTagHeader, first: Buffer, end: number): void {
    const ts = header.timestampMs;
    const last = this.#pointTimes.length - 1;
    if (this.hasVideo) {
      if (header.type === TagKind.Video && isVideoSeekPoint(first)) {
        this.#pushPoint(ts, offset);
      }
    } else if (
      header.type === TagKind.Audio &&
      header.dataSize > 0 &&
      !isAacSequenceHeader(first) &&
      (last < 0 || ts >= this.#pointTimes[last]! + AUDIO_SEEK_POINT_SPACING_MS)
    ) {
      this.#pushPoint(ts, offset);
    }
    this.#frontier = end;
    this.#frontierTimeMs = Math.max(this.#frontierTimeMs, ts);
  }

  #pushPoint(ts: number, offset: number): void {
    // Timestamps that go backwards would break the binary search; such a
    // point is simply not remembered.
    const last = this.#pointTimes.length - 1;
    if (last >= 0 && ts < this.#pointTimes[last]!) return;
    this.#pointTimes.push(ts);
    this.#pointOffsets.push(offset);
  }

  /** The tag header plus the first two body bytes (enough to classify it) without reading the body. */
  async #peekHeader(offset: number): Promise<{ header: FlvTagHeader; first: Buffer; end: number } | null> {
    const bytes = await this.#reader.readAt(offset, TAG_HEADER_SIZE + 2);
    if (bytes.length < TAG_HEADER_SIZE) return null;
    const header = parseTagHeader(bytes, 0);
    checkTagSize(header, offset, MAX_TAG_DATA_SIZE);
    const end = offset + TAG_HEADER_SIZE + header.dataSize + PREVIOUS_TAG_SIZE_BYTES;
    if (offset + TAG_HEADER_SIZE + header.dataSize > this.#reader.size) return null;
    const first = bytes.subarray(TAG_HEADER_SIZE, TAG_HEADER_SIZE + Math.min(2, header.dataSize));
    return { header, first, end };
  }
}

function isMediaType(type: number): boolean {
  return type === TagKind.Audio || type === TagKind.Video;
}

function sequenceHeader(kind: TagKind, timestampMs: number, body: Buffer): MediaTag {
  // Copied: it is sent again on every play and seek, and must not pin a read-ahead block.
  return {
    kind,
    timestampMs,
    body: Buffer.from(body),
    keyframe: kind === TagKind.Video,
    sequenceHeader: true,
  };
}

function checkTagSize(header: FlvTagHeader, offset: number, maxScriptSize: number): void {
  if (header.dataSize > MAX_TAG_DATA_SIZE) {
    throw mediaInvalid(`FLV tag at ${offset} declares ${header.dataSize} bytes (max ${MAX_TAG_DATA_SIZE})`);
  }
  if (header.type === TagKind.Data && header.dataSize > maxScriptSize) {
    throw mediaTooLarge(`FLV script tag at ${offset} is ${header.dataSize} bytes (max ${maxScriptSize})`);
  }
}

/** The tag at offset, or null when the object ends before the tag does (a truncated last tag ends playback cleanly). */
async function readTag(reader: BufferedReader, offset: number, maxScriptSize: number): Promise<Tag | null> {
  const head = await reader.readAt(offset, TAG_HEADER_SIZE);
  if (head.length < TAG_HEADER_SIZE) return null;
  const header = parseTagHeader(head, 0);
  checkTagSize(header, offset, maxScriptSize);
  const body = await reader.readAt(offset + TAG_HEADER_SIZE, header.dataSize);
  if (body.length < header.dataSize) return null;
  return { offset, header, body, end: offset + TAG_HEADER_SIZE + header.dataSize + PREVIOUS_TAG_SIZE_BYTES };
}

/** readTag from bytes already in memory; undefined when they are not (or at the object's end, which readTag decides). */
function readTagSync(reader: BufferedReader, offset: number, maxScriptSize: number): Tag | null | undefined {
  const head = reader.tryReadAt(offset, TAG_HEADER_SIZE);
  if (head === null || head.length < TAG_HEADER_SIZE) return undefined;
  const header = parseTagHeader(head, 0);
  checkTagSize(header, offset, maxScriptSize);
  const body = reader.tryReadAt(offset + TAG_HEADER_SIZE, header.dataSize);
  if (body === null || body.length < header.dataSize) return undefined;
  return { offset, header, body, end: offset + TAG_HEADER_SIZE + header.dataSize + PREVIOUS_TAG_SIZE_BYTES };
}

/**
 * Duration from the last tag's timestamp, found through the trailing
 * PreviousTagSize: one small range read instead of a walk over the file.
 */
async function lastTagTime(reader: BufferedReader): Promise<number> {
  const size = reader.size;
  if (size < FLV_HEADER_SIZE + PREVIOUS_TAG_SIZE_BYTES + TAG_HEADER_SIZE) return 0;
  const tail = await reader.readAt(size - PREVIOUS_TAG_SIZE_BYTES, PREVIOUS_TAG_SIZE_BYTES);
  const previousTagSize = tail.readUInt32BE(0);
  const offset = size - PREVIOUS_TAG_SIZE_BYTES - previousTagSize;
  if (previousTagSize < TAG_HEADER_SIZE || offset < FLV_HEADER_SIZE) return 0;
  const header = parseTagHeader(await reader.readAt(offset, TAG_HEADER_SIZE), 0);
  return header.dataSize + TAG_HEADER_SIZE === previousTagSize ? header.timestampMs : 0;
}
