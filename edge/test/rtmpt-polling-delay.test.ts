import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  closedMarker,
  emptyAnswersPerStep,
  PollingDelay,
  pollingByte,
  pollingSchedule,
} from "../src/transport/rtmpt/polling-delay.js";
import { TunnelSession, tunnelProtocol } from "../src/transport/rtmpt/tunnel-session.js";

describe("RTMPT polling delay", () => {
  test("the schedule is rtmplite's and never says 'closed'", () => {
    assert.deepEqual(pollingSchedule, [0x01, 0x03, 0x05, 0x09, 0x11, 0x21]);
    assert.equal(emptyAnswersPerStep, 10);
    assert.ok(!pollingSchedule.includes(closedMarker));
  });

  test("pollingByte steps up every ten empty answers and stops at the last step", () => {
    assert.equal(pollingByte(0), 0x01);
    assert.equal(pollingByte(9), 0x01);
    assert.equal(pollingByte(10), 0x03);
    assert.equal(pollingByte(29), 0x05);
    assert.equal(pollingByte(49), 0x11);
    assert.equal(pollingByte(50), 0x21);
    assert.equal(pollingByte(1_000_000), 0x21);
    assert.equal(pollingByte(-5), 0x01);
  });

  test("PollingDelay: 0x01 while data moves, backs off on empty answers, resets on data", () => {
    const delay = new PollingDelay();
    assert.equal(delay.next(true), 0x01);
    const empties = Array.from({ length: 70 }, () => delay.next(false));
    assert.deepEqual(
      empties.slice(0, 60),
      pollingSchedule.flatMap((b) => Array<number>(10).fill(b)),
    );
    assert.ok(empties.slice(60).every((b) => b === 0x21));
    assert.equal(delay.next(true), 0x01);
    assert.equal(delay.next(false), 0x01, "the count starts over after data");
    for (let i = 0; i < 1_000; i++) delay.next(false);
    assert.equal(delay.next(false), 0x21);
  });
});

describe("RTMPT tunnel session", () => {
  test("the first client byte (C0) picks the label: 0x03 rtmpt, RTMPE's 0x06/0x08/0x09 rtmpte", () => {
    assert.equal(tunnelProtocol(0x03), "rtmpt");
    assert.equal(tunnelProtocol(0x06), "rtmpte");
    assert.equal(tunnelProtocol(0x08), "rtmpte");
    assert.equal(tunnelProtocol(0x09), "rtmpte");
    assert.equal(tunnelProtocol(0x07), "rtmpt", "unknown versions are left for the handshake to refuse");
  });

  test("sequence numbers start at 0 and go up by exactly one; a refused one changes nothing", () => {
    const session = new TunnelSession({
      id: "x",
      remoteAddress: "127.0.0.1",
      highWaterMark: 1024,
      now: () => 0,
    });
    assert.equal(session.acceptSeq(1), false);
    assert.equal(session.acceptSeq(0), true);
    assert.equal(session.acceptSeq(0), false);
    assert.equal(session.acceptSeq(2), false);
    assert.equal(session.expectedSeq, 1);
    assert.equal(session.acceptSeq(1), true);
    session.stream.destroy();
  });

  test("start() reports the label once; answers hold the polling byte, then queued bytes up to the cap", () => {
    const session = new TunnelSession({
      id: "x",
      remoteAddress: "127.0.0.1",
      highWaterMark: 1024,
      now: () => 0,
    });
    assert.equal(session.protocol, null);
    assert.equal(session.start(0x06), "rtmpte");
    assert.equal(session.start(0x03), null);
    assert.equal(session.protocol, "rtmpte");
    session.stream.write(Buffer.from("hello "));
    session.stream.write(Buffer.from("world"));
    assert.deepEqual(session.answer(5, false), Buffer.from("\x01hell"));
    assert.deepEqual(session.answer(100, false), Buffer.from("\x01o world"));
    assert.deepEqual(session.answer(100, false), Buffer.from([0x01]));
    session.stream.destroy();
    assert.ok(session.closed);
    assert.deepEqual(session.answer(100, false), Buffer.from([0x00]));
  });
});
