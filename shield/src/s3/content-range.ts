/** The HTTP Range and Content-Range headers of S3's ranged GETs. Pure. */

/** bytes=<offset>-<last>, the Range header of length bytes from offset. */
export function rangeHeader(offset: number, length: number): string {
  return `bytes=${offset}-${offset + length - 1}`;
}

/** "bytes 5-9/1234" → { start: 5, size: 1234 }; undefined when absent, "*" or malformed. */
export function parseContentRange(header: string | undefined): { start: number; size: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes (\d+)-\d+\/(\d+)$/.exec(header.trim());
  return match ? { start: Number(match[1]), size: Number(match[2]) } : undefined;
}
