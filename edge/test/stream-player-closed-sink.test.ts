import assert from "node:assert/strict";
import { test } from "node:test";
import type { MediaReader } from "../src/media/media-tag.js";
import { type PlayerSink, StreamPlayer } from "../src/session/stream-player.js";
import { ManualScheduler } from "./support/manual-scheduler.js";

/**
 * Found by the server-level fuzzer (100,000-case run, seed 20261202): a play
 * queued on a stream whose connection was already closing (the sink closed,
 * the player not yet) made the player's loop return at once and re-arm
 * itself from its own `finally`, forever, inside one microtask checkpoint.
 * The edge process then answered nothing — no viewer, no /metrics — at
 * 100% CPU. Driven in memory: the sink counts how often the loop looks at it.
 */
function untouchedReader(): MediaReader {
  const fail = (): never => assert.fail("the reader of a play on a closed sink must not be read");
  return {
    metadata: null,
    durationMs: 1000,
    hasAudio: true,
    hasVideo: false,
    sequenceHeaders: [],
    next: fail,
    seek: fail,
  };
}

test("a play queued after the sink closed ends the player's loop instead of spinning it", async () => {
  let looks = 0;
  const sink: PlayerSink = {
    send: () => assert.fail("nothing is sent on a closed sink"),
    waitWritable: async () => {},
    isClosed: () => {
      looks++;
      return true;
    },
  };
  const player = new StreamPlayer({
    streamId: 1,
    sink,
    clientId: "c",
    bufferMs: () => 3000,
    marginMs: 0,
    scheduler: new ManualScheduler(),
    onFirstFrame: () => assert.fail("no frame"),
    onItemComplete: () => assert.fail("not complete"),
    onItemFailed: () => assert.fail("not failed"),
  });
  player.play({ name: "a", reader: untouchedReader(), startMs: 0, lengthMs: -1 }, true);
  player.play({ name: "b", reader: untouchedReader(), startMs: 0, lengthMs: -1 }, false);
  await player.finished();
  // Let any re-armed loop run: 1,000 microtask turns are far more than a finite loop needs.
  for (let turn = 0; turn < 1000; turn++) await Promise.resolve();
  assert.ok(looks <= 4, `the loop looked at the closed sink ${looks} times (it re-armed itself)`);
  // And the event loop is not starved: a macrotask still runs.
  await new Promise((resolve) => setImmediate(resolve));
  player.close();
});
