import type { ContainerKind } from "./media/open-media.js";

/** What a `play` stream name asks for, once mapped to an S3 key. */
export interface StreamRequest {
  /** The S3 object key, e.g. videos/clip.flv. */
  readonly key: string;
  readonly container: ContainerKind;
  /** The query after '?', kept for signed URLs; never part of the key. */
  readonly query: string;
  /** The name as the viewer sent it, for logs and status descriptions. */
  readonly name: string;
}

const mp4Extensions = new Set([".mp4", ".f4v", ".m4v", ".m4a", ".mov", ".3gp"]);
const maxNameBytes = 1024;

/**
 * Maps a play name to an S3 key the way FMS and CloudFront did:
 * - `videos/clip` or `videos/clip.flv` → `videos/clip.flv` (FLV)
 * - `mp4:videos/clip` → `videos/clip.mp4`; `mp4:x.f4v` (and .m4v .m4a .mov .3gp) as given
 * - `mp3:audio/song` → `audio/song.mp3`
 * The query string is stripped before the lookup. A name whose path would
 * leave the bucket root (`..`), is empty, or is absurdly long is refused
 * with null; the caller answers StreamNotFound.
 */
export function parseStreamName(raw: string): StreamRequest | null {
  if (raw.length === 0 || Buffer.byteLength(raw) > maxNameBytes) return null;
  const queryAt = raw.indexOf("?");
  const withoutQuery = queryAt === -1 ? raw : raw.slice(0, queryAt);
  const query = queryAt === -1 ? "" : raw.slice(queryAt + 1);
  let container: ContainerKind = "flv";
  let path = withoutQuery;
  const prefix = /^(mp4|mp3|flv):/i.exec(path);
  if (prefix) {
    container = prefix[1]!.toLowerCase() as ContainerKind;
    path = path.slice(prefix[0].length);
  }
  path = path.replace(/^\/+/, "");
  if (path.length === 0 || path.includes("\0")) return null;
  const segments = path.split("/");
  if (segments.some((s) => s === ".." || s === ".")) return null;
  const extension = extensionOf(path);
  let key: string;
  switch (container) {
    case "flv":
      key = extension === ".flv" ? path : `${path}.flv`;
      break;
    case "mp3":
      key = extension === ".mp3" ? path : `${path}.mp3`;
      break;
    case "mp4":
      key = mp4Extensions.has(extension) ? path : `${path}.mp4`;
      break;
  }
  return { key, container, query, name: raw };
}

function extensionOf(path: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  return dot > slash ? path.slice(dot).toLowerCase() : "";
}
