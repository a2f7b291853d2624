/** RTMP message type ids, which FLV reuses as its tag types. */
export const TagKind = { Audio: 8, Video: 9, Data: 18 } as const;
export type TagKind = (typeof TagKind)[keyof typeof TagKind];

/** One RTMP audio/video/data message body (= one FLV tag body). */
export interface MediaTag {
  kind: TagKind;
  /** Decode timestamp in ms (the RTMP message timestamp). */
  timestampMs: number;
  body: Buffer;
  /**
   * Video: a key frame (FLV frame type 1, MP4 sync sample). Audio: always
   * true, every audio frame decodes on its own. Data: false.
   */
  keyframe: boolean;
  /** true for AVC/AAC sequence headers */
  sequenceHeader: boolean;
}

/** Why a track is left out of a play, a fixed set (a metric label). */
export const SkipReason = {
  /** FLV (so RTMP) has no codec id for it: HEVC, AV1, Opus, … */
  CodecNotInFlv: "codec_not_in_flv",
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** A track of the object that a play leaves out. */
export interface SkippedTrack {
  readonly kind: "audio" | "video";
  /** A short codec name from a fixed set (see mp4/sample-entry.ts SkippedEntry). */
  readonly codec: string;
  readonly reason: SkipReason;
}

export interface MediaReader {
  /** Tracks of the object this reader leaves out, with why; absent or empty when it plays all of it. */
  readonly skippedTracks?: readonly SkippedTrack[];
  /** The onMetaData script-data body to send before media (AMF0: "onMetaData", object), or null. */
  readonly metadata: Buffer | null;
  readonly durationMs: number;
  readonly hasAudio: boolean;
  readonly hasVideo: boolean;
  /** Sequence headers (AVC decoder config, AAC AudioSpecificConfig) to send before the first media tag. May be empty. */
  readonly sequenceHeaders: readonly MediaTag[];
  /** Next media tag in decode-timestamp order, or null at the end of the object. Never returns the sequence headers again. */
  next(): Promise<MediaTag | null>;
  /**
   * Optional fast path: next()'s answer when it needs no I/O, undefined when
   * it does (then call next()). Saves a promise per tag on cached files.
   */
  nextSync?(): MediaTag | null | undefined;
  /** Positions the reader at the last keyframe (video) or frame (audio-only) at or before ms; returns its timestamp. */
  seek(ms: number): Promise<number>;
}
