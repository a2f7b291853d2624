import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { EdgeErrorCode } from "../src/errors.js";
import { type MediaReader, type MediaTag, TagKind } from "../src/media/media-tag.js";
import { childBoxes, findBox, probeMp4, readBoxHeader } from "../src/media/mp4/box.js";
import { parseAudioSpecificConfig, readEsds } from "../src/media/mp4/sample-entry.js";
import { placeSamples, readChunkOffsets, readSampleSizes } from "../src/media/mp4/sample-table.js";
import { decodeOnMetaData } from "../src/media/on-metadata.js";
import { ContainerKind, openMedia } from "../src/media/open-media.js";
import { bufferSource } from "../src/media/range-source.js";
import {
  countingSource,
  fixture,
  type ProbedPacket,
  probePackets,
  readAll,
  rejectsEdge,
  SAMPLE_MP4,
  throwsEdge,
  videoPtsMs,
} from "./media-helpers.js";

const MOOV_AT_END = fixture("moov-at-end.mp4");
const AUDIO_ONLY = fixture("audio-only.m4a");
const VIDEO_ONLY = fixture("video-only.mp4");

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body]);
}

function u32s(...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  for (const [i, v] of values.entries()) out.writeUInt32BE(v, i * 4);
  return out;
}

/** Full box: version/flags word, then fields. */
function fullBox(type: string, ...fields: Buffer[]): Buffer {
  return box(type, Buffer.alloc(4), ...fields);
}

const CONTAINERS = new Set(["moov", "trak", "mdia", "minf", "stbl"]);

/**
 * Rewrites every stco in the moov of a moov-at-end file as co64. Only moov
 * grows, so no sample offset moves: the result must play identically.
 */
function withCo64(file: Buffer): Buffer {
  const rewrite = (bytes: Buffer, start: number, end: number): Buffer[] =>
    childBoxes(bytes, start, end).map((b) => {
      if (CONTAINERS.has(b.type)) return box(b.type, ...rewrite(bytes, b.payload, b.end));
      if (b.type !== "stco") return bytes.subarray(b.start, b.end);
      const offsets = readChunkOffsets(bytes, b);
      const wide = Buffer.alloc(4 + offsets.length * 8);
      wide.writeUInt32BE(offsets.length);
      for (const [i, o] of offsets.entries()) wide.writeBigUInt64BE(BigInt(o), 4 + i * 8);
      return fullBox("co64", wide);
    });
  const moov = findBox(file, ["moov"])!;
  assert.equal(moov.end, file.length, "moov is last");
  return Buffer.concat([file.subarray(0, moov.start), ...rewrite(file, moov.start, moov.end)]);
}

/** Replaces the 8-byte 'free' box ffmpeg leaves before mdat with a 16-byte largesize mdat header. */
function withLargesizeMdat(file: Buffer): Buffer {
  const out = Buffer.from(file);
  const free = findBox(out, ["free"])!;
  const mdat = readBoxHeader(out, free.end);
  assert.equal(free.end - free.start, 8);
  assert.equal(mdat.type, "mdat");
  out.writeUInt32BE(1, free.start);
  out.write("mdat", free.start + 4, "latin1");
  out.writeBigUInt64BE(BigInt(mdat.end - free.start), free.start + 8);
  return out;
}

function packetsOf(tags: MediaTag[], kind: TagKind): ProbedPacket[] {
  return tags
    .filter((t) => t.kind === kind)
    .map((t) => ({
      codecType: kind === TagKind.Video ? "video" : "audio",
      dtsMs: t.timestampMs,
      ptsMs: videoPtsMs(t),
      size: t.body.length - (kind === TagKind.Video ? 5 : 2),
      key: t.keyframe,
    }));
}

/** ffprobe's packets, moved by the shift that makes the earliest dts 0 (RTMP timestamps are unsigned). */
function expectedPackets(file: string): Record<"audio" | "video", ProbedPacket[]> {
  const probed = probePackets(file);
  const first = Math.min(probed.video[0]?.dtsMs ?? 0, probed.audio[0]?.dtsMs ?? 0);
  const shift = (p: ProbedPacket): ProbedPacket => ({ ...p, dtsMs: p.dtsMs - first, ptsMs: p.ptsMs - first });
  return { video: probed.video.map(shift), audio: probed.audio.map(shift) };
}

async function open(bytes: Buffer): Promise<MediaReader> {
  return openMedia(ContainerKind.Mp4, bufferSource(bytes));
}

async function assertMatchesFfprobe(file: string, bytes = readFileSync(file)): Promise<MediaTag[]> {
  const reader = await open(bytes);
  const tags = await readAll(reader);
  const expected = expectedPackets(file);
  assert.deepEqual(packetsOf(tags, TagKind.Video), expected.video);
  assert.deepEqual(packetsOf(tags, TagKind.Audio), expected.audio);
  assert.equal(reader.hasVideo, expected.video.length > 0);
  assert.equal(reader.hasAudio, expected.audio.length > 0);
  for (let i = 1; i < tags.length; i++)
    assert.ok(tags[i]!.timestampMs >= tags[i - 1]!.timestampMs, "decode order");
  return tags;
}

describe("MP4 box helpers", () => {
  it("reads 32-bit, 64-bit largesize and size-0 headers", () => {
    const bytes = Buffer.from(
      "0000000c667265650000000000000001" + "6d646174" + "0000000000000018" + "00000000",
      "hex",
    );
    assert.deepEqual(readBoxHeader(bytes, 0), { type: "free", start: 0, headerSize: 8, payload: 8, end: 12 });
    const large = Buffer.from("00000001" + "6d646174" + "0000000100000000", "hex");
    assert.deepEqual(readBoxHeader(large, 0, 2 ** 40), {
      type: "mdat",
      start: 0,
      headerSize: 16,
      payload: 16,
      end: 2 ** 32,
    });
    const toEnd = Buffer.from("000000006d6f6f76", "hex");
    assert.equal(readBoxHeader(toEnd, 0, 5000).end, 5000);
  });

  it("rejects short, undersized and absurd headers with MediaInvalid", () => {
    throwsEdge(() => readBoxHeader(Buffer.from("0000000c6672", "hex"), 0), EdgeErrorCode.MediaInvalid);
    throwsEdge(() => readBoxHeader(Buffer.from("0000000466726565", "hex"), 0), EdgeErrorCode.MediaInvalid);
    throwsEdge(
      () => readBoxHeader(Buffer.from("000000016d646174000000", "hex"), 0),
      EdgeErrorCode.MediaInvalid,
    );
    throwsEdge(
      () => readBoxHeader(Buffer.from("000000016d646174ffffffffffffffff", "hex"), 0),
      EdgeErrorCode.MediaInvalid,
    );
    throwsEdge(() => readBoxHeader(Buffer.from("0000000866726565", "hex"), -1), EdgeErrorCode.MediaInvalid);
    // A child overrunning its parent.
    const parent = box("moov", Buffer.from("0000001066726565", "hex"));
    throwsEdge(() => childBoxes(parent, 8, parent.length), EdgeErrorCode.MediaInvalid);
  });

  it("finds nested boxes", () => {
    const tree = Buffer.concat([
      box("ftyp", Buffer.from("isom")),
      box("moov", box("trak", box("tkhd"), box("mdia"))),
    ]);
    const mdia = findBox(tree, ["moov", "trak", "mdia"]);
    assert.equal(mdia?.type, "mdia");
    assert.equal(mdia?.start, 12 + 8 + 8 + 8);
    assert.equal(findBox(tree, ["moov", "mdia"]), null);
    assert.equal(probeMp4(tree), true);
    assert.equal(probeMp4(Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x00", "latin1")), false);
  });

  it("reads stsz, stz2 (4/8/16-bit) sizes and places samples with stsc", () => {
    const stsz = fullBox("stsz", u32s(0, 3, 10, 20, 30));
    assert.deepEqual([...readSampleSizes(stsz, readBoxHeader(stsz, 0), 100)], [10, 20, 30]);
    const uniform = fullBox("stsz", u32s(7, 4));
    assert.deepEqual([...readSampleSizes(uniform, readBoxHeader(uniform, 0), 100)], [7, 7, 7, 7]);
    const nibbles = fullBox("stz2", Buffer.from([0, 0, 0, 4]), u32s(3), Buffer.from([0x12, 0xf0]));
    assert.deepEqual([...readSampleSizes(nibbles, readBoxHeader(nibbles, 0), 100)], [1, 2, 15]);
    const bytes8 = fullBox("stz2", Buffer.from([0, 0, 0, 8]), u32s(2), Buffer.from([0x12, 0xf0]));
    assert.deepEqual([...readSampleSizes(bytes8, readBoxHeader(bytes8, 0), 100)], [0x12, 0xf0]);
    const words = fullBox("stz2", Buffer.from([0, 0, 0, 16]), u32s(1), Buffer.from([0x12, 0xf0]));
    assert.deepEqual([...readSampleSizes(words, readBoxHeader(words, 0), 100)], [0x12f0]);
    throwsEdge(() => readSampleSizes(uniform, readBoxHeader(uniform, 0), 3), EdgeErrorCode.MediaTooLarge);
    const short = fullBox("stsz", u32s(0, 1000, 1));
    throwsEdge(() => readSampleSizes(short, readBoxHeader(short, 0), 5000), EdgeErrorCode.MediaInvalid);

    // Chunks 1–2 hold 2 samples each, chunk 3 holds 1.
    const stsc = fullBox("stsc", u32s(2, 1, 2, 1, 3, 1, 1));
    const co64 = fullBox(
      "co64",
      u32s(3),
      Buffer.from("00000001000000000000000000000064" + "00000000000000c8", "hex"),
    );
    const chunks = readChunkOffsets(co64, readBoxHeader(co64, 0));
    assert.deepEqual([...chunks], [2 ** 32, 100, 200]);
    const placed = placeSamples(stsc, readBoxHeader(stsc, 0), chunks, Uint32Array.from([5, 6, 7, 8, 9]));
    assert.deepEqual([...placed], [2 ** 32, 2 ** 32 + 5, 100, 107, 200]);
    throwsEdge(
      () =>
        placeSamples(stsc, readBoxHeader(stsc, 0), chunks.subarray(0, 2), Uint32Array.from([5, 6, 7, 8, 9])),
      EdgeErrorCode.MediaInvalid,
    );
  });

  it("reads esds and the AudioSpecificConfig", () => {
    // ES_Descriptor(3) > DecoderConfigDescriptor(4, AAC 0x40) > DecoderSpecificInfo(5) 12 10,
    // with 4-byte "80 80 80 n" lengths as some muxers write them.
    const esds = fullBox(
      "esds",
      Buffer.from(
        [
          "0380808022",
          "000100",
          "0480808014",
          "4015000000",
          "0000fa00",
          "0000fa00",
          "058080800212 10",
          "068080800102",
        ]
          .join("")
          .replace(/ /g, ""),
        "hex",
      ),
    );
    const parsed = readEsds(esds, readBoxHeader(esds, 0));
    assert.equal(parsed.objectTypeIndication, 0x40);
    assert.deepEqual([...parsed.decoderSpecificInfo!], [0x12, 0x10]);
    assert.deepEqual(parseAudioSpecificConfig(Buffer.from([0x12, 0x10])), {
      objectType: 2,
      sampleRate: 44100,
      channels: 2,
    });
    assert.deepEqual(parseAudioSpecificConfig(Buffer.from([0x13, 0x88])), {
      objectType: 2,
      sampleRate: 22050,
      channels: 1,
    });
    const cut = fullBox("esds", Buffer.from("0380808022000100048080801440", "hex"));
    throwsEdge(() => readEsds(cut, readBoxHeader(cut, 0)), EdgeErrorCode.MediaInvalid);
  });
});

describe("Mp4Reader", () => {
  it("matches ffprobe packets for sample.mp4 (faststart, B-frames, edit lists)", async () => {
    await assertMatchesFfprobe(SAMPLE_MP4);
  });

  it("matches ffprobe packets with moov at the end", async () => {
    await assertMatchesFfprobe(MOOV_AT_END);
  });

  it("matches ffprobe packets for audio-only (m4a) and video-only files", async () => {
    await assertMatchesFfprobe(AUDIO_ONLY);
    await assertMatchesFfprobe(VIDEO_ONLY);
  });

  it("plays co64 chunk offsets and a 64-bit largesize mdat the same as the original", async () => {
    const original = readFileSync(MOOV_AT_END);
    const expected = await readAll(await open(original));
    for (const variant of [withCo64(original), withLargesizeMdat(original)]) {
      assert.notDeepEqual(variant, original);
      const tags = await readAll(await open(variant));
      assert.deepEqual(tags, expected);
    }
    assert.notEqual(findBox(withCo64(original), ["moov", "trak", "mdia", "minf", "stbl", "co64"]), null);
  });

  it("builds onMetaData and sequence headers from moov", async () => {
    const reader = await open(readFileSync(SAMPLE_MP4));
    const props = decodeOnMetaData(reader.metadata!);
    assert.ok(props);
    assert.equal(props.duration, 6);
    assert.equal(props.width, 320);
    assert.equal(props.height, 180);
    assert.equal(props.videocodecid, "avc1");
    assert.equal(props.audiocodecid, "mp4a");
    assert.equal(props.framerate, 25);
    assert.equal(props.audiosamplerate, 44100);
    assert.equal(props.audiochannels, 2);
    assert.equal(typeof props.moovposition, "number");
    assert.equal(reader.durationMs, 6000);
    assert.deepEqual(
      reader.sequenceHeaders.map((t) => [t.kind, t.body.subarray(0, 5).toString("hex")]),
      [
        [TagKind.Video, "1700000000"],
        [TagKind.Audio, "af00121056"],
      ],
    );
    const audioOnly = await open(readFileSync(AUDIO_ONLY));
    assert.deepEqual(
      audioOnly.sequenceHeaders.map((t) => t.kind),
      [TagKind.Audio],
    );
    assert.equal(decodeOnMetaData(audioOnly.metadata!)?.width, undefined);
  });

  for (const file of [SAMPLE_MP4, MOOV_AT_END, VIDEO_ONLY]) {
    it(`seeks to the last keyframe at or before the target (${file.split("/").pop()})`, async () => {
      const keys = expectedPackets(file)
        .video.filter((p) => p.key)
        .map((p) => p.dtsMs);
      const reader = await open(readFileSync(file));
      for (const ms of [2500, 0, 1000, 5999, 100_000, 1, 1999, 2000, 700]) {
        const expected = keys.filter((t) => t <= ms).at(-1) ?? 0;
        const got = await reader.seek(ms);
        assert.ok(got <= Math.max(ms, keys[0]!), `seek(${ms}) = ${got}`);
        const tag = await reader.next();
        assert.equal(tag?.kind, TagKind.Video, `first tag after seek(${ms}) is video`);
        assert.ok(tag.keyframe);
        if (expected > 0) assert.equal(tag.timestampMs, expected, `seek(${ms})`);
        assert.equal(got, expected > 0 ? expected : Math.min(got, tag.timestampMs));
      }
    });
  }

  it("seeks audio-only files to the last frame at or before the target", async () => {
    const frames = expectedPackets(AUDIO_ONLY).audio.map((p) => p.dtsMs);
    const reader = await open(readFileSync(AUDIO_ONLY));
    for (const ms of [1500, 0, 2999, 50_000, 24, 23]) {
      const expected = frames.filter((t) => t <= ms).at(-1) ?? frames[0]!;
      assert.equal(await reader.seek(ms), expected, `seek(${ms})`);
      assert.equal((await reader.next())?.timestampMs, expected);
    }
  });

  it("reads only moov and the first samples to start a moov-at-end file", async () => {
    const bytes = readFileSync(MOOV_AT_END);
    const moov = findBox(bytes, ["moov"])!;
    const source = countingSource(bytes);
    const reader = await openMedia(ContainerKind.Mp4, source, { readAheadBytes: 4096 });
    const first = await reader.next();
    assert.ok(first);
    // Blocks are aligned, so the block holding moov's first byte may start up to one block earlier.
    const middle = { start: 16 * 1024, end: moov.start - 4096 };
    assert.ok(middle.end - middle.start > 8 * 1024, "fixture has a large mdat");
    for (const r of source.reads) {
      assert.ok(
        r.offset + r.length <= middle.start || r.offset >= middle.end,
        `read ${r.offset}+${r.length}`,
      );
    }
    assert.ok(source.bytesRead < bytes.length / 2, `read ${source.bytesRead} of ${bytes.length}`);
  });

  it("ends cleanly when mdat is truncated", async () => {
    const whole = readFileSync(SAMPLE_MP4);
    const all = await readAll(await open(whole));
    const cut = await readAll(await open(whole.subarray(0, whole.length - 20_000)));
    assert.ok(cut.length > 0 && cut.length < all.length);
  });

  it("rejects a moov above maxHeaderBytes, a truncated moov, and non-MP4 objects", async () => {
    const bytes = readFileSync(MOOV_AT_END);
    await rejectsEdge(
      () => openMedia(ContainerKind.Mp4, bufferSource(bytes), { maxHeaderBytes: 1000 }),
      EdgeErrorCode.MediaTooLarge,
    );
    await rejectsEdge(() => open(bytes.subarray(0, bytes.length - 100)), EdgeErrorCode.MediaInvalid);
    const faststart = readFileSync(SAMPLE_MP4);
    const moov = findBox(faststart, ["moov"])!;
    await rejectsEdge(() => open(faststart.subarray(0, moov.start + 200)), EdgeErrorCode.MediaInvalid);
    await rejectsEdge(() => open(faststart.subarray(0, moov.start)), EdgeErrorCode.MediaInvalid);
    await rejectsEdge(() => open(readFileSync(fixture("noindex.flv"))), EdgeErrorCode.MediaInvalid);
  });
});
