import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import { afterEach, describe, test } from "node:test";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { type TraceChannelName, tracerChannels, traces } from "../../lib/trace/channels.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { MemoryEdge, type MemoryViewer } from "./support/memory-viewer.js";

/**
 * The edge's session and play trace events (lib/trace/channels.ts), seen by
 * a diagnostics_channel subscriber around a real EdgeServer and RtmpSession
 * on an in-memory transport with a manual clock, and the "play ended" line
 * each play writes.
 */

const sample = readFileSync(fromRepoRoot("deploy", "local", "media", "videos", "sample.flv"));

interface Seen {
  readonly channel: string;
  readonly message: Record<string, unknown>;
}

/** Subscribes to every channel of edge:session; returns the events seen and the unsubscribe. */
function watchSession(): { seen: Seen[]; stop: () => void } {
  const seen: Seen[] = [];
  const handlers = tracerChannels["edge:session"].map((name: TraceChannelName) => {
    const handler = (message: unknown) =>
      seen.push({ channel: name, message: message as Record<string, unknown> });
    subscribe(name, handler);
    return { name, handler };
  });
  return {
    seen,
    stop: () => {
      for (const { name, handler } of handlers) unsubscribe(name, handler);
    },
  };
}

let edge: MemoryEdge | null = null;
let stopWatching: (() => void) | null = null;
afterEach(async () => {
  stopWatching?.();
  stopWatching = null;
  await edge?.close();
  edge = null;
});

/** Bytes of the play's tag bodies the viewer received on the stream: onMetaData, audio and video. */
function playBytes(viewer: MemoryViewer, streamId: number): number {
  let bytes = 0;
  viewer.messages.forEach((m, i) => {
    if (m.messageStreamId !== streamId) return;
    if (m.messageTypeId === MessageType.Audio || m.messageTypeId === MessageType.Video)
      bytes += m.payload.length;
    else if (viewer.trace(i, i + 1)[0] === "data:onMetaData") bytes += m.payload.length;
  });
  return bytes;
}

const short = (s: Seen) => `${s.channel.replace("streamfront:edge:", "")}`;

describe("edge:session trace events", () => {
  test("a play to its end: connection:open, play:start, play:first-frame, play:end completed with its bytes, connection:close", async () => {
    const watch = watchSession();
    stopWatching = watch.stop;
    edge = new MemoryEdge({
      env: { STREAMFRONT_EDGE_SEND_AHEAD_MARGIN_MS: "0" },
      objects: { "videos/sample.flv": sample },
    });
    const viewer = edge.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    viewer.command(streamId, "play", null, "videos/sample?Signature=secret-value", -2000, -1, true);
    const done = () => viewer.trace().includes("data:onPlayStatus:NetStream.Play.Complete");
    assert.ok(await viewer.runUntil(done, 60_000), "the play completes");
    await edge.close();
    const e = edge;
    edge = null;

    assert.deepEqual(watch.seen.map(short), [
      "connection:open",
      "play:start",
      "play:first-frame",
      "play:end",
      "connection:close",
    ]);
    const [open, start, first, end, close] = watch.seen.map((s) => s.message);
    const session = open!.session;
    assert.equal(typeof session, "string");
    assert.deepEqual(open, { session, protocol: "rtmp", remoteAddress: "memory" });
    assert.deepEqual(start, {
      session,
      streamId,
      distribution: "ETEST",
      key: "videos/sample.flv",
      container: "flv",
      how: "reset",
    });
    assert.deepEqual(first, {
      session,
      streamId,
      distribution: "ETEST",
      key: "videos/sample.flv",
      ttffMs: 0,
    });
    const bytes = playBytes(viewer, streamId);
    assert.ok(bytes > 100_000, `${bytes} bytes played`);
    // The manual clock ran the 6 s sample in real time, less the 1.25 s sent ahead.
    assert.equal(typeof end!.durationMs, "number");
    assert.ok((end!.durationMs as number) > 4000, `duration ${end!.durationMs}`);
    assert.deepEqual(end, {
      session,
      streamId,
      distribution: "ETEST",
      key: "videos/sample.flv",
      bytes,
      durationMs: end!.durationMs,
      result: "completed",
      code: null,
    });
    assert.equal(close!.session, session);
    assert.equal(close!.distribution, "ETEST");
    assert.ok((close!.bytes as number) > bytes, "the connection's bytes include the play's and the replies");

    // The per-play info line carries exactly those fields, and never the play name's query.
    const lines = e.logLines.filter((l) => l.msg === "play ended");
    assert.equal(lines.length, 1);
    const { time: _time, pid: _pid, ...line } = lines[0]!;
    assert.deepEqual(line, {
      level: "info",
      component: "edge",
      session,
      remote: "memory",
      distribution: "ETEST",
      key: "videos/sample.flv",
      bytes,
      durationMs: end!.durationMs,
      result: "completed",
      msg: "play ended",
    });
    assert.ok(!JSON.stringify(e.logLines).includes("secret-value"), "no signed-URL value in any line");
  });

  test("not found, stopped mid-play, and a failed read: each play ends once with its result", async () => {
    const watch = watchSession();
    stopWatching = watch.stop;
    const broken = Buffer.from("this is no FLV file, only text where its header should be");
    edge = new MemoryEdge({ objects: { "videos/sample.flv": sample, "broken.flv": broken } });
    const viewer = edge.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    viewer.command(streamId, "play", null, "nope", -2000, -1, true);
    await viewer.scheduler.settle();
    viewer.command(streamId, "play", null, "broken", -2000, -1, true);
    await viewer.scheduler.settle();
    viewer.command(streamId, "play", null, "videos/sample", -2000, -1, true);
    await viewer.scheduler.settle();
    await viewer.scheduler.advance(2000);
    viewer.command(streamId, "closeStream", null);
    await viewer.scheduler.settle();

    const ends = watch.seen.filter((s) => s.channel.endsWith("play:end")).map((s) => s.message);
    assert.deepEqual(
      ends.map((m) => [m.key, m.result, m.code]),
      [
        ["nope.flv", "not_found", null],
        ["broken.flv", "failed", "EDGE_ERR_MEDIA_INVALID"],
        ["videos/sample.flv", "stopped", null],
      ],
    );
    assert.equal(ends[0]!.bytes, 0);
    assert.equal(ends[1]!.bytes, 0);
    const stoppedBytes = ends[2]!.bytes as number;
    assert.ok(stoppedBytes > 0 && stoppedBytes < 0.9 * sample.length, `${stoppedBytes} of ${sample.length}`);
    assert.equal(ends[2]!.durationMs, 2000);
    const lines = edge.logLines.filter((l) => l.msg === "play ended");
    assert.deepEqual(
      lines.map((l) => [l.key, l.result, l.code, l.bytes]),
      ends.map((m) => [m.key, m.result, m.code ?? undefined, m.bytes]),
    );
  });

  test("with no subscriber the channels report none, and the play still logs its end", async () => {
    for (const channel of Object.values(traces)) assert.equal(channel.hasSubscribers, false, channel.name);
    edge = new MemoryEdge({ objects: {} });
    const viewer = edge.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    viewer.command(streamId, "play", null, "nope", -2000, -1, true);
    await viewer.scheduler.settle();
    assert.equal(edge.logLines.filter((l) => l.msg === "play ended" && l.result === "not_found").length, 1);
  });
});
