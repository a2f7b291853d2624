import { crc32 } from "node:zlib";

/**
 * One slice file of the disk tier:
 *
 *   offset  size  field
 *   0       8     magic "SFSLICE" + format version byte (1)
 *   8       4     header bytes (32 + key bytes), u32 LE
 *   12      4     key bytes, u32 LE
 *   16      4     data bytes, u32 LE
 *   20      4     CRC-32 of bytes 8–19 and 24–end (lengths, object size, key, data), u32 LE
 *   24      6     object size, u48 LE (S3 objects are at most 5 TB < 2^48)
 *   30      2     zero
 *   32      …     slice id (UTF-8), then the data
 *
 * The id in the file is compared with the one asked for, so a hash
 * collision or a misplaced file is a miss, not wrong bytes. CRC-32 (zlib,
 * native) rather than SHA-256: it is there to catch torn writes and bit rot
 * on the shield's own disk, not an attacker, and it checks at memory speed.
 */

const sliceFileMagic = Buffer.from("SFSLICE\x01", "latin1");
export const sliceHeaderFixedBytes = 32;
/** Slice ids are bucket + key (≤ 1024 bytes) + ETag + a few numbers; anything larger is not ours. */
export const maxSliceIdBytes = 4096;

export interface SliceFileHeader {
  readonly headerBytes: number;
  readonly keyBytes: number;
  readonly dataBytes: number;
  readonly crc: number;
  readonly objectSize: number;
}

/** The header (with the id) to write before `data`; the two together are the file. */
export function encodeSliceHeader(id: string, data: Buffer, objectSize: number): Buffer {
  const key = Buffer.from(id, "utf8");
  if (key.length > maxSliceIdBytes) throw new RangeError(`slice id is too long (${key.length} bytes)`);
  const header = Buffer.alloc(sliceHeaderFixedBytes + key.length);
  sliceFileMagic.copy(header, 0);
  header.writeUInt32LE(header.length, 8);
  header.writeUInt32LE(key.length, 12);
  header.writeUInt32LE(data.length, 16);
  header.writeUIntLE(objectSize, 24, 6);
  key.copy(header, sliceHeaderFixedBytes);
  header.writeUInt32LE(checksum(header, data), 20);
  return header;
}

/**
 * Reads the fixed part of a header; a string says what is wrong. Checks
 * only what the first 32 bytes and the file's size can tell (the start-up
 * scan reads no more); the CRC is checked by verifySliceFile.
 */
export function decodeSliceHeader(
  fixed: Buffer,
  fileBytes: number,
  maxDataBytes: number,
): SliceFileHeader | string {
  if (fixed.length < sliceHeaderFixedBytes) return "shorter than a header";
  if (!fixed.subarray(0, 8).equals(sliceFileMagic)) return "not a slice file (magic)";
  const headerBytes = fixed.readUInt32LE(8);
  const keyBytes = fixed.readUInt32LE(12);
  const dataBytes = fixed.readUInt32LE(16);
  if (keyBytes === 0 || keyBytes > maxSliceIdBytes || headerBytes !== sliceHeaderFixedBytes + keyBytes) {
    return "header lengths are inconsistent";
  }
  if (dataBytes === 0 || dataBytes > maxDataBytes) return `data length ${dataBytes} is out of bounds`;
  if (headerBytes + dataBytes !== fileBytes) {
    return `file is ${fileBytes} bytes, header says ${headerBytes + dataBytes} (partial write?)`;
  }
  return {
    headerBytes,
    keyBytes,
    dataBytes,
    crc: fixed.readUInt32LE(20),
    objectSize: fixed.readUIntLE(24, 6),
  };
}

/** The slice in a whole file's bytes, or what is wrong with them. `data` is a view of `file`. */
export function verifySliceFile(
  file: Buffer,
  expectedId: string,
  maxDataBytes: number,
): { data: Buffer; objectSize: number } | string {
  const header = decodeSliceHeader(file, file.length, maxDataBytes);
  if (typeof header === "string") return header;
  const id = file.toString("utf8", sliceHeaderFixedBytes, header.headerBytes);
  if (id !== expectedId) return "holds another slice (id differs)";
  const data = file.subarray(header.headerBytes);
  if (checksum(file.subarray(0, header.headerBytes), data) !== header.crc) return "checksum mismatch";
  if (header.objectSize < data.length) return "object size is smaller than the slice";
  return { data, objectSize: header.objectSize };
}

function checksum(header: Buffer, data: Buffer): number {
  let crc = crc32(header.subarray(8, 20));
  crc = crc32(header.subarray(24), crc);
  return crc32(data, crc);
}
