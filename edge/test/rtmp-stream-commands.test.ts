import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AmfValue, createAmfObject } from "../src/rtmp/amf0.js";
import type { RtmpCommand } from "../src/rtmp/command.js";
import {
  parseConnect,
  parseStreamCommand,
  seekFailedDescription,
  streamCommandNames,
} from "../src/rtmp/stream-commands.js";

/** Table tests of what the NetStream commands' arguments mean (rtmp/stream-commands.ts). */

function command(name: string, ...args: AmfValue[]): RtmpCommand {
  return { name, transactionId: 0, commandObject: null, args };
}

function options(fields: Record<string, AmfValue>): AmfValue {
  const o = createAmfObject();
  for (const [k, v] of Object.entries(fields)) o[k] = v;
  return o;
}

const play = (name: string, startMs: number, lengthMs: number, reset = true, liveOnly = false) => ({
  kind: "play",
  name,
  liveOnly,
  startMs,
  lengthMs,
  reset,
});

describe("play(name, start, len, reset)", () => {
  const cases: [string, AmfValue[], unknown][] = [
    ["name only: recorded or live from the start, to the end, reset", ["a"], play("a", 0, -1)],
    ["start -2000 (recorded or live) plays from 0", ["a", -2000], play("a", 0, -1)],
    ["start -2 (the seconds form) plays from 0", ["a", -2], play("a", 0, -1)],
    ["start -1000 is live only", ["a", -1000], play("a", 0, -1, true, true)],
    ["start -1 (the seconds form) is live only", ["a", -1], play("a", 0, -1, true, true)],
    ["start N ms", ["a", 2500], play("a", 2500, -1)],
    ["start 0, len 1500 ms", ["a", 0, 1500], play("a", 0, 1500)],
    ["len 0 is a single frame", ["a", 0, 0], play("a", 0, 0)],
    ["len -1 to the end", ["a", 0, -1], play("a", 0, -1)],
    ["a negative len other than -1 is to the end too", ["a", 0, -5], play("a", 0, -1)],
    ["any other negative start plays from 0", ["a", -7], play("a", 0, -1)],
    ["a non-finite start is the default", ["a", Number.NaN], play("a", 0, -1)],
    ["a non-finite len is to the end", ["a", 0, Number.POSITIVE_INFINITY], play("a", 0, -1)],
    ["a start that is no number is the default", ["a", "10"], play("a", 0, -1)],
    ["reset true replaces", ["a", 0, -1, true], play("a", 0, -1, true)],
    ["reset false appends", ["a", 0, -1, false], play("a", 0, -1, false)],
    ["reset 0 appends", ["a", 0, -1, 0], play("a", 0, -1, false)],
    ["reset 2 appends", ["a", 0, -1, 2], play("a", 0, -1, false)],
    ["reset 1 replaces", ["a", 0, -1, 1], play("a", 0, -1, true)],
    ["reset 3 replaces", ["a", 0, -1, 3], play("a", 0, -1, true)],
    ["a name that is no string is the empty name", [42], play("", 0, -1)],
    ["no arguments at all", [], play("", 0, -1)],
    ["play(false) stops", [false], { kind: "stop" }],
    ["play(false, …) stops whatever follows", [false, 0, -1], { kind: "stop" }],
  ];
  for (const [label, args, want] of cases) {
    test(label, () => {
      assert.deepEqual(parseStreamCommand(command("play", ...args)), want);
    });
  }
});

describe("play2(NetStreamPlayOptions)", () => {
  const play2 = (
    transition: string,
    name: string,
    startMs: number,
    lengthMs: number,
    oldStreamName: string | null = null,
  ) => ({ kind: "play2", transition, name, oldStreamName, startMs, lengthMs });
  const cases: [string, AmfValue[], unknown][] = [
    [
      "switch with the names, start -2 and len -1 as Flash sends them",
      [options({ streamName: "high", oldStreamName: "low", transition: "switch", start: -2, len: -1 })],
      play2("switch", "high", 0, -1, "low"),
    ],
    ["no transition is a switch", [options({ streamName: "b" })], play2("switch", "b", 0, -1)],
    ["swap is a switch", [options({ streamName: "b", transition: "swap" })], play2("switch", "b", 0, -1)],
    [
      "reset with start and len in seconds",
      [options({ streamName: "b", transition: "reset", start: 2.5, len: 1.5 })],
      play2("reset", "b", 2500, 1500),
    ],
    [
      "len 0 is a single frame",
      [options({ streamName: "b", transition: "reset", len: 0 })],
      play2("reset", "b", 0, 0),
    ],
    ["append", [options({ streamName: "b", transition: "append" })], play2("append", "b", 0, -1)],
    [
      "appendAndWait is an append",
      [options({ streamName: "b", transition: "appendAndWait", start: 1 })],
      play2("append", "b", 1000, -1),
    ],
    ["stop", [options({ transition: "stop" })], { kind: "stop" }],
    [
      "the options after other arguments are found",
      [null, options({ streamName: "b", transition: "reset" })],
      play2("reset", "b", 0, -1),
    ],
    [
      "a stream name that is no string is empty",
      [options({ streamName: 7, transition: "reset" })],
      play2("reset", "", 0, -1),
    ],
    [
      "an unknown transition is Play.Failed",
      [options({ streamName: "b", transition: "teleport" })],
      {
        kind: "rejected",
        command: "play2",
        status: { code: "NetStream.Play.Failed", description: "Unknown play2 transition teleport." },
      },
    ],
    [
      "no options object is Play.Failed",
      ["b"],
      {
        kind: "rejected",
        command: "play2",
        status: { code: "NetStream.Play.Failed", description: "play2 needs a NetStreamPlayOptions object." },
      },
    ],
  ];
  for (const [label, args, want] of cases) {
    test(label, () => {
      assert.deepEqual(parseStreamCommand(command("play2", ...args)), want);
    });
  }
});

describe("seek, pause, receiveAudio/receiveVideo, closeStream, deleteStream", () => {
  const seekFailed = {
    kind: "rejected",
    command: "seek",
    status: { code: "NetStream.Seek.Failed", description: seekFailedDescription },
  };
  const pauseInvalid = (name: string) => ({
    kind: "rejected",
    command: name,
    status: { code: "NetStream.InvalidArg", description: "pause needs a true or false argument." },
  });
  const cases: [string, RtmpCommand, unknown][] = [
    ["seek(ms)", command("seek", 3300), { kind: "seek", ms: 3300 }],
    ["seek(0)", command("seek", 0), { kind: "seek", ms: 0 }],
    ["seek takes the first number", command("seek", null, 1200, 5), { kind: "seek", ms: 1200 }],
    ["seek to a negative time fails", command("seek", -1), seekFailed],
    ["seek to NaN fails", command("seek", Number.NaN), seekFailed],
    ["seek to infinity fails", command("seek", Number.POSITIVE_INFINITY), seekFailed],
    ["seek without a time fails", command("seek", "3300"), seekFailed],
    ["pause(true, ms)", command("pause", true, 400), { kind: "pause", paused: true }],
    ["pause(false, ms)", command("pause", false, 400), { kind: "pause", paused: false }],
    ["pauseRaw is pause", command("pauseRaw", true, 0), { kind: "pause", paused: true }],
    ["pause takes the first boolean", command("pause", null, false), { kind: "pause", paused: false }],
    ["pause without a flag is InvalidArg", command("pause", 400), pauseInvalid("pause")],
    ["pauseRaw without a flag is InvalidArg", command("pauseRaw"), pauseInvalid("pauseRaw")],
    [
      "receiveAudio(false)",
      command("receiveAudio", false),
      { kind: "receive", track: "audio", enabled: false },
    ],
    ["receiveVideo(true)", command("receiveVideo", true), { kind: "receive", track: "video", enabled: true }],
    [
      "receiveVideo without a flag is ignored without a word",
      command("receiveVideo", 1),
      { kind: "rejected", command: "receiveVideo", status: null },
    ],
    ["closeStream", command("closeStream"), { kind: "closeStream" }],
    ["deleteStream(id)", command("deleteStream", 1), { kind: "deleteStream", streamId: 1 }],
    [
      "deleteStream without an id is ignored",
      command("deleteStream", "1"),
      { kind: "rejected", command: "deleteStream", status: null },
    ],
    ["another command is no stream command", command("createStream"), null],
    ["the names are case-sensitive", command("Play", "a"), null],
  ];
  for (const [label, cmd, want] of cases) {
    test(label, () => {
      assert.deepEqual(parseStreamCommand(cmd), want);
    });
  }

  test("every listed name parses to a request or a rejection", () => {
    for (const name of streamCommandNames) assert.notEqual(parseStreamCommand(command(name)), null, name);
  });
});

describe("connect", () => {
  const noAccessLogFields = { swfUrl: "", pageUrl: "", flashVer: "" };
  test("reads tcUrl, app and objectEncoding from the command object", () => {
    const obj = createAmfObject();
    obj.app = "cfx/st";
    obj.tcUrl = "rtmp://d1.cloudfront.net/cfx/st";
    obj.objectEncoding = 3;
    assert.deepEqual(parseConnect({ name: "connect", transactionId: 1, commandObject: obj, args: [] }), {
      kind: "connect",
      tcUrl: "rtmp://d1.cloudfront.net/cfx/st",
      app: "cfx/st",
      objectEncoding: 3,
      ...noAccessLogFields,
    });
  });

  test("reads swfUrl, pageUrl and flashVer for the access log; a value that is no string is empty", () => {
    const obj = createAmfObject();
    obj.swfUrl = "http://example.com/player.swf";
    obj.pageUrl = "http://example.com/page.html";
    obj.flashVer = 10;
    const parsed = parseConnect({ name: "connect", transactionId: 1, commandObject: obj, args: [] });
    assert.equal(parsed.swfUrl, "http://example.com/player.swf");
    assert.equal(parsed.pageUrl, "http://example.com/page.html");
    assert.equal(parsed.flashVer, "");
  });

  const cases: [string, AmfValue, unknown][] = [
    [
      "no command object: nothing, AMF0",
      null,
      { kind: "connect", tcUrl: undefined, app: undefined, objectEncoding: 0, ...noAccessLogFields },
    ],
    [
      "an array is no command object",
      ["x"],
      { kind: "connect", tcUrl: undefined, app: undefined, objectEncoding: 0, ...noAccessLogFields },
    ],
    [
      "an objectEncoding that is no number is AMF0; fields are passed as sent",
      options({ tcUrl: 5, app: null, objectEncoding: "3" }),
      { kind: "connect", tcUrl: 5, app: null, objectEncoding: 0, ...noAccessLogFields },
    ],
  ];
  for (const [label, commandObject, want] of cases) {
    test(label, () => {
      assert.deepEqual(parseConnect({ name: "connect", transactionId: 1, commandObject, args: [] }), want);
    });
  }
});
