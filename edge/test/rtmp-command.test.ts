import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { EdgeErrorCode } from "../src/errors.js";
import { encodeAmf0 } from "../src/rtmp/amf0.js";
import { ChunkDecoder } from "../src/rtmp/chunk-decoder.js";
import { encodeMessage } from "../src/rtmp/chunk-encoder.js";
import { decodeCommand, encodeCommand } from "../src/rtmp/command.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { assertEdgeError, onlyEdgeErrors } from "./helpers/edge-error.js";
import { toPlain } from "./helpers/plain.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");

const CONNECT_OBJECT = {
  app: "cfx/st",
  flashVer: "WIN 10,0,32,18",
  swfUrl: "http://example.com/player.swf",
  tcUrl: "rtmp://s5c39gqb8ow64r.cloudfront.net/cfx/st",
  fpad: false,
  capabilities: 15,
  audioCodecs: 3191,
  videoCodecs: 252,
  videoFunction: 1,
  pageUrl: "http://example.com/",
  objectEncoding: 0,
};

describe("command encoding and decoding", () => {
  it("round-trips a connect command", () => {
    const payload = encodeCommand("connect", 1, CONNECT_OBJECT);
    const command = decodeCommand(payload, MessageType.CommandAmf0);
    assert.equal(command.name, "connect");
    assert.equal(command.transactionId, 1);
    assert.deepStrictEqual(toPlain(command.commandObject), CONNECT_OBJECT);
    assert.deepStrictEqual(command.args, []);
  });

  it("round-trips a command with arguments", () => {
    const payload = encodeCommand("play", 4, null, "mp4:videos/sample.mp4", -2, -1, true);
    assert.deepStrictEqual(decodeCommand(payload, MessageType.CommandAmf0), {
      name: "play",
      transactionId: 4,
      commandObject: null,
      args: ["mp4:videos/sample.mp4", -2, -1, true],
    });
  });

  it("encodes _result byte for byte", () => {
    assert.deepStrictEqual(
      encodeCommand("_result", 2, null, 1),
      hex("02 0007 5f726573756c74  00 4000000000000000  05  00 3ff0000000000000"),
    );
  });

  it("decodes an AMF3 (type 17) command: a 0x00 format byte, then AMF0", () => {
    const body = encodeCommand("createStream", 2, null);
    const command = decodeCommand(Buffer.concat([Buffer.from([0]), body]), MessageType.CommandAmf3);
    assert.deepStrictEqual(command, {
      name: "createStream",
      transactionId: 2,
      commandObject: null,
      args: [],
    });
    // Tolerates a type 17 payload without the format byte.
    assert.deepStrictEqual(decodeCommand(body, MessageType.CommandAmf3), command);
  });

  it("decodes a command without a command object as null", () => {
    const payload = encodeAmf0(["closeStream", 0]);
    assert.deepStrictEqual(decodeCommand(payload, MessageType.CommandAmf0), {
      name: "closeStream",
      transactionId: 0,
      commandObject: null,
      args: [],
    });
  });

  it("rejects payloads not shaped like a command", () => {
    const bad = (payload: Buffer, type: number = MessageType.CommandAmf0): void => {
      assertEdgeError(() => decodeCommand(payload, type), EdgeErrorCode.CommandInvalid);
    };
    bad(Buffer.alloc(0));
    bad(encodeAmf0([1, 2]));
    bad(encodeAmf0(["connect"]));
    bad(encodeAmf0(["connect", "1"]));
    bad(encodeAmf0([null, 1]));
    bad(encodeAmf0([{ name: "connect" }, 1]));
    bad(Buffer.from([0]), MessageType.CommandAmf3);
    bad(encodeCommand("connect", 1, null), MessageType.DataAmf0);
    bad(encodeCommand("connect", 1, null), MessageType.Video);
  });

  it("passes AMF errors through", () => {
    assertEdgeError(
      () => decodeCommand(hex("02 0007 636f6e6e"), MessageType.CommandAmf0),
      EdgeErrorCode.AmfInvalid,
    );
    assertEdgeError(
      () => decodeCommand(encodeAmf0(["x", 1, [[[1]]]]), MessageType.CommandAmf0, { maxDepth: 2 }),
      EdgeErrorCode.AmfTooDeep,
    );
  });

  it("only ever throws EdgeError on random payloads", () => {
    const prng = new Prng(17);
    const valid = encodeCommand("play", 4, null, "sample", 0, -1, false);
    for (let i = 0; i < 2000; i += 1) {
      const payload = prng.bool() ? prng.bytes(prng.int(0, 40)) : Buffer.from(valid);
      payload[prng.int(0, Math.max(0, payload.length - 1))] = prng.int(0, 255);
      const type = prng.pick([MessageType.CommandAmf0, MessageType.CommandAmf3]);
      onlyEdgeErrors(() => decodeCommand(payload, type), `case ${i} (${payload.toString("hex")})`);
    }
  });

  it("survives the chunk layer", () => {
    const payload = encodeCommand("connect", 1, CONNECT_OBJECT);
    const bytes = encodeMessage(
      { chunkStreamId: 3, messageTypeId: MessageType.CommandAmf0, messageStreamId: 0, timestamp: 0, payload },
      128,
    );
    const [message] = new ChunkDecoder({
      maxMessageBytes: 4096,
      maxChunkStreams: 4,
      maxChunkSize: 4096,
    }).push(bytes);
    assert.ok(message);
    assert.equal(decodeCommand(message.payload, message.messageTypeId).name, "connect");
  });
});
