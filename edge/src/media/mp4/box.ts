import { mediaInvalid, need } from "../media-error.js";

/**
 * ISO BMFF box header (ISO/IEC 14496-12 §4.2):
 *
 *   0  u32  size of the whole box including this header;
 *           1 = a u64 largesize follows the type, 0 = the box runs to the end
 *           of its container (only legal for the last box, e.g. a streamed mdat)
 *   4  4cc  type
 *   8  u64  largesize (only when size == 1)
 *
 * A `uuid` box adds a 16-byte user type after that; nothing this edge reads
 * lives in one, so its payload is left opaque.
 */
export interface BoxHeader {
  type: string;
  /** Offset of the box's first byte. */
  start: number;
  headerSize: number;
  /** Offset of the payload (start + headerSize). */
  payload: number;
  /** Offset just past the box. */
  end: number;
}

/** The smallest header: u32 size + type. */
const BOX_HEADER_SIZE = 8;
/** The largest header this reader needs in view: size, type, largesize. */
export const MAX_BOX_HEADER_SIZE = 16;

/**
 * Reads the box header at `offset`. `containerEnd` is where the enclosing
 * container ends (the object's size at the top level) and is what size 0
 * means; it may lie beyond `bytes` when only a header window was read.
 */
export function readBoxHeader(bytes: Buffer, offset: number, containerEnd: number = bytes.length): BoxHeader {
  need(bytes, offset, BOX_HEADER_SIZE, "box header");
  const size32 = bytes.readUInt32BE(offset);
  const type = bytes.toString("latin1", offset + 4, offset + 8);
  let headerSize = BOX_HEADER_SIZE;
  let size: number;
  if (size32 === 1) {
    need(bytes, offset, MAX_BOX_HEADER_SIZE, `'${printable(type)}' box largesize`);
    const large = bytes.readBigUInt64BE(offset + 8);
    if (large > BigInt(Number.MAX_SAFE_INTEGER))
      throw mediaInvalid(`'${printable(type)}' box size ${large} is too large`);
    size = Number(large);
    headerSize = MAX_BOX_HEADER_SIZE;
  } else if (size32 === 0) {
    size = containerEnd - offset;
  } else {
    size = size32;
  }
  if (size < headerSize) {
    throw mediaInvalid(`'${printable(type)}' box at ${offset} has size ${size}, less than its header`);
  }
  return { type, start: offset, headerSize, payload: offset + headerSize, end: offset + size };
}

/** The boxes directly inside [start, end) of `bytes`; a child overrunning its parent is malformed. */
export function childBoxes(bytes: Buffer, start: number, end: number): BoxHeader[] {
  if (end > bytes.length)
    throw mediaInvalid(`box content ends at ${end}, past the ${bytes.length} bytes read`);
  const boxes: BoxHeader[] = [];
  let offset = start;
  // Fewer than 8 trailing bytes are padding some muxers leave; ignore them.
  while (end - offset >= BOX_HEADER_SIZE) {
    const box = readBoxHeader(bytes, offset, end);
    if (box.end > end) {
      throw mediaInvalid(
        `'${printable(box.type)}' box at ${offset} overruns its container (${box.end} > ${end})`,
      );
    }
    boxes.push(box);
    offset = box.end;
  }
  return boxes;
}

/**
 * The first box along `path` (e.g. ["mdia", "minf", "stbl"]) inside
 * [start, end), or null.
 */
export function findBox(
  bytes: Buffer,
  path: readonly string[],
  start = 0,
  end = bytes.length,
): BoxHeader | null {
  let found: BoxHeader | null = null;
  let from = start;
  let to = end;
  for (const type of path) {
    found = childBoxes(bytes, from, to).find((box) => box.type === type) ?? null;
    if (!found) return null;
    from = found.payload;
    to = found.end;
  }
  return found;
}

/** Like findBox, but throws MediaInvalid naming the path when the box is absent. */
export function requireBox(bytes: Buffer, path: readonly string[], start = 0, end = bytes.length): BoxHeader {
  const box = findBox(bytes, path, start, end);
  if (!box) throw mediaInvalid(`missing '${path.join("/")}' box`);
  return box;
}

/**
 * Full box prefix (§4.2): u8 version, u24 flags, then the box's fields.
 * Returns the version and the offset of the first field.
 */
export function readFullBoxHeader(
  bytes: Buffer,
  box: BoxHeader,
): { version: number; flags: number; body: number } {
  need(bytes, box.payload, 4, `'${box.type}' full box header`);
  if (box.end - box.payload < 4) throw mediaInvalid(`'${box.type}' box is too short`);
  return { version: bytes[box.payload]!, flags: bytes.readUIntBE(box.payload + 1, 3), body: box.payload + 4 };
}

/** Box types that can start an MP4/MOV/3GP/F4V file. */
const TOP_LEVEL_TYPES = new Set([
  "ftyp",
  "moov",
  "mdat",
  "free",
  "skip",
  "wide",
  "pnot",
  "uuid",
  "styp",
  "pdin",
  "meta",
]);

/** A plausible first box header: a known top-level type with a consistent size. */
export function probeMp4(bytes: Uint8Array): boolean {
  if (bytes.length < BOX_HEADER_SIZE) return false;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = buf.readUInt32BE(0);
  if (size !== 0 && size !== 1 && size < BOX_HEADER_SIZE) return false;
  return TOP_LEVEL_TYPES.has(buf.toString("latin1", 4, 8));
}

/** Box types are 4 bytes chosen by the file: keep error messages printable. */
function printable(type: string): string {
  return type.replace(/[^\x20-\x7e]/g, "?");
}
