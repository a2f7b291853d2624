import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { describeObject } from "../../deploy/local/play-names.js";
import { assertSamePackets, probePackets, probeStreams, runTool } from "../../lib/testing/ffprobe.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";

/**
 * Issue 9 item 15: media that used to be skipped or trimmed silently. The
 * files are made with ffmpeg at test time: H.264 + MP3 in MP4 (FLV carries
 * MP3, sound format 2: it plays whole), HEVC + AAC in MP4 (FLV has no HEVC:
 * the video is left out, and that is logged once per object, counted per
 * play, and said in npm start's listing), and an Ogg Theora .ogv (listed as
 * not playable, with why).
 */
let harness: EdgeHarness;
let work: string;
const files = { mp3InMp4: "", hevc: "", hevcOnly: "", ogv: "" };
const lavfi = [
  "-f",
  "lavfi",
  "-i",
  "testsrc=size=160x90:rate=15",
  "-f",
  "lavfi",
  "-i",
  "sine=frequency=440:sample_rate=44100",
  "-t",
  "2",
];

before(async () => {
  work = await mkdtemp(join(tmpdir(), "streamfront-codecs-"));
  files.mp3InMp4 = join(work, "mp3-in.mp4");
  files.hevc = join(work, "hevc.mp4");
  files.ogv = join(work, "clip.ogv");
  files.hevcOnly = join(work, "hevc-only.mp4");
  const common = ["-v", "error", "-y", ...lavfi, "-map", "0:v", "-map", "1:a", "-pix_fmt", "yuv420p"];
  await runTool("ffmpeg", [
    ...common,
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-g",
    "15",
    "-c:a",
    "libmp3lame",
    "-b:a",
    "64k",
    files.mp3InMp4,
  ]);
  await runTool("ffmpeg", [
    ...common,
    "-c:v",
    "libx265",
    "-preset",
    "ultrafast",
    "-x265-params",
    "log-level=error",
    "-tag:v",
    "hvc1",
    "-c:a",
    "aac",
    "-b:a",
    "32k",
    files.hevc,
  ]);
  await runTool("ffmpeg", [
    ...["-v", "error", "-y", ...lavfi.slice(0, 4), "-t", "2", "-pix_fmt", "yuv420p"],
    ...["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1"],
    files.hevcOnly,
  ]);
  await runTool("ffmpeg", [...common, "-c:v", "libtheora", "-c:a", "libvorbis", files.ogv]);
  harness = await startEdgeHarness();
  await harness.s3.s3.putObject(harness.bucket, "codecs/mp3-in.mp4", readFileSync(files.mp3InMp4));
  await harness.s3.s3.putObject(harness.bucket, "codecs/hevc.mp4", readFileSync(files.hevc));
  await harness.s3.s3.putObject(harness.bucket, "codecs/hevc-only.mp4", readFileSync(files.hevcOnly));
});
after(async () => {
  await harness?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const url = (name: string) => `rtmp://127.0.0.1:${harness.rtmpPort}/cfx/st/${name}`;

async function play(name: string, out: string): Promise<void> {
  await runTool("ffmpeg", ["-v", "error", "-y", "-rtmp_buffer", "60000", "-i", url(name), "-c", "copy", out]);
}

describe("H.264 + MP3 in MP4", () => {
  test("plays whole: every MP3 packet arrives (ffprobe packets match the source)", async () => {
    const source = await probePackets(files.mp3InMp4);
    assert.ok(source.filter((p) => p.type === "audio").length > 50, "the source has MP3 audio");
    const out = join(work, "mp3-in-mp4.flv");
    await play("mp4:codecs/mp3-in.mp4", out);
    assert.deepEqual(
      (await probeStreams(out)).map((s) => `${s.type}:${s.codec}`),
      ["video:h264", "audio:mp3"],
    );
    assertSamePackets(await probePackets(out), source, { shift: "auto" });
  });
});

describe("HEVC + AAC in MP4", () => {
  test("plays its audio; the left-out HEVC video is logged once per object and counted per play", async () => {
    for (const n of [1, 2]) {
      const out = join(work, `hevc-${n}.flv`);
      await play("mp4:codecs/hevc.mp4", out);
      assert.deepEqual(
        (await probeStreams(out)).map((s) => `${s.type}:${s.codec}`),
        ["audio:aac"],
      );
      const source = (await probePackets(files.hevc)).filter((p) => p.type === "audio");
      assertSamePackets(await probePackets(out), source, { shift: "auto" });
    }
    const warned = harness.logLines.filter(
      (l) => l.msg === "object plays without tracks RTMP cannot carry" && l.key === "codecs/hevc.mp4",
    );
    assert.equal(warned.length, 1, "one warn line for two plays");
    assert.equal(warned[0]!.level, "warn");
    assert.deepEqual(warned[0]!.skipped, ["video hevc (codec_not_in_flv)"]);
    assert.match(
      await harness.metricsText(),
      /^streamfront_edge_media_skipped_tracks_total\{codec="hevc",reason="codec_not_in_flv"\} 2$/m,
    );
  });
});

describe("HEVC only in MP4 (nothing RTMP can carry)", () => {
  test("the play fails, and the left-out track is still logged and counted", async () => {
    const counted = async () =>
      Number(
        /^streamfront_edge_media_skipped_tracks_total\{codec="hevc",reason="codec_not_in_flv"\} (\d+)$/m.exec(
          await harness.metricsText(),
        )?.[1] ?? 0,
      );
    const before = await counted();
    await assert.rejects(play("mp4:codecs/hevc-only.mp4", join(work, "hevc-only.flv")));
    assert.equal(await counted(), before + 1, "one more HEVC track counted for the failed play");
    const warned = harness.logLines.filter(
      (l) => l.msg === "object plays without tracks RTMP cannot carry" && l.key === "codecs/hevc-only.mp4",
    );
    assert.equal(warned.length, 1, "the object is named in the log");
    assert.deepEqual(warned[0]!.skipped, ["video hevc (codec_not_in_flv)"]);
  });
});

describe("npm start's listing", () => {
  test("names what cannot be played and why, instead of leaving it out", async () => {
    assert.deepEqual(await describeObject("codecs/mp3-in.mp4", files.mp3InMp4), {
      key: "codecs/mp3-in.mp4",
      playName: "mp4:codecs/mp3-in.mp4",
      note: "",
    });
    assert.deepEqual(await describeObject("codecs/hevc.mp4", files.hevc), {
      key: "codecs/hevc.mp4",
      playName: "mp4:codecs/hevc.mp4",
      note: "plays audio only: video hevc cannot go over RTMP",
    });
    const ogv = await describeObject("codecs/clip.ogv", files.ogv);
    assert.equal(ogv.playName, null);
    assert.match(ogv.note, /^Ogg \(Theora\/Vorbis\)/);
    const text = await describeObject("notes.txt", files.ogv);
    assert.deepEqual(text, { key: "notes.txt", playName: null, note: "not an FLV, MP4 or MP3 file" });
  });
});

test("after the codec plays: the edge still plays, and this process (edge in-process) stayed under 1 GiB RSS", async (t) => {
  const out = join(work, "after.flv");
  await play("mp4:codecs/mp3-in.mp4", out);
  assert.ok((await probePackets(out)).length > 0);
  // process.resourceUsage().maxRSS: peak RSS of the test process, which runs the edge and shield (KiB).
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  t.diagnostic(`peak RSS of the test process (edge + shield + s3rver in-process): ${peakMiB.toFixed(1)} MiB`);
  assert.ok(peakMiB < 1024, `peak RSS ${peakMiB} MiB`);
});
