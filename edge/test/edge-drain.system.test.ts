import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { assertSamePackets, probePackets, rtmpdump } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { eventually } from "../../lib/testing/wait.js";
import { type EdgeProcess, type EdgeProcessRig, startEdgeProcess } from "./support/edge-process-rig.js";

/**
 * Issue 12 item 4, edges that drain (README: Draining), with real edge
 * processes (main.js, in front of a real controller, shield and embedded
 * S3) and rtmpdump: a play running across the edge's SIGTERM completes
 * whole and the edge exits 0; right after the signal /readyz is 503, the
 * RTMP port refuses connections, and on the shared port an RTMP
 * connection is closed at its C0 and an RTMPT open is 503; a play that outlasts
 * drain-timeout-ms gets NetStream.Play.Stop "the edge is shutting down"
 * and the edge exits 0.
 */
const bucket = "drain-media";
const sample = fromRepoRoot("deploy", "local", "media", "videos", "sample.flv");
const work = mkdtempSync(join(tmpdir(), "streamfront-edge-drain-"));
let rig: EdgeProcessRig;
let source: Awaited<ReturnType<typeof probePackets>>;

before(async () => {
  rig = await startEdgeProcess({ bucket, objects: { "videos/sample.flv": readFileSync(sample) } });
  source = await probePackets(sample);
});

after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

/**
 * rtmpdump playing the 6 s sample with a 500 ms buffer: the edge sends at
 * most that far ahead of real time, so the play lasts about 5.5 s.
 */
function pacedPlay(edge: EdgeProcess, out: string): Promise<string> {
  return rtmpdump([
    "-r",
    `rtmp://127.0.0.1:${edge.rtmpPort}/cfx/st/`,
    "-t",
    `rtmp://${rig.domainName}/cfx/st`,
    "-y",
    "videos/sample",
    "-b",
    "500",
    "-o",
    out,
  ]);
}

/** Resolves with the error code of a TCP connect to port (ECONNREFUSED when nothing listens). */
function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

/** Sends C0+C1 and resolves with the bytes received when the edge closes the connection. */
function rtmpOnSharedPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)])),
    );
    socket.on("data", (bytes: Buffer) => {
      received += bytes.length;
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "ECONNRESET") reject(error);
    });
    socket.once("close", () => resolve(received));
  });
}

async function readyStatus(edge: EdgeProcess): Promise<number> {
  const response = await fetch(`http://${edge.launched.addresses.admin}/readyz`);
  await response.arrayBuffer();
  return response.status;
}

/** Until rtmpdump has written media: the play runs. */
async function playing(out: string): Promise<void> {
  await eventually(() => existsSync(out) && statSync(out).size > 20_000, 20_000, "the play to be under way");
}

test("a play running across SIGTERM completes whole; new connections are refused; the edge exits 0", async () => {
  const out = join(work, "across.flv");
  const play = pacedPlay(rig, out);
  await playing(out);
  const signalledAt = performance.now();
  const exited = rig.launched.stop();
  // /readyz fails at once (the admin port is up until the edge has drained).
  await eventually(async () => (await readyStatus(rig)) === 503, 5_000, "/readyz to answer 503");
  const notReadyMs = performance.now() - signalledAt;
  assert.equal(await connectError(rig.rtmpPort), "ECONNREFUSED", "the RTMP port refuses");
  // The shared port stays open for RTMPT tunnels under way: RTMP there is closed at its C0, a new tunnel is 503.
  assert.equal(await rtmpOnSharedPort(rig.httpPort), 0, "RTMP on the shared port: closed, no S0 sent");
  const open = await fetch(`http://127.0.0.1:${rig.httpPort}/open/1`, { method: "POST" });
  assert.equal(open.status, 503, "a new RTMPT tunnel");
  assert.match(await open.text(), /the edge is shutting down/);
  const stderr = await play;
  // The item's own end (playComplete's Play.Stop), not the shutdown's.
  assert.match(stderr, /Stopped playing videos\/sample\./, "the play ended at the item's end");
  assert.doesNotMatch(stderr, /the edge is shutting down/);
  assertSamePackets(await probePackets(out), source);
  assert.equal(await exited, 0, "the edge exits 0");
  const exitMs = performance.now() - signalledAt;
  assert.ok(
    rig.logLines.some((line) => line.msg === "drained" && line.endedPlays === false),
    "the drain waited for the play",
  );
  console.log(
    `  /readyz 503 after ${Math.round(notReadyMs)} ms; exit 0 ${Math.round(exitMs)} ms after SIGTERM`,
  );
});

test("a play that outlasts drain-timeout-ms is stopped with the shutdown status; the edge exits 0", async () => {
  const drainTimeoutMs = 1500;
  const edge = await rig.startEdge({ STREAMFRONT_EDGE_DRAIN_TIMEOUT_MS: String(drainTimeoutMs) });
  const out = join(work, "outlasting.flv");
  const play = pacedPlay(edge, out);
  await playing(out);
  const signalledAt = performance.now();
  const exited = edge.launched.stop();
  const stderr = await play;
  const stoppedMs = performance.now() - signalledAt;
  assert.match(stderr, /NetStream\.Play\.Stop/);
  assert.match(stderr, /the edge is shutting down/);
  assert.doesNotMatch(stderr, /Stopped playing videos\/sample\./, "not the item's end");
  const played = await probePackets(out);
  assert.ok(
    played.length > 0 && played.length < source.length,
    `part of the sample (${played.length} packets)`,
  );
  assert.equal(await exited, 0, "the edge exits 0");
  assert.ok(
    edge.logLines.some((line) => line.msg === "drained" && line.endedPlays === true),
    "the drain ended the play",
  );
  console.log(
    `  play stopped ${Math.round(stoppedMs)} ms after SIGTERM (drain-timeout-ms ${drainTimeoutMs}); ${played.length}/${source.length} packets`,
  );
});

test("a second SIGTERM ends the drain at once: the play is cut, the edge exits 0", async () => {
  // The default drain-timeout-ms (30 s) would let the play finish.
  const edge = await rig.startEdge({});
  let stderr = "";
  edge.launched.child.stderr?.on("data", (bytes: Buffer) => {
    stderr += bytes.toString();
  });
  const out = join(work, "forced.flv");
  const play = pacedPlay(edge, out).then(
    () => "completed",
    () => "cut",
  );
  await playing(out);
  const exited = once(edge.launched.child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  edge.launched.child.kill("SIGTERM");
  await eventually(async () => (await readyStatus(edge)) === 503, 5_000, "/readyz to answer 503");
  const secondAt = performance.now();
  edge.launched.child.kill("SIGTERM");
  const [code] = await exited;
  const exitMs = performance.now() - secondAt;
  assert.equal(code, 0, "the edge exits 0");
  assert.match(stderr, /SIGTERM again, closing at once/);
  assert.ok(!edge.logLines.some((line) => line.msg === "drained"), "the drain did not run to its end");
  assert.ok(edge.logLines.some((line) => line.msg === "drain cut short by close"));
  assert.equal(await play, "cut", "rtmpdump saw the connection end without the item's end");
  console.log(`  exit 0 ${Math.round(exitMs)} ms after the second SIGTERM`);
});
