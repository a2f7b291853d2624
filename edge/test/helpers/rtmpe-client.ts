import { createHmac, getDiffieHellman } from "node:crypto";
import type { Prng } from "../../../lib/testing/prng.js";
import { Blowfish } from "../../src/rtmp/rtmpe/blowfish.js";
import { Rc4 } from "../../src/rtmp/rtmpe/rc4.js";
import { RTMPE8_XTEA_KEYS, RTMPE9_BLOWFISH_KEYS_HEX } from "../../src/rtmp/rtmpe/signature-keys.js";
import { xteaEncrypt } from "../../src/rtmp/rtmpe/xtea.js";

/*
 * A test-only RTMPE client, written from the handshake's description
 * rather than with the server's helpers, so
 * the handshake tests compare two independent readings of the protocol:
 * its own digest offsets and HMACs, a BigInt Diffie-Hellman on the prime
 * Node ships as "modp2", its own key derivation. It borrows only the block
 * ciphers and RC4, which have their own vector tests.
 */

const SIZE = 1536;
export const FP_KEY = Buffer.concat([
  Buffer.from("Genuine Adobe Flash Player 001", "ascii"),
  Buffer.from("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae", "hex"),
]);
export const FMS_KEY = Buffer.concat([
  Buffer.from("Genuine Adobe Flash Media Server 001", "ascii"),
  FP_KEY.subarray(30),
]);

export type Scheme = 1 | 2;
export type RtmpeType = 6 | 8 | 9;

let primeCache: bigint | null = null;
/** The 1024-bit MODP prime, as Node has it (computed once: creating the group takes a while). */
export function oakleyPrime(): bigint {
  primeCache ??= toBigInt(getDiffieHellman("modp2").getPrime());
  return primeCache;
}

export function toBigInt(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString("hex")}`);
}

export function toBytes128(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(256, "0"), "hex");
}

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/** Peer public keys a server must refuse: 0, 1, p-1, p, 2^1024-1, and wrong lengths. */
export function badPublicKeys(): Array<[string, Buffer]> {
  const p = oakleyPrime();
  return [
    ["0", Buffer.alloc(128)],
    ["1", toBytes128(1n)],
    ["p-1", toBytes128(p - 1n)],
    ["p", toBytes128(p)],
    ["2^1024-1", Buffer.alloc(128, 0xff)],
    ["127 bytes", Buffer.alloc(127, 0x11)],
    ["129 bytes", Buffer.alloc(129, 0x11)],
    ["empty", Buffer.alloc(0)],
  ];
}

function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac("sha256", key);
  for (const part of parts) h.update(part);
  return h.digest();
}

function sum4(packet: Buffer, at: number): number {
  return packet[at]! + packet[at + 1]! + packet[at + 2]! + packet[at + 3]!;
}

export function clientDigestOffset(packet: Buffer, scheme: Scheme): number {
  return scheme === 1 ? (sum4(packet, 8) % 728) + 12 : (sum4(packet, 772) % 728) + 776;
}

export function clientDhOffset(packet: Buffer, scheme: Scheme): number {
  return scheme === 1 ? (sum4(packet, 1532) % 632) + 772 : (sum4(packet, 768) % 632) + 8;
}

function digestOver(packet: Buffer, at: number, key: Buffer): Buffer {
  return hmac(key, packet.subarray(0, at), packet.subarray(at + 32));
}

/** The type 8/9 treatment of a 32-byte signature: per 8-byte block, little-endian words, key `keyBytes[i] % 15`. */
export function signatureCipher(type: RtmpeType, signature: Buffer, keyBytes: Buffer): Buffer {
  if (type === 6) return signature;
  const out = Buffer.from(signature);
  for (let block = 0; block < 4; block += 1) {
    const at = block * 8;
    const words = new Uint32Array([out.readUInt32LE(at), out.readUInt32LE(at + 4)]);
    const keyId = keyBytes[at]! % 15;
    if (type === 8) xteaEncrypt(words, RTMPE8_XTEA_KEYS[keyId]!);
    else new Blowfish(Buffer.from(RTMPE9_BLOWFISH_KEYS_HEX[keyId]!, "hex")).encrypt(words);
    out.writeUInt32LE(words[0]!, at);
    out.writeUInt32LE(words[1]!, at + 4);
  }
  return out;
}

/** The digest of a C1 (Flash Player key) or S1 (FMS key), trying scheme 1 then 2, or null. */
export function findDigest(
  packet: Buffer,
  side: "client" | "server",
): { scheme: Scheme; digest: Buffer } | null {
  const key = side === "client" ? FP_KEY.subarray(0, 30) : FMS_KEY.subarray(0, 36);
  for (const scheme of [1, 2] as const) {
    const at = clientDigestOffset(packet, scheme);
    const digest = packet.subarray(at, at + 32);
    if (digestOver(packet, at, key).equals(digest)) return { scheme, digest };
  }
  return null;
}

/** Which of the sixteen type 8/9 keys a signature made with `signatureKey` uses, block by block. */
export function signatureKeyIds(signatureKey: Buffer): number[] {
  return [0, 8, 16, 24].map((at) => signatureKey[at]! % 15);
}

/** The key S2's signature is made with: HMAC(FMS key, C1's digest). */
export function s2SignatureKey(c1: Buffer): Buffer {
  const found = findDigest(c1, "client");
  if (found === null) throw new Error("C1 has no digest");
  return hmac(FMS_KEY, found.digest);
}

/** Checks a client's C2 the way librtmp's server does: signature keyed from S1's digest, type 8/9 encrypted. */
export function checkC2(type: RtmpeType, s1: Buffer, c2: Buffer): { genuine: boolean; keyIds: number[] } {
  const found = findDigest(s1, "server");
  if (found === null) throw new Error("S1 has no digest");
  const key = hmac(FP_KEY, found.digest);
  const expected = signatureCipher(type, hmac(key, c2.subarray(0, SIZE - 32)), key);
  return { genuine: expected.equals(c2.subarray(SIZE - 32)), keyIds: signatureKeyIds(key) };
}

export interface RtmpeClientOptions {
  type: RtmpeType;
  /** Where C1's digest and DH key go (librtmp uses 2 for RTMPE). */
  scheme: Scheme;
  prng: Prng;
  /** C1's version bytes; librtmp sends 128.0.3.2 for RTMPE. */
  version?: readonly number[];
  /** Replaces the client's DH public key in C1 (for malformed-input tests). */
  publicKeyOverride?: Buffer;
}

export interface ServerReply {
  /** The scheme S1's digest verified with. */
  serverScheme: Scheme;
  /** Whether S2's last 32 bytes are the expected (type 8/9: encrypted) signature. */
  s2Genuine: boolean;
  c2: Buffer;
}

export class RtmpeTestClient {
  readonly type: RtmpeType;
  readonly scheme: Scheme;
  /** C0 + C1, ready to send. */
  readonly c0c1: Buffer;
  readonly publicKey: Buffer;
  readonly #prng: Prng;
  readonly #privateKey: bigint;
  readonly #digest: Buffer;
  #out: Rc4 | null = null;
  #in: Rc4 | null = null;

  constructor(options: RtmpeClientOptions) {
    this.type = options.type;
    this.scheme = options.scheme;
    this.#prng = options.prng;
    const c1 = options.prng.bytes(SIZE);
    c1.writeUInt32BE(0x1234, 0);
    Buffer.from(options.version ?? [128, 0, 3, 2]).copy(c1, 4);

    const p = oakleyPrime();
    this.#privateKey = (toBigInt(options.prng.bytes(128)) % (p - 3n)) + 2n;
    this.publicKey = options.publicKeyOverride ?? toBytes128(modPow(2n, this.#privateKey, p));
    this.publicKey.copy(c1, clientDhOffset(c1, this.scheme));
    const at = clientDigestOffset(c1, this.scheme);
    this.#digest = digestOver(c1, at, FP_KEY.subarray(0, 30));
    this.#digest.copy(c1, at);
    this.c0c1 = Buffer.concat([Buffer.from([this.type]), c1]);
  }

  /**
   * Checks S0 + S1 + S2, derives the RC4 keys and returns C2 — what
   * librtmp's client does, except that failures are reported, not thrown.
   */
  respond(s0s1s2: Buffer): ServerReply {
    if (s0s1s2.length !== 1 + 2 * SIZE) throw new Error(`server sent ${s0s1s2.length} bytes`);
    if (s0s1s2[0] !== this.type) throw new Error(`S0 ${s0s1s2[0]} for C0 ${this.type}`);
    const s1 = s0s1s2.subarray(1, 1 + SIZE);
    const s2 = s0s1s2.subarray(1 + SIZE);

    let serverScheme: Scheme | null = null;
    for (const scheme of [this.scheme, this.scheme === 1 ? 2 : 1] as const) {
      const at = clientDigestOffset(s1, scheme);
      if (digestOver(s1, at, FMS_KEY.subarray(0, 36)).equals(s1.subarray(at, at + 32))) {
        serverScheme = scheme;
        break;
      }
    }
    if (serverScheme === null) throw new Error("S1 digest does not verify with either scheme");

    const dhAt = clientDhOffset(s1, serverScheme);
    const serverKey = Buffer.from(s1.subarray(dhAt, dhAt + 128));
    const secret = toBytes128(modPow(toBigInt(serverKey), this.#privateKey, oakleyPrime()));
    // Client: out-key from the server's public key, in-key from its own.
    this.#out = new Rc4(hmac(secret, serverKey).subarray(0, 16));
    this.#in = new Rc4(hmac(secret, this.publicKey).subarray(0, 16));
    this.#out.update(Buffer.alloc(SIZE));
    this.#in.update(Buffer.alloc(SIZE));

    const s2Key = hmac(FMS_KEY, this.#digest);
    const expected = signatureCipher(this.type, hmac(s2Key, s2.subarray(0, SIZE - 32)), s2Key);
    const s2Genuine = expected.equals(s2.subarray(SIZE - 32));

    const s1DigestAt = clientDigestOffset(s1, serverScheme);
    const c2 = this.#prng.bytes(SIZE);
    const c2Key = hmac(FP_KEY, s1.subarray(s1DigestAt, s1DigestAt + 32));
    signatureCipher(this.type, hmac(c2Key, c2.subarray(0, SIZE - 32)), c2Key).copy(c2, SIZE - 32);
    return { serverScheme, s2Genuine, c2 };
  }

  encrypt(plain: Buffer): Buffer {
    if (this.#out === null) throw new Error("handshake not done");
    return this.#out.update(plain);
  }

  decrypt(cipher: Buffer): Buffer {
    if (this.#in === null) throw new Error("handshake not done");
    return this.#in.update(cipher);
  }
}
