import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { ChunkDecoder } from "../src/rtmp/chunk-decoder.js";
import { encodeMessages } from "../src/rtmp/chunk-encoder.js";
import { decodeCommand } from "../src/rtmp/command.js";
import { setPeerBandwidth, windowAckSize } from "../src/rtmp/control-messages.js";
import { ServerHandshake } from "../src/rtmp/handshake.js";
import { MessageType, PeerBandwidthLimit } from "../src/rtmp/message-types.js";
import type { RtmpeCiphers } from "../src/rtmp/rtmpe/stream-cipher.js";
import { checkC2, type RtmpeType, s2SignatureKey, signatureKeyIds } from "./helpers/rtmpe-client.js";

/*
 * The real client: rtmpdump 2.4 (librtmp, built with GnuTLS/nettle) against
 * a throwaway loopback server running ServerHandshake. librtmp always opens
 * RTMPE with C0 = 0x06 (and version 128.0.3.2) but then follows the type
 * the server answers in S0: for 8 or 9 it checks S2's signature with the
 * XTEA / Blowfish step and applies the same step to its own C2. So to make
 * it speak types 8 and 9, this test server rewrites the incoming C0 from 6
 * to 8 or 9 before the handshake sees it; ServerHandshake then answers
 * S0 = 8/9 as it would for a client that asked for it.
 *
 * After the handshake the server decrypts what follows and expects the
 * `connect` command, then sends two encrypted protocol-control messages
 * with distinctive values and waits for rtmpdump's debug log to show it
 * decoded them: proof that both directions of RC4 agree.
 */

const SERVER_BW = 2_500_123;
const CLIENT_BW = 1_234_567;

interface Run {
  /** What ServerHandshake made of it. */
  kind: string | null;
  type: number | null;
  /** The `app` of rtmpdump's connect, or null if none arrived. */
  app: string | null;
  /** rtmpdump's stderr with -V. */
  log: string;
  /** The raw C0C1, S0S1S2 and C2 of the connection. */
  c1: Buffer;
  s1: Buffer;
  c2: Buffer;
}

async function runRtmpdump(serveType: 6 | 8 | 9): Promise<Run> {
  let kind: string | null = null;
  let type: number | null = null;
  let app: string | null = null;
  const received: Buffer[] = [];
  let sent: Buffer = Buffer.alloc(0);
  const sockets = new Set<Socket>();

  const server = createServer((socket) => {
    sockets.add(socket);
    const handshake = new ServerHandshake({ randomBytes, nowMs: () => Date.now() });
    const decoder = new ChunkDecoder({
      maxMessageBytes: 1 << 20,
      maxChunkStreams: 64,
      maxChunkSize: 1 << 16,
    });
    let ciphers: RtmpeCiphers | null = null;
    let first = true;
    socket.on("error", () => {});
    socket.on("data", (data: Buffer) => {
      try {
        received.push(data);
        let bytes: Buffer | null = data;
        if (!handshake.done) {
          let input = data;
          if (first && serveType !== 6 && data[0] === 0x06) {
            input = Buffer.from(data);
            input[0] = serveType;
          }
          first = false;
          const step = handshake.push(input);
          if (step.output) {
            sent = step.output;
            socket.write(step.output);
          }
          kind = handshake.kind;
          type = handshake.type;
          if (step.encryption) ciphers = step.encryption;
          bytes = step.rest;
        }
        if (bytes === null || ciphers === null) return;
        for (const message of decoder.push(ciphers.decrypt.update(bytes))) {
          if (message.messageTypeId !== MessageType.CommandAmf0) continue;
          const command = decodeCommand(message.payload, message.messageTypeId);
          if (command.name !== "connect") continue;
          app = String((command.commandObject as { app?: unknown }).app);
          const reply = encodeMessages(
            [windowAckSize(SERVER_BW), setPeerBandwidth(CLIENT_BW, PeerBandwidthLimit.Dynamic)],
            128,
          );
          socket.write(ciphers.encrypt.update(reply));
        }
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");

  const child = spawn(
    "rtmpdump",
    ["-r", `rtmpe://127.0.0.1:${address.port}/cfx/st/`, "-y", "x", "-o", "/dev/null", "-V", "-m", "5"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  let resolveSeen: () => void = () => {};
  const seen = new Promise<void>((resolve) => {
    resolveSeen = resolve;
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    log += text;
    if (log.includes(`client BW = ${CLIENT_BW}`)) resolveSeen();
  });
  child.once("close", () => resolveSeen());
  // A hang guard only (the asserts on the log decide): generous for a loaded machine.
  const timeout = setTimeout(() => resolveSeen(), 30_000);
  try {
    await seen;
  } finally {
    clearTimeout(timeout);
    if (child.exitCode === null && child.signalCode === null) child.kill();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const input = Buffer.concat(received);
  return {
    kind,
    type,
    app,
    log,
    c1: input.subarray(1, 1537),
    s1: sent.subarray(1, 1537),
    c2: input.subarray(1537, 3073),
  };
}

function assertClean(run: Run, serveType: RtmpeType): void {
  assert.equal(run.app, "cfx/st", run.log);
  assert.equal(run.kind, "rtmpe");
  assert.equal(run.type, serveType);
  assert.match(run.log, new RegExp(`Type Answer\\s*: 0${serveType}`));
  assert.match(
    run.log,
    /Genuine Adobe Flash Media Server/,
    "rtmpdump verified S1's digest and S2's signature",
  );
  assert.doesNotMatch(run.log, /not genuine|Couldn't verify|Wrong secret key/i);
  assert.match(run.log, new RegExp(`server BW = ${SERVER_BW}`), "rtmpdump decrypted our first message");
  assert.match(run.log, new RegExp(`client BW = ${CLIENT_BW}`), "and the second");
  const c2 = checkC2(serveType, run.s1, run.c2);
  assert.ok(c2.genuine, "rtmpdump's C2 signature is what we compute for this type");
}

describe("RTMPE against the real rtmpdump", () => {
  it("type 6: handshake, encrypted connect, encrypted replies", async () => {
    assertClean(await runRtmpdump(6), 6);
  });

  for (const type of [8, 9] as const) {
    it(`type ${type} (S0 = ${type}): every signature key that % 15 can select agrees with librtmp`, async (t) => {
      // Each connection uses four keys for S2 (checked by rtmpdump) and four
      // for C2 (checked here), chosen by HMAC output; repeat until all 15
      // selectable keys have been used in both directions.
      const s2Keys = new Set<number>();
      const c2Keys = new Set<number>();
      let runs = 0;
      while ((s2Keys.size < 15 || c2Keys.size < 15) && runs < 60) {
        const run = await runRtmpdump(type);
        runs += 1;
        assertClean(run, type);
        assert.match(run.log, /Type mismatch: client sent 6, server answered/);
        for (const id of signatureKeyIds(s2SignatureKey(run.c1))) s2Keys.add(id);
        for (const id of checkC2(type, run.s1, run.c2).keyIds) c2Keys.add(id);
      }
      t.diagnostic(`${runs} rtmpdump connections`);
      assert.equal(s2Keys.size, 15, `S2 keys used in ${runs} runs: ${[...s2Keys].sort((a, b) => a - b)}`);
      assert.equal(c2Keys.size, 15, `C2 keys used in ${runs} runs: ${[...c2Keys].sort((a, b) => a - b)}`);
    });
  }
});
