import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { EdgeError } from "../src/errors.js";
import { openMedia } from "../src/media/open-media.js";
import { bufferSource } from "../src/media/range-source.js";

/** Inputs the fuzz campaign turned up (not crashes, but wrong or costly answers). */

test("an MP3 whose Info frame runs past the end has duration 0, not a negative one", async () => {
  const bytes = Buffer.from("49443304000000000000fff370c000000000000000000058696e670f000000", "hex");
  const reader = await openMedia("mp3", bufferSource(bytes));
  assert.equal(reader.durationMs, 0);
});

test("an FLV claiming a 1e306 s duration gets its duration from its last tag instead", async () => {
  const bytes = Buffer.from(readFileSync(fromRepoRoot("deploy", "local", "media", "videos", "sample.flv")));
  const at = bytes.indexOf("duration");
  bytes.writeDoubleBE(1e306, at + "duration".length + 1);
  const reader = await openMedia("flv", bufferSource(bytes));
  assert.ok(Number.isFinite(reader.durationMs));
  assert.ok(reader.durationMs > 5000 && reader.durationMs < 7000, `${reader.durationMs}`);
});

test("an MP4 declaring millions of constant-size samples in a 13 KB file is refused before allocating them", async () => {
  const bytes = Buffer.from(readFileSync(fromRepoRoot("edge", "test", "fixtures", "audio-only.m4a")));
  const stsz = bytes.indexOf("stsz");
  assert.ok(stsz > 0);
  // stsz full box: type, version+flags (4), sample_size (4), sample_count (4).
  bytes.writeUInt32BE(1, stsz + 8);
  bytes.writeUInt32BE(4_000_000, stsz + 12);
  const before = process.memoryUsage().arrayBuffers;
  await assert.rejects(openMedia("mp4", bufferSource(bytes)), (error: unknown) => error instanceof EdgeError);
  assert.ok(
    process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024,
    "no large sample tables allocated",
  );
});
