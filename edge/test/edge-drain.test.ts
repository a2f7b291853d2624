import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { MemoryEdge } from "./support/memory-viewer.js";

/**
 * EdgeServer.drain on a manual clock (README: Draining): a real EdgeServer
 * and its sessions on in-memory transports, objects from memory, so every
 * time below is exact and nothing waits for real time.
 * (edge-drain.system.test.ts drains real edge processes under rtmpdump.)
 */
const sample = readFileSync(fromRepoRoot("deploy", "local", "media", "videos", "sample.flv"));

function isMedia(type: number): boolean {
  return type === MessageType.Audio || type === MessageType.Video;
}

test("a drain ends idle connections at once and waits for the play under way to complete", async () => {
  const edge = new MemoryEdge({ objects: { "videos/sample.flv": sample } });
  const player = edge.viewer();
  const streamId = await player.connectAndCreateStream(500);
  const idle = edge.viewer();
  await idle.connectAndCreateStream();
  player.command(streamId, "play", null, "videos/sample", 0, -1);
  await player.scheduler.advance(1000);
  let drained = false;
  const drain = edge.server.drain(30_000).then(() => {
    drained = true;
  });
  assert.equal(edge.server.draining, true);
  await edge.scheduler.settle();
  assert.equal(idle.closed, true, "the connection with nothing playing is ended");
  assert.equal(player.closed, false);
  const startedAt = edge.scheduler.now();
  assert.ok(await player.runUntil(() => drained, 60_000), "the drain ends");
  await drain;
  const trace = player.trace();
  assert.ok(trace.includes("data:onPlayStatus:NetStream.Play.Complete"), "the play ran to its end");
  assert.equal(player.closed, true);
  assert.ok(
    !player.commands().some((c) => JSON.stringify(c.args).includes("the edge is shutting down")),
    "no shutdown status",
  );
  const drainedLine = edge.logLines.find((line) => line.msg === "drained");
  assert.equal(drainedLine?.endedPlays, false);
  // The connection is ended at the drain's first look (every 250 ms) after the play's end.
  const completeAt =
    player.arrivedAt[player.messages.findLastIndex((m) => m.messageTypeId === MessageType.DataAmf0)]!;
  const endedAt = edge.scheduler.now();
  assert.ok(completeAt > startedAt, "the play ended during the drain");
  assert.ok(
    endedAt >= completeAt && endedAt <= completeAt + 250,
    `ended ${endedAt - completeAt} ms after the play`,
  );
  await edge.close();
});

test("a play past drain-timeout-ms gets NetStream.Play.Stop 'the edge is shutting down', no Play.Complete, no media after", async () => {
  const edge = new MemoryEdge({ objects: { "videos/sample.flv": sample } });
  const player = edge.viewer();
  const streamId = await player.connectAndCreateStream(500);
  player.command(streamId, "play", null, "videos/sample", 0, -1);
  await player.scheduler.advance(500);
  let drained = false;
  const startedAt = edge.scheduler.now();
  const drain = edge.server.drain(1500).then(() => {
    drained = true;
  });
  assert.ok(await player.runUntil(() => drained, 10_000), "the drain ends");
  await drain;
  const commands = player.commands();
  const stop = commands.findLast((c) => c.name === "onStatus");
  assert.ok(stop);
  const info = stop.args[0] as Record<string, unknown>;
  assert.equal(info.code, "NetStream.Play.Stop");
  assert.equal(info.description, "the edge is shutting down");
  assert.equal(info.details, "videos/sample");
  assert.ok(!player.trace().includes("data:onPlayStatus:NetStream.Play.Complete"));
  const stopAt = player.messages.findIndex(
    (m) => m.messageTypeId === MessageType.CommandAmf0 && m.payload.includes("the edge is shutting down"),
  );
  assert.ok(stopAt > 0);
  assert.ok(
    !player.messages.slice(stopAt).some((m) => isMedia(m.messageTypeId)),
    "no media after the shutdown status",
  );
  assert.equal(player.arrivedAt[stopAt], startedAt + 1500, "at drain-timeout-ms exactly");
  assert.equal(player.closed, true);
  assert.equal(edge.logLines.find((line) => line.msg === "drained")?.endedPlays, true);
  await edge.close();
});
