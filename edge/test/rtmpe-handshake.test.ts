import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { EdgeErrorCode } from "../src/errors.js";
import { type HandshakeStep, ServerHandshake, type ServerHandshakeOptions } from "../src/rtmp/handshake.js";
import { isValidDhPublicKey } from "../src/rtmp/rtmpe/diffie-hellman.js";
import { NATIVE_RC4_AVAILABLE } from "../src/rtmp/rtmpe/rc4.js";
import type { RtmpeCiphers } from "../src/rtmp/rtmpe/stream-cipher.js";
import { assertEdgeError, onlyEdgeErrors } from "./helpers/edge-error.js";
import { everyFeeding, randomPieces } from "./helpers/feed.js";
import {
  badPublicKeys,
  clientDhOffset,
  RtmpeTestClient,
  type RtmpeType,
  type Scheme,
} from "./helpers/rtmpe-client.js";

function newHandshake(seed = 1, extra: Partial<ServerHandshakeOptions> = {}): ServerHandshake {
  const prng = new Prng(seed);
  return new ServerHandshake({ randomBytes: (n) => prng.bytes(n), nowMs: () => 1000, ...extra });
}

/** Runs C0C1 through a fresh server; returns the server, its S0S1S2 and the client's C2. */
function firstLeg(client: RtmpeTestClient, seed = 1) {
  const server = newHandshake(seed);
  const step = server.push(client.c0c1);
  assert.equal(step.done, false);
  assert.ok(step.output, "S0 + S1 + S2");
  assert.equal(step.encryption, undefined, "no ciphers before C2");
  const reply = client.respond(step.output);
  return { server, output: step.output, reply };
}

const TYPES: readonly RtmpeType[] = [6, 8, 9];
const SCHEMES: readonly Scheme[] = [1, 2];

describe("ServerHandshake RTMPE", () => {
  for (const type of TYPES) {
    for (const scheme of SCHEMES) {
      it(`type ${type}, client digest scheme ${scheme}: genuine S1/S2, and both directions decrypt`, () => {
        const prng = new Prng(100 + type * 10 + scheme);
        const client = new RtmpeTestClient({ type, scheme, prng });
        const { server, output, reply } = firstLeg(client);
        assert.equal(output[0], type, "S0 echoes C0");
        assert.equal(server.kind, "rtmpe");
        assert.equal(server.encrypted, true);
        assert.equal(server.type, type);
        assert.equal(server.done, false);
        assert.equal(reply.serverScheme, scheme, "S1 uses the client's scheme");
        assert.equal(reply.s2Genuine, true, "S2 signature (type 8/9: encrypted) verifies");
        const s1 = output.subarray(1, 1537);
        assert.deepStrictEqual([...s1.subarray(4, 8)], [3, 5, 1, 1]);
        const serverKey = s1.subarray(clientDhOffset(s1, scheme), clientDhOffset(s1, scheme) + 128);
        assert.ok(isValidDhPublicKey(serverKey));
        assert.notDeepStrictEqual(serverKey, client.publicKey);

        const hello = Buffer.from("connect: the first chunk, RC4-encrypted by the client");
        const sealed = client.encrypt(hello);
        const done = server.push(Buffer.concat([reply.c2, sealed]));
        assert.equal(done.done, true);
        assert.equal(done.output, null);
        assert.ok(done.encryption, "ciphers on the completing step");
        assert.deepStrictEqual(done.rest, sealed, "rest is the raw ciphertext");
        const { decrypt, encrypt } = done.encryption;
        assert.deepStrictEqual(decrypt.update(done.rest!), hello);

        // Several exchanges each way keep both keystreams in step.
        for (let round = 0; round < 5; round += 1) {
          const up = prng.bytes(prng.int(1, 3000));
          const later = server.push(client.encrypt(up));
          assert.equal(later.encryption, undefined, "ciphers only once");
          assert.deepStrictEqual(decrypt.update(later.rest!), up);
          const down = prng.bytes(prng.int(1, 3000));
          const wire = encrypt.update(down);
          assert.notDeepStrictEqual(wire, down);
          assert.deepStrictEqual(client.decrypt(wire), down);
        }
      });
    }
  }

  it("refuses rc4: native up front when this process has no OpenSSL RC4", () => {
    // Both ways are checked rather than one skipped: the suite normally runs
    // without --openssl-legacy-provider, NODE_OPTIONS may add it.
    if (NATIVE_RC4_AVAILABLE) assert.doesNotThrow(() => newHandshake(1, { rc4: "native" }));
    else assert.throws(() => newHandshake(1, { rc4: "native" }), /openssl-legacy-provider/);
  });

  it("honours the rc4 option and the Flash Player version bytes are irrelevant", () => {
    for (const version of [
      [128, 0, 3, 2],
      [9, 0, 124, 2],
      [0, 0, 0, 0],
    ]) {
      const prng = new Prng(130);
      const client = new RtmpeTestClient({ type: 6, scheme: 2, prng, version });
      const server = newHandshake(1, { rc4: "pure" });
      const reply = client.respond(server.push(client.c0c1).output!);
      assert.equal(reply.s2Genuine, true);
      const message = Buffer.from("abc");
      const step = server.push(Buffer.concat([reply.c2, client.encrypt(message)]));
      assert.deepStrictEqual(step.encryption!.decrypt.update(step.rest!), message, String(version));
    }
  });

  // Every split point for type 9 (the most work per handshake); type 6 gets a sample of them.
  for (const [type, scheme, everySplit] of [
    [9, 1, true],
    [6, 2, false],
  ] as const) {
    it(`type ${type}: the same result fed whole, byte by byte or split ${everySplit ? "anywhere" : "at sampled offsets"}`, () => {
      const prng = new Prng(140 + type);
      const client = new RtmpeTestClient({ type, scheme, prng });
      const { output, reply } = firstLeg(client, 7);
      const plaintext = Buffer.from("chunk stream bytes that follow C2");
      const tail = client.encrypt(plaintext);
      const input = Buffer.concat([client.c0c1, reply.c2, tail]);

      const feedings = [...everyFeeding(input)].filter(
        ({ label }) => everySplit || !label.startsWith("split") || prng.bool(0.1),
      );
      for (const { label, pieces } of feedings) {
        const server = newHandshake(7);
        const steps: HandshakeStep[] = pieces.map((piece) => server.push(piece));
        const outputs = steps.filter((s) => s.output !== null);
        assert.equal(outputs.length, 1, `${label}: one output`);
        assert.deepStrictEqual(outputs[0]!.output, output, `${label}: output`);
        const firstDone = steps.findIndex((s) => s.done);
        assert.ok(firstDone >= 0 && steps.slice(firstDone).every((s) => s.done), `${label}: done`);
        const withCiphers = steps.filter((s) => s.encryption !== undefined);
        assert.equal(withCiphers.length, 1, `${label}: ciphers once`);
        assert.equal(withCiphers[0], steps[firstDone], `${label}: on the completing step`);
        const rest = Buffer.concat(steps.flatMap((s) => (s.rest ? [s.rest] : [])));
        assert.deepStrictEqual(rest, tail, `${label}: rest is ciphertext`);
        const ciphers: RtmpeCiphers = withCiphers[0]!.encryption!;
        assert.deepStrictEqual(ciphers.decrypt.update(rest), plaintext, `${label}: decrypts`);
      }
    });
  }

  it("decrypts a long encrypted tail cut into random pieces", () => {
    const prng = new Prng(150);
    const client = new RtmpeTestClient({ type: 8, scheme: 2, prng });
    const { server, reply } = firstLeg(client);
    const plaintext = prng.bytes(20_000);
    const input = Buffer.concat([reply.c2, client.encrypt(plaintext)]);
    let decrypt: RtmpeCiphers["decrypt"] | null = null;
    const out: Buffer[] = [];
    for (const piece of randomPieces(input, prng, 700)) {
      const step = server.push(piece);
      if (step.encryption) decrypt = step.encryption.decrypt;
      if (step.rest) out.push(decrypt!.update(step.rest));
    }
    assert.deepStrictEqual(Buffer.concat(out), plaintext);
  });
});

describe("ServerHandshake RTMPE: malformed input", () => {
  it("refuses a bad client DH public key (0, 1, p-1, p, 2^1024-1) with HandshakeInvalid, then stays failed", () => {
    for (const [label, key] of badPublicKeys().filter(([, k]) => k.length === 128)) {
      for (const type of TYPES) {
        const client = new RtmpeTestClient({ type, scheme: 2, prng: new Prng(160), publicKeyOverride: key });
        const server = newHandshake();
        const error = assertEdgeError(
          () => server.push(client.c0c1),
          EdgeErrorCode.HandshakeInvalid,
          /public key/,
        );
        assert.equal(
          assertEdgeError(() => server.push(Buffer.alloc(1536)), EdgeErrorCode.HandshakeInvalid),
          error,
          `${label} type ${type}: same error again`,
        );
      }
    }
  });

  it("refuses an RTMPE C1 without a valid digest", () => {
    const prng = new Prng(161);
    for (const type of TYPES) {
      const plain = Buffer.concat([Buffer.from([type]), prng.bytes(1536)]);
      plain.writeUInt32BE(0, 5);
      assertEdgeError(() => newHandshake().push(plain), EdgeErrorCode.HandshakeInvalid, /digest/);

      const client = new RtmpeTestClient({ type, scheme: 1, prng });
      const corrupted = Buffer.from(client.c0c1);
      corrupted[1 + 1000] = corrupted[1 + 1000]! ^ 1;
      assertEdgeError(() => newHandshake().push(corrupted), EdgeErrorCode.HandshakeInvalid, /digest/);
    }
  });

  it("waits on a short packet instead of failing", () => {
    const client = new RtmpeTestClient({ type: 6, scheme: 2, prng: new Prng(162) });
    const server = newHandshake();
    let at = 0;
    for (const cut of [1, 2, 500, 1536]) {
      assert.deepStrictEqual(server.push(client.c0c1.subarray(at, cut)), {
        output: null,
        done: false,
        rest: null,
      });
      at = cut;
    }
    assert.equal(server.done, false);
    assert.equal(server.kind, null, "nothing decided before C1 is complete");
    assert.equal(server.type, 6);
  });

  it("throws only EdgeError HandshakeInvalid on random and mutated RTMPE C1s", () => {
    const prng = new Prng(163);
    let accepted = 0;
    for (let round = 0; round < 400; round += 1) {
      const type = prng.pick(TYPES);
      let c0c1: Buffer;
      if (prng.bool()) {
        c0c1 = Buffer.concat([Buffer.from([type]), prng.bytes(1536)]);
      } else {
        const client = new RtmpeTestClient({ type, scheme: prng.pick(SCHEMES), prng });
        c0c1 = Buffer.from(client.c0c1);
        // Sometimes leave it intact, else flip a few bytes (the digest covers all of them).
        for (let flips = prng.int(0, 3); flips > 0; flips -= 1) c0c1[prng.int(1, 1536)] = prng.int(0, 255);
      }
      const server = newHandshake(round);
      const error = onlyEdgeErrors(() => {
        for (const piece of randomPieces(c0c1, prng, 600)) server.push(piece);
      }, `round ${round}`);
      if (error === null) accepted += 1;
      else assert.equal(error.code, EdgeErrorCode.HandshakeInvalid, `round ${round}: ${error.message}`);
    }
    assert.ok(accepted > 0 && accepted < 400, `accepted ${accepted}`);
  });
});
