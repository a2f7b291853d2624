import assert from "node:assert/strict";
import { test } from "node:test";
import { type Admission, ConnectionLimits, type LimitTimers } from "../src/transport/connection-limits.js";
import { Rejection } from "../src/vocabulary.js";

/** A fake clock for the pre-play timer: the real one would make this test wait seconds. */
function fakeTimers() {
  let now = 0;
  const pending = new Map<number, { at: number; run: () => void }>();
  let next = 1;
  const timers: LimitTimers = {
    set(run, ms) {
      const id = next++;
      pending.set(id, { at: now + ms, run });
      return id;
    },
    clear(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    advance(ms: number) {
      now += ms;
      for (const [id, timer] of [...pending]) {
        if (timer.at <= now) {
          pending.delete(id);
          timer.run();
        }
      }
    },
  };
}

function admitted(result: Admission | Rejection): Admission {
  assert.equal(typeof result, "object", `refused: ${String(result)}`);
  return result as Admission;
}

test("pre-play connections are capped tightly per address, playing ones loosely, all by the total", () => {
  const clock = fakeTimers();
  const limits = new ConnectionLimits({
    maxTotal: 12,
    maxPerIp: 10,
    maxPrePlayPerIp: 3,
    prePlayTimeoutMs: 1000,
    timers: clock.timers,
  });
  const none = () => {};
  const first = [1, 2, 3].map(() => admitted(limits.acquire("nat", none)));
  assert.equal(limits.acquire("nat", none), Rejection.TooManyPrePlayConnectionsPerIp);
  // Another address is not affected.
  admitted(limits.acquire("other", none)).release();
  // Playing viewers free their pre-play place: the NAT address fills up to maxPerIp.
  for (const a of first) a.promote();
  const more: Admission[] = [];
  for (let i = 0; i < 7; i++) {
    const a = admitted(limits.acquire("nat", none));
    a.promote();
    more.push(a);
  }
  assert.equal(limits.playing, 10);
  assert.equal(limits.prePlay, 0);
  assert.equal(limits.acquire("nat", none), Rejection.TooManyConnectionsPerIp);
  admitted(limits.acquire("b", none));
  admitted(limits.acquire("c", none));
  assert.equal(limits.acquire("d", none), Rejection.TooManyConnections);
  assert.equal(limits.total, 12);
  more[0]!.release();
  more[0]!.release();
  assert.equal(limits.total, 11, "release is idempotent");
});

test("a connection still pre-play at the timeout is reported once; a promoted one never", () => {
  const clock = fakeTimers();
  const limits = new ConnectionLimits({
    maxTotal: 10,
    maxPerIp: 10,
    maxPrePlayPerIp: 10,
    prePlayTimeoutMs: 1000,
    timers: clock.timers,
  });
  const timedOut: string[] = [];
  admitted(limits.acquire("a", () => timedOut.push("idle")));
  const playing = admitted(limits.acquire("a", () => timedOut.push("playing")));
  const released = admitted(limits.acquire("a", () => timedOut.push("released")));
  clock.advance(500);
  playing.promote();
  released.release();
  clock.advance(499);
  assert.deepEqual(timedOut, []);
  clock.advance(1);
  assert.deepEqual(timedOut, ["idle"]);
  clock.advance(10_000);
  assert.deepEqual(timedOut, ["idle"]);
});

test("a socket's admission is promoted through the socket (an HTTP connection of a playing RTMPT tunnel)", () => {
  const limits = new ConnectionLimits({
    maxTotal: 10,
    maxPerIp: 10,
    maxPrePlayPerIp: 1,
    prePlayTimeoutMs: 1000,
  });
  const socket = {};
  const admission = admitted(limits.acquire("a", () => {}));
  limits.attach(socket, admission);
  limits.promoteSocket(socket);
  limits.promoteSocket({});
  assert.ok(admission.playing);
  admitted(limits.acquire("a", () => {})).release();
  admission.release();
  assert.equal(limits.total, 0);
});
