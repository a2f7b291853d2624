import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { FaultKind, FaultProxy, S3ErrorCode } from "../../lib/testing/fault-proxy.js";
import { runTool } from "../../lib/testing/ffprobe.js";
import { startTestS3, type TestS3 } from "../../lib/testing/shield.js";
import { eventually } from "../../lib/testing/wait.js";
import { EdgeErrorCode } from "../src/errors.js";
import { routeKey } from "../src/shield-client/object-opener.js";
import { rankReplicas } from "../src/shield-client/rendezvous.js";
import { ShieldResult } from "../src/shield-client/shield-pool.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";
import { type ShieldProcess, startShieldProcess } from "./support/shield-process.js";
import { endCodes, metric, statusOf, timedPlay, waitForMediaAt } from "./support/timed-play.js";

/**
 * Issue 10 item 3 with real parts: s3rver behind the fault proxy (the one
 * fake, to hang or fail S3 on demand), two shield replicas as their own
 * processes, an edge in this process reading the shields' error-code
 * trailer. A shield that shuts down gracefully mid-play answers its
 * in-flight read with SHIELD_ERR_SHUTTING_DOWN and the edge fails over
 * without failing the play; S3 down behind the shields is
 * SHIELD_ERR_ORIGIN_UNAVAILABLE, which the edge neither fails over on nor
 * reports as a shield outage: its metrics say EDGE_ERR_ORIGIN_UNAVAILABLE.
 */

const bucket = "shutdown-media";
const keys = { shutdown: "videos/shutdown.flv", outage: "videos/outage.flv" } as const;
const work = mkdtempSync(join(tmpdir(), "streamfront-shutdown-"));
/** Small slices with no read-ahead, so a paced play keeps asking the shield, and the shield S3. */
const shieldEnv = {
  STREAMFRONT_SHIELD_READ_AHEAD_SLICES: "0",
  STREAMFRONT_SHIELD_CACHE_SLICE_BYTES: String(256 * 1024),
  STREAMFRONT_SHIELD_S3_MAX_ATTEMPTS: "2",
};
const edgeEnv = {
  STREAMFRONT_EDGE_CACHE_SLICE_BYTES: String(256 * 1024),
  STREAMFRONT_EDGE_PLAY_STALL_MIN_MS: "2000",
  STREAMFRONT_EDGE_PLAY_STALL_MAX_MS: "4000",
};

let s3: TestS3;
let proxy: FaultProxy;

before(async () => {
  s3 = await startTestS3(bucket);
  proxy = new FaultProxy({ upstream: s3.s3.endpoint });
  await proxy.start();
  // 30 s at ~1 Mbit/s, made here: long enough that a play is paced across many slices.
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
});

after(async () => {
  await proxy?.close();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Two shield replicas reading S3 through the proxy; `serving` is the one rendezvous hashing picks for `key`. */
async function startReplicas(
  t: TestContext,
  key: string,
): Promise<{ serving: ShieldProcess; other: ShieldProcess; spec: string }> {
  const replicas: ShieldProcess[] = [];
  t.after(async () => {
    for (const replica of replicas) await replica.stop();
  });
  for (let i = 0; i < 2; i++) {
    replicas.push(
      await startShieldProcess({ s3Endpoint: proxy.endpoint, buckets: [bucket], env: shieldEnv }),
    );
  }
  const byAddress = new Map(replicas.map((r) => [r.address, r]));
  const [first, second] = rankReplicas(routeKey(bucket, key), [...byAddress.keys()]);
  return {
    serving: byAddress.get(first!)!,
    other: byAddress.get(second!)!,
    spec: replicas.map((r) => r.address).join(","),
  };
}

async function edgeFor(t: TestContext, spec: string): Promise<EdgeHarness> {
  const harness = await startEdgeHarness({
    s3,
    bucket,
    shieldAddress: spec,
    caches: true,
    env: edgeEnv,
    // Longer than the shield's 2.5 s close deadline: the in-flight read must end by the shield's
    // answer, not by the edge giving up on a silent replica.
    objects: { idleTimeoutMs: 6_000 },
  });
  t.after(() => harness.close());
  return harness;
}

const stem = (key: string) => key.replace(/\.flv$/, "");

describe("an edge reading from two shields", () => {
  test("the serving shield shuts down gracefully mid-play: its in-flight read answers SHIELD_ERR_SHUTTING_DOWN, the edge fails over, the play completes", async (t) => {
    const { serving, other, spec } = await startReplicas(t, keys.shutdown);
    const harness = await edgeFor(t, spec);
    const bufferMs = 10_000;
    const play = await timedPlay(harness, stem(keys.shutdown), bufferMs);
    t.after(() => play.client.close());
    // Past the first burst: reads are paced, one slice every couple of seconds.
    await waitForMediaAt(play, bufferMs + 4_000);
    // The serving shield's next S3 read hangs, so a call is in flight when it is told to stop.
    const hang = proxy.addRule({
      name: "the serving shield's read hangs",
      match: { method: "GET", path: /shutdown\.flv/ },
      schedule: { kind: "first", count: 1 },
      fault: { kind: FaultKind.Hang },
    });
    t.after(() => hang.remove());
    await eventually(() => hang.fired === 1, 30_000, "a read of the object to hang at S3");
    const exited = once(serving.child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    serving.signal("SIGTERM");

    const end = await statusOf(play.client, endCodes);
    assert.equal(end.code, "NetStream.Play.Stop", "the play completes");
    const [exitCode, signal] = await exited;
    assert.deepEqual({ exitCode, signal }, { exitCode: 0, signal: null }, "the shield shut down cleanly");

    const text = await harness.metricsText();
    const shuttingDown = metric(text, "streamfront_edge_shield_requests_total", {
      replica: serving.address,
      result: ShieldResult.ShuttingDown,
    });
    t.diagnostic(`reads the closing shield answered with SHIELD_ERR_SHUTTING_DOWN: ${shuttingDown}`);
    assert.ok(shuttingDown >= 1, "the edge read the shield's trailer code");
    assert.ok(metric(text, "streamfront_edge_shield_failovers_total") >= 1);
    assert.ok(
      metric(text, "streamfront_edge_shield_requests_total", { replica: other.address, result: "ok" }) > 0,
    );
    assert.equal(metric(text, "streamfront_edge_plays_total", { result: "failed" }), 0);
    assert.equal(metric(text, "streamfront_edge_play_failures_total"), 0);
    assert.equal(
      metric(text, "streamfront_edge_shield_requests_total", { result: ShieldResult.OriginUnavailable }),
      0,
    );
  });

  test("S3 down behind both shields: no failover, the play fails with EDGE_ERR_ORIGIN_UNAVAILABLE, counted apart from shield outages", async (t) => {
    const { serving, other, spec } = await startReplicas(t, keys.outage);
    const harness = await edgeFor(t, spec);
    const bufferMs = 3_000;
    const play = await timedPlay(harness, stem(keys.outage), bufferMs);
    t.after(() => play.client.close());
    await waitForMediaAt(play, 6_000);
    const outage = proxy.addRule({
      name: "S3 is down",
      match: { path: /outage\.flv/ },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.ServiceUnavailable },
    });
    t.after(() => outage.remove());

    const end = await statusOf(play.client, endCodes);
    assert.equal(end.code, "NetStream.Play.Failed");
    await eventually(
      () => harness.logLines.some((l) => l.msg === "play failed"),
      5_000,
      "the edge's play-failed log line",
    );
    const failed = harness.logLines.find((l) => l.msg === "play failed");
    assert.equal(failed?.code, EdgeErrorCode.OriginUnavailable);

    const text = await harness.metricsText();
    const failures = (code: string) => metric(text, "streamfront_edge_play_failures_total", { code });
    const retries = (code: string) => metric(text, "streamfront_edge_play_read_retries_total", { code });
    t.diagnostic(
      `S3 answered ${outage.fired} requests with 503; the edge retried the read ${retries(EdgeErrorCode.OriginUnavailable)} times`,
    );
    assert.equal(failures(EdgeErrorCode.OriginUnavailable), 1);
    assert.equal(failures(EdgeErrorCode.ShieldUnavailable), 0);
    assert.equal(failures(EdgeErrorCode.PlayStalled), 0);
    assert.ok(retries(EdgeErrorCode.OriginUnavailable) >= 1);
    assert.equal(retries(EdgeErrorCode.ShieldUnavailable), 0);
    assert.ok(
      metric(text, "streamfront_edge_shield_requests_total", {
        replica: serving.address,
        result: ShieldResult.OriginUnavailable,
      }) >= 1,
    );
    // Every replica asks the same bucket: the edge does not carry the outage to the other one.
    assert.equal(metric(text, "streamfront_edge_shield_failovers_total"), 0);
    assert.equal(metric(text, "streamfront_edge_shield_requests_total", { replica: other.address }), 0);
    assert.equal(metric(text, "streamfront_edge_shield_replicas", { state: "penalized" }), 0);
  });
});
