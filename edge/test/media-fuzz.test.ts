import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { type ContainerKind, openMedia } from "../src/media/open-media.js";
import { bufferSource } from "../src/media/range-source.js";
import { fixture, prng, SAMPLE_FLV, SAMPLE_MP3, SAMPLE_MP4 } from "./media-helpers.js";

const MEDIA_CODES: string[] = [EdgeErrorCode.MediaInvalid, EdgeErrorCode.MediaTooLarge];

/**
 * Opens, plays up to `maxTags` tags and seeks; any failure must be an
 * EdgeError with a media code (never a RangeError from reading past a
 * Buffer, never a hang).
 */
async function exercise(kind: ContainerKind, bytes: Buffer, random: () => number): Promise<void> {
  try {
    const reader = await openMedia(kind, bufferSource(bytes), {
      maxHeaderBytes: 1024 * 1024,
      readAheadBytes: 8192,
    });
    for (let i = 0; i < 300 && (await reader.next()); i++);
    await reader.seek(random() * 10_000);
    for (let i = 0; i < 20 && (await reader.next()); i++);
    await reader.seek(0);
    await reader.next();
  } catch (error) {
    if (error instanceof EdgeError && MEDIA_CODES.includes(error.code)) return;
    assert.fail(
      `${kind} input threw a non-media error: ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
}

/** Copies `source` with a few random bytes overwritten, sometimes truncated. */
function mutate(source: Buffer, random: () => number, from = 0, to = source.length): Buffer {
  const out = Buffer.from(source);
  const edits = 1 + Math.floor(random() * 8);
  for (let i = 0; i < edits; i++) {
    const at = from + Math.floor(random() * (to - from));
    out[at] = random() < 0.3 ? 0xff : random() < 0.5 ? 0 : Math.floor(random() * 256);
  }
  return random() < 0.2 ? out.subarray(0, Math.floor(random() * out.length)) : out;
}

function garbage(random: () => number, prefix: Buffer): Buffer {
  const body = Buffer.alloc(Math.floor(random() * 4096));
  for (let i = 0; i < body.length; i++) body[i] = random() < 0.1 ? 0xff : Math.floor(random() * 256);
  return Buffer.concat([prefix, body]);
}

describe("media readers on garbage", () => {
  it("random bytes behind each container's signature only throw media EdgeErrors", async () => {
    const random = prng(0x5eed);
    const prefixes: [ContainerKind, Buffer][] = [
      ["flv", Buffer.from("464c560105000000090000000000", "hex")],
      ["mp4", Buffer.from("0000001866747970", "hex")],
      ["mp4", Buffer.from("000000086672656500000000", "hex")],
      ["mp3", Buffer.from("49443304000000000000", "hex")],
      ["mp3", Buffer.from("fffb9064", "hex")],
    ];
    for (let i = 0; i < 1500; i++) {
      const [kind, prefix] = prefixes[i % prefixes.length]!;
      await exercise(kind, garbage(random, prefix), random);
    }
  });

  it("mutated real files only throw media EdgeErrors", async () => {
    const random = prng(42);
    const flv = readFileSync(fixture("noindex.flv"));
    const sampleFlv = readFileSync(SAMPLE_FLV).subarray(0, 20_000);
    const mp4 = readFileSync(fixture("moov-at-end.mp4"));
    const moovStart = mp4.indexOf("moov", 0, "latin1") - 4;
    const m4a = readFileSync(fixture("audio-only.m4a"));
    const faststart = readFileSync(SAMPLE_MP4).subarray(0, 12_000);
    const mp3 = readFileSync(SAMPLE_MP3).subarray(0, 10_000);
    const vbr = readFileSync(fixture("vbr.mp3"));
    for (let i = 0; i < 300; i++) {
      await exercise("flv", mutate(flv, random, 0, 2000), random);
      await exercise("flv", mutate(sampleFlv, random, 0, 800), random);
      // Mutations inside moov reach the box and sample-table parsers.
      await exercise("mp4", mutate(mp4, random, moovStart, mp4.length), random);
      await exercise("mp4", mutate(m4a, random), random);
      await exercise("mp4", mutate(faststart, random, 0, 6000), random);
      await exercise("mp3", mutate(mp3, random), random);
      await exercise("mp3", mutate(vbr, random, 0, 400), random);
    }
  });
});
