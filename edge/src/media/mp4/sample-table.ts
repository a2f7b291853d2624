import { mediaInvalid, mediaTooLarge, need } from "../media-error.js";
import { type BoxHeader, findBox, readFullBoxHeader } from "./box.js";

/**
 * A track's samples in decode order, expanded from the stbl boxes. Times
 * are in the track's mdhd timescale ("ticks").
 */
export interface SampleTable {
  count: number;
  /** Byte offset of each sample in the object. */
  offsets: Float64Array;
  sizes: Uint32Array;
  /** Decode time of each sample, from 0. */
  dts: Float64Array;
  /** Composition offset (pts - dts) of each sample; null when there is no ctts. */
  ctsOffsets: Int32Array | null;
  /** 0-based indices of sync samples, ascending; null when every sample is one (no stss). */
  syncSamples: Uint32Array | null;
}

/** No sample this edge can send is larger; a bigger stsz entry is corruption. */
const MAX_SAMPLE_SIZE = 16 * 1024 * 1024;

/** Entry table of a full box: u32 entry_count, then entries of `entrySize` bytes. */
function entryTable(bytes: Buffer, box: BoxHeader, entrySize: number): { count: number; first: number } {
  const { body } = readFullBoxHeader(bytes, box);
  need(bytes, body, 4, `'${box.type}' entry count`);
  const count = bytes.readUInt32BE(body);
  const first = body + 4;
  if (count * entrySize > box.end - first) {
    throw mediaInvalid(`'${box.type}' declares ${count} entries but holds ${box.end - first} bytes`);
  }
  return { count, first };
}

/**
 * stsz: u32 sample_size (non-zero = every sample has this size),
 *       u32 sample_count, then sample_count × u32 entry_size when sample_size is 0.
 * stz2: u24 reserved, u8 field_size (4, 8 or 16), u32 sample_count,
 *       then sample_count entries of field_size bits (4-bit entries pack two per byte, high nibble first).
 */
export function readSampleSizes(bytes: Buffer, box: BoxHeader, maxSamples: number): Uint32Array {
  const { body } = readFullBoxHeader(bytes, box);
  need(bytes, body, 8, `'${box.type}' header`);
  const count = bytes.readUInt32BE(body + 4);
  if (count > maxSamples) throw mediaTooLarge(`track has ${count} samples (max ${maxSamples})`);
  const sizes = new Uint32Array(count);
  const first = body + 8;
  if (box.type === "stsz") {
    const uniform = bytes.readUInt32BE(body);
    if (uniform !== 0) return sizes.fill(uniform);
    if (count * 4 > box.end - first) throw mediaInvalid(`'stsz' declares ${count} sizes but is too short`);
    for (let i = 0; i < count; i++) sizes[i] = bytes.readUInt32BE(first + i * 4);
    return sizes;
  }
  const fieldSize = bytes[body + 3]!;
  if (fieldSize !== 4 && fieldSize !== 8 && fieldSize !== 16)
    throw mediaInvalid(`'stz2' field size ${fieldSize}`);
  if (Math.ceil((count * fieldSize) / 8) > box.end - first)
    throw mediaInvalid(`'stz2' declares ${count} sizes but is too short`);
  if (fieldSize === 16) {
    for (let i = 0; i < count; i++) sizes[i] = bytes.readUInt16BE(first + i * 2);
  } else if (fieldSize === 8) {
    sizes.set(bytes.subarray(first, first + count));
  } else {
    for (let i = 0; i < count; i++) {
      const byte = bytes[first + (i >> 1)]!;
      sizes[i] = i & 1 ? byte & 0x0f : byte >> 4;
    }
  }
  return sizes;
}

/**
 * stts: entries of (u32 sample_count, u32 sample_delta). Samples beyond the
 * table's total reuse the last delta, as lenient demuxers do.
 */
function readDecodeTimes(bytes: Buffer, box: BoxHeader, count: number): Float64Array {
  const { count: entries, first } = entryTable(bytes, box, 8);
  const dts = new Float64Array(count);
  let i = 0;
  let t = 0;
  let delta = 0;
  for (let e = 0; e < entries && i < count; e++) {
    const n = bytes.readUInt32BE(first + e * 8);
    delta = bytes.readUInt32BE(first + e * 8 + 4);
    for (let j = 0; j < n && i < count; j++) {
      dts[i++] = t;
      t += delta;
    }
  }
  for (; i < count; i++) {
    dts[i] = t;
    t += delta;
  }
  return dts;
}

/**
 * ctts: entries of (u32 sample_count, sample_offset). The offset is signed
 * in version 1 and unsigned in version 0, but muxers write negative values
 * into version 0 too, so it is always read as s32.
 */
function readCompositionOffsets(bytes: Buffer, box: BoxHeader, count: number): Int32Array {
  const { count: entries, first } = entryTable(bytes, box, 8);
  const offsets = new Int32Array(count);
  let i = 0;
  for (let e = 0; e < entries && i < count; e++) {
    const n = bytes.readUInt32BE(first + e * 8);
    const offset = bytes.readInt32BE(first + e * 8 + 4);
    const stop = Math.min(count, i + n);
    offsets.fill(offset, i, stop);
    i = stop;
  }
  return offsets;
}

/** stss: entries of u32 sample_number (1-based, ascending). Returned 0-based, out-of-range entries dropped. */
function readSyncSamples(bytes: Buffer, box: BoxHeader, count: number): Uint32Array {
  const { count: entries, first } = entryTable(bytes, box, 4);
  const sync: number[] = [];
  let previous = 0;
  for (let e = 0; e < entries; e++) {
    const n = bytes.readUInt32BE(first + e * 4);
    if (n > previous && n <= count) {
      sync.push(n - 1);
      previous = n;
    }
  }
  return Uint32Array.from(sync);
}

/** stco: entries of u32 chunk_offset. co64: entries of u64 chunk_offset. */
export function readChunkOffsets(bytes: Buffer, box: BoxHeader): Float64Array {
  const wide = box.type === "co64";
  const { count, first } = entryTable(bytes, box, wide ? 8 : 4);
  const offsets = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    if (wide) {
      const offset = bytes.readBigUInt64BE(first + i * 8);
      if (offset > BigInt(Number.MAX_SAFE_INTEGER))
        throw mediaInvalid(`'co64' offset ${offset} is too large`);
      offsets[i] = Number(offset);
    } else {
      offsets[i] = bytes.readUInt32BE(first + i * 4);
    }
  }
  return offsets;
}

/**
 * stsc: entries of (u32 first_chunk (1-based), u32 samples_per_chunk,
 * u32 sample_description_index); each entry runs until the next entry's
 * first_chunk. Combined with the chunk offsets and sample sizes this places
 * every sample: the samples of one chunk are contiguous from its offset.
 */
export function placeSamples(
  bytes: Buffer,
  stsc: BoxHeader,
  chunkOffsets: Float64Array,
  sizes: Uint32Array,
): Float64Array {
  const { count: entries, first } = entryTable(bytes, stsc, 12);
  const offsets = new Float64Array(sizes.length);
  let sample = 0;
  for (let e = 0; e < entries && sample < sizes.length; e++) {
    const firstChunk = bytes.readUInt32BE(first + e * 12) - 1;
    const perChunk = bytes.readUInt32BE(first + e * 12 + 4);
    const nextFirst = e + 1 < entries ? bytes.readUInt32BE(first + (e + 1) * 12) - 1 : chunkOffsets.length;
    if (firstChunk < 0 || nextFirst < firstChunk) throw mediaInvalid(`'stsc' entry ${e} goes backwards`);
    const lastChunk = Math.min(nextFirst, chunkOffsets.length);
    for (let chunk = firstChunk; chunk < lastChunk && sample < sizes.length; chunk++) {
      let offset = chunkOffsets[chunk]!;
      for (let j = 0; j < perChunk && sample < sizes.length; j++) {
        offsets[sample] = offset;
        offset += sizes[sample]!;
        sample++;
      }
    }
  }
  if (sample < sizes.length) {
    throw mediaInvalid(`'stsc'/'stco' place ${sample} of ${sizes.length} samples`);
  }
  return offsets;
}

/** Expands a track's stbl. `maxSamples` bounds the arrays allocated (MediaTooLarge beyond). */
export function readSampleTable(bytes: Buffer, stbl: BoxHeader, maxSamples: number): SampleTable {
  const box = (type: string): BoxHeader | null => findBox(bytes, [type], stbl.payload, stbl.end);
  const sizeBox = box("stsz") ?? box("stz2");
  const stts = box("stts");
  const stsc = box("stsc");
  const chunkBox = box("stco") ?? box("co64");
  if (!sizeBox || !stts || !stsc || !chunkBox) throw mediaInvalid("sample table lacks stsz/stts/stsc/stco");
  const sizes = readSampleSizes(bytes, sizeBox, maxSamples);
  for (let i = 0; i < sizes.length; i++) {
    if (sizes[i]! > MAX_SAMPLE_SIZE)
      throw mediaInvalid(`sample ${i} is ${sizes[i]} bytes (max ${MAX_SAMPLE_SIZE})`);
  }
  const count = sizes.length;
  const ctts = box("ctts");
  const stss = box("stss");
  return {
    count,
    offsets: placeSamples(bytes, stsc, readChunkOffsets(bytes, chunkBox), sizes),
    sizes,
    dts: readDecodeTimes(bytes, stts, count),
    ctsOffsets: ctts ? readCompositionOffsets(bytes, ctts, count) : null,
    syncSamples: stss ? readSyncSamples(bytes, stss, count) : null,
  };
}
