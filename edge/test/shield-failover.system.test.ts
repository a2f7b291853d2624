import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, type TestContext, test } from "node:test";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import {
  assertSamePackets,
  type ProbedPacket,
  probePackets,
  rtmpdump,
  runTool,
} from "../../lib/testing/ffprobe.js";
import { silentLogger, startTestS3, type TestS3 } from "../../lib/testing/shield.js";
import { testTls } from "../../lib/testing/tls.js";
import { eventually } from "../../lib/testing/wait.js";
import { SliceCache } from "../src/edge-cache/slice-cache.js";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { decodeCommand } from "../src/rtmp/command.js";
import { routeKey, ShieldObjectOpener } from "../src/shield-client/object-opener.js";
import { rankReplicas } from "../src/shield-client/rendezvous.js";
import { ShieldResult } from "../src/shield-client/shield-pool.js";
import { startEdgeHarness } from "./support/edge-harness.js";
import { isCommand, RtmpTestClient, statusCode } from "./support/rtmp-test-client.js";
import { type ShieldProcess, startShieldProcess } from "./support/shield-process.js";
import { metric, statusOf, timedPlay, waitForMediaAt, worstLatenessMs } from "./support/timed-play.js";

/**
 * Shield failover with real parts: s3rver, two shield replicas as their own
 * processes (so SIGKILL and SIGSTOP are real), an edge in this process that
 * picks a replica per object by rendezvous hashing, and real players.
 */

const logLevel = process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent";
const bucket = "failover-media";
const playKey = "videos/failover.flv";
const bigKey = "blobs/big.bin";
/** What each viewer asks the edge to keep ahead of its playhead (SetBufferLength). */
const viewerBufferMs = 3000;

const work = mkdtempSync(join(tmpdir(), "streamfront-failover-"));
let s3: TestS3;
let sourcePackets: ProbedPacket[];
let big: Buffer;

before(async () => {
  s3 = await startTestS3(bucket);
  // A 12 s, ~2.5 Mbit/s FLV (640x360 H.264 with noise so it does not compress away, AAC), made
  // here rather than committed: ~3.8 MB that ffmpeg writes in about a second.
  const flvPath = join(work, "failover.flv");
  await runTool("ffmpeg", [
    ...["-v", "error", "-y"],
    ...["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25,noise=alls=12:allf=t"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"],
    ...["-t", "12", "-map", "0:v", "-map", "1:a"],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    ...["-b:v", "2400k", "-maxrate", "2400k", "-bufsize", "1200k", "-g", "25", "-sc_threshold", "0"],
    ...["-c:a", "aac", "-b:a", "96k", "-flvflags", "add_keyframe_index"],
    ...["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", flvPath],
  ]);
  await s3.s3.putObject(bucket, playKey, readFileSync(flvPath));
  sourcePackets = await probePackets(flvPath);
  big = randomBytes(32 * 1024 * 1024);
  await s3.s3.putObject(bucket, bigKey, big);
});

after(async () => {
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A shield replica as its own process, reading the test's s3rver. */
function startShield(env: Record<string, string> = {}): Promise<ShieldProcess> {
  return startShieldProcess({ s3Endpoint: s3.s3.endpoint, buckets: [bucket], env, logLevel });
}

/** Two shield replicas for one test, stopped after it whatever happened; `serving` is the one rendezvous hashing picks for `key`. */
async function startReplicas(
  t: TestContext,
  key: string,
  env: Record<string, string> = {},
): Promise<{ serving: ShieldProcess; other: ShieldProcess; spec: string }> {
  const replicas: ShieldProcess[] = [];
  t.after(async () => {
    for (const replica of replicas) await replica.stop();
  });
  replicas.push(await startShield(env));
  replicas.push(await startShield(env));
  const byAddress = new Map(replicas.map((r) => [r.address, r]));
  const [first, second] = rankReplicas(routeKey(bucket, key), [...byAddress.keys()]);
  return {
    serving: byAddress.get(first!)!,
    other: byAddress.get(second!)!,
    spec: replicas.map((r) => r.address).join(","),
  };
}

describe("a play through an edge with two shield replicas", () => {
  test("killing the replica that serves it mid-play: the play goes on from the other, complete and identical", async (t) => {
    const { serving, other, spec } = await startReplicas(t, playKey);
    // A penalty that outlasts the test, so the dead replica is still ranked last when metrics are read.
    const harness = await startEdgeHarness({
      s3,
      bucket,
      shieldAddress: spec,
      objects: { penaltyMs: 60_000 },
    });
    t.after(() => harness.close());
    const out = join(work, "killed.flv");
    const dump = rtmpdump([
      ...["-r", `rtmp://127.0.0.1:${harness.rtmpPort}/cfx/st/`, "-y", "videos/failover"],
      ...["-b", String(viewerBufferMs), "-o", out],
    ]);
    const timed = await timedPlay(harness, "videos/failover", viewerBufferMs);
    t.after(() => timed.client.close());
    // Past the first burst (the edge sends the viewer's buffer ahead at once): reads are now paced.
    await waitForMediaAt(timed, 6000);
    const before = await harness.metricsText();
    assert.ok(metric(before, "streamfront_edge_shield_bytes_total", { replica: serving.address }) > 0);
    assert.equal(
      metric(before, "streamfront_edge_shield_bytes_total", { replica: other.address }),
      0,
      "rendezvous hashing sent every read of the object to one replica",
    );

    serving.signal("SIGKILL");
    const { code: done } = await statusOf(timed.client, ["NetStream.Play.Stop", "NetStream.Play.Failed"]);
    assert.equal(done, "NetStream.Play.Stop");
    await dump;
    assertSamePackets(await probePackets(out), sourcePackets);
    const lateness = worstLatenessMs(timed.arrivals, viewerBufferMs);
    t.diagnostic(`worst media lateness against a ${viewerBufferMs} ms buffer: ${Math.round(lateness)} ms`);
    assert.ok(lateness <= 0, `the viewer ran dry for ${Math.round(lateness)} ms`);

    const text = await harness.metricsText();
    assert.ok(metric(text, "streamfront_edge_shield_failovers_total") >= 1);
    assert.ok(metric(text, "streamfront_edge_shield_bytes_total", { replica: other.address }) > 0);
    assert.ok(
      metric(text, "streamfront_edge_shield_requests_total", { replica: other.address, result: "ok" }) > 0,
    );
    const failed =
      metric(text, "streamfront_edge_shield_requests_total", { replica: serving.address }) -
      metric(text, "streamfront_edge_shield_requests_total", { replica: serving.address, result: "ok" });
    assert.ok(failed >= 1, "the dead replica's failed calls are counted");
    assert.equal(metric(text, "streamfront_edge_shield_replicas", { state: "penalized" }), 1);
  });

  test("a hung replica (SIGSTOP) is left after the idle timeout, within the viewer's buffer", async (t) => {
    const idleTimeoutMs = 1500;
    const { serving, other, spec } = await startReplicas(t, playKey);
    const harness = await startEdgeHarness({ s3, bucket, shieldAddress: spec, objects: { idleTimeoutMs } });
    t.after(() => harness.close());
    const out = join(work, "hung.flv");
    const dump = rtmpdump([
      ...["-r", `rtmp://127.0.0.1:${harness.rtmpPort}/cfx/st/`, "-y", "videos/failover"],
      ...["-b", String(viewerBufferMs), "-o", out],
    ]);
    const timed = await timedPlay(harness, "videos/failover", viewerBufferMs);
    t.after(() => timed.client.close());
    await waitForMediaAt(timed, 6000);

    serving.signal("SIGSTOP");
    const { code: done } = await statusOf(timed.client, ["NetStream.Play.Stop", "NetStream.Play.Failed"]);
    assert.equal(done, "NetStream.Play.Stop");
    await dump;
    assertSamePackets(await probePackets(out), sourcePackets);
    const lateness = worstLatenessMs(timed.arrivals, viewerBufferMs);
    t.diagnostic(`worst media lateness against a ${viewerBufferMs} ms buffer: ${Math.round(lateness)} ms`);
    assert.ok(lateness <= 0, `the viewer ran dry for ${Math.round(lateness)} ms`);

    const text = await harness.metricsText();
    assert.ok(metric(text, "streamfront_edge_shield_failovers_total") >= 1);
    assert.ok(
      metric(text, "streamfront_edge_shield_requests_total", {
        replica: serving.address,
        result: ShieldResult.Idle,
      }) >= 1,
      "the hung replica's read ended by the idle timeout",
    );
    assert.ok(metric(text, "streamfront_edge_shield_bytes_total", { replica: other.address }) > 0);
  });

  test("with both replicas dead a play fails with NetStream.Play.Failed, and the edge keeps serving", async (t) => {
    const { serving, other, spec } = await startReplicas(t, playKey);
    const harness = await startEdgeHarness({
      s3,
      bucket,
      shieldAddress: spec,
      objects: { penaltyMs: 60_000 },
    });
    t.after(() => harness.close());
    serving.signal("SIGKILL");
    other.signal("SIGKILL");
    await Promise.all([once(serving.child, "exit"), once(other.child, "exit")]);
    for (let i = 0; i < 2; i++) {
      const play = await timedPlay(harness, "videos/failover", viewerBufferMs);
      t.after(() => play.client.close());
      assert.equal(
        (
          await statusOf(play.client, [
            "NetStream.Play.Start",
            "NetStream.Play.Failed",
            "NetStream.Play.StreamNotFound",
          ])
        ).code,
        "NetStream.Play.Failed",
      );
      assert.equal(play.client.isClosed, false, "the viewer's connection stays up");
    }
    const failed = harness.logLines.find((l) => l.msg === "play failed");
    assert.equal(failed?.code, EdgeErrorCode.ShieldUnavailable);
    assert.match(String(failed?.err), /stat failover-media\/videos\/failover\.flv failed on every replica/);
    const text = await harness.metricsText();
    assert.equal(metric(text, "streamfront_edge_plays_total", { result: "failed" }), 2);
    assert.equal(metric(text, "streamfront_edge_shield_replicas", { state: "penalized" }), 2);
    // The first play tried each replica, then each again; the second found both penalized and tried them all the same.
    assert.equal(metric(text, "streamfront_edge_shield_requests_total", { result: "unavailable" }), 6);
  });

  test("with both replicas dead mid-play the play ends with NetStream.Play.Failed, and the edge keeps serving", async (t) => {
    const { serving, other, spec } = await startReplicas(t, playKey);
    const harness = await startEdgeHarness({ s3, bucket, shieldAddress: spec });
    t.after(() => harness.close());
    const timed = await timedPlay(harness, "videos/failover", viewerBufferMs);
    t.after(() => timed.client.close());
    await waitForMediaAt(timed, 6000);
    serving.signal("SIGKILL");
    other.signal("SIGKILL");
    // The play cannot finish: the edge says so and keeps the connection.
    await eventually(
      () =>
        timed.client.messages.some(
          (m) =>
            isCommand(m) && statusCode(decodeCommand(m.payload, m.messageTypeId)) === "NetStream.Play.Failed",
        ),
      20_000,
      "the play to end",
    );
    await eventually(
      () =>
        harness.logLines.some(
          (l) => l.code === EdgeErrorCode.ShieldUnavailable && /failed on every replica/.test(String(l.err)),
        ),
      5_000,
      "the edge's log line naming the shield failure",
    );
    const again = await RtmpTestClient.handshake(harness.rtmpPort);
    t.after(() => again.close());
    const connected = await again.connectApp(`rtmp://127.0.0.1:${harness.rtmpPort}/cfx/st`);
    assert.equal(statusCode(connected), "NetConnection.Connect.Success");
  });
});

describe("ShieldObjectOpener reads across replica failures", () => {
  /** Small pieces so a 32 MiB read is a long stream of them. */
  const pieceEnv = { STREAMFRONT_SHIELD_MAX_PIECE_BYTES: String(16 * 1024) };

  function startOpener(
    t: TestContext,
    spec: string,
    extra: { idleTimeoutMs?: number; cache?: SliceCache } = {},
  ) {
    const opener = new ShieldObjectOpener({
      tls: testTls(PeerRole.Edge),
      address: spec,
      logger: silentLogger("edge"),
      deadlineMs: 20_000,
      ...extra,
    });
    t.after(() => opener.close());
    return opener;
  }

  /** Calls `act` once the replica has delivered more than `bytes` to the opener. */
  async function when(
    opener: ShieldObjectOpener,
    replica: string,
    bytes: number,
    act: () => void,
  ): Promise<number> {
    for (;;) {
      const got = new Map(opener.pool.stats.replicas()).get(replica)?.bytes ?? 0;
      if (got > bytes) {
        act();
        return got;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  function bytesFrom(opener: ShieldObjectOpener, replica: string): number {
    return new Map(opener.pool.stats.replicas()).get(replica)?.bytes ?? 0;
  }

  test("a read cut by SIGKILL mid-stream resumes on the next replica from the first byte not received", async (t) => {
    const { serving, other, spec } = await startReplicas(t, bigKey, pieceEnv);
    const opener = startOpener(t, spec);
    const source = await opener.open(bucket, bigKey);
    assert.ok(source);
    const reading = source.read(0, source.size);
    const atKill = await when(opener, serving.address, 2 * 1024 * 1024, () => serving.signal("SIGKILL"));
    const data = await reading;
    assert.ok(data.equals(big), "the bytes are the object's");
    const fromServing = bytesFrom(opener, serving.address);
    const fromOther = bytesFrom(opener, other.address);
    assert.ok(fromServing >= atKill && fromServing < big.length, `cut after ${fromServing} bytes`);
    assert.equal(fromServing + fromOther, big.length, "the other replica sent only what was missing");
    assert.equal(opener.pool.stats.failovers, 1);
  });

  test("a read that stalls (SIGSTOP) resumes on the next replica after the idle timeout", async (t) => {
    const idleTimeoutMs = 800;
    const { serving, other, spec } = await startReplicas(t, bigKey, pieceEnv);
    const opener = startOpener(t, spec, { idleTimeoutMs });
    const source = await opener.open(bucket, bigKey);
    assert.ok(source);
    const started = performance.now();
    const reading = source.read(0, source.size);
    await when(opener, serving.address, 2 * 1024 * 1024, () => serving.signal("SIGSTOP"));
    const data = await reading;
    const took = performance.now() - started;
    assert.ok(data.equals(big), "the bytes are the object's");
    assert.equal(bytesFrom(opener, serving.address) + bytesFrom(opener, other.address), big.length);
    assert.ok(took >= idleTimeoutMs && took < idleTimeoutMs + 5_000, `took ${Math.round(took)} ms`);
    const served = new Map(opener.pool.stats.replicas()).get(serving.address);
    assert.equal(served?.requests.idle, 1);
    // The hung replica now ranks last: the next open goes straight to the other one.
    assert.deepEqual(opener.pool.rank(routeKey(bucket, bigKey)), [other.address, serving.address]);
    const again = await opener.open(bucket, bigKey);
    assert.ok(again);
    assert.ok((await again.read(0, 1000)).equals(big.subarray(0, 1000)));
    assert.equal(opener.pool.stats.failovers, 1, "no second failover");
  });

  test("stat fails over too; answers (not found, an ETag change) are not failed over", async (t) => {
    const { serving, other, spec } = await startReplicas(t, playKey);
    const opener = startOpener(t, spec);
    serving.signal("SIGKILL");
    await once(serving.child, "exit");
    const source = await opener.open(bucket, playKey);
    assert.ok(source, "opened through the other replica");
    assert.equal(opener.pool.stats.failovers, 1);
    assert.equal(new Map(opener.pool.stats.replicas()).get(other.address)?.requests.ok, 1);

    assert.equal(await opener.open(bucket, "videos/missing.flv"), null);
    await s3.s3.putObject(bucket, "changing.flv", Buffer.from("FLV version one"));
    const changing = await opener.open(bucket, "changing.flv");
    assert.ok(changing);
    await s3.s3.putObject(bucket, "changing.flv", Buffer.from("FLV version two!"));
    await assert.rejects(
      changing.read(0, 3),
      (error: unknown) =>
        error instanceof EdgeError &&
        error.code === EdgeErrorCode.ShieldUnavailable &&
        /FAILED_PRECONDITION/.test(error.message),
    );
    assert.equal(opener.pool.stats.failovers, 1, "answers were not failed over");
  });

  test("the slice cache fetches whole slices through the failover", async (t) => {
    const { serving, other, spec } = await startReplicas(t, bigKey, pieceEnv);
    const sliceBytes = 1024 * 1024;
    const cache = new SliceCache({ sliceBytes, maxBytes: 4 * sliceBytes });
    const opener = startOpener(t, spec, { cache });
    const source = await opener.open(bucket, bigKey);
    assert.ok(source);
    const half = big.length / 2;
    for (let at = 0; at < half; at += 256 * 1024) {
      assert.ok((await source.read(at, 256 * 1024)).equals(big.subarray(at, at + 256 * 1024)));
    }
    serving.signal("SIGKILL");
    for (let at = half; at < big.length; at += 256 * 1024) {
      assert.ok((await source.read(at, 256 * 1024)).equals(big.subarray(at, at + 256 * 1024)), `at ${at}`);
    }
    assert.equal(cache.stats.misses, big.length / sliceBytes);
    assert.equal(cache.stats.fetchedBytes, big.length);
    assert.equal(bytesFrom(opener, serving.address), half);
    assert.equal(bytesFrom(opener, other.address), half);
    assert.equal(opener.pool.stats.failovers, 1);
  });
});
