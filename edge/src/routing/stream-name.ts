import type { ContainerKind } from "../media/open-media.js";

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
/** A signed URL's query: a custom policy and a 4,096-bit key's signature fit with room to spare. */
const maxQueryBytes = 4096;

/**
 * Maps a play name to an S3 key the way FMS and CloudFront did:
 * - `videos/clip` or `videos/clip.flv` → `videos/clip.flv` (FLV)
 * - `mp4:videos/clip` → `videos/clip.mp4`; `mp4:x.f4v` (and .m4v .m4a .mov .3gp) as given
 * - `mp3:audio/song` → `audio/song.mp3`
 *
 * `appPrefix` is what the connect's application carried past `cfx/st/`
 * (ConnectTarget.streamPrefix): players that split a URL at its last slash
 * send `rtmp://h/cfx/st/mp4:videos/clip.mp4` as app `cfx/st/mp4:videos` and
 * name `clip.mp4` — or, librtmp, `mp4:clip.mp4`. The key is the prefix's
 * path and the name's path joined; the container comes from whichever of
 * the two names one (the name's wins).
 *
 * Both parts are percent-decoded (`%20` → space): a URL cannot carry a
 * space, so the printed URLs encode it and ffmpeg and GStreamer send the
 * name as written. librtmp decodes a play path itself, so a key holding a
 * literal `%XX` sequence cannot be named through it by URL.
 *
 * The query string is stripped before the lookup. A name whose path would
 * leave the bucket root (`..`), is empty, or is absurdly long is refused
 * with null; the caller answers StreamNotFound. The name may carry up to
 * 1 KiB before its query and 4 KiB of query (signed URLs).
 */
export function parseStreamName(raw: string, appPrefix = ""): StreamRequest | null {
  if (raw.length === 0) return null;
  const queryAt = raw.indexOf("?");
  const withoutQuery = queryAt === -1 ? raw : raw.slice(0, queryAt);
  const query = queryAt === -1 ? "" : raw.slice(queryAt + 1);
  if (Buffer.byteLength(withoutQuery) + Buffer.byteLength(appPrefix) > maxNameBytes) return null;
  if (Buffer.byteLength(query) > maxQueryBytes) return null;
  const front = splitContainer(appPrefix.split("?")[0]!);
  const back = splitContainer(withoutQuery);
  const container: ContainerKind = back.container ?? front.container ?? "flv";
  const frontPath = percentDecode(front.path).replace(/^\/+|\/+$/g, "");
  const backPath = percentDecode(back.path).replace(/^\/+/, "");
  if (backPath.length === 0) return null;
  const path = frontPath.length > 0 ? `${frontPath}/${backPath}` : backPath;
  if (path.includes("\0") || Buffer.byteLength(path) > maxNameBytes) return null;
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
  return { key, container, query, name: appPrefix.length > 0 ? `${appPrefix}/${raw}` : raw };
}

/**
 * A leading `mp4:`, `mp3:` or `flv:` and the path after it; also written
 * `mp4%3A` — the official CloudFront signer percent-encodes the colon of
 * the name it signs, and players send what they are given.
 */
function splitContainer(text: string): { container: ContainerKind | null; path: string } {
  const prefix = /^(mp4|mp3|flv)(?::|%3a)/i.exec(text);
  if (!prefix) return { container: null, path: text };
  return { container: prefix[1]!.toLowerCase() as ContainerKind, path: text.slice(prefix[0].length) };
}

/**
 * Decodes %XX escapes into the UTF-8 bytes they stand for; a `%` not
 * followed by two hex digits stays as it is (decodeURIComponent would
 * throw), so a key with a bare `%` can still be named.
 */
function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  const raw = Buffer.from(text, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x25 && i + 2 < raw.length && isHex(raw[i + 1]!) && isHex(raw[i + 2]!)) {
      bytes.push(Number.parseInt(String.fromCharCode(raw[i + 1]!, raw[i + 2]!), 16));
      i += 2;
    } else {
      bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function extensionOf(path: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  return dot > slash ? path.slice(dot).toLowerCase() : "";
}
