import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";
import { type ProbedPacket, probePackets, rtmpdump, runTool } from "./support/ffprobe.js";

/**
 * Every protocol a viewer may use, on both ports, with each container:
 * rtmpdump over rtmp://, rtmpe:// (RC4 after a Diffie-Hellman handshake) and
 * rtmpte:// (the same inside the HTTP tunnel), and ffmpeg over rtmp://; the
 * output matches the source packet for packet. rtmpt:// is played by ffmpeg
 * and rtmpdump in rtmpt-play.test.ts.
 */
let harness: EdgeHarness;
const work = mkdtempSync(join(tmpdir(), "streamfront-matrix-"));
before(async () => {
  harness = await startEdgeHarness();
});
after(async () => {
  await harness?.close();
  rmSync(work, { recursive: true, force: true });
});

const objects = [
  { label: "FLV", name: "videos/sample", file: "deploy/local/media/videos/sample.flv" },
  { label: "mp4:", name: "mp4:videos/sample.mp4", file: "deploy/local/media/videos/sample.mp4" },
  { label: "mp3:", name: "mp3:audio/sample", file: "deploy/local/media/audio/sample.mp3" },
] as const;

/** Same packets in order; MP4 times may all be shifted by one constant (FLV has no negative times). */
function assertSamePackets(actual: readonly ProbedPacket[], expected: readonly ProbedPacket[]): void {
  assert.equal(actual.length, expected.length, "packet count");
  for (const type of ["video", "audio"] as const) {
    const a = actual.filter((p) => p.type === type);
    const e = expected.filter((p) => p.type === type);
    assert.equal(a.length, e.length, `${type} packets`);
    if (e.length === 0) continue;
    const shift = a[0]!.dtsMs - e[0]!.dtsMs;
    a.forEach((p, i) => {
      const want = e[i]!;
      assert.deepEqual(p, { ...want, dtsMs: want.dtsMs + shift, ptsMs: want.ptsMs + shift }, `${type} ${i}`);
    });
  }
}

const expected = new Map<string, ProbedPacket[]>();
async function source(file: string): Promise<ProbedPacket[]> {
  if (!expected.has(file)) expected.set(file, await probePackets(fromRepoRoot(file)));
  return expected.get(file)!;
}

describe("rtmpdump", () => {
  const routes = [
    { scheme: "rtmp", port: () => harness.rtmpPort, where: "RTMP port" },
    { scheme: "rtmp", port: () => harness.httpPort, where: "shared port" },
    { scheme: "rtmpe", port: () => harness.rtmpPort, where: "RTMP port" },
    { scheme: "rtmpe", port: () => harness.httpPort, where: "shared port" },
    { scheme: "rtmpte", port: () => harness.httpPort, where: "shared port" },
  ];
  for (const route of routes) {
    for (const object of objects) {
      test(`${route.scheme}:// on the ${route.where}: ${object.label}`, async () => {
        const out = join(
          work,
          `rtmpdump-${route.scheme}-${route.port()}-${object.label.replace(/\W/g, "")}.flv`,
        );
        await rtmpdump([
          "-r",
          `${route.scheme}://127.0.0.1:${route.port()}/cfx/st/`,
          "-y",
          object.name,
          "-o",
          out,
        ]);
        assertSamePackets(await probePackets(out), await source(object.file));
      });
    }
  }
});

describe("ffmpeg", () => {
  for (const [where, port] of [
    ["RTMP port", () => harness.rtmpPort],
    ["shared port", () => harness.httpPort],
  ] as const) {
    for (const object of objects) {
      test(`rtmp:// on the ${where}: ${object.label}`, async () => {
        const out = join(work, `ffmpeg-${port()}-${object.label.replace(/\W/g, "")}.flv`);
        // A long client buffer so the edge sends at wire speed and the test does not wait in real time.
        await runTool("ffmpeg", [
          "-v",
          "error",
          "-y",
          "-rtmp_buffer",
          "60000",
          "-i",
          `rtmp://127.0.0.1:${port()}/cfx/st/${object.name}`,
          "-c",
          "copy",
          out,
        ]);
        assertSamePackets(await probePackets(out), await source(object.file));
      });
    }
  }
});

test("the edge counted rtmpe and rtmpte connections under their own protocol labels", async () => {
  const text = await harness.metricsText();
  for (const protocol of ["rtmp", "rtmpe", "rtmpte"]) {
    const m = new RegExp(`^streamfront_edge_connections_total\\{protocol="${protocol}"\\} (\\d+)`, "m").exec(
      text,
    );
    assert.ok(m && Number(m[1]) > 0, `${protocol} connections counted`);
  }
});
