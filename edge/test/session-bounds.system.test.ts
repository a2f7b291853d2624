import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../../lib/testing/wait.js";
import { type AmfValue, createAmfObject } from "../src/rtmp/amf0.js";
import { encodeMessage } from "../src/rtmp/chunk-encoder.js";
import { decodeCommand, encodeCommand } from "../src/rtmp/command.js";
import { pingRequest, setChunkSize } from "../src/rtmp/control-messages.js";
import { MessageType, UserControlEvent } from "../src/rtmp/message-types.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";
import { isCommand, RtmpTestClient, statusCode } from "./support/rtmp-test-client.js";

/**
 * How a session paces and bounds what a peer makes it do, against a real
 * edge (in this process), shield and s3rver over loopback: every request
 * answered in order across turns and pauses, the bounds before and after
 * connect, and the bandwidth-check cap.
 */
let harness: EdgeHarness;
before(async () => {
  harness = await startEdgeHarness({ env: { STREAMFRONT_EDGE_MAX_QUEUED_BYTES: String(64 * 1024) } });
});
after(async () => {
  await harness?.close();
});

const tcUrl = () => `rtmp://localhost:${harness.rtmpPort}/cfx/st`;

function command(name: string, txn: number, ...args: AmfValue[]) {
  return {
    chunkStreamId: 3,
    messageTypeId: MessageType.CommandAmf0,
    messageStreamId: 0,
    timestamp: 0,
    payload: encodeCommand(name, txn, null, ...args),
  };
}

describe("input turns and backpressure", () => {
  test("20,000 pings sent at once are all answered, in order, across many turns and pauses", async () => {
    const client = await RtmpTestClient.handshake(harness.rtmpPort);
    await client.connectApp(tcUrl());
    const from = client.messages.length;
    // 20,000 × 18-byte answers is 360 KB: far past the 64 KiB bound, so the
    // session pauses reading many times while this client reads on.
    const pings = Buffer.concat(Array.from({ length: 20_000 }, (_, i) => encodeMessage(pingRequest(i), 128)));
    client.socket.write(pings);
    const responses = () =>
      client.messages
        .slice(from)
        .filter(
          (m) =>
            m.messageTypeId === MessageType.UserControl &&
            m.payload.readUInt16BE(0) === UserControlEvent.PingResponse,
        );
    await eventually(() => responses().length === 20_000, 60_000, "20,000 ping answers");
    assert.deepEqual(
      responses().map((m) => m.payload.readUInt32BE(2)),
      Array.from({ length: 20_000 }, (_, i) => i),
    );
    assert.equal(client.isClosed, false);
    client.close();
  });
});

describe("reassembly bounds before and after connect", () => {
  test("before connect a message over max-connect-bytes closes the connection; after connect one that size is answered", async () => {
    const early = await RtmpTestClient.handshake(harness.rtmpPort);
    early.send(command("connect", 1, "x".repeat(20_000)));
    await early.closed;
    await eventually(
      () =>
        harness.logLines.some(
          (l) => l.code === "EDGE_ERR_MESSAGE_TOO_LARGE" && l.msg === "closing connection",
        ),
      5_000,
      "the log line",
    );

    const client = await RtmpTestClient.handshake(harness.rtmpPort);
    await client.connectApp(tcUrl());
    const from = client.messages.length;
    client.send(command("noSuchMethod", 7, "x".repeat(20_000)));
    const answer = await client.waitForCommand((c) => c.transactionId === 7, from);
    assert.equal(answer.name, "_error");
    assert.equal(client.isClosed, false);
    client.close();
  });

  test("a connect split into 1-byte chunks still connects (chunk size 1 is legal, and costs no more memory)", async () => {
    const client = await RtmpTestClient.handshake(harness.rtmpPort);
    const obj = createAmfObject();
    obj.app = "cfx/st";
    obj.tcUrl = tcUrl();
    client.socket.write(encodeMessage(setChunkSize(1), 128));
    client.socket.write(
      encodeMessage(
        {
          chunkStreamId: 3,
          messageTypeId: MessageType.CommandAmf0,
          messageStreamId: 0,
          timestamp: 0,
          payload: encodeCommand("connect", 1, obj),
        },
        1,
      ),
    );
    const result = await client.waitForCommand((c) => c.name === "_result" && c.transactionId === 1);
    assert.equal(statusCode(result), "NetConnection.Connect.Success");
    client.close();
  });
});

describe("bandwidth checks", () => {
  test("checkBandwidth sends its payload three times per connection, then answers onBWDone at once", async () => {
    const client = await RtmpTestClient.handshake(harness.rtmpPort);
    await client.connectApp(tcUrl());
    let payloads = 0;
    for (let round = 0; round < 5; round++) {
      const from = client.messages.length;
      client.command(0, "checkBandwidth", null);
      const next = await client.waitFor(
        (m) =>
          isCommand(m) && ["onBWCheck", "onBWDone"].includes(decodeCommand(m.payload, m.messageTypeId).name),
        { from },
      );
      const call = decodeCommand(next.payload, next.messageTypeId);
      if (call.name === "onBWCheck") {
        payloads++;
        client.send(command("_result", call.transactionId));
        await client.waitForCommand("onBWDone", from);
      } else {
        assert.equal(call.args.length, 4, "the last measurement");
      }
    }
    assert.equal(payloads, 3);
    client.close();
  });
});
