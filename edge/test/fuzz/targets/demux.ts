import { readFileSync } from "node:fs";
import { fromRepoRoot } from "../../../../lib/testing/paths.js";
import { EdgeErrorCode } from "../../../src/errors.js";
import type { MediaReader, MediaTag } from "../../../src/media/media-tag.js";
import { parseMpegAudioHeader } from "../../../src/media/mp3/mpeg-audio.js";
import { xingOffset } from "../../../src/media/mp3/vbr-header.js";
import { type ContainerKind, openMedia } from "../../../src/media/open-media.js";
import { bufferSource } from "../../../src/media/range-source.js";
import { check, defineTarget, type Prng, type Target } from "../fuzz-harness.js";
import { interestingValue, mutate, randomBytes, writeUIntBE } from "../mutators.js";

/**
 * openMedia over bufferSource for FLV, MP4 and MP3, on the sample files and
 * test fixtures mutated with bit flips, byte runs, insertions, truncation,
 * and corruption aimed at the structure: FLV header/tag-size/timestamp/
 * PreviousTagSize fields and the onMetaData body; MP4 box sizes (incl.
 * 64-bit largesize), box types, full-box versions, counts and table
 * entries, avcC/esds bytes; MP3 ID3 size and flags, frame header bits and
 * the Xing/Info/VBRI fields.
 *
 * Each case opens the object, reads tags until next() returns null (capped
 * at MAX_TAGS so one case's work is bounded), checks the end is sticky,
 * then seeks to random times (NaN, negative, past the end, …) and reads on.
 * Every tag must be a well-formed MediaTag no larger than the object.
 */

/** Bound on tags read per pass: the corpus files hold at most ~410, corrupt ones could claim 262 144 samples. */
const MAX_TAGS = 4096;
/** Bound on tags read after each seek. */
const MAX_TAGS_AFTER_SEEK = 64;

interface Field {
  offset: number;
  width: 1 | 2 | 3 | 4;
  /** For MP4 box types: replace with another 4cc rather than a number. */
  fourcc?: boolean;
  /** For MP4 box size fields: may become a 64-bit largesize. */
  boxSize?: boolean;
}

interface CorpusFile {
  label: string;
  kind: ContainerKind;
  bytes: Buffer;
  fields: Field[];
  /** Byte ranges worth mutating densely: headers, onMetaData, moov, the first frames. */
  hot: Array<[number, number]>;
}

// ---------------------------------------------------------------------------
// Corpus: the files, and where their structure fields sit.

function flvFields(bytes: Buffer): { fields: Field[]; hot: Array<[number, number]> } {
  const fields: Field[] = [
    { offset: 3, width: 1 },
    { offset: 4, width: 1 },
    { offset: 5, width: 4 },
    { offset: 9, width: 4 },
  ];
  const hot: Array<[number, number]> = [[0, 13]];
  const tags: Array<{ offset: number; size: number }> = [];
  for (let offset = 13; offset + 11 <= bytes.length; ) {
    const size = bytes.readUIntBE(offset + 1, 3);
    tags.push({ offset, size });
    offset += 11 + size + 4;
  }
  const keep = [...tags.slice(0, 80), ...tags.slice(-6)];
  for (const { offset, size } of keep) {
    fields.push(
      { offset, width: 1 },
      { offset: offset + 1, width: 3 },
      { offset: offset + 4, width: 3 },
      { offset: offset + 7, width: 1 },
      { offset: offset + 8, width: 3 },
      { offset: offset + 11, width: 1 },
      { offset: offset + 12, width: 1 },
      { offset: offset + 11 + size, width: 4 },
    );
    // Script data (onMetaData with its keyframes index) and sequence headers.
    if (bytes[offset] === 18 || (offset < 4096 && size < 4096)) hot.push([offset, offset + 11 + size]);
  }
  return { fields, hot };
}

const MP4_CONTAINERS: Record<string, number> = {
  moov: 0,
  trak: 0,
  mdia: 0,
  minf: 0,
  stbl: 0,
  edts: 0,
  dinf: 0,
  udta: 0,
  wave: 0,
  // Children start after fixed fields.
  stsd: 8,
  avc1: 78,
  avc3: 78,
  mp4a: 28,
};
const MP4_FULL_BOXES = new Set([
  "mvhd",
  "tkhd",
  "mdhd",
  "hdlr",
  "stsd",
  "stts",
  "stsc",
  "stsz",
  "stz2",
  "stco",
  "co64",
  "stss",
  "ctts",
  "elst",
  "esds",
  "vmhd",
  "smhd",
  "dref",
]);
const MP4_TYPES = [
  "moov",
  "moof",
  "mdat",
  "free",
  "ftyp",
  "trak",
  "mdia",
  "minf",
  "stbl",
  "stsd",
  "stts",
  "stsc",
  "stsz",
  "stz2",
  "stco",
  "co64",
  "stss",
  "ctts",
  "avc1",
  "avc3",
  "mp4a",
  "esds",
  "avcC",
  "wave",
  "edts",
  "elst",
  "hdlr",
  "mdhd",
  "mvhd",
  "tkhd",
  "uuid",
  "\u0000\u0000\u0000\u0000",
];

function mp4Fields(bytes: Buffer): { fields: Field[]; hot: Array<[number, number]> } {
  const fields: Field[] = [];
  const hot: Array<[number, number]> = [];
  const walk = (start: number, end: number, depth: number): void => {
    for (let offset = start; offset + 8 <= end && depth < 12; ) {
      const size = bytes.readUInt32BE(offset);
      const type = bytes.toString("latin1", offset + 4, offset + 8);
      const boxEnd = size === 0 ? end : offset + size;
      if (size < 8 || boxEnd > end) return;
      fields.push({ offset, width: 4, boxSize: true }, { offset: offset + 4, width: 4, fourcc: true });
      const payload = offset + 8;
      if (type === "moov") hot.push([offset, boxEnd]);
      if (MP4_FULL_BOXES.has(type)) {
        fields.push({ offset: payload, width: 1 });
        for (let at = payload + 4; at + 4 <= boxEnd && at < payload + 4 + 4 * 10; at += 4)
          fields.push({ offset: at, width: 4 });
      }
      if (type === "avcC" || type === "esds") {
        for (let at = payload; at < boxEnd && at < payload + 48; at++) fields.push({ offset: at, width: 1 });
      }
      const skip = MP4_CONTAINERS[type];
      if (skip !== undefined) walk(payload + skip, boxEnd, depth + 1);
      offset = boxEnd;
    }
  };
  walk(0, bytes.length, 0);
  return { fields, hot };
}

function mp3Fields(bytes: Buffer): { fields: Field[]; hot: Array<[number, number]> } {
  const fields: Field[] = [];
  const hot: Array<[number, number]> = [];
  let start = 0;
  if (bytes.toString("latin1", 0, 3) === "ID3") {
    fields.push(
      { offset: 3, width: 1 },
      { offset: 4, width: 1 },
      { offset: 5, width: 1 },
      { offset: 6, width: 4 },
    );
    start = 10 + ((bytes[6]! << 21) | (bytes[7]! << 14) | (bytes[8]! << 7) | bytes[9]!);
    hot.push([0, Math.min(start + 10, bytes.length)]);
  }
  let offset = bytes.indexOf(0xff, start);
  let frames = 0;
  while (offset >= 0 && frames < 64) {
    const header = parseMpegAudioHeader(bytes, offset);
    if (!header) break;
    fields.push(
      { offset, width: 4 },
      { offset: offset + 1, width: 1 },
      { offset: offset + 2, width: 1 },
      { offset: offset + 3, width: 1 },
    );
    if (frames === 0) {
      const x = offset + xingOffset(header);
      hot.push([offset, offset + header.frameLength]);
      for (let at = x; at < x + 20; at += 4) fields.push({ offset: at, width: 4 });
      // VBRI sits 36 bytes in.
      for (let at = offset + 36; at < offset + 56; at += 2) fields.push({ offset: at, width: 2 });
    }
    offset += header.frameLength;
    frames++;
  }
  return { fields, hot };
}

let corpus: CorpusFile[] | null = null;

function loadCorpus(): CorpusFile[] {
  if (corpus) return corpus;
  const files: Array<[string, ContainerKind, string]> = [
    ["sample.flv", "flv", "deploy/local/media/videos/sample.flv"],
    ["noindex.flv", "flv", "edge/test/fixtures/noindex.flv"],
    ["sample.mp4", "mp4", "deploy/local/media/videos/sample.mp4"],
    ["moov-at-end.mp4", "mp4", "edge/test/fixtures/moov-at-end.mp4"],
    ["audio-only.m4a", "mp4", "edge/test/fixtures/audio-only.m4a"],
    ["video-only.mp4", "mp4", "edge/test/fixtures/video-only.mp4"],
    ["sample.mp3", "mp3", "deploy/local/media/audio/sample.mp3"],
    ["vbr.mp3", "mp3", "edge/test/fixtures/vbr.mp3"],
  ];
  corpus = files.map(([label, kind, path]) => {
    const bytes = readFileSync(fromRepoRoot(path));
    const structure =
      kind === "flv" ? flvFields(bytes) : kind === "mp4" ? mp4Fields(bytes) : mp3Fields(bytes);
    return { label, kind, bytes, ...structure };
  });
  return corpus;
}

// ---------------------------------------------------------------------------
// Structure-aware mutations

function mutateField(rng: Prng, bytes: Buffer, file: CorpusFile): { bytes: Buffer; note: string } {
  const field = rng.pick(file.fields);
  if (field.offset + field.width > bytes.length) return { bytes, note: "" };
  const out = Buffer.from(bytes);
  if (field.fourcc && rng.bool(0.7)) {
    const type = rng.pick(MP4_TYPES);
    out.write(type, field.offset, 4, "latin1");
    return { bytes: out, note: `type@${field.offset}=${JSON.stringify(type)}` };
  }
  if (field.boxSize && rng.bool(0.25) && field.offset + 16 <= out.length) {
    // size 1: a 64-bit largesize follows the type (it overwrites the first payload bytes).
    const original = out.readUInt32BE(field.offset);
    const large = rng.pick([
      0n,
      8n,
      15n,
      16n,
      BigInt(original),
      BigInt(original + 8),
      2n ** 53n + 1n,
      2n ** 64n - 1n,
      BigInt(rng.uint32()),
    ]);
    out.writeUInt32BE(1, field.offset);
    out.writeBigUInt64BE(large, field.offset + 8);
    return { bytes: out, note: `largesize@${field.offset}=${large}` };
  }
  const original = out.readUIntBE(field.offset, field.width);
  const value = interestingValue(rng, field.width, original);
  writeUIntBE(out, field.offset, field.width, value);
  return { bytes: out, note: `u${field.width * 8}@${field.offset}=${value}` };
}

interface DemuxInput {
  kind: ContainerKind;
  data: Buffer;
  readAheadBytes: number;
  maxHeaderBytes: number;
  seeks: number[];
  /** How the input was made, for the failure report. */
  recipe: string;
}

const SIGNATURES: Array<[ContainerKind, Buffer]> = [
  ["flv", Buffer.from("464c560105000000090000000000", "hex")],
  ["mp4", Buffer.from("0000001866747970", "hex")],
  ["mp4", Buffer.from("000000086672656500000000", "hex")],
  ["mp4", Buffer.from("000000006d6f6f76", "hex")],
  ["mp3", Buffer.from("49443304000000000000", "hex")],
  ["mp3", Buffer.from("fffb9064", "hex")],
];

function generate(rng: Prng): DemuxInput {
  const files = loadCorpus();
  const readAheadBytes = rng.pick([512, 4096, 65536, 262144]);
  const maxHeaderBytes = rng.pick([1 << 20, 1 << 20, 1 << 20, 65536, 4096]);
  const seekCount = rng.int(0, 3);
  const seeks: number[] = [];
  for (let i = 0; i < seekCount; i++) {
    seeks.push(
      rng.pick([
        0,
        -1,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        1e12,
        2 ** 32,
        rng.int(0, 12_000),
        rng.int(0, 12_000),
        rng.next() * 5000,
      ]),
    );
  }
  const base = { readAheadBytes, maxHeaderBytes, seeks };

  if (rng.bool(0.05)) {
    const [kind, prefix] = rng.pick(SIGNATURES);
    const data = Buffer.concat([prefix, randomBytes(rng, rng.int(0, 4096))]);
    return { ...base, kind, data, recipe: "signature + random bytes" };
  }

  const file = rng.pick(files);
  let data = file.bytes;
  const notes: string[] = [file.label];
  const edits = rng.int(0, 4);
  for (let i = 0; i < edits; i++) {
    const strategy = rng.int(0, 9);
    if (strategy <= 4 && file.fields.length > 0) {
      const { bytes, note } = mutateField(rng, data, file);
      data = bytes;
      notes.push(note);
    } else if (strategy <= 7 && file.hot.length > 0) {
      const [from, to] = rng.pick(file.hot);
      data = mutate(rng, data, 2, from, to);
      notes.push(`mutate[${from},${to})`);
    } else {
      data = mutate(rng, data, 2);
      notes.push("mutate");
    }
  }
  if (rng.bool(0.3)) {
    const field = file.fields.length > 0 && rng.bool(0.5) ? rng.pick(file.fields) : null;
    const length = field
      ? field.offset + rng.int(-2, 4)
      : rng.bool(0.5)
        ? rng.int(0, 4096)
        : rng.int(0, data.length);
    data = data.subarray(0, Math.max(0, Math.min(data.length, length)));
    notes.push(`truncate ${data.length}`);
  }
  if (file.kind === "mp3" && rng.bool(0.05)) {
    // An ID3v1 trailer, real or damaged.
    data = Buffer.concat([data, Buffer.from("TAG"), randomBytes(rng, rng.int(0, 200))]);
    notes.push("ID3v1");
  }
  const kind = rng.bool(0.03) ? rng.pick<ContainerKind>(["flv", "mp4", "mp3"]) : file.kind;
  if (kind !== file.kind) notes.push(`opened as ${kind}`);
  return { ...base, kind, data, recipe: notes.join(", ") };
}

function checkTag(tag: MediaTag, inputLength: number, where: string): void {
  check(tag.kind === 8 || tag.kind === 9 || tag.kind === 18, () => `${where}: tag kind ${tag.kind}`);
  check(
    Number.isFinite(tag.timestampMs) && tag.timestampMs >= 0,
    () => `${where}: timestamp ${tag.timestampMs}`,
  );
  check(Buffer.isBuffer(tag.body), () => `${where}: body is not a Buffer`);
  check(
    tag.body.length <= inputLength + 16,
    () => `${where}: ${tag.body.length}-byte body from a ${inputLength}-byte object`,
  );
  check(
    typeof tag.keyframe === "boolean" && typeof tag.sequenceHeader === "boolean",
    () => `${where}: flags are not booleans`,
  );
}

async function execute(input: DemuxInput): Promise<void> {
  const { data } = input;
  const reader = await openMedia(input.kind, bufferSource(data), {
    maxHeaderBytes: input.maxHeaderBytes,
    readAheadBytes: input.readAheadBytes,
  });
  // Regressions once found here: an MP3 whose Xing/Info frame runs past the end (e.g. the 31 bytes
  // 49443304000000000000fff370c000000000000000000058696e670f000000) had a negative duration, and
  // an FLV whose onMetaData duration is above ~1.8e305 s had Infinity.
  check(
    Number.isFinite(reader.durationMs) && reader.durationMs >= 0,
    () => `durationMs ${reader.durationMs}`,
  );
  check(reader.metadata === null || Buffer.isBuffer(reader.metadata), () => "metadata is not a Buffer");
  for (const header of reader.sequenceHeaders) checkTag(header, data.length, "sequence header");

  let count = 0;
  for (; count < MAX_TAGS; count++) {
    const tag = await nextAsTheEdgeDoes(reader);
    if (tag === null) break;
    checkTag(tag, data.length, `tag ${count}`);
  }
  if (count < MAX_TAGS)
    check((await reader.next()) === null, () => "next() returned a tag after returning null");

  for (const ms of input.seeks) {
    const at = await reader.seek(ms);
    check(Number.isFinite(at) && at >= 0, () => `seek(${ms}) returned ${at}`);
    for (let i = 0; i < MAX_TAGS_AFTER_SEEK; i++) {
      const tag = await nextAsTheEdgeDoes(reader);
      if (tag === null) break;
      checkTag(tag, data.length, `tag ${i} after seek(${ms})`);
    }
  }
}

/** The stream player's way: the synchronous fast path when the bytes are here, else next(). */
async function nextAsTheEdgeDoes(reader: MediaReader): Promise<MediaTag | null> {
  const ready = reader.nextSync?.();
  return ready === undefined ? reader.next() : ready;
}

export const demuxTarget: Target = defineTarget<DemuxInput>({
  name: "demux",
  summary: "openMedia flv/mp4/mp3: mutated samples and fixtures (field-aware), read to the end, random seeks",
  codes: [EdgeErrorCode.MediaInvalid, EdgeErrorCode.MediaTooLarge],
  generate,
  execute,
  bytes: (input) => input.data,
  withBytes: (input, data) => ({ ...input, data }),
  describe: (input) =>
    `${input.kind}: ${input.recipe}; readAhead ${input.readAheadBytes}, maxHeader ${input.maxHeaderBytes}, seeks [${input.seeks.join(", ")}]`,
});
