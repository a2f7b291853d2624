import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, describe, test } from "node:test";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { type MediaTag, TagKind } from "../src/media/media-tag.js";
import { openMedia } from "../src/media/open-media.js";
import { bufferSource } from "../src/media/range-source.js";
import { createAmfObject } from "../src/rtmp/amf0.js";
import { encodeMessage } from "../src/rtmp/chunk-encoder.js";
import { encodeCommand } from "../src/rtmp/command.js";
import { pingRequest } from "../src/rtmp/control-messages.js";
import { MessageType, UserControlEvent } from "../src/rtmp/message-types.js";
import { ManualScheduler } from "./support/manual-scheduler.js";
import { MemoryEdge, type MemoryViewer } from "./support/memory-viewer.js";
import { statusCode } from "./support/rtmp-test-client.js";

/**
 * The FMS command sequences of a whole session — connect, createStream,
 * play, seek, pause, play2, playlists, start/len — and its timers (slow
 * viewer, failed play, handshake), driven in memory: a real EdgeServer and
 * RtmpSession on an in-memory transport, objects served from memory, and a
 * manual clock, so every time below is exact, in milliseconds, and no test
 * waits for real time. (stream-commands.test.ts plays the same sequences
 * over real sockets through a shield and S3.)
 */

const sample = readFileSync(fromRepoRoot("deploy", "local", "media", "videos", "sample.flv"));
const low = readFileSync(fromRepoRoot("edge", "test", "fixtures", "rendition-low.flv"));
const high = readFileSync(fromRepoRoot("edge", "test", "fixtures", "rendition-high.flv"));
const objects = {
  "videos/sample.flv": sample,
  "low.flv": low,
  "high.flv": high,
  // No FLV signature: the reader refuses it (EDGE_ERR_MEDIA_INVALID).
  "broken.flv": Buffer.from("this is no FLV file, only text where its header should be"),
};

/** Every tag of an FLV, in file order, as the edge's reader yields it. */
async function sourceTags(bytes: Buffer): Promise<MediaTag[]> {
  const reader = await openMedia("flv", bufferSource(bytes));
  const tags: MediaTag[] = [];
  for (let t = await reader.next(); t; t = await reader.next()) tags.push(t);
  return tags;
}

const isMedia = (t: MediaTag) => (t.kind === TagKind.Audio || t.kind === TagKind.Video) && !t.sequenceHeader;

/** Media tags (no sequence headers) of one kind. */
async function sourceMedia(bytes: Buffer, kind: TagKind): Promise<MediaTag[]> {
  return (await sourceTags(bytes)).filter((t) => t.kind === kind && isMedia(t));
}

/**
 * The pacer's contract (stream-player.ts), as a model: pacing starts with
 * the first tag at wall time 0; a tag of time t goes out at the first
 * wake-up w where t - t0 - w - buffer - margin ≤ 250 ms (the burst); until
 * then the loop sleeps until the tag is due, at most 1000 ms at a time.
 * Returns, for each audio/video tag (no headers), its type, time and the
 * clock's time when it goes out.
 */
function paced(
  tags: readonly MediaTag[],
  aheadMs: number,
): { type: number; timestamp: number; at: number }[] {
  const out: { type: number; timestamp: number; at: number }[] = [];
  const t0 = tags[0]!.timestampMs;
  let wall = 0;
  for (const tag of tags) {
    for (;;) {
      const dueIn = tag.timestampMs - t0 - wall - aheadMs;
      if (dueIn <= 250) break;
      wall += Math.min(dueIn, 1000);
    }
    if (isMedia(tag)) out.push({ type: tag.kind, timestamp: tag.timestampMs, at: wall });
  }
  return out;
}

let edge: MemoryEdge | null = null;
afterEach(async () => {
  await edge?.close();
  edge = null;
});

/** An edge with the sample objects; margin 0 so a tag goes out exactly buffer + 250 ms (the pacer's burst) ahead. */
function startEdge(env: Record<string, string> = {}): MemoryEdge {
  edge = new MemoryEdge({ env: { STREAMFRONT_EDGE_SEND_AHEAD_MARGIN_MS: "0", ...env }, objects });
  return edge;
}

async function playing(
  bufferMs: number,
  env: Record<string, string> = {},
): Promise<{ edge: MemoryEdge; viewer: MemoryViewer; streamId: number }> {
  const e = startEdge(env);
  const viewer = e.viewer();
  const streamId = await viewer.connectAndCreateStream(bufferMs);
  return { edge: e, viewer, streamId };
}

/** Runs the clock from timer to timer until the playlist's Play.Complete (at most `limitMs`). */
async function runToComplete(viewer: MemoryViewer, from = 0, limitMs = 60_000): Promise<void> {
  const done = () => viewer.trace(from).includes("data:onPlayStatus:NetStream.Play.Complete");
  assert.ok(
    await viewer.runUntil(done, limitMs),
    `no Play.Complete in ${limitMs} ms: ${viewer.trace(from).join(" ")}`,
  );
}

describe("connect, createStream, play", () => {
  test("the exact FMS sequence, media paced to buffer + 250 ms, to Play.Stop, Play.Complete and StreamEOF", async () => {
    const { viewer, streamId } = await playing(1000);
    assert.deepEqual(viewer.trace(), [
      "type:5", // Window Acknowledgement Size
      "type:6", // Set Peer Bandwidth
      "type:1", // Set Chunk Size
      "uc:0",
      "_result", // NetConnection.Connect.Success
      "onBWDone",
      "_result", // createStream
    ]);
    assert.equal(statusCode(viewer.commands()[0]!), "NetConnection.Connect.Success");
    assert.equal(streamId, 1);
    const from = viewer.messages.length;
    viewer.command(streamId, "play", null, "videos/sample", -2000, -1, true);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.trace(from), [
      "uc:4", // StreamIsRecorded
      "uc:0", // StreamBegin
      "NetStream.Play.Reset",
      "NetStream.Play.Start",
      "data:|RtmpSampleAccess",
      "data:onMetaData",
      "header",
      "media",
    ]);
    // At t = 0 exactly the tags due by buffer (1000) + burst (250) went out.
    const tags = await sourceTags(sample);
    const want = paced(tags, 1000);
    assert.deepEqual(
      viewer.arrivals(from),
      want.filter((t) => t.at === 0),
    );
    assert.ok(viewer.arrivals(from).every((a) => a.timestamp <= 1250));
    // Then every tag at the ms the pacer owes it, to the end.
    await runToComplete(viewer, from);
    assert.deepEqual(viewer.arrivals(from), want);
    // The playlist ends right after its last tag went out.
    const lastAt = want.at(-1)!.at;
    assert.equal(viewer.scheduler.now(), lastAt);
    assert.ok(lastAt >= 6040 - 1250 && lastAt <= 6040 - 1000, `last tag at ${lastAt}`);
    assert.deepEqual(viewer.trace(from).slice(-4), [
      "media",
      "NetStream.Play.Stop",
      "data:onPlayStatus:NetStream.Play.Complete",
      "uc:1",
    ]);
    // Every frame exactly once, in order, with its own time.
    const video = await sourceMedia(sample, TagKind.Video);
    assert.deepEqual(
      viewer.media(MessageType.Video, from).map((m) => m.timestamp),
      video.map((t) => t.timestampMs),
    );
  });
});

describe("seek", () => {
  test("StreamEOF, StreamIsRecorded, StreamBegin, Seek.Notify, Play.Reset, Play.Start, sample access, metadata, headers, then media from the keyframe at or before the time, paced afresh", async () => {
    const { viewer, streamId } = await playing(1000);
    let from = viewer.messages.length;
    viewer.command(streamId, "seek", null, 1000);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(from), ["NetStream.Seek.Failed"], "nothing plays yet");
    viewer.command(streamId, "play", null, "videos/sample", 0, -1);
    await viewer.scheduler.advance(500);
    from = viewer.messages.length;
    viewer.command(streamId, "seek", null, 3300);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.trace(from), [
      "uc:1",
      "uc:4",
      "uc:0",
      "NetStream.Seek.Notify",
      "NetStream.Play.Reset",
      "NetStream.Play.Start",
      "data:|RtmpSampleAccess",
      "data:onMetaData",
      "header",
      "media",
    ]);
    const firstVideo = viewer.media(MessageType.Video, from)[0]!;
    assert.equal(firstVideo.timestamp, 3000, "the keyframe at or before 3.3 s");
    assert.equal(firstVideo.payload[0]! >> 4, 1, "a keyframe");
    // Pacing restarts at the seek (t = 500): from the keyframe on, what is due by 3000 + 1000 + 250 goes out at once.
    const media = (await sourceTags(sample)).filter(isMedia);
    const keyframe = media.findIndex((t) => t.kind === TagKind.Video && t.timestampMs === 3000);
    assert.deepEqual(
      viewer.arrivals(from),
      paced(media.slice(keyframe), 1000)
        .filter((t) => t.at === 0)
        .map((t) => ({ ...t, at: 500 })),
    );
    from = viewer.messages.length;
    viewer.command(streamId, "seek", null, 600_000);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(from), ["NetStream.Seek.InvalidTime"]);
    from = viewer.messages.length;
    viewer.command(streamId, "seek", null, -5);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(from), ["NetStream.Seek.Failed"]);
  });
});

describe("pause", () => {
  test("Pause.Notify + StreamEOF, nothing for 5 s, then Unpause.Notify + StreamBegin + media, and every frame exactly once", async () => {
    const { viewer, streamId } = await playing(500);
    viewer.command(streamId, "play", null, "videos/sample", 0, -1);
    await viewer.scheduler.advance(1000);
    const from = viewer.messages.length;
    viewer.command(streamId, "pause", null, true, 1000);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.trace(from), ["NetStream.Pause.Notify", "uc:1"]);
    const pausedAt = viewer.messages.length;
    const lastBefore = viewer.arrivals().at(-1)!.timestamp;
    await viewer.scheduler.advance(5000);
    assert.deepEqual(viewer.trace(pausedAt), [], "nothing while paused");
    viewer.command(streamId, "pause", null, false, 1000);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.trace(pausedAt), ["NetStream.Unpause.Notify", "uc:0", "media"]);
    // The viewer's buffer drained meanwhile: pacing restarts at the tag held at the pause, and what is
    // due by its time + buffer (500) + burst (250) goes out at once (t = 6000).
    const media = (await sourceTags(sample)).filter(isMedia);
    const held = viewer.arrivals(0, pausedAt).length;
    assert.equal(media[held - 1]!.timestampMs, lastBefore);
    assert.deepEqual(
      viewer.arrivals(pausedAt),
      paced(media.slice(held), 500)
        .filter((t) => t.at === 0)
        .map((t) => ({ ...t, at: 6000 })),
    );
    await runToComplete(viewer, pausedAt);
    for (const kind of [TagKind.Video, TagKind.Audio]) {
      assert.deepEqual(
        viewer.media(kind).map((m) => m.timestamp),
        (await sourceMedia(sample, kind)).map((t) => t.timestampMs),
        `kind ${kind}`,
      );
    }
    let invalid = viewer.messages.length;
    viewer.command(streamId, "pause", null, "yes");
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(invalid), ["NetStream.InvalidArg"]);
    invalid = viewer.messages.length;
    viewer.command(streamId, "pauseRaw", null, true);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.trace(invalid), [], "pausing after the end: nothing plays, nothing to say");
  });
});

describe("play2", () => {
  test("switch: Play.Transition at once, the new rendition from its next keyframe (2000 ms) with TransitionComplete; every frame once", async () => {
    const { viewer, streamId } = await playing(800);
    viewer.command(streamId, "play", null, "low", 0, -1);
    await viewer.scheduler.advance(300);
    const from = viewer.messages.length;
    const options = createAmfObject();
    options.streamName = "high";
    options.oldStreamName = "low";
    options.transition = "switch";
    options.start = -2;
    options.len = -1;
    viewer.command(streamId, "play2", null, options);
    await viewer.scheduler.settle();
    // The status at once; the command also woke the pacer, which sent the old rendition's tags due by 300 + 800 + 250.
    assert.equal(viewer.trace(from)[0], "NetStream.Play.Transition");
    assert.ok(viewer.arrivals(from).every((a) => a.at === 300 && a.timestamp <= 1350));
    await runToComplete(viewer, from);
    const events = viewer.trace(from);
    assert.deepEqual(events.slice(-3), [
      "NetStream.Play.Stop",
      "data:onPlayStatus:NetStream.Play.Complete",
      "uc:1",
    ]);
    const complete = viewer.messages.find(
      (m) => m.messageTypeId === MessageType.DataAmf0 && m.payload.includes("TransitionComplete"),
    )!;
    // At t = 300 the viewer had up to 300 + 800 + 250 = 1350 ms: the next keyframe is 2000.
    assert.equal(complete.timestamp, 2000);
    const at = viewer.messages.indexOf(complete);
    assert.deepEqual(
      viewer.trace(at - 2, at + 2),
      ["header", "data:onPlayStatus:NetStream.Play.TransitionComplete", "media"],
      "the new rendition's headers, TransitionComplete, then its keyframe",
    );
    for (const kind of [TagKind.Video, TagKind.Audio]) {
      const want = [
        ...(await sourceMedia(low, kind)).filter((t) => t.timestampMs < 2000),
        ...(await sourceMedia(high, kind)).filter((t) => t.timestampMs >= 2000),
      ];
      const got = viewer.media(kind);
      assert.deepEqual(
        got.map((m) => m.timestamp),
        want.map((t) => t.timestampMs),
      );
      for (let i = 0; i < want.length; i++)
        assert.ok(got[i]!.payload.equals(want[i]!.body), `kind ${kind} frame ${i}`);
    }
  });

  test("a switch with nothing playing is a reset play; an unknown transition and missing options are Play.Failed", async () => {
    const { viewer, streamId } = await playing(60_000);
    let from = viewer.messages.length;
    viewer.command(streamId, "play2", null, "high");
    const bad = createAmfObject();
    bad.streamName = "high";
    bad.transition = "teleport";
    viewer.command(streamId, "play2", null, bad);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(from), ["NetStream.Play.Failed", "NetStream.Play.Failed"]);
    from = viewer.messages.length;
    const options = createAmfObject();
    options.streamName = "high";
    viewer.command(streamId, "play2", null, options);
    await runToComplete(viewer, from);
    assert.deepEqual(viewer.statuses(from), [
      "NetStream.Play.Reset",
      "NetStream.Play.Start",
      "NetStream.Play.Stop",
    ]);
  });
});

describe("play arguments and playlists", () => {
  test("play(reset=false) appends: Play.Switch between the items, one Stop at the end, time keeps growing", async () => {
    const { viewer, streamId } = await playing(60_000);
    viewer.command(streamId, "play", null, "low", 0, -1, true);
    viewer.command(streamId, "play", null, "high", 0, -1, false);
    await runToComplete(viewer);
    const start = viewer.trace().indexOf("uc:4");
    assert.deepEqual(viewer.trace().slice(start), [
      "uc:4",
      "uc:0",
      "NetStream.Play.Reset",
      "NetStream.Play.Start",
      "data:|RtmpSampleAccess",
      "data:onMetaData",
      "header",
      "media",
      "data:onPlayStatus:NetStream.Play.Switch",
      "NetStream.Play.Start",
      "data:|RtmpSampleAccess",
      "data:onMetaData",
      "header",
      "media",
      "NetStream.Play.Stop",
      "data:onPlayStatus:NetStream.Play.Complete",
      "uc:1",
    ]);
    const lowVideo = await sourceMedia(low, TagKind.Video);
    const highVideo = await sourceMedia(high, TagKind.Video);
    const video = viewer.media(MessageType.Video).map((m) => m.timestamp);
    assert.equal(video.length, lowVideo.length + highVideo.length);
    // The second item continues 1 ms after the latest time the first one sent.
    const switchMessage = viewer.messages.find(
      (m) => m.messageTypeId === MessageType.DataAmf0 && m.payload.includes("NetStream.Play.Switch"),
    )!;
    const lastLowOut = Math.max(
      ...viewer.messages
        .slice(0, viewer.messages.indexOf(switchMessage))
        .filter((m) => m.messageTypeId === MessageType.Audio || m.messageTypeId === MessageType.Video)
        .map((m) => m.timestamp),
    );
    assert.equal(switchMessage.timestamp, lastLowOut + 1);
    assert.deepEqual(
      video.slice(lowVideo.length),
      highVideo.map((t) => t.timestampMs + switchMessage.timestamp),
    );
  });

  test("start and len in ms: from the keyframe at or before start (time counted from it), up to start + len", async () => {
    const { viewer, streamId } = await playing(60_000);
    viewer.command(streamId, "play", null, "videos/sample", 2500, 1500);
    await runToComplete(viewer);
    const source = await sourceMedia(sample, TagKind.Video);
    const video = viewer.media(MessageType.Video);
    assert.deepEqual(
      video.map((m) => m.timestamp + 2000),
      source.filter((t) => t.timestampMs >= 2000 && t.timestampMs <= 4000).map((t) => t.timestampMs),
    );
    assert.ok(video[0]!.payload.equals(source.find((t) => t.timestampMs === 2000)!.body));
  });

  test("len 0 is a single frame; start -2000 plays from 0; start -1000 (live only) is StreamNotFound at once, nothing opened", async () => {
    const e = startEdge();
    const viewer = e.viewer();
    const streamId = await viewer.connectAndCreateStream(60_000);
    viewer.command(streamId, "play", null, "videos/sample", 0, 0);
    await runToComplete(viewer);
    assert.deepEqual(viewer.trace().slice(viewer.trace().indexOf("uc:4")), [
      "uc:4",
      "uc:0",
      "NetStream.Play.Reset",
      "NetStream.Play.Start",
      "data:|RtmpSampleAccess",
      "data:onMetaData",
      "header",
      "media",
      "NetStream.Play.Stop",
      "data:onPlayStatus:NetStream.Play.Complete",
      "uc:1",
    ]);
    assert.equal(viewer.media(MessageType.Video).length, 1);
    assert.equal(viewer.media(MessageType.Audio).length, 0);
    let from = viewer.messages.length;
    viewer.command(streamId, "play", null, "videos/sample", -2000, -1);
    await runToComplete(viewer, from);
    assert.equal(viewer.media(MessageType.Video, from)[0]!.timestamp, 0);
    assert.equal(
      viewer.media(MessageType.Video, from).length,
      (await sourceMedia(sample, TagKind.Video)).length,
    );
    from = viewer.messages.length;
    const opens = e.opens.length;
    viewer.command(streamId, "play", null, "videos/sample", -1000);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(from), ["NetStream.Play.StreamNotFound"]);
    assert.equal(e.opens.length, opens, "a live-only play opens nothing");
  });

  test("a name with no object is StreamNotFound, a broken object FileStructureInvalid; the connection stays", async () => {
    const { viewer, streamId } = await playing(1000);
    viewer.command(streamId, "play", null, "missing", 0, -1);
    await viewer.scheduler.settle();
    viewer.command(streamId, "play", null, "broken", 0, -1);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(), [
      "NetStream.Play.StreamNotFound",
      "NetStream.Play.FileStructureInvalid",
    ]);
    // Sent together, the later reset play wins: the earlier one's answer is dropped with its playlist.
    const from = viewer.messages.length;
    viewer.command(streamId, "play", null, "missing", 0, -1);
    viewer.command(streamId, "play", null, "broken", 0, -1);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(from), ["NetStream.Play.FileStructureInvalid"]);
    assert.equal(viewer.closed, false);
  });

  test("receiveVideo(false) leaves only audio; play(false) stops without a word", async () => {
    const { viewer, streamId } = await playing(1000);
    viewer.command(streamId, "receiveVideo", null, false);
    viewer.command(streamId, "play", null, "low", 0, -1);
    await viewer.scheduler.settle();
    assert.equal(viewer.media(MessageType.Video).length, 0);
    assert.ok(viewer.media(MessageType.Audio).length > 10);
    const from = viewer.messages.length;
    viewer.command(streamId, "play", null, false);
    await viewer.scheduler.advance(10_000);
    assert.deepEqual(viewer.trace(from), []);
  });
});

describe("timers", () => {
  const slowEnv = {
    STREAMFRONT_EDGE_MAX_QUEUED_BYTES: String(64 * 1024),
    STREAMFRONT_EDGE_SLOW_VIEWER_TIMEOUT_MS: "1000",
  };

  test("a viewer that stops reading is dropped exactly slow-viewer-timeout-ms after its queue filled", async () => {
    const { edge: e, viewer, streamId } = await playing(3_600_000, slowEnv);
    viewer.transport.stopReading();
    viewer.command(streamId, "play", null, "videos/sample", 0, -1);
    await viewer.scheduler.settle();
    assert.ok(
      viewer.transport.writableLength >= 64 * 1024,
      `${viewer.transport.writableLength} bytes queued`,
    );
    await viewer.scheduler.advance(999);
    assert.equal(viewer.closed, false);
    await viewer.scheduler.advance(1);
    assert.equal(viewer.closed, true);
    assert.deepEqual(e.closedWith(), ["EDGE_ERR_SLOW_VIEWER"]);
    assert.match(await e.registry.metrics(), /^streamfront_edge_slow_viewer_drops_total 1$/m);
  });

  test("a viewer that reads again before the timeout is kept and gets everything", async () => {
    const { edge: e, viewer, streamId } = await playing(3_600_000, slowEnv);
    viewer.transport.stopReading();
    viewer.command(streamId, "play", null, "videos/sample", 0, -1);
    await viewer.scheduler.advance(999);
    viewer.transport.startReading();
    await runToComplete(viewer);
    await viewer.scheduler.advance(5000);
    assert.equal(viewer.closed, false);
    assert.deepEqual(e.closedWith(), []);
    assert.equal(viewer.media(MessageType.Video).length, (await sourceMedia(sample, TagKind.Video)).length);
  });

  test("after a failed play, a connection silent for failed-play-idle-timeout-ms is closed; a command in time keeps it", async () => {
    const { edge: e, viewer, streamId } = await playing(1000);
    viewer.command(streamId, "play", null, "missing", 0, -1);
    await viewer.scheduler.settle();
    assert.deepEqual(viewer.statuses(), ["NetStream.Play.StreamNotFound"]);
    await viewer.scheduler.advance(9_999);
    assert.equal(viewer.closed, false);
    await viewer.scheduler.advance(1);
    assert.equal(viewer.closed, true);
    assert.deepEqual(e.closedWith(), ["EDGE_ERR_FAILED_PLAY_IDLE"]);

    const kept = e.viewer();
    const id = await kept.connectAndCreateStream(1000);
    kept.command(id, "play", null, "missing", 0, -1);
    await kept.scheduler.advance(9_000);
    kept.command(id, "play", null, "low", 0, -1);
    await kept.scheduler.advance(20_000);
    assert.equal(kept.closed, false);
    assert.ok(kept.statuses().includes("NetStream.Play.Stop"));
    assert.deepEqual(e.closedWith(), ["EDGE_ERR_FAILED_PLAY_IDLE"]);
  });

  test("a connection that does not finish the handshake and connect within handshake-timeout-ms is closed", async () => {
    const e = startEdge();
    const silent = e.viewer();
    const handshaken = e.viewer();
    handshaken.handshake();
    const connected = e.viewer();
    connected.handshake();
    connected.connectCommand();
    await e.scheduler.advance(9_999);
    assert.deepEqual([silent.closed, handshaken.closed, connected.closed], [false, false, false]);
    await e.scheduler.advance(1);
    assert.deepEqual([silent.closed, handshaken.closed, connected.closed], [true, true, false]);
    assert.deepEqual(e.closedWith(), ["EDGE_ERR_HANDSHAKE_TIMEOUT", "EDGE_ERR_HANDSHAKE_TIMEOUT"]);
  });

  test("a connect naming no distribution is rejected with the CloudFront reason, and the connection ends", async () => {
    const e = startEdge();
    const viewer = e.viewer();
    viewer.handshake();
    viewer.connectCommand("rtmp://unknown.example/cfx/st");
    await e.scheduler.settle();
    const reply = viewer.commands().find((c) => c.name === "_error")!;
    assert.equal(statusCode(reply), "NetConnection.Connect.Rejected");
    assert.match(JSON.stringify(reply.args), /DistributionNotFound/);
    assert.equal(viewer.closed, true);
  });
});

describe("connection calls on the manual clock", () => {
  test("checkBandwidth: onBWCheck, and a client answering 40 ms later gets onBWDone(6554 kbit/s, 32 KiB, 0.04 s, 40 ms)", async () => {
    const e = startEdge();
    const viewer = e.viewer();
    await viewer.connectAndCreateStream();
    const from = viewer.messages.length;
    viewer.command(0, "checkBandwidth", null);
    await e.scheduler.settle();
    const check = viewer.commands(from).find((c) => c.name === "onBWCheck")!;
    assert.equal((check.args[0] as string).length, 32 * 1024);
    await e.scheduler.advance(40);
    viewer.send({
      chunkStreamId: 3,
      messageTypeId: MessageType.CommandAmf0,
      messageStreamId: 0,
      timestamp: 0,
      payload: encodeCommand("_result", check.transactionId, null),
    });
    await e.scheduler.settle();
    const done = viewer.commands(from).find((c) => c.name === "onBWDone")!;
    assert.deepEqual(done.args, [Math.round((32 * 1024 * 8) / 40), 32, 0.04, 40]);
  });

  test("200 pings at once: 64 answered in the first turn, the rest in deferred turns, all in order", async () => {
    const e = startEdge();
    const viewer = e.viewer();
    await viewer.connectAndCreateStream();
    const from = viewer.messages.length;
    viewer.transport.fromPeer(
      Buffer.concat(Array.from({ length: 200 }, (_, i) => encodeMessage(pingRequest(i), 128))),
    );
    const answers = () =>
      viewer.messages
        .slice(from)
        .filter(
          (m) =>
            m.messageTypeId === MessageType.UserControl &&
            m.payload.readUInt16BE(0) === UserControlEvent.PingResponse,
        )
        .map((m) => m.payload.readUInt32BE(2));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answers().length, 64, "one turn handles 64 messages");
    assert.equal(e.scheduler.pendingDeferred, 1, "and defers the next turn");
    await e.scheduler.settle();
    assert.deepEqual(
      answers(),
      Array.from({ length: 200 }, (_, i) => i),
    );
  });
});

describe("shield outages mid-play, on the manual clock", () => {
  /** A 6 s FLV of 16 KiB video tags 40 ms apart, keyframes every second: 2.4 MB, read in 256 KiB blocks. */
  function bigFlv(): Buffer {
    const parts: Buffer[] = [Buffer.from([0x46, 0x4c, 0x56, 1, 0x01, 0, 0, 0, 9, 0, 0, 0, 0])];
    for (let i = 0; i < 150; i++) {
      const body = Buffer.alloc(16 * 1024, i & 0xff);
      body[0] = i % 25 === 0 ? 0x17 : 0x27;
      body[1] = 1;
      body.fill(0, 2, 5);
      const head = Buffer.alloc(11);
      head[0] = 9;
      head.writeUIntBE(body.length, 1, 3);
      head.writeUIntBE(i * 40, 4, 3);
      const prev = Buffer.alloc(4);
      prev.writeUInt32BE(11 + body.length);
      parts.push(head, body, prev);
    }
    return Buffer.concat(parts);
  }

  /**
   * The object's bytes behind a fault: past the first three reads (the
   * open's head and tail, the play's first block) every read fails as a
   * shield outage does until `recoverAt` on the clock.
   */
  function flakySource(bytes: Buffer, now: () => number, recoverAt: number) {
    const inner = bufferSource(bytes);
    const failedAt: number[] = [];
    let reads = 0;
    const source = {
      size: inner.size,
      read(offset: number, length: number): Promise<Buffer> {
        reads++;
        if (reads > 3 && now() < recoverAt) {
          failedAt.push(now());
          return Promise.reject(
            new EdgeError(EdgeErrorCode.ShieldUnavailable, "injected: no shield answers"),
          );
        }
        return inner.read(offset, length);
      },
    };
    return { source, failedAt };
  }

  test("an outage shorter than the stall budget is a pause: retries at 0, 200, 600 ms, the read at 1400 works, every frame once", async () => {
    const scheduler = new ManualScheduler();
    const flaky = flakySource(bigFlv(), () => scheduler.now(), 1000);
    const e = new MemoryEdge({
      env: { STREAMFRONT_EDGE_SEND_AHEAD_MARGIN_MS: "0" },
      objects: { "big.flv": flaky.source },
      scheduler,
    });
    edge = e;
    const viewer = e.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    viewer.command(streamId, "play", null, "big", 0, -1);
    await runToComplete(viewer);
    assert.deepEqual(flaky.failedAt, [0, 200, 600]);
    assert.equal(viewer.statuses().includes("NetStream.Play.Failed"), false);
    const video = viewer.media(MessageType.Video);
    assert.deepEqual(
      video.map((m) => m.timestamp),
      Array.from({ length: 150 }, (_, i) => i * 40),
    );
    // What the first block held went out at 0; the first tag of the next block waited for the read that worked.
    const arrivals = viewer.arrivals();
    const firstLate = arrivals.findIndex((a) => a.at > 0);
    assert.equal(arrivals[firstLate]!.at, 1400);
    assert.equal(
      e.logLines.filter(
        (l) => l.msg === "shield read failed; retrying within the viewer's buffer" && l.level === "warn",
      ).length,
      1,
    );
  });

  test("an outage past the budget (play-stall-min-ms 3000, the viewer holding less) ends the play with Play.Failed at 3000 ms; the connection stays until the failed-play timeout", async () => {
    const scheduler = new ManualScheduler();
    const flaky = flakySource(bigFlv(), () => scheduler.now(), Number.POSITIVE_INFINITY);
    const e = new MemoryEdge({
      env: { STREAMFRONT_EDGE_SEND_AHEAD_MARGIN_MS: "0" },
      objects: { "big.flv": flaky.source },
      scheduler,
    });
    edge = e;
    const viewer = e.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    viewer.command(streamId, "play", null, "big", 0, -1);
    const failed = () => viewer.statuses().includes("NetStream.Play.Failed");
    assert.ok(await viewer.runUntil(failed));
    // Retries after 200, 400, 800 ms, then the 1600 ms left: the last read fails at the deadline.
    assert.deepEqual(flaky.failedAt, [0, 200, 600, 1400, 3000]);
    const status = viewer
      .commands()
      .find((c) => c.name === "onStatus" && statusCode(c) === "NetStream.Play.Failed")!;
    assert.equal(
      viewer.arrivedAt[viewer.messages.findIndex((m) => m.payload.includes("NetStream.Play.Failed"))],
      3000,
    );
    assert.match(JSON.stringify(status.args), /did not answer for 3000 ms/);
    assert.ok(e.logLines.some((l) => l.msg === "play failed" && l.code === "EDGE_ERR_PLAY_STALLED"));
    assert.equal(viewer.closed, false);
    await scheduler.advance(9_999);
    assert.equal(viewer.closed, false);
    await scheduler.advance(1);
    assert.equal(viewer.closed, true);
    assert.deepEqual(e.closedWith(), ["EDGE_ERR_FAILED_PLAY_IDLE"]);
  });
});
