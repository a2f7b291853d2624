import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { rtmpdump } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { type MediaTag, TagKind } from "../src/media/media-tag.js";
import { type ContainerKind, openMedia } from "../src/media/open-media.js";
import { bufferSource } from "../src/media/range-source.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";

/**
 * rtmpdump -A <start> -B <stop> (play's start and len) against a real edge:
 * the download begins with the keyframe (or, audio only, the frame) at or
 * before start and ends at stop. The FLV rtmpdump writes is read back with
 * the edge's own FLV reader and its frames matched byte for byte to the
 * source's.
 */
let harness: EdgeHarness;
const work = mkdtempSync(join(tmpdir(), "streamfront-ab-"));
before(async () => {
  harness = await startEdgeHarness();
});
after(async () => {
  await harness?.close();
  rmSync(work, { recursive: true, force: true });
});

async function tagsOf(bytes: Buffer, kind: ContainerKind): Promise<MediaTag[]> {
  const reader = await openMedia(kind, bufferSource(bytes));
  const tags: MediaTag[] = [];
  for (let t = await reader.next(); t; t = await reader.next()) tags.push(t);
  return tags;
}

const cases: { label: string; name: string; file: string; container: ContainerKind }[] = [
  {
    label: "FLV with a keyframe index",
    name: "videos/sample",
    file: "deploy/local/media/videos/sample.flv",
    container: "flv",
  },
  {
    label: "FLV without a keyframe index",
    name: "fixtures/noindex",
    file: "edge/test/fixtures/noindex.flv",
    container: "flv",
  },
  {
    label: "MP4 with moov at the end",
    name: "mp4:fixtures/moov-at-end.mp4",
    file: "edge/test/fixtures/moov-at-end.mp4",
    container: "mp4",
  },
  {
    label: "MP3 (CBR, ID3v2)",
    name: "mp3:audio/sample",
    file: "deploy/local/media/audio/sample.mp3",
    container: "mp3",
  },
  {
    label: "MP3 (VBR, Xing)",
    name: "mp3:fixtures/vbr",
    file: "edge/test/fixtures/vbr.mp3",
    container: "mp3",
  },
];

for (const c of cases) {
  test(`rtmpdump -A 1.2 -B 2.4 on ${c.label}`, async () => {
    const startMs = 1200;
    const stopMs = 2400;
    const out = join(work, `${c.label.replace(/\W+/g, "-")}.flv`);
    await rtmpdump([
      "-r",
      `rtmp://127.0.0.1:${harness.rtmpPort}/cfx/st/`,
      "-y",
      c.name,
      "-A",
      String(startMs / 1000),
      "-B",
      String(stopMs / 1000),
      "-o",
      out,
    ]);
    const source = await tagsOf(readFileSync(fromRepoRoot(c.file)), c.container);
    const sourceReader = await openMedia(c.container, bufferSource(readFileSync(fromRepoRoot(c.file))));
    const startFrameMs = await sourceReader.seek(startMs);
    const got = (await tagsOf(readFileSync(out), "flv")).filter((t) => t.kind !== TagKind.Data);
    assert.ok(got.length > 5, "rtmpdump wrote frames");
    // Map each received frame back to the source by its bytes.
    const bySource = got.map((t) => source.find((s) => s.kind === t.kind && s.body.equals(t.body)));
    assert.ok(bySource.every(Boolean), "every frame is a source frame");
    const leadKind = source.some((t) => t.kind === TagKind.Video) ? TagKind.Video : TagKind.Audio;
    const first = bySource.find((s) => s!.kind === leadKind)!;
    assert.equal(
      first.timestampMs,
      startFrameMs,
      `begins at the keyframe (or frame) at or before start (${first.timestampMs} vs ${startFrameMs})`,
    );
    assert.ok(first.timestampMs <= startMs);
    const lastMs = Math.max(...bySource.map((s) => s!.timestampMs));
    assert.ok(lastMs <= stopMs, `ends by stop (${lastMs} ms)`);
    assert.ok(lastMs >= stopMs - 100, `ends at stop (${lastMs} ms)`);
    // rtmpdump adds the start it asked for: its file's clock is the source's, within the keyframe distance.
    const firstOut = got.find((t) => t.kind === leadKind)!;
    assert.equal(firstOut.timestampMs, startMs);
  });
}
