import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually } from "../../lib/testing/wait.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";
import { RtmpTestClient, statusCode } from "./support/rtmp-test-client.js";

/** A synthetic FLV: header, then `count` 64 KiB keyframe video tags 40 ms apart (the edge never decodes them). */
function bigFlv(count: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x46, 0x4c, 0x56, 1, 0x01, 0, 0, 0, 9, 0, 0, 0, 0])];
  const body = Buffer.alloc(64 * 1024, 0x42);
  body[0] = 0x17;
  body[1] = 1;
  for (let i = 0; i < count; i++) {
    const head = Buffer.alloc(11);
    head[0] = 9;
    head.writeUIntBE(body.length, 1, 3);
    head.writeUIntBE((i * 40) & 0xffffff, 4, 3);
    const prev = Buffer.alloc(4);
    prev.writeUInt32BE(11 + body.length);
    parts.push(head, body, prev);
  }
  return Buffer.concat(parts);
}

let harness: EdgeHarness;
before(async () => {
  harness = await startEdgeHarness({
    env: {
      STREAMFRONT_EDGE_MAX_QUEUED_BYTES: String(64 * 1024),
      STREAMFRONT_EDGE_SLOW_VIEWER_TIMEOUT_MS: "1000",
    },
  });
  await harness.s3.s3.putObject(harness.bucket, "videos/big.flv", bigFlv(400));
});
after(async () => {
  await harness?.close();
});

test("a viewer that stops reading is dropped after the slow-viewer timeout; others keep playing", async () => {
  const stalled = await RtmpTestClient.handshake(harness.rtmpPort);
  await stalled.connectApp(`rtmp://localhost:${harness.rtmpPort}/cfx/st`);
  const streamId = await stalled.createStream();
  stalled.setBufferLength(streamId, 3_600_000);
  stalled.command(streamId, "play", null, "videos/big", 0, -1);
  await stalled.waitFor((m) => m.messageTypeId === MessageType.Video);
  // Stop reading: the kernel buffers fill, then the edge's queue, then the timer runs out.
  stalled.socket.pause();

  const healthy = await RtmpTestClient.handshake(harness.rtmpPort);
  const result = await healthy.connectApp(`rtmp://localhost:${harness.rtmpPort}/cfx/st`);
  assert.equal(statusCode(result), "NetConnection.Connect.Success");
  const healthyStream = await healthy.createStream();
  healthy.setBufferLength(healthyStream, 1000);
  healthy.command(healthyStream, "play", null, "videos/sample", 0, -1);

  await eventually(
    () => harness.logLines.some((l) => l.code === "EDGE_ERR_SLOW_VIEWER" && l.msg === "closing connection"),
    20_000,
    "the slow viewer's drop",
  );
  assert.match(await harness.metricsText(), /^streamfront_edge_slow_viewer_drops_total 1$/m);
  // The healthy viewer is unaffected.
  await healthy.waitFor((m) => m.messageTypeId === MessageType.Video && m.payload.length > 5);
  assert.equal(healthy.isClosed, false);
  healthy.close();
  stalled.close();
});
