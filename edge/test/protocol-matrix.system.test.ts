import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  assertSamePackets,
  type ProbedPacket,
  probePackets,
  rtmpdump,
  runTool,
} from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";

/**
 * Every protocol a viewer may use, on both ports, with each container:
 * rtmpdump over rtmp://, rtmpe:// (RC4 after a Diffie-Hellman handshake) and
 * rtmpt:// and rtmpte:// (the HTTP tunnel, plain and encrypted), and ffmpeg
 * over rtmp:// and rtmpt://; the output matches the source packet for packet.
 */
let harness: EdgeHarness;
const work = mkdtempSync(join(tmpdir(), "streamfront-matrix-"));
before(async () => {
  // A short tunnel idle timeout: ffmpeg never posts /close, its tunnel ends when polls stop.
  harness = await startEdgeHarness({ env: { STREAMFRONT_EDGE_RTMPT_IDLE_TIMEOUT_MS: "1000" } });
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
    { scheme: "rtmpt", port: () => harness.httpPort, where: "shared port" },
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
        assertSamePackets(await probePackets(out), await source(object.file), { shift: "auto" });
      });
    }
  }
});

describe("ffmpeg", () => {
  for (const [scheme, where, port] of [
    ["rtmp", "RTMP port", () => harness.rtmpPort],
    ["rtmp", "shared port", () => harness.httpPort],
    ["rtmpt", "shared port", () => harness.httpPort],
  ] as const) {
    for (const object of objects) {
      test(`${scheme}:// on the ${where}: ${object.label}`, async () => {
        const out = join(work, `ffmpeg-${scheme}-${port()}-${object.label.replace(/\W/g, "")}.flv`);
        // A long client buffer so the edge sends at wire speed and the test does not wait in real time.
        await runTool("ffmpeg", [
          "-v",
          "error",
          "-y",
          "-rtmp_buffer",
          "60000",
          "-i",
          `${scheme}://127.0.0.1:${port()}/cfx/st/${object.name}`,
          "-c",
          "copy",
          out,
        ]);
        assertSamePackets(await probePackets(out), await source(object.file), { shift: "auto" });
      });
    }
  }
});

test("the edge counted each protocol under its own label, and every tunnel was closed afterwards", async () => {
  const text = await harness.metricsText();
  assert.match(text, /^streamfront_edge_rtmpt_requests_total\{command="send",result="ok"\} [1-9]/m);
  for (const protocol of ["rtmp", "rtmpe", "rtmpt", "rtmpte"]) {
    const m = new RegExp(`^streamfront_edge_connections_total\\{protocol="${protocol}"\\} (\\d+)`, "m").exec(
      text,
    );
    assert.ok(m && Number(m[1]) > 0, `${protocol} connections counted`);
  }
});

test("tunnels end with their players (librtmp posts /close; ffmpeg stops polling: idle timeout)", async () => {
  const deadline = Date.now() + 10_000;
  while (!/^streamfront_edge_rtmpt_sessions 0$/m.test(await harness.metricsText())) {
    if (Date.now() > deadline) assert.fail("RTMPT sessions left open");
    await new Promise((r) => setTimeout(r, 100));
  }
});
