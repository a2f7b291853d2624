import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { EdgeErrorCode } from "../src/errors.js";
import {
  DH_KEY_SIZE,
  dhExchange,
  dhKeyOffset,
  isValidDhPublicKey,
  OAKLEY_GROUP_2_PRIME,
} from "../src/rtmp/rtmpe/diffie-hellman.js";
import { assertEdgeError } from "./helpers/edge-error.js";
import { badPublicKeys, modPow, oakleyPrime, toBigInt, toBytes128 } from "./helpers/rtmpe-client.js";

const P = toBigInt(OAKLEY_GROUP_2_PRIME);

describe("RTMPE Diffie-Hellman", () => {
  it("uses the RFC 2409 1024-bit prime (Node's modp2)", () => {
    assert.equal(OAKLEY_GROUP_2_PRIME.length, 128);
    assert.equal(P, oakleyPrime());
    // p = 2^1024 - 2^960 - 1 + 2^64 * (floor(2^894 pi) + 129093): check the fixed ends.
    assert.equal(P >> 960n, (1n << 64n) - 1n);
    assert.equal(P & ((1n << 64n) - 1n), (1n << 64n) - 1n);
  });

  it("finds the public key at the DH offset of each scheme, always inside the packet", () => {
    const packet = Buffer.alloc(1536);
    assert.equal(dhKeyOffset(packet, 1), 772);
    assert.equal(dhKeyOffset(packet, 2), 8);
    packet.set([1, 2, 3, 4], 1532);
    assert.equal(dhKeyOffset(packet, 1), 772 + 10);
    packet.set([255, 255, 255, 255], 1532);
    assert.equal(dhKeyOffset(packet, 1), (1020 % 632) + 772);
    packet.set([255, 255, 255, 255], 768);
    assert.equal(dhKeyOffset(packet, 2), (1020 % 632) + 8);
    // Every possible byte sum: scheme 1 stays in 772..1531, scheme 2 in 8..767.
    for (let sum = 0; sum <= 1020; sum += 1) {
      const bytes = [Math.min(255, sum), Math.min(255, Math.max(0, sum - 255)), 0, 0];
      bytes[2] = Math.min(255, Math.max(0, sum - 510));
      bytes[3] = Math.max(0, sum - 765);
      packet.set(bytes, 1532);
      packet.set(bytes, 768);
      const one = dhKeyOffset(packet, 1);
      const two = dhKeyOffset(packet, 2);
      assert.ok(one >= 772 && one + DH_KEY_SIZE <= 1532, `scheme 1 sum ${sum}: ${one}`);
      assert.ok(two >= 8 && two + DH_KEY_SIZE <= 768, `scheme 2 sum ${sum}: ${two}`);
    }
  });

  it("accepts 1 < y < p-1 only", () => {
    for (const [label, key] of badPublicKeys()) assert.equal(isValidDhPublicKey(key), false, label);
    for (const y of [2n, 3n, 256n, P - 2n, P / 2n])
      assert.equal(isValidDhPublicKey(toBytes128(y)), true, String(y));
  });

  it("agrees with a BigInt computation of g^x and y^x mod p", () => {
    const prng = new Prng(71);
    for (let round = 0; round < 5; round += 1) {
      const entropy = prng.bytes(128);
      const peerPrivate = toBigInt(prng.bytes(128)) % P;
      const peerPublic = toBytes128(modPow(2n, peerPrivate, P));
      const { publicKey, sharedSecret } = dhExchange(entropy, peerPublic);
      assert.equal(publicKey.length, 128);
      assert.equal(sharedSecret.length, 128);
      // The private exponent is the entropy with its top two bits forced to 01.
      const x = (toBigInt(entropy) & ((1n << 1022n) - 1n)) | (1n << 1022n);
      assert.equal(toBigInt(publicKey), modPow(2n, x, P));
      assert.deepStrictEqual(sharedSecret, toBytes128(modPow(toBigInt(publicKey), peerPrivate, P)));
    }
  });

  it("left-pads public keys and secrets that start with zero bytes", () => {
    // About 1 in 256 exchanges has a public key (or secret) below 2^1016.
    const prng = new Prng(72);
    const peerPrivate = 0x1234567n;
    const peerPublic = toBytes128(modPow(2n, peerPrivate, P));
    let shortKey = false;
    let shortSecret = false;
    for (let round = 0; round < 20_000 && !(shortKey && shortSecret); round += 1) {
      const { publicKey, sharedSecret } = dhExchange(prng.bytes(128), peerPublic);
      assert.equal(publicKey.length, 128);
      assert.equal(sharedSecret.length, 128);
      if (publicKey[0] === 0 && !shortKey) {
        shortKey = true;
        assert.deepStrictEqual(sharedSecret, toBytes128(modPow(toBigInt(publicKey), peerPrivate, P)));
      }
      if (sharedSecret[0] === 0 && !shortSecret) {
        shortSecret = true;
        assert.deepStrictEqual(sharedSecret, toBytes128(modPow(toBigInt(publicKey), peerPrivate, P)));
      }
    }
    assert.ok(shortKey && shortSecret);
  });

  it("refuses bad peer keys and short entropy with EdgeError HandshakeInvalid", () => {
    const prng = new Prng(73);
    for (const [, key] of badPublicKeys()) {
      assertEdgeError(() => dhExchange(prng.bytes(128), key), EdgeErrorCode.HandshakeInvalid, /public key/);
    }
    assertEdgeError(() => dhExchange(prng.bytes(127), toBytes128(5n)), EdgeErrorCode.HandshakeInvalid);
  });
});
