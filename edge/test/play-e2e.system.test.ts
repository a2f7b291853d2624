import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalCluster } from "../../deploy/local/cluster.js";
import {
  assertSamePackets,
  probePackets,
  probeStreams,
  rtmpdump,
  runTool,
} from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";

/**
 * The whole data path with real parts: s3rver holds the sample media, the
 * controller, shield and edge run as their own processes (as in pods), and
 * real players (ffprobe, ffmpeg, rtmpdump) play over RTMP.
 */
const media = fromRepoRoot("deploy", "local", "media");
const work = mkdtempSync(join(tmpdir(), "streamfront-e2e-"));
const cluster = new LocalCluster({
  mediaDir: media,
  host: "localhost",
  rtmpPort: 0,
  httpPort: 0,
  apiPort: 0,
  bucket: "e2e-media",
  logLevel: process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent",
  stdio: "inherit",
});

before(async () => {
  await cluster.start();
});
after(async () => {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
});

function url(playName: string): string {
  return `rtmp://localhost:${cluster.rtmpPort}/cfx/st/${playName}`;
}

describe("npm start's cluster: S3 → shield → edge → RTMP players", () => {
  test("every sample object has a URL and ffprobe reports the expected streams", async () => {
    const names = cluster.objects.map((o) => o.playName).sort();
    assert.deepEqual(names, ["mp3:audio/sample", "mp4:videos/sample.mp4", "videos/sample"]);
    const expected: Record<string, string[]> = {
      "videos/sample": ["audio:aac", "video:h264"],
      "mp4:videos/sample.mp4": ["audio:aac", "video:h264"],
      "mp3:audio/sample": ["audio:mp3"],
    };
    for (const object of cluster.objects) {
      const streams = await probeStreams(object.url);
      const media = streams
        .filter((s) => s.type === "audio" || s.type === "video")
        .map((s) => `${s.type}:${s.codec}`)
        .sort();
      assert.deepEqual(media, expected[object.playName], object.url);
    }
  });

  test("ffmpeg -c copy of the FLV yields the source's packets", async () => {
    const out = join(work, "ffmpeg.flv");
    await runTool("ffmpeg", ["-v", "error", "-y", "-i", url("videos/sample"), "-c", "copy", out]);
    const source = await probePackets(join(media, "videos", "sample.flv"));
    assert.ok(source.length > 300, "the sample has packets");
    assertSamePackets(await probePackets(out), source);
  });

  test("rtmpdump of the FLV yields the source's packets", async () => {
    const out = join(work, "rtmpdump.flv");
    await rtmpdump(["-r", `rtmp://localhost:${cluster.rtmpPort}/cfx/st/`, "-y", "videos/sample", "-o", out]);
    assertSamePackets(await probePackets(out), await probePackets(join(media, "videos", "sample.flv")));
  });

  test("the FLV also plays as videos/sample.flv and on the shared RTMP/HTTP port", async () => {
    const out = join(work, "http-port.flv");
    await runTool("ffmpeg", [
      "-v",
      "error",
      "-y",
      "-i",
      `rtmp://localhost:${cluster.httpPort}/cfx/st/videos/sample.flv`,
      "-c",
      "copy",
      out,
    ]);
    assertSamePackets(await probePackets(out), await probePackets(join(media, "videos", "sample.flv")));
  });

  test("mp4: and mp3: objects play to the end with rtmpdump, packet for packet", async () => {
    const mp4Out = join(work, "mp4.flv");
    await rtmpdump([
      "-r",
      `rtmp://localhost:${cluster.rtmpPort}/cfx/st`,
      "-a",
      "cfx/st",
      "-y",
      "mp4:videos/sample.mp4",
      "-o",
      mp4Out,
    ]);
    const mp4Source = await probePackets(join(media, "videos", "sample.mp4"));
    const mp4Played = await probePackets(mp4Out);
    // FLV has no negative times: the edge shifts the MP4's edit-list times so the first dts is 0.
    assertSamePackets(mp4Played, mp4Source, { shift: "auto" });

    const mp3Out = join(work, "mp3.flv");
    await rtmpdump([
      "-r",
      `rtmp://localhost:${cluster.rtmpPort}/cfx/st/`,
      "-y",
      "mp3:audio/sample",
      "-o",
      mp3Out,
    ]);
    const mp3Played = await probePackets(mp3Out);
    const mp3Source = await probePackets(join(media, "audio", "sample.mp3"));
    assert.equal(mp3Played.length, mp3Source.length, "mp3 frame count");
    assert.deepEqual(
      mp3Played.map((p) => p.size),
      mp3Source.map((p) => p.size),
      "mp3 frame sizes",
    );
    assert.ok(statSync(mp3Out).size > 50_000);
  });

  test("the bytes came from S3 by range GETs through the shield", async () => {
    const flvGets = cluster.s3.requests.filter((r) => r.method === "GET" && r.key === "videos/sample.flv");
    assert.ok(flvGets.length > 0, "S3 saw GETs of the FLV");
    for (const get of flvGets) assert.match(get.range ?? "", /^bytes=\d+-\d+$/, "every GET is a range read");
    const shieldMetrics = await (await fetch(`http://${cluster.addresses.shield!.admin}/metrics`)).text();
    const served = /^streamfront_shield_served_bytes_total (\d+)/m.exec(shieldMetrics);
    assert.ok(served, "the shield exports served bytes");
    assert.ok(
      Number(served[1]) >= statSync(join(media, "videos", "sample.flv")).size,
      "the shield served the FLV",
    );
    const edgeMetrics = await (await fetch(`http://${cluster.addresses.edge!.admin}/metrics`)).text();
    assert.match(
      edgeMetrics,
      /^streamfront_edge_plays_total\{distribution="[^"]+",container="flv",result="completed"\} [1-9]/m,
    );
  });

  test("a missing object answers StreamNotFound at once", async () => {
    const result = await runTool("rtmpdump", [
      "-V",
      "-r",
      `rtmp://localhost:${cluster.rtmpPort}/cfx/st/`,
      "-y",
      "videos/no-such-thing",
      "-o",
      join(work, "missing.flv"),
    ]).catch((error: { stderr: string }) => error);
    assert.match(result.stderr, /NetStream\.Play\.StreamNotFound/);
  });
});
