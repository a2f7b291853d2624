/**
 * How a viewer names an S3 key in `play` (cloudfront-rtmp.md §2.2): FLV
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
