import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Registry } from "prom-client";
import { loadConfig } from "../../lib/config/settings.js";
import { createLogger } from "../../lib/log.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { eventually } from "../../lib/testing/wait.js";
import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";
import {
  silentLogger,
  startTestS3,
  startTestShield,
  type TestS3,
  type TestShield,
} from "../../shield/test/helpers.js";
import { edgeSettings } from "../src/config.js";
import { EdgeServer } from "../src/edge-server.js";
import { ShieldOrigin } from "../src/origin/shield-origin.js";
import { type ProbedPacket, probePackets, rtmpdump, runTool } from "./support/ffprobe.js";
import { RawHttpConnection, RtmptTestSession } from "./support/rtmpt-http-client.js";

/**
 * RTMPT on the edge's shared port, end to end: an edge in this process in
 * front of a real shield and s3rver, played by ffmpeg and rtmpdump over
 * rtmpt://, and driven by hand over plain HTTP for what players do not show.
 */
const bucket = "rtmpt-media";
const media = fromRepoRoot("deploy", "local", "media");
const work = mkdtempSync(join(tmpdir(), "streamfront-rtmpt-"));
const logLines: Record<string, unknown>[] = [];

const distributions = new Map<string, Distribution>([
  [
    "ERTMPT",
    {
      id: "ERTMPT",
      domainName: "srtmpt00000000.test",
      cnames: ["localhost", "127.0.0.1"],
      originBucket: bucket,
      enabled: true,
      kind: 1,
    },
  ],
]);

let s3: TestS3;
let shield: TestShield;
let origin: ShieldOrigin;
let edge: EdgeServer;
let registry: Registry;
let httpPort = 0;

before(async () => {
  s3 = await startTestS3(bucket);
  await s3.s3.uploadDirectory(bucket, media);
  shield = await startTestShield(s3.s3, { env: { STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket } });
  origin = new ShieldOrigin({ address: shield.address, logger: silentLogger("edge") });
  const config = loadConfig(edgeSettings, {
    env: {
      STREAMFRONT_EDGE_HOST: "127.0.0.1",
      STREAMFRONT_EDGE_RTMP_PORT: "0",
      STREAMFRONT_EDGE_HTTP_PORT: "0",
      STREAMFRONT_EDGE_RTMPT_IDLE_TIMEOUT_MS: "1000",
    },
  });
  registry = new Registry();
  edge = new EdgeServer({
    config,
    logger: createLogger({
      component: "edge",
      level: "info",
      destination: {
        write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>),
      },
    }),
    registry,
    distributions: { current: () => distributions },
    origin,
  });
  const addresses = await edge.start();
  httpPort = Number(addresses.http!.split(":").pop());
});

after(async () => {
  await edge?.close();
  origin?.close();
  await shield?.close();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Same packets: count, order, timestamps, sizes, key flags. */
function assertSamePackets(actual: readonly ProbedPacket[], expected: readonly ProbedPacket[], shiftMs = 0) {
  assert.equal(actual.length, expected.length, "packet count");
  for (const type of ["audio", "video"]) {
    const a = actual.filter((p) => p.type === type);
    const e = expected.filter((p) => p.type === type);
    assert.equal(a.length, e.length, `${type} packet count`);
    for (let i = 0; i < e.length; i++) {
      assert.deepEqual(
        a[i],
        { ...e[i]!, ptsMs: e[i]!.ptsMs + shiftMs, dtsMs: e[i]!.dtsMs + shiftMs },
        `${type} packet ${i}`,
      );
    }
  }
}

describe("players over RTMPT on the shared port", () => {
  test("ffmpeg -c copy over rtmpt:// yields the source FLV's packets", async () => {
    const out = join(work, "ffmpeg.flv");
    await runTool("ffmpeg", [
      "-v",
      "error",
      "-y",
      "-i",
      `rtmpt://localhost:${httpPort}/cfx/st/videos/sample`,
      "-c",
      "copy",
      out,
    ]);
    const source = await probePackets(join(media, "videos", "sample.flv"));
    assert.ok(source.length > 300, "the sample has packets");
    assertSamePackets(await probePackets(out), source);
  });

  test("rtmpdump over rtmpt:// yields the source FLV's packets", async () => {
    const out = join(work, "rtmpdump.flv");
    await rtmpdump(["-r", `rtmpt://localhost:${httpPort}/cfx/st/`, "-y", "videos/sample", "-o", out]);
    assertSamePackets(await probePackets(out), await probePackets(join(media, "videos", "sample.flv")));
  });

  test("mp4: and mp3: objects play to the end over rtmpt://, packet for packet", async () => {
    const mp4Out = join(work, "mp4.flv");
    await rtmpdump([
      "-r",
      `rtmpt://127.0.0.1:${httpPort}/cfx/st/`,
      "-y",
      "mp4:videos/sample.mp4",
      "-o",
      mp4Out,
    ]);
    const mp4Source = await probePackets(join(media, "videos", "sample.mp4"));
    const mp4Played = await probePackets(mp4Out);
    // FLV has no negative times: the edge shifts the MP4's edit-list times so the first dts is 0.
    const shift =
      mp4Played.find((p) => p.type === "video")!.dtsMs - mp4Source.find((p) => p.type === "video")!.dtsMs;
    assertSamePackets(mp4Played, mp4Source, shift);

    const mp3Out = join(work, "mp3.flv");
    await runTool("ffmpeg", [
      "-v",
      "error",
      "-y",
      "-i",
      `rtmpt://localhost:${httpPort}/cfx/st/mp3:audio/sample`,
      "-c",
      "copy",
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

  test("the plays were labelled rtmpt, and every tunnel was closed afterwards", async () => {
    const metrics = await registry.metrics();
    assert.match(metrics, /^streamfront_edge_connections_total\{protocol="rtmpt"\} [1-9]/m);
    assert.match(metrics, /^streamfront_edge_rtmpt_requests_total\{command="send",result="ok"\} [1-9]/m);
    // Players post /close (librtmp) or stop polling (idle timeout, 1 s here).
    const closed = async () => /^streamfront_edge_rtmpt_sessions 0$/m.test(await registry.metrics());
    const deadline = Date.now() + 5_000;
    while (!(await closed())) {
      if (Date.now() > deadline) assert.fail("RTMPT sessions left open");
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});

describe("the RTMP session behind a tunnel, by hand", () => {
  test("C0+C1 in the first /send is answered with S0+S1+S2 in the same answer", async () => {
    const c = await RawHttpConnection.open(httpPort);
    try {
      assert.equal((await c.post("/fcs/ident2")).status, 404);
      const session = await RtmptTestSession.open(c);
      const c0c1 = Buffer.alloc(1537, 0x11);
      c0c1[0] = 0x03;
      const answer = await session.send(c0c1);
      assert.equal(answer.status, 200);
      assert.equal(answer.body[0], 0x01, "polling byte");
      assert.equal(answer.body.length, 1 + 1 + 1536 + 1536, "S0, S1 and S2");
      assert.equal(answer.body[1], 0x03, "S0: version 3");
      assert.deepEqual([...(await session.close()).body], [0x00]);
    } finally {
      c.close();
    }
  });

  test("a version the handshake refuses closes the RTMP session; the tunnel answers 0x00, then forgets the id", async () => {
    const c = await RawHttpConnection.open(httpPort);
    try {
      const session = await RtmptTestSession.open(c);
      const bad = Buffer.alloc(1537);
      bad[0] = 0x07;
      const first = await session.send(bad);
      const afterClose = first.body.length === 1 && first.body[0] === 0x00 ? first : await session.idle();
      assert.deepEqual([...afterClose.body], [0x00]);
      assert.equal((await session.idle()).status, 400);
      await eventually(
        () => logLines.some((l) => l.code === "EDGE_ERR_HANDSHAKE_VERSION"),
        2_000,
        "handshake log line",
      );
    } finally {
      c.close();
    }
  });

  test("a tunnel nobody polls is closed after the idle timeout", async () => {
    const c = await RawHttpConnection.open(httpPort);
    try {
      const session = await RtmptTestSession.open(c);
      const c0c1 = Buffer.alloc(1537);
      c0c1[0] = 0x03;
      await session.send(c0c1);
      await new Promise((r) => setTimeout(r, 1_600));
      assert.equal((await session.idle()).status, 400);
    } finally {
      c.close();
    }
  });
});
