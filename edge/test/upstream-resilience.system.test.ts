import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, type TestContext, test } from "node:test";
import { FaultKind, FaultProxy } from "../../lib/testing/fault-proxy.js";
import {
  assertSamePackets,
  type ProbedPacket,
  probePackets,
  rtmpdump,
  runTool,
} from "../../lib/testing/ffprobe.js";
import { startTestS3, type TestS3 } from "../../lib/testing/shield.js";
import { delay, eventually } from "../../lib/testing/wait.js";
import { edgeSettings } from "../src/config.js";
import { EdgeErrorCode } from "../src/errors.js";
import { decodeCommand } from "../src/rtmp/command.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";
import { isCommand, RtmpTestClient, statusCode } from "./support/rtmp-test-client.js";
import { type ShieldProcess, startShieldProcess } from "./support/shield-process.js";
import {
  closedWithin,
  endCodes,
  metric,
  statusOf,
  timedPlay,
  waitForMediaAt,
  worstLatenessMs,
} from "./support/timed-play.js";

/**
 * Issue 9 items 7 and 8 at the edge, with real parts: s3rver, the shield as
 * its own process (so SIGKILL is real), an edge in this process, rtmpdump
 * and the project's RTMP client as viewers. S3 stalls are injected by the
 * fault proxy in front of s3rver (lib/testing/fault-proxy.ts): s3rver
 * cannot stall on demand; every byte that is not a fault is s3rver's own.
 * Memory is the RSS of this test process (process.memoryUsage(), sampled
 * every 100 ms): the edge, s3rver and the clients' buffers.
 */

const bucket = "resilience-media";
const work = mkdtempSync(join(tmpdir(), "streamfront-resilience-"));
/** Keys of the same 30 s FLV, one per scenario, so each starts cold in every cache. */
const keys = {
  warm: "videos/warm.flv",
  cold: "videos/cold.flv",
  partial: "videos/partial.flv",
  resume: "videos/stall-resume.flv",
  fail: "videos/stall-fail.flv",
  viewer: "videos/viewer.flv",
} as const;
/** RSS bound of this process (edge, s3rver, clients) while the attacks run. */
const rssBoundBytes = 1024 * 1024 * 1024;

let s3: TestS3;
let proxy: FaultProxy;
let sourcePackets: ProbedPacket[];

before(async () => {
  s3 = await startTestS3(bucket);
  proxy = new FaultProxy({ upstream: s3.s3.endpoint });
  await proxy.start();
  // 30 s at ~1 Mbit/s (~3.8 MB), made here rather than committed: long enough that a play is paced
  // across many cache slices, so a stall can be put in its middle.
  const flvPath = join(work, "source.flv");
  await runTool("ffmpeg", [
    ...["-v", "error", "-y"],
    ...["-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25,noise=alls=8:allf=t"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"],
    ...["-t", "30", "-map", "0:v", "-map", "1:a"],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    ...["-b:v", "900k", "-maxrate", "900k", "-bufsize", "450k", "-g", "25", "-sc_threshold", "0"],
    ...["-c:a", "aac", "-b:a", "64k", "-flvflags", "add_keyframe_index"],
    ...["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", flvPath],
  ]);
  const bytes = readFileSync(flvPath);
  for (const key of Object.values(keys)) await s3.s3.putObject(bucket, key, bytes);
  sourcePackets = await probePackets(flvPath);
});

after(async () => {
  await proxy?.close();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Peak RSS of this process from now until the test ends, sampled every 100 ms. */
function trackRss(t: TestContext): { peak(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  t.after(() => clearInterval(timer));
  return { peak: () => Math.max(peak, process.memoryUsage().rss) };
}

function assertRss(t: TestContext, rss: { peak(): number }): void {
  const peak = rss.peak();
  t.diagnostic(`peak RSS of the test process (edge + s3rver + clients): ${(peak / 1048576).toFixed(0)} MiB`);
  assert.ok(peak < rssBoundBytes, `RSS ${peak} bytes is over the ${rssBoundBytes} bound`);
}

/** The only shield, as its own process, stopped after the test. */
async function shieldFor(t: TestContext, endpoint: string, env: Record<string, string> = {}) {
  const shield: ShieldProcess = await startShieldProcess({ s3Endpoint: endpoint, buckets: [bucket], env });
  t.after(() => shield.stop());
  return shield;
}

async function edgeFor(
  t: TestContext,
  shield: ShieldProcess,
  env: Record<string, string>,
  objects: { idleTimeoutMs?: number } = {},
): Promise<EdgeHarness> {
  const harness = await startEdgeHarness({
    s3,
    bucket,
    shieldAddress: shield.address,
    caches: true,
    env,
    objects,
  });
  t.after(() => harness.close());
  return harness;
}

function url(harness: EdgeHarness): string {
  return `rtmp://127.0.0.1:${harness.rtmpPort}/cfx/st/`;
}

describe("item 7a: the only shield is lost", () => {
  test("an object in the edge cache plays whole from it; objects not in it fail promptly with NetStream.Play.Failed", async (t) => {
    const rss = trackRss(t);
    const failedIdleMs = 2_000;
    const shield = await shieldFor(t, s3.s3.endpoint);
    const harness = await edgeFor(t, shield, {
      STREAMFRONT_EDGE_FAILED_PLAY_IDLE_TIMEOUT_MS: String(failedIdleMs),
    });
    const stem = (key: string) => key.replace(/\.flv$/, "");

    // Warm: one whole play puts every slice (and the metadata) in the edge's caches.
    const warmOut = join(work, "warm-1.flv");
    await rtmpdump(["-r", url(harness), "-y", stem(keys.warm), "-o", warmOut]);
    assertSamePackets(await probePackets(warmOut), sourcePackets);
    // Partly warm: getStreamLength opens the object (its metadata and first slice), nothing more.
    const looker = await RtmpTestClient.handshake(harness.rtmpPort);
    t.after(() => looker.close());
    await looker.connectApp(url(harness));
    const txn = looker.command(0, "getStreamLength", null, stem(keys.partial));
    const length = await looker.waitForCommand((c) => c.name === "_result" && c.transactionId === txn);
    assert.ok(typeof length.args[0] === "number" && length.args[0] > 29, "the object's duration");
    looker.close();

    shield.signal("SIGKILL");
    await once(shield.child, "exit");

    // The cached object: every byte from the edge, identical to the source.
    const started = performance.now();
    const againOut = join(work, "warm-2.flv");
    await rtmpdump(["-r", url(harness), "-y", stem(keys.warm), "-o", againOut]);
    t.diagnostic(
      `cached play with the shield dead: complete in ${Math.round(performance.now() - started)} ms`,
    );
    assertSamePackets(await probePackets(againOut), sourcePackets);
    const served = await harness.metricsText();
    assert.equal(metric(served, "streamfront_edge_metadata_cache_total", { result: "fallback" }), 1);

    // An object the edge never saw: its stat fails on every replica, and nothing is remembered.
    const cold = await timedPlay(harness, stem(keys.cold), 3000);
    t.after(() => cold.client.close());
    const coldEnd = await statusOf(cold.client, ["NetStream.Play.Start", ...endCodes]);
    assert.equal(coldEnd.code, "NetStream.Play.Failed");
    const coldMs = coldEnd.at - cold.playedAt;
    t.diagnostic(
      `uncached object with the shield dead: NetStream.Play.Failed ${Math.round(coldMs)} ms after play`,
    );
    assert.ok(coldMs < 10_000, `took ${Math.round(coldMs)} ms`);

    // An object whose metadata and first slice are cached: it starts, and fails at the first missing slice,
    // once the viewer's buffer is spent.
    const partial = await timedPlay(harness, stem(keys.partial), 1000);
    t.after(() => partial.client.close());
    assert.equal(
      (await statusOf(partial.client, ["NetStream.Play.Start", ...endCodes])).code,
      "NetStream.Play.Start",
    );
    const partialEnd = await statusOf(partial.client, endCodes);
    assert.equal(partialEnd.code, "NetStream.Play.Failed");
    assert.ok(partial.arrivals.length > 0, "the cached slice was played");
    const stallLine = harness.logLines.find(
      (l) => l.msg === "shield read failed; retrying within the viewer's buffer",
    );
    assert.ok(stallLine, "the missing slice was retried");
    const failedLine = harness.logLines.find((l) => l.code === EdgeErrorCode.PlayStalled);
    assert.ok(failedLine, "the play failed as stalled");
    const stalledMs = Date.parse(String(failedLine.time)) - Date.parse(String(stallLine.time));
    t.diagnostic(
      `partly cached object: NetStream.Play.Failed ${Math.round(partialEnd.at - partial.playedAt)} ms after play, ` +
        `${stalledMs} ms after its first failed read (${String(failedLine.err)})`,
    );
    assert.ok(
      stalledMs <= edgeSettings.playStallMaxMs.default + 5_000,
      `the stall lasted ${stalledMs} ms, over play-stall-max-ms`,
    );

    // Failed plays do not hold connections until the idle timeout.
    const closedMs = await closedWithin(cold, coldEnd.at, 60_000);
    t.diagnostic(
      `connection of the failed play closed ${Math.round(closedMs)} ms after NetStream.Play.Failed`,
    );
    assert.ok(harness.logLines.some((l) => l.code === EdgeErrorCode.FailedPlayIdle));

    const text = await harness.metricsText();
    assert.ok(metric(text, "streamfront_edge_metadata_cache_total", { result: "fallback" }) >= 2);
    assert.ok(metric(text, "streamfront_edge_metadata_cache_total", { result: "fallback_miss" }) >= 1);
    assertRss(t, rss);
  });
});

describe("item 7a: the only shield hangs", () => {
  test("a hung shield (SIGSTOP): cached objects play whole, the first after the stat's timeouts, the next without asking", async (t) => {
    const rss = trackRss(t);
    const shield = await shieldFor(t, s3.s3.endpoint);
    const harness = await edgeFor(t, shield, {});
    const stem = keys.warm.replace(/\.flv$/, "");
    const warmOut = join(work, "hung-warm.flv");
    await rtmpdump(["-r", url(harness), "-y", stem, "-o", warmOut]);
    shield.signal("SIGSTOP");
    for (const attempt of [1, 2]) {
      const started = performance.now();
      const out = join(work, `hung-${attempt}.flv`);
      await rtmpdump(["-r", url(harness), "-y", stem, "-o", out]);
      t.diagnostic(
        `cached play ${attempt} with the shield hung: complete in ${Math.round(performance.now() - started)} ms`,
      );
      assertSamePackets(await probePackets(out), sourcePackets);
    }
    const text = await harness.metricsText();
    assert.equal(metric(text, "streamfront_edge_metadata_cache_total", { result: "fallback" }), 2);
    assert.ok(
      metric(text, "streamfront_edge_shield_requests_total", { result: "idle" }) +
        metric(text, "streamfront_edge_shield_requests_total", { result: "deadline" }) >=
        1,
      "the first play's stat timed out on the hung shield",
    );
    assertRss(t, rss);
  });
});

describe("item 7b: S3 stalls under a cold play", () => {
  /** The shield retries S3 on its own; short timeouts so a stall reaches the edge within a second or two. */
  const shieldEnv = {
    STREAMFRONT_SHIELD_S3_TIMEOUT_MS: "1000",
    STREAMFRONT_SHIELD_S3_MAX_ATTEMPTS: "2",
    STREAMFRONT_SHIELD_READ_AHEAD_SLICES: "0",
    STREAMFRONT_SHIELD_CACHE_SLICE_BYTES: String(256 * 1024),
  };
  const edgeEnv = { STREAMFRONT_EDGE_CACHE_SLICE_BYTES: String(256 * 1024) };

  test("S3 back within the viewer's buffer: the play goes on, identical to the source, without running the viewer dry", async (t) => {
    const rss = trackRss(t);
    const bufferMs = 10_000;
    const shield = await shieldFor(t, proxy.endpoint, shieldEnv);
    const harness = await edgeFor(
      t,
      shield,
      { ...edgeEnv, STREAMFRONT_EDGE_PLAY_STALL_MAX_MS: "30000" },
      { idleTimeoutMs: 1000 },
    );
    const stem = keys.resume.replace(/\.flv$/, "");
    const out = join(work, "resume.flv");
    const dump = rtmpdump(["-r", url(harness), "-y", stem, "-b", String(bufferMs), "-o", out]);
    const timed = await timedPlay(harness, stem, bufferMs);
    t.after(() => timed.client.close());
    // Past the first burst (the buffer sent at once): reads are now paced, one slice every ~2 s.
    await waitForMediaAt(timed, bufferMs + 4000);
    const stall = proxy.addRule({
      name: "S3 stalls",
      match: { method: "GET", path: /stall-resume/ },
      fault: { kind: FaultKind.Hang },
    });
    t.after(() => stall.remove());
    await eventually(() => stall.fired > 0, 30_000, "a read of the object to stall");
    await eventually(
      () => harness.logLines.some((l) => l.msg === "shield read failed; retrying within the viewer's buffer"),
      30_000,
      "the edge to see the stall",
    );
    const stalledAt = performance.now();
    await delay(2_000);
    stall.remove();
    t.diagnostic(
      `S3 stalled ${stall.fired} GETs; back ${Math.round(performance.now() - stalledAt)} ms after the edge's first failed read`,
    );

    const end = await statusOf(timed.client, endCodes);
    assert.equal(end.code, "NetStream.Play.Stop");
    await dump;
    assertSamePackets(await probePackets(out), sourcePackets);
    const lateness = worstLatenessMs(timed.arrivals, bufferMs);
    t.diagnostic(`worst media lateness against a ${bufferMs} ms buffer: ${Math.round(lateness)} ms`);
    assert.ok(lateness <= 0, `the viewer ran dry for ${Math.round(lateness)} ms`);
    assert.ok(!harness.logLines.some((l) => l.code === EdgeErrorCode.PlayStalled));
    assertRss(t, rss);
  });

  test("S3 stalled past the viewer's buffer: NetStream.Play.Failed at the deadline, then the idle connection is closed", async (t) => {
    const rss = trackRss(t);
    const stallMaxMs = 4_000;
    const failedIdleMs = 2_000;
    const shield = await shieldFor(t, proxy.endpoint, shieldEnv);
    const harness = await edgeFor(
      t,
      shield,
      {
        ...edgeEnv,
        STREAMFRONT_EDGE_PLAY_STALL_MIN_MS: "2000",
        STREAMFRONT_EDGE_PLAY_STALL_MAX_MS: String(stallMaxMs),
        STREAMFRONT_EDGE_FAILED_PLAY_IDLE_TIMEOUT_MS: String(failedIdleMs),
      },
      { idleTimeoutMs: 1000 },
    );
    const stem = keys.fail.replace(/\.flv$/, "");
    const timed = await timedPlay(harness, stem, 3000);
    t.after(() => timed.client.close());
    await waitForMediaAt(timed, 6000);
    const stall = proxy.addRule({
      name: "S3 stalls for good",
      match: { method: "GET", path: /stall-fail/ },
      fault: { kind: FaultKind.Hang },
    });
    t.after(() => stall.remove());
    const stalledAt = performance.now();

    const end = await statusOf(timed.client, endCodes);
    assert.equal(end.code, "NetStream.Play.Failed");
    const failure = decodeCommand(
      timed.client.messages.findLast(
        (m) =>
          isCommand(m) && statusCode(decodeCommand(m.payload, m.messageTypeId)) === "NetStream.Play.Failed",
      )!.payload,
      MessageType.CommandAmf0,
    );
    const description = String((failure.args[0] as Record<string, unknown>).description);
    assert.match(description, /the shield did not answer for \d+ ms \(the viewer's buffer allowed \d+ ms\)/);
    const [, waited, allowed] = /did not answer for (\d+) ms \(the viewer's buffer allowed (\d+) ms\)/.exec(
      description,
    )!;
    t.diagnostic(
      `NetStream.Play.Failed ${Math.round(end.at - stalledAt)} ms after S3 stalled; the read waited ${waited} ms of ${allowed} ms allowed`,
    );
    assert.ok(Number(allowed) <= stallMaxMs);
    assert.ok(
      Number(waited) <= Number(allowed) + 3_000,
      `the read waited ${waited} ms past its ${allowed} ms deadline`,
    );

    const closedMs = await closedWithin(timed, end.at, 60_000);
    t.diagnostic(
      `connection closed ${Math.round(closedMs)} ms after NetStream.Play.Failed (failed-play-idle-timeout-ms ${failedIdleMs}; idle-timeout-ms ${edgeSettings.idleTimeoutMs.default})`,
    );
    assert.ok(closedMs < edgeSettings.idleTimeoutMs.default / 2, "closed well before the idle timeout");
    assert.ok(harness.logLines.some((l) => l.code === EdgeErrorCode.FailedPlayIdle));

    // The edge still serves: a new connection is answered.
    const again = await RtmpTestClient.handshake(harness.rtmpPort);
    t.after(() => again.close());
    assert.equal(statusCode(await again.connectApp(url(harness))), "NetConnection.Connect.Success");
    assertRss(t, rss);
  });
});

describe("item 8: getStreamLength and plays of random names from one connection", () => {
  test("2,000 getStreamLength calls and 200 plays of missing names: shield and S3 lookups stay bounded, every call is answered, a concurrent cold play succeeds", async (t) => {
    const rss = trackRss(t);
    const shield = await shieldFor(t, proxy.endpoint);
    const harness = await edgeFor(t, shield, {});
    const burst = edgeSettings.lookupBurst.default;
    const perSecond = edgeSettings.lookupsPerSecond.default;
    const prefix = `flood-${process.pid}-${Date.now()}`;

    const viewerOut = join(work, "viewer.flv");
    const viewer = rtmpdump(["-r", url(harness), "-y", keys.viewer.replace(/\.flv$/, ""), "-o", viewerOut]);
    const flooder = await RtmpTestClient.handshake(harness.rtmpPort);
    t.after(() => flooder.close());
    await flooder.connectApp(url(harness));
    const started = performance.now();
    const calls = 2000;
    const txns = new Set<number>();
    for (let i = 0; i < calls; i++)
      txns.add(flooder.command(0, "getStreamLength", null, `${prefix}/name-${i}`));
    let answered = 0;
    let refused = 0;
    let scanned = 0;
    await eventually(
      () => {
        for (; scanned < flooder.messages.length; scanned++) {
          const m = flooder.messages[scanned]!;
          if (!isCommand(m)) continue;
          const c = decodeCommand(m.payload, m.messageTypeId);
          if ((c.name === "_result" || c.name === "_error") && txns.delete(c.transactionId)) {
            answered++;
            if (c.name === "_error") refused++;
          }
        }
        return answered === calls;
      },
      120_000,
      "every getStreamLength to be answered",
    );
    const streamId = await flooder.createStream();
    const plays = 200;
    const from = flooder.messages.length;
    for (let i = 0; i < plays; i++)
      flooder.command(streamId, "play", null, `${prefix}/play-${i}`, 0, -1, false);
    let ended = 0;
    await eventually(
      () => {
        ended = 0;
        for (let i = from; i < flooder.messages.length; i++) {
          const m = flooder.messages[i]!;
          if (!isCommand(m)) continue;
          if (endCodes.includes(statusCode(decodeCommand(m.payload, m.messageTypeId)) ?? "")) ended++;
        }
        return ended === plays;
      },
      120_000,
      "every play to be answered",
    );
    const elapsedMs = performance.now() - started;

    const lookups = proxy.requests.filter((r) => r.path.includes(prefix)).length;
    // The budget's bound over the time taken, plus opens a stream may have in flight.
    const bound = burst + Math.ceil((perSecond * elapsedMs) / 1000) + 8;
    t.diagnostic(
      `${calls} getStreamLength + ${plays} plays of missing names in ${Math.round(elapsedMs)} ms: ` +
        `${lookups} S3 requests for them (bound ${bound}), ${refused} getStreamLength refused`,
    );
    assert.ok(lookups <= bound, `${lookups} S3 requests for random names, over ${bound}`);
    assert.ok(lookups >= 1, "lookups did reach S3 (the test measures the real path)");
    const text = await harness.metricsText();
    assert.equal(
      metric(text, "streamfront_edge_lookups_refused_total", { command: "getStreamLength" }),
      refused,
    );
    assert.ok(metric(text, "streamfront_edge_lookups_refused_total", { command: "play" }) > 0);
    assert.equal(flooder.isClosed, false, "the flooding connection is answered, not dropped");

    await viewer;
    assertSamePackets(await probePackets(viewerOut), sourcePackets);
    assertRss(t, rss);
  });
});
