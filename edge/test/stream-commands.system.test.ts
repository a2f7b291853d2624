import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { type MediaTag, TagKind } from "../src/media/media-tag.js";
import { type ContainerKind, openMedia } from "../src/media/open-media.js";
import { bufferSource } from "../src/media/range-source.js";
import { createAmfObject, decodeAmf0 } from "../src/rtmp/amf0.js";
import { decodeCommand } from "../src/rtmp/command.js";
import { MessageType, type RtmpMessage } from "../src/rtmp/message-types.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";
import { isCommand, RtmpTestClient, statusCode } from "./support/rtmp-test-client.js";

/**
 * Stream commands driven by the project's own RTMP client against a real
 * edge, shield and s3rver: the exact FMS status sequences, and media
 * timestamps checked frame by frame against the source files.
 */
let harness: EdgeHarness;
before(async () => {
  harness = await startEdgeHarness();
});
after(async () => {
  await harness?.close();
});

const sampleFlv = fromRepoRoot("deploy", "local", "media", "videos", "sample.flv");
const low = fromRepoRoot("edge", "test", "fixtures", "rendition-low.flv");
const high = fromRepoRoot("edge", "test", "fixtures", "rendition-high.flv");

/** Every media tag of a local file, as the edge's reader yields it. */
async function sourceTags(file: string, kind: ContainerKind = "flv"): Promise<MediaTag[]> {
  const reader = await openMedia(kind, bufferSource(readFileSync(file)));
  const tags: MediaTag[] = [];
  for (let t = await reader.next(); t; t = await reader.next()) tags.push(t);
  return tags;
}

async function playingClient(bufferMs: number): Promise<{ client: RtmpTestClient; streamId: number }> {
  const client = await RtmpTestClient.handshake(harness.rtmpPort);
  const result = await client.connectApp(`rtmp://localhost:${harness.rtmpPort}/cfx/st`);
  assert.equal(statusCode(result), "NetConnection.Connect.Success");
  const streamId = await client.createStream();
  client.setBufferLength(streamId, bufferMs);
  return { client, streamId };
}

/** A compact trace of what came after index `from`: user control events, status codes, data names, media. */
function trace(messages: readonly RtmpMessage[], from = 0): string[] {
  const events: string[] = [];
  for (const m of messages.slice(from)) {
    if (m.messageTypeId === MessageType.UserControl) events.push(`uc:${m.payload.readUInt16BE(0)}`);
    else if (isCommand(m)) {
      const c = decodeCommand(m.payload, m.messageTypeId);
      events.push(c.name === "onStatus" ? (statusCode(c) ?? "onStatus") : c.name);
    } else if (m.messageTypeId === MessageType.DataAmf0) {
      const [name, info] = decodeAmf0(m.payload);
      const code =
        typeof info === "object" && info !== null ? (info as Record<string, unknown>).code : undefined;
      events.push(`data:${String(name)}${code ? `:${String(code)}` : ""}`);
    } else if (m.messageTypeId === MessageType.Audio || m.messageTypeId === MessageType.Video) {
      const header = isSequenceHeader(m) ? "header" : "media";
      if (events.at(-1) !== header) events.push(header);
    }
  }
  return events;
}

function isSequenceHeader(m: RtmpMessage): boolean {
  return m.payload.length > 1 && m.payload[1] === 0 && (m.payload[0] === 0x17 || m.payload[0]! >> 4 === 10);
}

function mediaOf(messages: readonly RtmpMessage[], type: number, from = 0): RtmpMessage[] {
  return messages.slice(from).filter((m) => m.messageTypeId === type && !isSequenceHeader(m));
}

const isStreamEof = (m: RtmpMessage) =>
  m.messageTypeId === MessageType.UserControl && m.payload.readUInt16BE(0) === 1;

/** Waits for onPlayStatus Play.Complete, the end of the playlist. */
function waitComplete(client: RtmpTestClient, from = 0) {
  return client.waitFor(
    (m) => m.messageTypeId === MessageType.DataAmf0 && m.payload.includes("NetStream.Play.Complete"),
    { from, timeoutMs: 30_000 },
  );
}

describe("seek", () => {
  test("snaps to the keyframe at or before the time, with Seek.Notify, Play.Reset/Start, metadata and headers resent", async () => {
    const { client, streamId } = await playingClient(1000);
    client.command(streamId, "play", null, "videos/sample", 0, -1);
    await client.waitFor((m) => m.messageTypeId === MessageType.Video && !isSequenceHeader(m));
    const from = client.messages.length;
    client.command(streamId, "seek", null, 3300);
    await client.waitForCommand((c) => statusCode(c) === "NetStream.Seek.Notify", from);
    const notified = client.messages.length;
    await client.waitFor((m) => m.messageTypeId === MessageType.Video && !isSequenceHeader(m), {
      from: notified,
    });
    const afterSeek = trace(client.messages, from);
    const start = afterSeek.indexOf("uc:1");
    // No NetStream.Data.Start by default (fms-data-start: see the test of that setting below).
    assert.deepEqual(
      afterSeek.slice(start, start + 10),
      [
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
      ],
      afterSeek.join(" "),
    );
    // The first frame after the seek is the keyframe at or before 3.3 s in the source.
    const reader = await openMedia("flv", bufferSource(readFileSync(sampleFlv)));
    const keyframeMs = await reader.seek(3300);
    const seekStart = client.messages.findIndex(
      (m, i) =>
        i >= from &&
        isCommand(m) &&
        statusCode(decodeCommand(m.payload, m.messageTypeId)) === "NetStream.Seek.Notify",
    );
    const firstVideo = mediaOf(client.messages, MessageType.Video, seekStart)[0]!;
    assert.equal(firstVideo.timestamp, keyframeMs);
    assert.equal(firstVideo.payload[0]! >> 4, 1, "a keyframe");
    assert.ok(keyframeMs <= 3300 && keyframeMs > 2000);
    client.close();
  });

  test("past the end answers Seek.InvalidTime; without a play, Seek.Failed", async () => {
    const { client, streamId } = await playingClient(1000);
    let from = client.messages.length;
    client.command(streamId, "seek", null, 1000);
    assert.equal(statusCode(await client.waitForCommand("onStatus", from)), "NetStream.Seek.Failed");
    client.command(streamId, "play", null, "videos/sample", 0, -1);
    await client.waitFor((m) => m.messageTypeId === MessageType.Video);
    from = client.messages.length;
    client.command(streamId, "seek", null, 600_000);
    assert.equal(statusCode(await client.waitForCommand("onStatus", from)), "NetStream.Seek.InvalidTime");
    client.close();
  });
});

describe("pause", () => {
  test("Pause.Notify + StreamEOF, nothing while paused, then Unpause.Notify + StreamBegin and every frame exactly once", async () => {
    const { client, streamId } = await playingClient(500);
    client.command(streamId, "play", null, "videos/sample", 0, -1);
    await client.waitFor((m) => m.messageTypeId === MessageType.Video && m.timestamp >= 400);
    const from = client.messages.length;
    client.command(streamId, "pause", null, true, 400);
    await client.waitFor(isStreamEof, { from });
    const pausedAt = client.messages.length;
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(mediaOf(client.messages, MessageType.Video, pausedAt).length, 0, "no media while paused");
    client.command(streamId, "pause", null, false, 400);
    await waitComplete(client, pausedAt);
    const events = trace(client.messages, from);
    const pause = events.indexOf("NetStream.Pause.Notify");
    assert.deepEqual(events.slice(pause, pause + 2), ["NetStream.Pause.Notify", "uc:1"]);
    const unpause = events.indexOf("NetStream.Unpause.Notify");
    assert.deepEqual(events.slice(unpause, unpause + 3), ["NetStream.Unpause.Notify", "uc:0", "media"]);
    // Every source frame arrived once, in order: no gap, no repeat across the pause.
    const source = await sourceTags(sampleFlv);
    for (const kind of [TagKind.Video, TagKind.Audio]) {
      const got = mediaOf(client.messages, kind).map((m) => m.timestamp);
      const want = source.filter((t) => t.kind === kind && !t.sequenceHeader).map((t) => t.timestampMs);
      assert.deepEqual(got, want, `kind ${kind}`);
    }
    client.close();
  });
});

describe("play2", () => {
  test("switch: Play.Transition, then at a keyframe the new rendition with TransitionComplete; the timeline has no gap or repeat", async () => {
    const { client, streamId } = await playingClient(800);
    client.command(streamId, "play", null, "fixtures/rendition-low", 0, -1);
    await client.waitFor((m) => m.messageTypeId === MessageType.Video && m.timestamp >= 200);
    const from = client.messages.length;
    const options = createAmfObject();
    options.streamName = "fixtures/rendition-high";
    options.oldStreamName = "fixtures/rendition-low";
    options.transition = "switch";
    options.start = -2;
    options.len = -1;
    options.offset = -1;
    client.command(streamId, "play2", null, options);
    await waitComplete(client, from);
    const events = trace(client.messages, from);
    assert.ok(events.includes("NetStream.Play.Transition"), events.join(" "));
    assert.ok(events.includes("data:onPlayStatus:NetStream.Play.TransitionComplete"), events.join(" "));
    assert.deepEqual(events.slice(-3), [
      "NetStream.Play.Stop",
      "data:onPlayStatus:NetStream.Play.Complete",
      "uc:1",
    ]);
    const complete = client.messages.find(
      (m) => m.messageTypeId === MessageType.DataAmf0 && m.payload.includes("TransitionComplete"),
    )!;
    const switchMs = complete.timestamp;
    const lowTags = await sourceTags(low);
    const highTags = await sourceTags(high);
    assert.ok(
      highTags.some((t) => t.kind === TagKind.Video && t.keyframe && t.timestampMs === switchMs),
      "the switch happens at a keyframe of the new rendition",
    );
    for (const kind of [TagKind.Video, TagKind.Audio]) {
      const got = mediaOf(client.messages, kind);
      const want = [
        ...lowTags.filter((t) => t.kind === kind && !t.sequenceHeader && t.timestampMs < switchMs),
        ...highTags.filter((t) => t.kind === kind && !t.sequenceHeader && t.timestampMs >= switchMs),
      ];
      assert.deepEqual(
        got.map((m) => m.timestamp),
        want.map((t) => t.timestampMs),
        `kind ${kind}: every frame once`,
      );
      // Before the switch the bytes are the low rendition's, after it the high one's.
      for (let i = 0; i < want.length; i++)
        assert.ok(got[i]!.payload.equals(want[i]!.body), `kind ${kind} frame ${i}`);
    }
    // The new rendition's AVC sequence header precedes its first frame.
    const switchIndex = client.messages.indexOf(complete);
    const headerBefore = client.messages
      .slice(from, switchIndex + 1)
      .filter((m) => m.messageTypeId === MessageType.Video && isSequenceHeader(m));
    assert.ok(headerBefore.length > 0);
    client.close();
  });
});

describe("play arguments and playlists", () => {
  test("play(reset=false) appends: Play.Switch between items and time keeps growing", async () => {
    const { client, streamId } = await playingClient(60_000);
    client.command(streamId, "play", null, "fixtures/rendition-low", 0, -1, true);
    client.command(streamId, "play", null, "fixtures/rendition-high", 0, -1, false);
    await waitComplete(client);
    const events = trace(client.messages);
    const first = events.indexOf("NetStream.Play.Start");
    const switchAt = events.indexOf("data:onPlayStatus:NetStream.Play.Switch");
    assert.ok(first >= 0 && switchAt > first, events.join(" "));
    assert.equal(events.filter((e) => e === "NetStream.Play.Stop").length, 1, "one Stop, at the end");
    for (const kind of [TagKind.Video, TagKind.Audio]) {
      // The AVC end-of-sequence tag closing the first file shares its last frame's time.
      const times = mediaOf(client.messages, kind)
        .filter((m) => !(kind === TagKind.Video && m.payload[1] === 2))
        .map((m) => m.timestamp);
      for (let i = 1; i < times.length; i++)
        assert.ok(
          times[i]! > times[i - 1]!,
          `kind ${kind} increases at ${i}: ${times.slice(Math.max(0, i - 3), i + 3)}`,
        );
    }
    const lowVideo = (await sourceTags(low)).filter((t) => t.kind === TagKind.Video).length;
    const highVideo = (await sourceTags(high)).filter((t) => t.kind === TagKind.Video).length;
    assert.equal(mediaOf(client.messages, TagKind.Video).length, lowVideo + highVideo);
    client.close();
  });

  test("start and len (ms on the wire): from the keyframe at or before start, up to start + len", async () => {
    const { client, streamId } = await playingClient(60_000);
    client.command(streamId, "play", null, "videos/sample", 2500, 1500);
    await waitComplete(client);
    const video = mediaOf(client.messages, TagKind.Video);
    const reader = await openMedia("flv", bufferSource(readFileSync(sampleFlv)));
    const keyframeMs = await reader.seek(2500);
    const source = (await sourceTags(sampleFlv)).filter((t) => t.kind === TagKind.Video);
    // Time counts from the start keyframe (FMS; librtmp adds the start back).
    assert.equal(video[0]!.timestamp, 0);
    assert.ok(video[0]!.payload.equals(source.find((t) => t.timestampMs === keyframeMs)!.body));
    const lastSourceMs = video.at(-1)!.timestamp + keyframeMs;
    assert.ok(lastSourceMs <= 4000 && lastSourceMs >= 3900, `last frame at ${lastSourceMs}`);
    client.close();
  });

  test("len 0 plays a single frame; start -1000 (live only) is StreamNotFound at once", async () => {
    const { client, streamId } = await playingClient(60_000);
    client.command(streamId, "play", null, "videos/sample", 0, 0);
    await waitComplete(client);
    assert.equal(mediaOf(client.messages, TagKind.Video).length, 1);
    assert.equal(mediaOf(client.messages, TagKind.Audio).length, 0);
    const from = client.messages.length;
    client.command(streamId, "play", null, "videos/sample", -1000);
    assert.equal(statusCode(await client.waitForCommand("onStatus", from)), "NetStream.Play.StreamNotFound");
    client.close();
  });

  test("receiveVideo(false) leaves only audio; play(false) stops", async () => {
    const { client, streamId } = await playingClient(60_000);
    client.command(streamId, "receiveVideo", null, false);
    client.command(streamId, "play", null, "fixtures/rendition-low", 0, -1);
    await waitComplete(client);
    assert.equal(mediaOf(client.messages, TagKind.Video).length, 0);
    assert.ok(mediaOf(client.messages, TagKind.Audio).length > 50);
    client.close();
  });
});

describe("AMF3 clients", () => {
  test("a connect sent as an AMF3 command (type 17, objectEncoding 3) is answered with type 17", async () => {
    const client = await RtmpTestClient.handshake(harness.rtmpPort);
    const obj = createAmfObject();
    obj.app = "cfx/st";
    obj.tcUrl = `rtmp://localhost:${harness.rtmpPort}/cfx/st`;
    obj.objectEncoding = 3;
    const { encodeCommand } = await import("../src/rtmp/command.js");
    client.send({
      chunkStreamId: 3,
      messageTypeId: MessageType.CommandAmf3,
      messageStreamId: 0,
      timestamp: 0,
      payload: Buffer.concat([Buffer.from([0]), encodeCommand("connect", 1, obj)]),
    });
    const reply = await client.waitFor(
      (m) => isCommand(m) && decodeCommand(m.payload, m.messageTypeId).name === "_result",
    );
    assert.equal(reply.messageTypeId, MessageType.CommandAmf3);
    const result = decodeCommand(reply.payload, reply.messageTypeId);
    assert.equal(statusCode(result), "NetConnection.Connect.Success");
    assert.equal((result.args[0] as Record<string, unknown>).objectEncoding, 3);
    client.close();
  });
});

describe("connection calls", () => {
  test("checkBandwidth: onBWCheck with a payload, then onBWDone(kbitDown, deltaDown, deltaTime, latency)", async () => {
    const client = await RtmpTestClient.handshake(harness.rtmpPort);
    await client.connectApp(`rtmp://localhost:${harness.rtmpPort}/cfx/st`);
    const from = client.messages.length;
    client.command(0, "checkBandwidth", null);
    const check = await client.waitForCommand("onBWCheck", from);
    assert.ok(check.transactionId > 0);
    assert.equal(typeof check.args[0], "string");
    assert.ok((check.args[0] as string).length >= 16 * 1024, "a payload to time");
    // The client answers the server's call with _result on the same transaction.
    client.send({
      chunkStreamId: 3,
      messageTypeId: MessageType.CommandAmf0,
      messageStreamId: 0,
      timestamp: 0,
      payload: (await import("../src/rtmp/command.js")).encodeCommand("_result", check.transactionId, null),
    });
    const done = await client.waitForCommand((c) => c.name === "onBWDone" && c.args.length === 4, from);
    for (const value of done.args) assert.equal(typeof value, "number");
    assert.ok((done.args[0] as number) > 0, "kbit/s down");
    client.close();
  });

  test("getStreamLength answers the object's duration in seconds; FCSubscribe answers onFCSubscribe; unknown calls _error", async () => {
    const client = await RtmpTestClient.handshake(harness.rtmpPort);
    await client.connectApp(`rtmp://localhost:${harness.rtmpPort}/cfx/st`);
    let from = client.messages.length;
    const txn = client.command(0, "getStreamLength", null, "videos/sample");
    const length = await client.waitForCommand((c) => c.name === "_result" && c.transactionId === txn, from);
    const reader = await openMedia("flv", bufferSource(readFileSync(sampleFlv)));
    assert.equal(length.args[0], reader.durationMs / 1000);
    from = client.messages.length;
    client.command(0, "FCSubscribe", null, "videos/sample");
    assert.equal(statusCode(await client.waitForCommand("onFCSubscribe", from)), "NetStream.Play.Start");
    from = client.messages.length;
    const unknown = client.command(0, "noSuchMethod", null);
    const error = await client.waitForCommand(
      (c) => c.name === "_error" && c.transactionId === unknown,
      from,
    );
    assert.equal(statusCode(error), "NetConnection.Call.Failed");
    client.close();
  });
});

describe("fms-data-start", () => {
  test("on, a play and a seek carry FMS's NetStream.Data.Start after sample access, exactly as FMS 3.5 sent them; off (the default), neither does", async () => {
    const fms = await startEdgeHarness({ env: { STREAMFRONT_EDGE_FMS_DATA_START: "true" } });
    try {
      for (const [port, withDataStart] of [
        [fms.rtmpPort, true],
        [harness.rtmpPort, false],
      ] as const) {
        const client = await RtmpTestClient.handshake(port);
        await client.connectApp(`rtmp://localhost:${port}/cfx/st`);
        const streamId = await client.createStream();
        client.setBufferLength(streamId, 1000);
        const from = client.messages.length;
        client.command(streamId, "play", null, "videos/sample", 0, -1);
        await client.waitFor((m) => m.messageTypeId === MessageType.Video && !isSequenceHeader(m), { from });
        const seekFrom = client.messages.length;
        client.command(streamId, "seek", null, 3300);
        await client.waitForCommand((c) => statusCode(c) === "NetStream.Seek.Notify", seekFrom);
        await client.waitFor((m) => m.messageTypeId === MessageType.Video && !isSequenceHeader(m), {
          from: client.messages.length,
        });
        const dataStart = withDataStart ? ["data:onStatus:NetStream.Data.Start"] : [];
        const play = trace(client.messages, from);
        assert.deepEqual(
          play.slice(0, withDataStart ? 8 : 7),
          [
            "uc:4",
            "uc:0",
            "NetStream.Play.Reset",
            "NetStream.Play.Start",
            "data:|RtmpSampleAccess",
            ...dataStart,
            "data:onMetaData",
            "header",
          ],
          play.join(" "),
        );
        const seek = trace(client.messages, seekFrom);
        const at = seek.indexOf("NetStream.Play.Start");
        assert.deepEqual(
          seek.slice(at, at + (withDataStart ? 4 : 3)),
          ["NetStream.Play.Start", "data:|RtmpSampleAccess", ...dataStart, "data:onMetaData"],
          seek.join(" "),
        );
        client.close();
      }
    } finally {
      await fms.close();
    }
  });
});
