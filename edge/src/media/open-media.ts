import { BufferedReader } from "./buffered-reader.js";
import { FlvReader } from "./flv/flv-reader.js";
import { mediaInvalid } from "./media-error.js";
import { type MediaLimits, type ResolvedMediaLimits, resolveLimits } from "./media-limits.js";
import type { MediaReader } from "./media-tag.js";
import { Mp3Reader } from "./mp3/mp3-reader.js";
import { Mp4Reader } from "./mp4/mp4-reader.js";
import type { RangeSource } from "./range-source.js";

export const ContainerKind = { Flv: "flv", Mp4: "mp4", Mp3: "mp3" } as const;
export type ContainerKind = (typeof ContainerKind)[keyof typeof ContainerKind];

export type { MediaLimits } from "./media-limits.js";

/** Bytes handed to probe(): enough for an ID3 header, an MP4 box header or two MPEG audio frames. */
const PROBE_BYTES = 4096;

interface Demuxer {
  readonly label: string;
  probe(bytes: Uint8Array): boolean;
  /** `reader` already holds the first block, read for probe(). */
  open(reader: BufferedReader, limits: ResolvedMediaLimits): Promise<MediaReader>;
}

const DEMUXERS: Record<ContainerKind, Demuxer> = {
  flv: { label: "an FLV", probe: FlvReader.probe, open: FlvReader.open },
  mp4: { label: "an MP4", probe: Mp4Reader.probe, open: Mp4Reader.open },
  mp3: { label: "an MP3", probe: Mp3Reader.probe, open: Mp3Reader.open },
};

/**
 * Opens an object for playing, reading only its header by range (the FLV
 * onMetaData and sequence-header tags, the MP4 moov, the MP3 ID3 and
 * Xing/VBRI headers).
 *
 * @throws EdgeError MediaInvalid when the object is not of `kind` or is
 *   malformed; MediaTooLarge when its header exceeds `maxHeaderBytes`.
 */
export async function openMedia(
  kind: ContainerKind,
  source: RangeSource,
  limits?: MediaLimits,
): Promise<MediaReader> {
  const demuxer = DEMUXERS[kind];
  if (!demuxer) throw mediaInvalid(`unknown container kind ${String(kind)}`);
  const resolved = resolveLimits(limits);
  if (source.size === 0) throw mediaInvalid("object is empty");
  // The probe read fills the first read-ahead block, which the demuxer then
  // reuses: opening costs no extra request.
  const reader = new BufferedReader(source, { blockSize: resolved.readAheadBytes });
  const head = await reader.readAt(0, PROBE_BYTES);
  if (!demuxer.probe(head)) throw mediaInvalid(`object is not ${demuxer.label} file`);
  return demuxer.open(reader, resolved);
}
