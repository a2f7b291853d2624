import { open } from "node:fs/promises";
import { openMedia } from "../../edge/src/media/open-media.js";
import type { RangeSource } from "../../edge/src/media/range-source.js";
import { errorMessage } from "../../lib/errors.js";

/**
 * How a viewer names an S3 key in `play`, as CloudFront did: FLV
 * without its extension, `mp3:` without it, `mp4:` with it. null for keys
 * that are not media an RTMP player can play.
 */
export function playNameFor(key: string): string | null {
  const lower = key.toLowerCase();
  if (lower.endsWith(".flv")) return key.slice(0, -4);
  if (lower.endsWith(".mp3")) return `mp3:${key.slice(0, -4)}`;
  if ([".mp4", ".f4v", ".m4v", ".m4a", ".mov", ".3gp"].some((ext) => lower.endsWith(ext)))
    return `mp4:${key}`;
  return null;
}

/**
 * A play name as it goes in a URL: each path segment percent-encoded, so a
 * key with spaces, `%`, `?` or `#` plays from the printed URL. ffmpeg and
 * GStreamer send the path as written and the edge decodes it; librtmp
 * (rtmpdump, VLC, GStreamer's rtmpsrc) decodes the play path itself. The
 * `mp4:`/`mp3:` prefix stays as players expect it.
 */
export function urlPathFor(playName: string): string {
  const prefix = /^(mp4|mp3):/.exec(playName)?.[0] ?? "";
  return (
    prefix +
    playName
      .slice(prefix.length)
      .split("/")
      .map((segment) => encodeURIComponent(segment))
      .join("/")
  );
}

/** What npm start's listing says of one object: how to play it, or why it cannot be. */
export type ObjectListing =
  | { readonly key: string; readonly playName: string; readonly note: string }
  | { readonly key: string; readonly playName: null; readonly note: string };

/** Video and audio containers a viewer might expect to play, and why RTMP cannot carry them. */
const unservable: Record<string, string> = {
  ".ogv": "Ogg (Theora/Vorbis): RTMP carries H.264, AAC and MP3 in FLV, MP4 or MP3 files",
  ".ogg": "Ogg (Vorbis/Opus): RTMP carries AAC and MP3 audio",
  ".oga": "Ogg audio: RTMP carries AAC and MP3 audio",
  ".opus": "Opus: RTMP carries AAC and MP3 audio",
  ".webm": "WebM (VP8/VP9/AV1): RTMP carries H.264 video",
  ".mkv": "Matroska: serve it remuxed to MP4 or FLV",
  ".avi": "AVI: serve it remuxed to MP4 or FLV",
  ".wmv": "Windows Media: serve it transcoded to H.264 in MP4 or FLV",
  ".ts": "MPEG-TS: serve it remuxed to MP4 or FLV",
  ".wav": "WAV: serve it as MP3 or AAC (.m4a)",
  ".flac": "FLAC: serve it as MP3 or AAC (.m4a)",
};

/**
 * Describes one object of the media folder for the listing: its play name,
 * with a note when a play leaves tracks out (an MP4's HEVC video), or no
 * play name and the reason. `file` is the object's local file: the listing
 * opens MP4s with the edge's own reader (by range: only moov is read), so
 * it says what a play will do.
 */
export async function describeObject(key: string, file: string): Promise<ObjectListing> {
  const playName = playNameFor(key);
  const lower = key.toLowerCase();
  if (!playName) {
    const ext = lower.slice(lower.lastIndexOf("."));
    return { key, playName: null, note: unservable[ext] ?? "not an FLV, MP4 or MP3 file" };
  }
  if (!playName.startsWith("mp4:")) return { key, playName, note: "" };
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const source: RangeSource = {
      size,
      async read(offset, length) {
        const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        return buffer.subarray(0, bytesRead);
      },
    };
    const reader = await openMedia("mp4", source);
    const skipped = reader.skippedTracks ?? [];
    if (skipped.length === 0) return { key, playName, note: "" };
    const what = skipped.map((t) => `${t.kind} ${t.codec}`).join(", ");
    return {
      key,
      playName,
      note: `plays ${reader.hasVideo ? "video" : "audio"} only: ${what} cannot go over RTMP`,
    };
  } catch (error) {
    return { key, playName: null, note: errorMessage(error) };
  } finally {
    await handle.close();
  }
}
