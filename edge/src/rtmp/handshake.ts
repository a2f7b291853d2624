import { createHmac } from "node:crypto";
import { EdgeError, EdgeErrorCode } from "../errors.js";
import { isRtmpC0, RTMP_C0, type RtmpC0 } from "../transport/first-byte.js";
import type { DigestScheme } from "./digest-scheme.js";
import { DH_KEY_SIZE, dhExchange, dhKeyOffset } from "./rtmpe/diffie-hellman.js";
import { NATIVE_RC4_AVAILABLE, type Rc4Implementation } from "./rtmpe/rc4.js";
import { encryptSignature } from "./rtmpe/signature.js";
import { createRtmpeCiphers, type RtmpeCiphers } from "./rtmpe/stream-cipher.js";

/**
 * The server side of the RTMP handshake.
 *
 *   client → server   C0 (1 byte: version 0x03) + C1 (1536 bytes)
 *   server → client   S0 (0x03) + S1 (1536) + S2 (1536)
 *   client → server   C2 (1536 bytes)
 *
 * C1/S1 layout: time (u32 BE) | version (4 bytes) | 1528 bytes of random data.
 *
 * When C1's version bytes are zero this is the original handshake: S1 is
 * time + zero version + random and S2 echoes C1.
 *
 * When they are non-zero the client is a Flash Player 9+ that hid a 32-byte
 * HMAC-SHA256 digest inside C1 and expects a "genuine Adobe" server: S1
 * carries the server's digest at the same position scheme, and S2 is random
 * bytes closed by an HMAC keyed with the client's digest. Clients that check
 * (librtmp when doing SWF verification, Flash Player for RTMPE) reject a
 * server that echoes instead.
 *
 * RTMPE (C0 = 0x06, 0x08 or 0x09; S0 echoes it) is the digest handshake
 * plus a Diffie-Hellman exchange (rtmpe/diffie-hellman.ts): C1 and S1 each
 * carry a 128-byte public key at the DH offset of the digest scheme C1's
 * digest verified with, S1's digest covering the server's key. Types 8 and
 * 9 also encrypt the 32-byte signature closing S2 (rtmpe/signature.ts).
 * Everything after C2 / S2 is RC4-encrypted in both directions
 * (rtmpe/stream-cipher.ts); the ciphers come with the step that completes
 * the handshake.
 */

const HANDSHAKE_PACKET_SIZE = 1536;
const DIGEST_SIZE = 32;

/** The 32 bytes shared by the tails of both keys. */
const KEY_TAIL = Buffer.from("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae", "hex");
/** "Genuine Adobe Flash Player 001" + tail (62 bytes); C1 digests use its first 30 bytes. */
export const GENUINE_FP_KEY: Buffer = Buffer.concat([
  Buffer.from("Genuine Adobe Flash Player 001", "ascii"),
  KEY_TAIL,
]);
/** "Genuine Adobe Flash Media Server 001" + tail (68 bytes); S1 digests use its first 36 bytes. */
export const GENUINE_FMS_KEY: Buffer = Buffer.concat([
  Buffer.from("Genuine Adobe Flash Media Server 001", "ascii"),
  KEY_TAIL,
]);
const GENUINE_FP_KEY_SHORT: Buffer = GENUINE_FP_KEY.subarray(0, 30);
const GENUINE_FMS_KEY_SHORT: Buffer = GENUINE_FMS_KEY.subarray(0, 36);

/** The version this server writes into S1 of a digest handshake (librtmp's server uses the same). */
const SERVER_VERSION = Buffer.from([3, 5, 1, 1]);

export function digestOffset(packet: Buffer, scheme: DigestScheme): number {
  const base = scheme === 1 ? 8 : 772;
  const sum = packet[base]! + packet[base + 1]! + packet[base + 2]! + packet[base + 3]!;
  return (sum % 728) + base + 4;
}

/** HMAC-SHA256 over the packet without the 32 digest bytes at `offset`. */
export function computeDigest(packet: Buffer, offset: number, key: Buffer): Buffer {
  return createHmac("sha256", key)
    .update(packet.subarray(0, offset))
    .update(packet.subarray(offset + DIGEST_SIZE))
    .digest();
}

export function verifyDigest(packet: Buffer, offset: number, key: Buffer): boolean {
  return computeDigest(packet, offset, key).equals(packet.subarray(offset, offset + DIGEST_SIZE));
}

/**
 * The scheme and offset of C1's digest when it verifies with the Flash
 * Player key, trying scheme 1 first, or null when neither verifies.
 */
export function findClientDigest(c1: Buffer): { scheme: DigestScheme; offset: number } | null {
  for (const scheme of [1, 2] as const) {
    const offset = digestOffset(c1, scheme);
    if (verifyDigest(c1, offset, GENUINE_FP_KEY_SHORT)) return { scheme, offset };
  }
  return null;
}

/** The key of a digest-handshake S2 (or C2) signature: HMAC-SHA256(full key, peer digest). */
function responseSignatureKey(peerDigest: Buffer, fullKey: Buffer): Buffer {
  return createHmac("sha256", fullKey).update(peerDigest).digest();
}

function signWithKey(packet: Buffer, key: Buffer): Buffer {
  return createHmac("sha256", key)
    .update(packet.subarray(0, HANDSHAKE_PACKET_SIZE - DIGEST_SIZE))
    .digest();
}

export interface HandshakeStep {
  /**
   * Bytes to write to the peer now, or null. Always plaintext (S0 + S1 +
   * S2), also for RTMPE and also on a step that carries `encryption`: write
   * it before any encrypted byte.
   */
  output: Buffer | null;
  /** True once C2 has been received completely. */
  done: boolean;
  /**
   * Bytes that followed C2 in the input (the start of the chunk stream), or
   * null. For RTMPE they are still encrypted, exactly as received: run them
   * (and every later read) through `encryption.decrypt` before the chunk
   * decoder.
   */
  rest: Buffer | null;
  /**
   * RTMPE only, and only on the step whose `done` first becomes true: the
   * connection's RC4 ciphers, keystreams already advanced past the
   * handshake. `decrypt` takes every byte read after C2 in order, starting
   * with this step's `rest`; `encrypt` takes every byte written after S2, in
   * write order. Absent for plain and digest handshakes.
   */
  encryption?: RtmpeCiphers;
  error?: never;
}

export interface ServerHandshakeOptions {
  randomBytes: (n: number) => Buffer;
  /** Any millisecond clock; S1's time field is its value modulo 2^32. */
  nowMs: () => number;
  /** RC4 to use for RTMPE; by default OpenSSL's when this process has it, else the pure one (rtmpe/rc4.ts). */
  rc4?: Rc4Implementation;
}

const HandshakeState = {
  /** Collecting C0 + C1 (1537 bytes). */
  AwaitC0C1: 0,
  /** S0/S1/S2 produced; skipping C2 (1536 bytes). */
  AwaitC2: 1,
  Done: 2,
} as const;
type HandshakeState = (typeof HandshakeState)[keyof typeof HandshakeState];

export type HandshakeKind = "plain" | "digest" | "rtmpe";

/** The C0 a client sent: 0x03 RTMP, 0x06 RTMPE, 0x08 RTMPE with XTEA-signed S2, 0x09 with Blowfish-signed S2 (transport/first-byte.ts). */
export type HandshakeType = RtmpC0;

/**
 * Feed it every byte read from the socket until `done`; write each
 * non-null `output`. Input may be split anywhere. After `done`, further
 * input is handed back untouched as `rest`.
 */
export class ServerHandshake {
  readonly #randomBytes: (n: number) => Buffer;
  readonly #nowMs: () => number;
  readonly #rc4: Rc4Implementation | undefined;
  readonly #c0c1 = Buffer.alloc(1 + HANDSHAKE_PACKET_SIZE);
  #state: HandshakeState = HandshakeState.AwaitC0C1;
  #filled = 0;
  #c2Remaining = HANDSHAKE_PACKET_SIZE;
  #kind: HandshakeKind | null = null;
  #type: HandshakeType = RTMP_C0;
  #encryption: RtmpeCiphers | null = null;
  #failure: EdgeError | null = null;

  /** @throws EdgeError Rc4Unavailable when `rc4: "native"` is asked for and this process has no OpenSSL RC4. */
  constructor(options: ServerHandshakeOptions) {
    if (options.rc4 === "native" && !NATIVE_RC4_AVAILABLE) {
      throw new EdgeError(
        EdgeErrorCode.Rc4Unavailable,
        'ServerHandshake: rc4 "native" needs Node started with --openssl-legacy-provider',
      );
    }
    this.#randomBytes = options.randomBytes;
    this.#nowMs = options.nowMs;
    this.#rc4 = options.rc4;
  }

  /** Which handshake the client asked for; null until C1 has arrived. */
  get kind(): HandshakeKind | null {
    return this.#kind;
  }

  /** True once C1 showed an RTMPE handshake: everything after it is RC4-encrypted. */
  get encrypted(): boolean {
    return this.#kind === "rtmpe";
  }

  /** The C0 the client sent (and S0 echoes); null until it has arrived. */
  get type(): HandshakeType | null {
    return this.#filled === 0 ? null : this.#type;
  }

  get done(): boolean {
    return this.#state === HandshakeState.Done;
  }

  /**
   * @throws EdgeError HandshakeVersion for a C0 other than 0x03/0x06/0x08/0x09;
   *   HandshakeInvalid for an RTMPE C1 without a valid digest or DH key.
   *   Once thrown, every later call throws the same error.
   */
  push(bytes: Buffer): HandshakeStep {
    if (this.#failure !== null) throw this.#failure;
    try {
      return this.#push(bytes);
    } catch (error) {
      if (error instanceof EdgeError) this.#failure = error;
      throw error;
    }
  }

  #push(bytes: Buffer): HandshakeStep {
    let input = bytes;
    let output: Buffer | null = null;

    if (this.#state === HandshakeState.AwaitC0C1) {
      if (this.#filled === 0 && input.length > 0) this.#type = checkVersion(input[0]!);
      const take = Math.min(input.length, this.#c0c1.length - this.#filled);
      input.copy(this.#c0c1, this.#filled, 0, take);
      this.#filled += take;
      input = input.subarray(take);
      if (this.#filled < this.#c0c1.length) return { output: null, done: false, rest: null };
      output = this.#respond(this.#c0c1.subarray(1));
      this.#state = HandshakeState.AwaitC2;
    }

    if (this.#state === HandshakeState.AwaitC2) {
      // C2 is not checked: FMS accepts any C2, and clients disagree on what
      // they send back (echo of S1, or a digest response). For RTMPE too:
      // C2's signature depends only on S1's digest and public keys, not on
      // the DH secret, so checking it would prove nothing about the key
      // exchange; a client with wrong keys fails on its first chunk anyway.
      const take = Math.min(input.length, this.#c2Remaining);
      this.#c2Remaining -= take;
      input = input.subarray(take);
      if (this.#c2Remaining > 0) return { output, done: false, rest: null };
      this.#state = HandshakeState.Done;
      const rest = input.length > 0 ? input : null;
      if (this.#encryption !== null) return { output, done: true, rest, encryption: this.#encryption };
      return { output, done: true, rest };
    }

    return { output, done: true, rest: input.length > 0 ? input : null };
  }

  /** S0 + S1 + S2 for the given C1. */
  #respond(c1: Buffer): Buffer {
    const out = Buffer.alloc(1 + 2 * HANDSHAKE_PACKET_SIZE);
    out[0] = this.#type;
    const s1 = out.subarray(1, 1 + HANDSHAKE_PACKET_SIZE);
    const s2 = out.subarray(1 + HANDSHAKE_PACKET_SIZE);
    s1.writeUInt32BE(this.#nowMs() >>> 0, 0);
    this.#random(HANDSHAKE_PACKET_SIZE - 8).copy(s1, 8);

    const rtmpe = this.#type !== RTMP_C0;
    const clientVersionZero = c1.readUInt32BE(4) === 0;
    const found = clientVersionZero && !rtmpe ? null : findClientDigest(c1);
    if (found === null && rtmpe) {
      throw new EdgeError(
        EdgeErrorCode.HandshakeInvalid,
        `RTMPE (type 0x0${this.#type.toString(16)}) C1 carries no valid Flash Player digest`,
      );
    }
    if (found === null) {
      // Original handshake (also the fallback when a versioned C1 carries no
      // valid digest): version zero, S2 echoes C1.
      this.#kind = "plain";
      s1.writeUInt32BE(0, 4);
      c1.copy(s2);
      return out;
    }

    SERVER_VERSION.copy(s1, 4);
    if (rtmpe) {
      // The server's public key goes in before S1's digest, which covers it.
      this.#encryption = this.#exchangeKeys(c1, s1, found.scheme);
    }
    this.#kind = rtmpe ? "rtmpe" : "digest";
    const s1Offset = digestOffset(s1, found.scheme);
    computeDigest(s1, s1Offset, GENUINE_FMS_KEY_SHORT).copy(s1, s1Offset);

    const clientDigest = c1.subarray(found.offset, found.offset + DIGEST_SIZE);
    this.#random(HANDSHAKE_PACKET_SIZE - DIGEST_SIZE).copy(s2, 0);
    const signatureKey = responseSignatureKey(clientDigest, GENUINE_FMS_KEY);
    const signature = s2.subarray(HANDSHAKE_PACKET_SIZE - DIGEST_SIZE);
    signWithKey(s2, signatureKey).copy(signature);
    if (this.#type === 0x08 || this.#type === 0x09) encryptSignature(this.#type, signature, signatureKey);
    return out;
  }

  /**
   * Reads the client's DH public key from C1, writes ours into S1 (both at
   * the DH offset of `scheme`) and derives the RC4 ciphers.
   */
  #exchangeKeys(c1: Buffer, s1: Buffer, scheme: DigestScheme): RtmpeCiphers {
    const clientKeyOffset = dhKeyOffset(c1, scheme);
    const clientKey = c1.subarray(clientKeyOffset, clientKeyOffset + DH_KEY_SIZE);
    const { publicKey, sharedSecret } = dhExchange(this.#random(DH_KEY_SIZE), clientKey);
    publicKey.copy(s1, dhKeyOffset(s1, scheme));
    return createRtmpeCiphers(sharedSecret, publicKey, clientKey, this.#rc4);
  }

  #random(n: number): Buffer {
    const bytes = this.#randomBytes(n);
    if (bytes.length < n) {
      throw new EdgeError(EdgeErrorCode.HandshakeInvalid, `randomBytes(${n}) returned ${bytes.length} bytes`);
    }
    return bytes;
  }
}

function checkVersion(version: number): HandshakeType {
  if (isRtmpC0(version)) return version;
  throw new EdgeError(
    EdgeErrorCode.HandshakeVersion,
    `unsupported RTMP handshake version 0x${version.toString(16).padStart(2, "0")}`,
  );
}
