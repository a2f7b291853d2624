import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EdgeErrorCode } from "../src/errors.js";
import {
  abort,
  acknowledgement,
  parseControlUint32,
  parseUserControl,
  pingRequest,
  pingResponse,
  setChunkSize,
  setPeerBandwidth,
  userControl,
  userControlSetBufferLength,
  windowAckSize,
} from "../src/rtmp/control-messages.js";
import {
  MessageType,
  PeerBandwidthLimit,
  type RtmpMessage,
  UserControlEvent,
} from "../src/rtmp/message-types.js";
import { assertEdgeError } from "./helpers/edge-error.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");

function control(messageTypeId: number, payload: string): RtmpMessage {
  return { chunkStreamId: 2, messageTypeId, messageStreamId: 0, timestamp: 0, payload: hex(payload) };
}

describe("protocol control message builders", () => {
  it("build chunk stream 2, stream 0 messages with the spec's payloads", () => {
    assert.deepStrictEqual(setChunkSize(4096), control(MessageType.SetChunkSize, "00001000"));
    assert.deepStrictEqual(abort(5), control(MessageType.Abort, "00000005"));
    assert.deepStrictEqual(acknowledgement(2_500_000), control(MessageType.Acknowledgement, "002625a0"));
    assert.deepStrictEqual(windowAckSize(2_500_000), control(MessageType.WindowAckSize, "002625a0"));
    assert.deepStrictEqual(
      setPeerBandwidth(2_500_000, PeerBandwidthLimit.Dynamic),
      control(MessageType.SetPeerBandwidth, "002625a0 02"),
    );
    assert.deepStrictEqual(
      userControl(UserControlEvent.StreamBegin, 1),
      control(MessageType.UserControl, "0000 00000001"),
    );
    assert.deepStrictEqual(
      userControl(UserControlEvent.StreamIsRecorded, 1),
      control(MessageType.UserControl, "0004 00000001"),
    );
    assert.deepStrictEqual(
      userControl(UserControlEvent.BufferEmpty, 1),
      control(MessageType.UserControl, "001f 00000001"),
    );
    assert.deepStrictEqual(
      userControlSetBufferLength(1, 36_000_000),
      control(MessageType.UserControl, "0003 00000001 02255100"),
    );
    assert.deepStrictEqual(pingRequest(0xdeadbeef), control(MessageType.UserControl, "0006 deadbeef"));
    assert.deepStrictEqual(pingResponse(77), control(MessageType.UserControl, "0007 0000004d"));
  });

  it("wraps acknowledgement sequence numbers modulo 2^32", () => {
    assert.deepStrictEqual(acknowledgement(2 ** 32 + 5).payload, hex("00000005"));
  });

  it("rejects a chunk size outside [1, 2^31-1]", () => {
    assert.throws(() => setChunkSize(0), RangeError);
    assert.throws(() => setChunkSize(0x80000000), RangeError);
    assert.throws(() => setChunkSize(1.5), RangeError);
  });
});

describe("parseUserControl", () => {
  it("parses stream events, SetBufferLength and pings", () => {
    assert.deepStrictEqual(parseUserControl(hex("0000 00000001")), { event: 0, streamId: 1 });
    assert.deepStrictEqual(parseUserControl(hex("0001 00000002")), { event: 1, streamId: 2 });
    assert.deepStrictEqual(parseUserControl(hex("0020 00000003")), { event: 32, streamId: 3 });
    assert.deepStrictEqual(parseUserControl(hex("0003 00000001 00000bb8")), {
      event: 3,
      streamId: 1,
      bufferMs: 3000,
    });
    assert.deepStrictEqual(parseUserControl(hex("0006 00001234")), { event: 6, timestamp: 0x1234 });
    assert.deepStrictEqual(parseUserControl(hex("0007 ffffffff")), { event: 7, timestamp: 0xffffffff });
  });

  it("round-trips the builders", () => {
    assert.deepStrictEqual(parseUserControl(userControlSetBufferLength(9, 100).payload), {
      event: UserControlEvent.SetBufferLength,
      streamId: 9,
      bufferMs: 100,
    });
    assert.deepStrictEqual(parseUserControl(pingResponse(5).payload), { event: 7, timestamp: 5 });
  });

  it("returns just the event for events it does not interpret", () => {
    assert.deepStrictEqual(parseUserControl(hex("001a")), { event: 26 });
    assert.deepStrictEqual(parseUserControl(hex("001b 0101 00000000")), { event: 27 });
  });

  it("rejects short payloads with ChunkInvalid", () => {
    for (const payload of [
      "",
      "00",
      "0000",
      "0000 000000",
      "0003 00000001",
      "0003 00000001 000000",
      "0006 0000",
    ]) {
      assertEdgeError(() => parseUserControl(hex(payload)), EdgeErrorCode.ChunkInvalid);
    }
  });

  it("parses u32 control payloads", () => {
    assert.equal(parseControlUint32(hex("00001000")), 4096);
    assert.equal(parseControlUint32(hex("002625a0 02")), 2_500_000);
    assertEdgeError(() => parseControlUint32(hex("001000")), EdgeErrorCode.ChunkInvalid);
  });
});
