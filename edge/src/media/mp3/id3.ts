/**
 * ID3v2 header, 10 bytes:
 *
 *   0  "ID3"
 *   3  u8   major version (2, 3, 4), u8 revision
 *   5  u8   flags: 0x10 = a 10-byte footer follows the tag (v2.4)
 *   6  4×u8 size of the tag after this header (excluding a footer),
 *           "syncsafe": 7 bits per byte, high bit always 0
 */
export const ID3_HEADER_SIZE = 10;

/** Total bytes of the ID3v2 tag at `offset` (header, body, footer), or 0 when none starts there. */
export function id3v2Size(bytes: Uint8Array, offset: number): number {
  if (offset < 0 || offset + ID3_HEADER_SIZE > bytes.length) return 0;
  if (bytes[offset] !== 0x49 || bytes[offset + 1] !== 0x44 || bytes[offset + 2] !== 0x33) return 0;
  const s = [bytes[offset + 6]!, bytes[offset + 7]!, bytes[offset + 8]!, bytes[offset + 9]!];
  if (s.some((b) => b & 0x80) || bytes[offset + 3] === 0xff || bytes[offset + 4] === 0xff) return 0;
  const size = (s[0]! << 21) | (s[1]! << 14) | (s[2]! << 7) | s[3]!;
  const footer = bytes[offset + 5]! & 0x10 ? ID3_HEADER_SIZE : 0;
  return ID3_HEADER_SIZE + size + footer;
}

/** ID3v1 is a fixed 128-byte trailer starting "TAG". */
export const ID3V1_SIZE = 128;

export function isId3v1(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x54 && bytes[1] === 0x41 && bytes[2] === 0x47;
}
