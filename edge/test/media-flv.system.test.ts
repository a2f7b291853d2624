import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { EdgeErrorCode } from "../src/errors.js";
import {
  AAC_HEADER_SIZE,
  AVC_HEADER_SIZE,
  parseFlvHeader,
  parseTagHeader,
  probeFlv,
} from "../src/media/flv/flv-format.js";
import { type MediaTag, TagKind } from "../src/media/media-tag.js";
import { decodeOnMetaData } from "../src/media/on-metadata.js";
import { ContainerKind, openMedia } from "../src/media/open-media.js";
import { bufferSource, type RangeSource } from "../src/media/range-source.js";
import {
  countingSource,
  fixture,
  type ProbedPacket,
  probePackets,
  readAll,
  rejectsEdge,
  SAMPLE_FLV,
  throwsEdge,
  videoPtsMs,
} from "./media-helpers.js";

const NOINDEX_FLV = fixture("noindex.flv");

/** A minimal FLV: header with both flags, then the given tags. */
function buildFlv(tags: { type: number; ts: number; body: Buffer }[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x46, 0x4c, 0x56, 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0])];
  for (const { type, ts, body } of tags) {
    const head = Buffer.alloc(11);
    head[0] = type;
    head.writeUIntBE(body.length, 1, 3);
    head.writeUIntBE(ts & 0xffffff, 4, 3);
    head[7] = ts >>> 24;
    const prev = Buffer.alloc(4);
    prev.writeUInt32BE(11 + body.length);
    parts.push(head, body, prev);
  }
  return Buffer.concat(parts);
}

function mediaPackets(tags: MediaTag[], kind: TagKind): ProbedPacket[] {
  return (
    tags
      // ffprobe lists neither sequence headers nor the AVC end-of-sequence marker as packets.
      .filter((t) => t.kind === kind && !t.sequenceHeader && !(kind === TagKind.Video && t.body[1] === 2))
      .map((t) => ({
        codecType: kind === TagKind.Video ? "video" : "audio",
        dtsMs: t.timestampMs,
        ptsMs: videoPtsMs(t),
        size: t.body.length - (kind === TagKind.Video ? AVC_HEADER_SIZE : AAC_HEADER_SIZE),
        key: t.keyframe,
      }))
  );
}

async function assertMatchesFfprobe(file: string): Promise<MediaTag[]> {
  const reader = await openMedia(ContainerKind.Flv, bufferSource(readFileSync(file)));
  const tags = await readAll(reader);
  const probed = probePackets(file);
  assert.ok(probed.video.length > 0 && probed.audio.length > 0);
  assert.deepEqual(mediaPackets(tags, TagKind.Video), probed.video);
  assert.deepEqual(mediaPackets(tags, TagKind.Audio), probed.audio);
  assert.equal(
    tags.some((t) => t.sequenceHeader),
    false,
    "sequence headers are only in reader.sequenceHeaders",
  );
  return tags;
}

describe("FlvReader.nextSync", () => {
  it("yields exactly next()'s tags, and undefined only when bytes must be fetched", async () => {
    const file = readFileSync(NOINDEX_FLV);
    const expected = await readAll(await openMedia(ContainerKind.Flv, bufferSource(file)));
    // A source that is slow (always async) but whose reader keeps blocks: nextSync
    // works from the blocks and hands over to next() at each block boundary.
    const slow: RangeSource = {
      size: file.length,
      read: async (offset, length) => file.subarray(offset, offset + length),
    };
    const reader = await openMedia(ContainerKind.Flv, slow);
    assert.ok(reader.nextSync);
    const got: MediaTag[] = [];
    let fetches = 0;
    for (;;) {
      const ready = reader.nextSync();
      let tag: MediaTag | null;
      if (ready === undefined) {
        fetches++;
        tag = await reader.next();
      } else {
        tag = ready;
      }
      if (tag === null) break;
      got.push(tag);
    }
    assert.deepEqual(got, expected);
    assert.ok(
      fetches > 0 && fetches < got.length / 4,
      `async only at block boundaries (${fetches} of ${got.length})`,
    );
  });
});

describe("FLV pure helpers", () => {
  it("parses the file header", () => {
    const header = parseFlvHeader(Buffer.from("464c560105000000090000000000", "hex"));
    assert.deepEqual(header, { version: 1, hasAudio: true, hasVideo: true, dataOffset: 9 });
    assert.equal(parseFlvHeader(Buffer.from("464c56010400000009", "hex")).hasVideo, false);
    assert.equal(probeFlv(Buffer.from("FLV\x01", "latin1")), true);
    assert.equal(probeFlv(Buffer.from("FLV\x02", "latin1")), false);
    assert.equal(probeFlv(Buffer.from("FL", "latin1")), false);
  });

  it("rejects short or inconsistent headers with MediaInvalid", () => {
    throwsEdge(() => parseFlvHeader(Buffer.from("464c5601050000", "hex")), EdgeErrorCode.MediaInvalid);
    throwsEdge(() => parseFlvHeader(Buffer.from("464c56010500000008", "hex")), EdgeErrorCode.MediaInvalid);
    throwsEdge(() => parseFlvHeader(Buffer.from("00000020667479706973", "hex")), EdgeErrorCode.MediaInvalid);
  });

  it("parses a tag header with the extended timestamp byte as bits 31..24", () => {
    const bytes = Buffer.from("ff" + "09" + "000102" + "123456" + "7f" + "000000", "hex");
    assert.deepEqual(parseTagHeader(bytes, 1), {
      type: 9,
      filtered: false,
      dataSize: 0x102,
      timestampMs: 0x7f123456,
      streamId: 0,
    });
    const max = parseTagHeader(Buffer.from("28ffffffffffffff000000", "hex"), 0);
    assert.equal(max.timestampMs, 0xffffffff);
    assert.equal(max.type, 8);
    assert.equal(max.filtered, true);
    throwsEdge(() => parseTagHeader(bytes, 2), EdgeErrorCode.MediaInvalid);
  });
});

describe("FlvReader", () => {
  it("matches ffprobe packets for sample.flv (with keyframe index)", async () => {
    await assertMatchesFfprobe(SAMPLE_FLV);
  });

  it("matches ffprobe packets for an FLV without a keyframe index", async () => {
    await assertMatchesFfprobe(NOINDEX_FLV);
  });

  it("exposes onMetaData, sequence headers and duration", async () => {
    const reader = await openMedia(ContainerKind.Flv, bufferSource(readFileSync(SAMPLE_FLV)));
    const props = decodeOnMetaData(reader.metadata!);
    assert.ok(props);
    assert.equal(props.width, 320);
    assert.equal(reader.durationMs, Math.round((props.duration as number) * 1000));
    assert.ok(reader.hasAudio && reader.hasVideo);
    assert.deepEqual(
      reader.sequenceHeaders.map((t) => [t.kind, t.sequenceHeader, t.body[0], t.body[1]]),
      [
        [TagKind.Video, true, 0x17, 0],
        [TagKind.Audio, true, 0xaf, 0],
      ],
    );
  });

  for (const [name, file] of [
    ["with index", SAMPLE_FLV],
    ["without index", NOINDEX_FLV],
  ] as const) {
    it(`seeks to the last keyframe at or before the target (${name})`, async () => {
      const keyTimes = probePackets(file)
        .video.filter((p) => p.key)
        .map((p) => p.dtsMs);
      const reader = await openMedia(ContainerKind.Flv, bufferSource(readFileSync(file)));
      // Out of order on purpose: later seeks reuse what earlier ones learned.
      for (const ms of [2500, 0, 1000, 5999, 100_000, 1, 1999, 2000, 700]) {
        const expected = keyTimes.filter((t) => t <= ms).at(-1) ?? keyTimes[0]!;
        assert.equal(await reader.seek(ms), expected, `seek(${ms})`);
        let tag = await reader.next();
        while (tag && tag.kind !== TagKind.Video) tag = await reader.next();
        assert.ok(tag?.keyframe, `video after seek(${ms}) is a keyframe`);
        assert.equal(tag.timestampMs, expected);
      }
    });
  }

  it("seeks an audio-only FLV to the last frame at or before the target", async () => {
    const frames = Array.from({ length: 200 }, (_, i) => ({
      type: 8,
      ts: i * 23,
      body: Buffer.from([0xaf, 1, i & 0xff]),
    }));
    const flv = buildFlv([{ type: 8, ts: 0, body: Buffer.from([0xaf, 0, 0x12, 0x10]) }, ...frames]);
    flv[4] = 0x04;
    const reader = await openMedia(ContainerKind.Flv, bufferSource(flv));
    assert.equal(reader.hasVideo, false);
    assert.equal(reader.durationMs, 199 * 23);
    assert.notEqual(reader.metadata, null, "a minimal onMetaData is built");
    for (const ms of [3000, 100, 0, 4576, 4577, 9999, 2300, 2299]) {
      const expected = Math.min(199, Math.floor(ms / 23)) * 23;
      assert.equal(await reader.seek(ms), expected);
      assert.equal((await reader.next())?.timestampMs, expected);
    }
  });

  it("ends cleanly on a truncated final tag", async () => {
    const whole = readFileSync(SAMPLE_FLV);
    const all = await readAll(await openMedia(ContainerKind.Flv, bufferSource(whole)));
    const cut = await readAll(
      await openMedia(ContainerKind.Flv, bufferSource(whole.subarray(0, whole.length - 500))),
    );
    assert.ok(cut.length < all.length && cut.length > all.length - 10);
    assert.deepEqual(
      cut.map((t) => t.timestampMs),
      all.slice(0, cut.length).map((t) => t.timestampMs),
    );
  });

  it("skips repeated sequence headers but passes a changed one", async () => {
    const avcc = Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64]);
    const changed = Buffer.from([0x17, 0, 0, 0, 0, 1, 0x4d]);
    const frame = (key: boolean) => Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0, 0xaa]);
    const flv = buildFlv([
      { type: 9, ts: 0, body: avcc },
      { type: 9, ts: 0, body: frame(true) },
      { type: 9, ts: 40, body: avcc },
      { type: 9, ts: 40, body: frame(false) },
      { type: 18, ts: 60, body: Buffer.from([2, 0, 1, 0x78]) },
      { type: 9, ts: 80, body: changed },
      { type: 9, ts: 80, body: frame(true) },
      { type: 7, ts: 90, body: Buffer.from([1]) },
    ]);
    const reader = await openMedia(ContainerKind.Flv, bufferSource(flv));
    assert.equal(reader.sequenceHeaders.length, 1);
    const tags = await readAll(reader);
    assert.deepEqual(
      tags.map((t) => [t.kind, t.timestampMs, t.keyframe, t.sequenceHeader]),
      [
        [TagKind.Video, 0, true, false],
        [TagKind.Video, 40, false, false],
        [TagKind.Data, 60, false, false],
        [TagKind.Video, 80, true, true],
        [TagKind.Video, 80, true, false],
      ],
    );
  });

  it("treats a tag larger than the rest of the object as the end, and bounds script tags", async () => {
    const huge = buildFlv([
      { type: 9, ts: 0, body: Buffer.from([0x17, 1, 0, 0, 0]) },
      { type: 9, ts: 40, body: Buffer.alloc(4) },
    ]);
    huge.writeUIntBE(0xffffff, 13 + 11 + 5 + 4 + 1, 3);
    const tags = await readAll(await openMedia(ContainerKind.Flv, bufferSource(huge)));
    assert.deepEqual(
      tags.map((t) => t.timestampMs),
      [0],
    );
    const script = buildFlv([{ type: 18, ts: 0, body: Buffer.alloc(2000) }]);
    await rejectsEdge(
      () => openMedia(ContainerKind.Flv, bufferSource(script), { maxHeaderBytes: 1000 }),
      EdgeErrorCode.MediaTooLarge,
    );
  });

  it("rejects objects that are not FLV", async () => {
    await rejectsEdge(
      () => openMedia(ContainerKind.Flv, bufferSource(readFileSync(fixture("vbr.mp3")))),
      EdgeErrorCode.MediaInvalid,
    );
    await rejectsEdge(
      () => openMedia(ContainerKind.Flv, bufferSource(Buffer.alloc(0))),
      EdgeErrorCode.MediaInvalid,
    );
  });

  it("starts playing after a few block reads, not the whole object", async () => {
    const source = countingSource(readFileSync(SAMPLE_FLV));
    const reader = await openMedia(ContainerKind.Flv, source, { readAheadBytes: 16 * 1024 });
    await reader.next();
    assert.ok(source.bytesRead <= 32 * 1024, `read ${source.bytesRead} of ${source.size}`);
    // Walking the whole file issues about one read per block, not one per tag.
    const before = source.reads.length;
    const rest = await readAll(reader);
    assert.ok(source.reads.length - before <= Math.ceil(source.size / (16 * 1024)) + 1);
    assert.ok(rest.length > 400);
  });

  it("yields the same tags whatever the read-ahead block size, tags split across blocks at every kind of offset", async () => {
    const bytes = readFileSync(SAMPLE_FLV);
    const whole = await readAll(
      await openMedia(ContainerKind.Flv, bufferSource(bytes), { readAheadBytes: bytes.length }),
    );
    const summary = (tags: MediaTag[]) =>
      tags.map((t) => `${t.kind}:${t.timestampMs}:${t.body.toString("base64")}`);
    // Block sizes smaller than a tag header, prime, and around typical tag sizes.
    for (const readAheadBytes of [7, 11, 64, 1000, 4093, 65536]) {
      const reader = await openMedia(ContainerKind.Flv, bufferSource(bytes), { readAheadBytes });
      assert.deepEqual(summary(await readAll(reader)), summary(whole), `readAheadBytes ${readAheadBytes}`);
    }
  });
});
