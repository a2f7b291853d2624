import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { EdgeErrorCode } from "../src/errors.js";
import { ChunkDecoder } from "../src/rtmp/chunk-decoder.js";
import { decodeCommand } from "../src/rtmp/command.js";
import {
  computeDigest,
  digestOffset,
  findClientDigest,
  GENUINE_FMS_KEY,
  GENUINE_FP_KEY,
  type HandshakeStep,
  ServerHandshake,
  verifyDigest,
} from "../src/rtmp/handshake.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { assertEdgeError } from "./helpers/edge-error.js";
import { everyFeeding, joinBuffers } from "./helpers/feed.js";

/*
 * The client side is re-implemented here from the spec (not with the
 * module's helpers), so the digest tests check the module against an
 * independent reading of the handshake.
 */

const FP_KEY_30 = Buffer.from("Genuine Adobe Flash Player 001", "ascii");
const FMS_KEY_36 = Buffer.from("Genuine Adobe Flash Media Server 001", "ascii");
const KEY_TAIL = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec,
  0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
const FMS_KEY_68 = Buffer.concat([FMS_KEY_36, KEY_TAIL]);

function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac("sha256", key);
  for (const part of parts) h.update(part);
  return h.digest();
}

function schemeOffset(packet: Buffer, scheme: 1 | 2): number {
  const base = scheme === 1 ? 8 : 772;
  return ((packet[base]! + packet[base + 1]! + packet[base + 2]! + packet[base + 3]!) % 728) + base + 4;
}

/** A Flash-Player-style C1: time 0, the given version, random bytes, digest at `scheme`'s position. */
function digestC1(prng: Prng, scheme: 1 | 2, version = [9, 0, 124, 2]): { c1: Buffer; digest: Buffer } {
  const c1 = prng.bytes(1536);
  c1.writeUInt32BE(0, 0);
  Buffer.from(version).copy(c1, 4);
  const at = schemeOffset(c1, scheme);
  const digest = hmac(FP_KEY_30, c1.subarray(0, at), c1.subarray(at + 32));
  digest.copy(c1, at);
  return { c1, digest };
}

function plainC1(prng: Prng): Buffer {
  const c1 = prng.bytes(1536);
  c1.writeUInt32BE(1234, 0);
  c1.writeUInt32BE(0, 4);
  return c1;
}

function newHandshake(seed = 1): ServerHandshake {
  const prng = new Prng(seed);
  return new ServerHandshake({ randomBytes: (n) => prng.bytes(n), nowMs: () => 0x1_0000_0000 + 42 });
}

function splitOutput(output: Buffer): { s0: number; s1: Buffer; s2: Buffer } {
  assert.equal(output.length, 1 + 1536 * 2);
  return { s0: output[0]!, s1: output.subarray(1, 1537), s2: output.subarray(1537) };
}

describe("handshake digest helpers", () => {
  it("has the 62- and 68-byte keys", () => {
    assert.equal(GENUINE_FP_KEY.length, 62);
    assert.equal(GENUINE_FMS_KEY.length, 68);
    assert.deepStrictEqual(GENUINE_FMS_KEY, FMS_KEY_68);
    assert.deepStrictEqual(GENUINE_FP_KEY, Buffer.concat([FP_KEY_30, KEY_TAIL]));
  });

  it("computes digest offsets for both schemes", () => {
    const packet = Buffer.alloc(1536);
    packet.set([1, 2, 3, 4], 8);
    assert.equal(digestOffset(packet, 1), 22);
    packet.set([255, 255, 255, 255], 8);
    assert.equal(digestOffset(packet, 1), (1020 % 728) + 12);
    assert.equal(digestOffset(packet, 2), 776);
    packet.set([255, 255, 255, 255], 772);
    assert.equal(digestOffset(packet, 2), 292 + 776);
    // The digest always fits inside the packet.
    packet.set([182, 182, 182, 181], 772);
    assert.equal(digestOffset(packet, 2), 727 + 776);
    assert.ok(digestOffset(packet, 2) + 32 <= 1536);
  });

  it("computes and verifies digests, and finds the client's scheme", () => {
    const prng = new Prng(7);
    for (const scheme of [1, 2] as const) {
      const { c1, digest } = digestC1(prng, scheme);
      const at = schemeOffset(c1, scheme);
      assert.deepStrictEqual(computeDigest(c1, at, FP_KEY_30), digest);
      assert.ok(verifyDigest(c1, at, FP_KEY_30));
      assert.ok(!verifyDigest(c1, at, FMS_KEY_36));
      assert.deepStrictEqual(findClientDigest(c1), { scheme, offset: at });
    }
    assert.equal(findClientDigest(plainC1(prng)), null);
  });
});

describe("ServerHandshake", () => {
  it("answers a plain C1 with version-zero S1 and an echo S2", () => {
    const prng = new Prng(3);
    const c1 = plainC1(prng);
    const handshake = newHandshake();
    const first = handshake.push(Buffer.concat([Buffer.from([3]), c1]));
    assert.equal(first.done, false);
    assert.equal(first.rest, null);
    assert.ok(first.output);
    const { s0, s1, s2 } = splitOutput(first.output);
    assert.equal(s0, 3);
    assert.equal(s1.readUInt32BE(0), 42, "S1 time is nowMs modulo 2^32");
    assert.equal(s1.readUInt32BE(4), 0);
    assert.deepStrictEqual(s2, c1);
    assert.equal(handshake.kind, "plain");

    const c2 = prng.bytes(1536);
    const second = handshake.push(c2);
    assert.deepStrictEqual(second, { output: null, done: true, rest: null });
    assert.ok(handshake.done);
  });

  it("answers a digest C1 (scheme 1 and 2) with a genuine-FMS S1 and S2", () => {
    for (const scheme of [1, 2] as const) {
      const prng = new Prng(10 + scheme);
      const { c1, digest } = digestC1(prng, scheme);
      const handshake = newHandshake();
      const step = handshake.push(Buffer.concat([Buffer.from([3]), c1]));
      assert.ok(step.output);
      const { s0, s1, s2 } = splitOutput(step.output);
      assert.equal(s0, 3);
      assert.equal(handshake.kind, "digest");
      assert.deepStrictEqual([...s1.subarray(4, 8)], [3, 5, 1, 1]);

      // What a client does: find S1's digest at the scheme it used and check it with the FMS key.
      const at = schemeOffset(s1, scheme);
      assert.deepStrictEqual(
        s1.subarray(at, at + 32),
        hmac(FMS_KEY_36, s1.subarray(0, at), s1.subarray(at + 32)),
      );

      // S2's last 32 bytes: HMAC(HMAC(FMS key 68, C1 digest), S2[0..1504)).
      const signatureKey = hmac(FMS_KEY_68, digest);
      assert.deepStrictEqual(s2.subarray(1504), hmac(signatureKey, s2.subarray(0, 1504)));
      assert.notDeepStrictEqual(s2, c1);
    }
  });

  it("falls back to the plain handshake when a versioned C1's digest does not verify", () => {
    const prng = new Prng(5);
    const { c1 } = digestC1(prng, 1);
    c1[1000] = c1[1000]! ^ 0xff; // corrupt a byte covered by both schemes' digests
    const handshake = newHandshake();
    const step = handshake.push(Buffer.concat([Buffer.from([3]), c1]));
    assert.ok(step.output);
    const { s1, s2 } = splitOutput(step.output);
    assert.equal(handshake.kind, "plain");
    assert.equal(s1.readUInt32BE(4), 0);
    assert.deepStrictEqual(s2, c1);
  });

  it("gives the same result fed whole, byte by byte or split anywhere", () => {
    for (const kind of ["plain", "digest"] as const) {
      const prng = new Prng(kind === "plain" ? 21 : 22);
      const c1 = kind === "plain" ? plainC1(prng) : digestC1(prng, 1).c1;
      const c2 = prng.bytes(1536);
      const after = Buffer.from("first chunk bytes");
      const input = Buffer.concat([Buffer.from([3]), c1, c2, after]);

      const reference = newHandshake().push(input);
      assert.ok(reference.output);
      assert.equal(reference.done, true);
      assert.deepStrictEqual(reference.rest, after);

      for (const { label, pieces } of everyFeeding(input)) {
        const handshake = newHandshake();
        const steps: HandshakeStep[] = [];
        const rest: Buffer[] = [];
        for (const piece of pieces) {
          const step = handshake.push(piece);
          steps.push(step);
          if (step.rest) rest.push(step.rest);
        }
        assert.deepStrictEqual(joinBuffers(steps.map((s) => s.output)), reference.output, `${kind} ${label}`);
        assert.equal(steps.filter((s) => s.output !== null).length, 1, `${kind} ${label}: one output`);
        assert.equal(steps.at(-1)!.done, true, `${kind} ${label}: done`);
        const firstDone = steps.findIndex((s) => s.done);
        assert.ok(steps.slice(firstDone).every((s) => s.done));
        assert.deepStrictEqual(Buffer.concat(rest), after, `${kind} ${label}: rest`);
      }
    }
  });

  it("is done exactly when the last byte of C2 arrives", () => {
    const prng = new Prng(9);
    const input = Buffer.concat([Buffer.from([3]), plainC1(prng), prng.bytes(1536)]);
    const handshake = newHandshake();
    assert.equal(handshake.push(input.subarray(0, input.length - 1)).done, false);
    assert.deepStrictEqual(handshake.push(input.subarray(input.length - 1)), {
      output: null,
      done: true,
      rest: null,
    });
    // After completion, input passes straight through as rest.
    const more = Buffer.from([1, 2, 3]);
    assert.deepStrictEqual(handshake.push(more), { output: null, done: true, rest: more });
    assert.deepStrictEqual(handshake.push(Buffer.alloc(0)), { output: null, done: true, rest: null });
  });

  it("rejects unknown versions with HandshakeVersion, then stays failed", () => {
    // 0x06, 0x08 and 0x09 are RTMPE (rtmpe-handshake.test.ts).
    for (const version of [0x00, 0x02, 0x04, 0x05, 0x07, 0x0a, 0xff]) {
      assertEdgeError(() => newHandshake().push(Buffer.from([version])), EdgeErrorCode.HandshakeVersion);
    }
    const handshake = newHandshake();
    const first = assertEdgeError(() => handshake.push(Buffer.from([0x04])), EdgeErrorCode.HandshakeVersion);
    const again = assertEdgeError(() => handshake.push(Buffer.from([0x03])), EdgeErrorCode.HandshakeVersion);
    assert.equal(again, first);
  });

  it("ignores empty pushes before C0", () => {
    const handshake = newHandshake();
    assert.deepStrictEqual(handshake.push(Buffer.alloc(0)), { output: null, done: false, rest: null });
    assertEdgeError(() => handshake.push(Buffer.from([0x0a])), EdgeErrorCode.HandshakeVersion);
  });
});

/**
 * A throwaway loopback server that runs ServerHandshake and ChunkDecoder
 * until the client's connect command arrives, then hangs up.
 */
async function runAgainstRtmpdump(
  extraArgs: string[],
): Promise<{ kind: string | null; connect: string; log: string }> {
  let kind: string | null = null;
  let resolveConnect: (app: string) => void = () => {};
  const connected = new Promise<string>((resolve) => {
    resolveConnect = resolve;
  });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const handshake = new ServerHandshake({ randomBytes, nowMs: () => Date.now() });
    const decoder = new ChunkDecoder({
      maxMessageBytes: 1 << 20,
      maxChunkStreams: 64,
      maxChunkSize: 1 << 16,
    });
    socket.on("error", () => {});
    socket.on("data", (data: Buffer) => {
      try {
        let bytes: Buffer | null = data;
        if (!handshake.done) {
          const step = handshake.push(data);
          if (step.output) socket.write(step.output);
          kind = handshake.kind;
          bytes = step.rest;
        }
        if (!bytes) return;
        for (const message of decoder.push(bytes)) {
          if (message.messageTypeId !== MessageType.CommandAmf0) continue;
          const command = decodeCommand(message.payload, message.messageTypeId);
          if (command.name === "connect") {
            const object = command.commandObject as { app?: unknown };
            resolveConnect(String(object.app));
            socket.destroy();
          }
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
    ["-r", `rtmp://127.0.0.1:${address.port}/vod/sample`, "-o", "/dev/null", "-z", "-m", "5", ...extraArgs],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    log += text;
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  // A hang guard only (the asserts on the log decide): generous for a loaded machine.
  const timeout = setTimeout(() => resolveConnect("<timeout>"), 30_000);
  try {
    const connect = await connected;
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    return { kind, connect, log };
  } finally {
    clearTimeout(timeout);
    if (child.exitCode === null && child.signalCode === null) child.kill();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("ServerHandshake against the real rtmpdump", () => {
  it("completes a plain handshake and receives connect", async () => {
    const { kind, connect, log } = await runAgainstRtmpdump([]);
    assert.equal(connect, "vod", log);
    assert.equal(kind, "plain");
    assert.doesNotMatch(log, /signature does not match/);
  });

  it("passes librtmp's genuine-FMS checks in the digest handshake", async () => {
    // A SWF hash and size make librtmp use the Flash Player 9 digest handshake.
    const { kind, connect, log } = await runAgainstRtmpdump(["-w", "ab".repeat(32), "-x", "12345"]);
    assert.equal(connect, "vod", log);
    assert.equal(kind, "digest");
    assert.match(log, /Genuine Adobe Flash Media Server/);
    assert.doesNotMatch(log, /not genuine|Couldn't verify/i);
  });
});
