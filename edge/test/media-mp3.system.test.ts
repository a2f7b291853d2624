import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { EdgeErrorCode } from "../src/errors.js";
import type { MediaReader } from "../src/media/media-tag.js";
import { id3v2Size } from "../src/media/mp3/id3.js";
import { mp3SoundByte } from "../src/media/mp3/mp3-reader.js";
import { parseMpegAudioHeader, probeMp3 } from "../src/media/mp3/mpeg-audio.js";
import { parseVbrHeader } from "../src/media/mp3/vbr-header.js";
import { decodeOnMetaData } from "../src/media/on-metadata.js";
import { ContainerKind, openMedia } from "../src/media/open-media.js";
import { bufferSource } from "../src/media/range-source.js";
import { fixture, prng, probePackets, readAll, rejectsEdge, SAMPLE_MP3 } from "./media-helpers.js";

const VBR_MP3 = fixture("vbr.mp3");

async function open(bytes: Buffer): Promise<MediaReader> {
  return openMedia(ContainerKind.Mp3, bufferSource(bytes));
}

describe("MP3 pure helpers", () => {
  it("parses layer III headers for MPEG 1, 2 and 2.5", () => {
    const h = (hex: string) => parseMpegAudioHeader(Buffer.from(hex, "hex"), 0);
    assert.deepEqual(h("fffb9064"), {
      version: 1,
      layer: 3,
      bitrateKbps: 128,
      sampleRate: 44100,
      padding: false,
      channels: 2,
      frameLength: 417,
      samplesPerFrame: 1152,
    });
    assert.equal(h("fffb9264")?.frameLength, 418);
    assert.equal(h("fffb94c4")?.sampleRate, 48000);
    assert.equal(h("fffb94c4")?.channels, 1);
    assert.equal(h("fffb94c4")?.frameLength, 384);
    const v2 = h("fff35064");
    assert.equal(v2?.version, 2);
    assert.equal(v2?.sampleRate, 22050);
    assert.equal(v2?.bitrateKbps, 40);
    assert.equal(v2?.frameLength, 130);
    assert.equal(v2?.samplesPerFrame, 576);
    const v25 = h("ffe38064");
    assert.equal(v25?.version, 2.5);
    assert.equal(v25?.sampleRate, 11025);
    assert.equal(v25?.frameLength, Math.floor((72 * 64000) / 11025));
    for (const bad of ["fffbf064", "fffb0064", "fffb9c64", "fffd9064", "ffeb9064", "fefb9064", "fffb90"]) {
      assert.equal(h(bad), null, bad);
    }
  });

  it("sizes ID3v2 tags (syncsafe, footer flag) and probes", () => {
    assert.equal(id3v2Size(Buffer.from("49443304000000000201", "hex"), 0), 10 + 257);
    assert.equal(id3v2Size(Buffer.from("49443304001000000201", "hex"), 0), 10 + 257 + 10);
    assert.equal(id3v2Size(Buffer.from("49443304000000008001", "hex"), 0), 0, "high bit set: not syncsafe");
    assert.equal(id3v2Size(Buffer.from("494433040000", "hex"), 0), 0);
    assert.equal(probeMp3(Buffer.from("4944330400000000020100", "hex")), true);
    const twoFrames = Buffer.alloc(418 + 4);
    twoFrames.write("fffb9064", 0, "hex");
    twoFrames.write("fffb9064", 417, "hex");
    assert.equal(probeMp3(twoFrames), true);
    assert.equal(probeMp3(Buffer.concat([Buffer.from([0, 0, 0xff]), twoFrames])), true, "after junk bytes");
    twoFrames.write("0000", 417, "hex");
    assert.equal(probeMp3(twoFrames), false, "a lone header is not enough");
  });

  it("picks the FLV sound byte", () => {
    const h = (hex: string) => parseMpegAudioHeader(Buffer.from(hex, "hex"), 0)!;
    assert.equal(mp3SoundByte(h("fffb9064")), 0x2f); // 44.1k stereo
    assert.equal(mp3SoundByte(h("fffb94c4")), 0x2e); // 48k mono: still "44k"
    assert.equal(mp3SoundByte(h("fff35064")), 0x2b); // 22.05k stereo
    assert.equal(mp3SoundByte(h("ffe38064")), 0x27); // 11.025k stereo
    assert.equal(mp3SoundByte(h("ffe388c4")), 0xe2); // 8k mono: format 14
  });

  it("reads the Xing header of a VBR file", () => {
    const bytes = readFileSync(VBR_MP3);
    const start = id3v2Size(bytes, 0);
    const header = parseMpegAudioHeader(bytes, start)!;
    const xing = parseVbrHeader(bytes.subarray(start, start + header.frameLength), header);
    assert.equal(xing?.tag, "Xing");
    assert.equal(xing?.frames, probePackets(VBR_MP3).audio.length);
    assert.equal(xing?.toc?.length, 100);
  });
});

describe("Mp3Reader", () => {
  for (const file of [SAMPLE_MP3, VBR_MP3]) {
    it(`matches ffprobe packets (${file.split("/").pop()})`, async () => {
      const reader = await open(readFileSync(file));
      const tags = await readAll(reader);
      const expected = probePackets(file).audio;
      assert.deepEqual(
        tags.map((t) => ({
          codecType: "audio",
          dtsMs: t.timestampMs,
          ptsMs: t.timestampMs,
          size: t.body.length - 1,
          key: t.keyframe,
        })),
        expected,
      );
      assert.ok(Math.abs(reader.durationMs - expected.length * 26.1) < 100 || file === VBR_MP3);
      const props = decodeOnMetaData(reader.metadata!);
      assert.equal(props?.audiocodecid, 2);
      assert.equal(reader.sequenceHeaders.length, 0);
    });
  }

  it("reports durations from Xing frames and from CBR size", async () => {
    assert.equal((await open(readFileSync(VBR_MP3))).durationMs, Math.floor((117 * 576 * 1000) / 22050));
    const cbr = await open(readFileSync(SAMPLE_MP3));
    assert.ok(Math.abs(cbr.durationMs - 6034) <= 30, `${cbr.durationMs}`);
  });

  it("resyncs over garbage between frames", async () => {
    const bytes = readFileSync(SAMPLE_MP3);
    const clean = await readAll(await open(bytes));
    // Garbage full of 0xFF and fake sync words, spliced after frame 10.
    const random = prng(7);
    const garbage = Buffer.from(
      Array.from({ length: 3000 }, () => (random() < 0.3 ? 0xff : (random() * 256) | 0)),
    );
    const frame10End = 388 + clean.slice(0, 10).reduce((n, t) => n + t.body.length - 1, 0);
    const dirty = Buffer.concat([bytes.subarray(0, frame10End), garbage, bytes.subarray(frame10End)]);
    const tags = await readAll(await open(dirty));
    assert.equal(tags.length, clean.length);
    assert.ok(tags.every((t, i) => t.body.equals(clean[i]!.body)));
  });

  it("seeks a CBR file to the last frame at or before the target", async () => {
    const bytes = readFileSync(SAMPLE_MP3);
    const all = await readAll(await open(bytes));
    const reader = await open(bytes);
    for (const ms of [3000, 0, 26, 27, 1000, 5990, 60_000, 1234]) {
      const expectedIndex = Math.max(
        0,
        all.findLastIndex((t) => t.timestampMs <= ms),
      );
      assert.equal(await reader.seek(ms), all[expectedIndex]!.timestampMs, `seek(${ms})`);
      const tag = await reader.next();
      assert.ok(tag?.body.equals(all[expectedIndex]!.body), `frame after seek(${ms})`);
    }
  });

  it("seeks a VBR file through the Xing TOC to a real frame near the target", async () => {
    const bytes = readFileSync(VBR_MP3);
    const all = await readAll(await open(bytes));
    const reader = await open(bytes);
    for (const ms of [1500, 0, 2900, 700, 10_000]) {
      const ts = await reader.seek(ms);
      assert.ok(ts <= ms, `seek(${ms}) = ${ts}`);
      const tag = await reader.next();
      assert.equal(tag?.timestampMs, ts);
      const actual = all.findIndex((t) => t.body.equals(tag!.body));
      assert.ok(actual >= 0, "lands on a frame boundary");
    }
  });

  it("rejects objects without MPEG audio frames", async () => {
    await rejectsEdge(() => open(readFileSync(fixture("noindex.flv"))), EdgeErrorCode.MediaInvalid);
    const id3Only = Buffer.concat([
      Buffer.from("49443304000000000010", "hex"),
      Buffer.alloc(16),
      Buffer.alloc(5000, 7),
    ]);
    await rejectsEdge(() => open(id3Only), EdgeErrorCode.MediaInvalid);
  });
});
