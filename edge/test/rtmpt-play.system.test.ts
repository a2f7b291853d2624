import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../../lib/testing/wait.js";
import { type EdgeHarness, startEdgeHarness } from "./support/edge-harness.js";
import { RawHttpConnection, RtmptTestSession } from "./support/rtmpt-http-client.js";

/**
 * The RTMP session behind an RTMPT tunnel, driven by hand over plain HTTP
 * against a real edge, shield and s3rver, for what players do not show.
 * (ffmpeg and rtmpdump play over rtmpt:// and rtmpte:// in
 * protocol-matrix.system.test.ts.)
 */
let harness: EdgeHarness;
let httpPort = 0;
let logLines: Record<string, unknown>[] = [];

before(async () => {
  harness = await startEdgeHarness({ env: { STREAMFRONT_EDGE_RTMPT_IDLE_TIMEOUT_MS: "1000" } });
  httpPort = harness.httpPort;
  logLines = harness.logLines;
});

after(async () => {
  await harness?.close();
});

describe("the RTMP session behind a tunnel, by hand", () => {
  test("C0+C1 in the first /send is answered with S0+S1+S2 in the same answer", async () => {
    const c = await RawHttpConnection.open(httpPort);
    try {
      assert.equal((await c.post("/fcs/ident2")).status, 404);
      const session = await RtmptTestSession.open(c);
      const c0c1 = Buffer.alloc(1537, 0x11);
      c0c1[0] = 0x03;
      const answer = await session.send(c0c1);
      assert.equal(answer.status, 200);
      assert.equal(answer.body[0], 0x01, "polling byte");
      assert.equal(answer.body.length, 1 + 1 + 1536 + 1536, "S0, S1 and S2");
      assert.equal(answer.body[1], 0x03, "S0: version 3");
      assert.deepEqual([...(await session.close()).body], [0x00]);
    } finally {
      c.close();
    }
  });

  test("a version the handshake refuses closes the RTMP session; the tunnel answers 0x00, then forgets the id", async () => {
    const c = await RawHttpConnection.open(httpPort);
    try {
      const session = await RtmptTestSession.open(c);
      const bad = Buffer.alloc(1537);
      bad[0] = 0x07;
      const first = await session.send(bad);
      const afterClose = first.body.length === 1 && first.body[0] === 0x00 ? first : await session.idle();
      assert.deepEqual([...afterClose.body], [0x00]);
      assert.equal((await session.idle()).status, 400);
      await eventually(
        () => logLines.some((l) => l.code === "EDGE_ERR_HANDSHAKE_VERSION"),
        2_000,
        "handshake log line",
      );
    } finally {
      c.close();
    }
  });

  test("a tunnel nobody polls is closed after the idle timeout", async () => {
    const c = await RawHttpConnection.open(httpPort);
    try {
      const session = await RtmptTestSession.open(c);
      const c0c1 = Buffer.alloc(1537);
      c0c1[0] = 0x03;
      await session.send(c0c1);
      await new Promise((r) => setTimeout(r, 1_600));
      assert.equal((await session.idle()).status, 400);
    } finally {
      c.close();
    }
  });
});
