import { createHmac } from "node:crypto";
import { EdgeError, EdgeErrorCode } from "../errors.js";

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
 */

export const HANDSHAKE_VERSION = 0x03;
export const HANDSHAKE_PACKET_SIZE = 1536;
export const DIGEST_SIZE = 32;

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
export const GENUINE_FP_KEY_SHORT: Buffer = GENUINE_FP_KEY.subarray(0, 30);
export const GENUINE_FMS_KEY_SHORT: Buffer = GENUINE_FMS_KEY.subarray(0, 36);

/** The version this server writes into S1 of a digest handshake (librtmp's server uses the same). */
const SERVER_VERSION = Buffer.from([3, 5, 1, 1]);

/**
 * Where the digest sits inside a 1536-byte C1/S1:
 *   scheme 1 — offset = (sum of bytes 8..11) % 728 + 12
 *   scheme 2 — offset = (sum of bytes 772..775) % 728 + 776
 * Flash Player uses scheme 1 for plain RTMP and scheme 2 for RTMPE.
 */
export type DigestScheme = 1 | 2;

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

/**
 * The signature closing a digest-handshake S2 (or C2): HMAC-SHA256 keyed
 * with HMAC-SHA256(full key, peer digest) over the first 1504 bytes.
 */
export function computeResponseSignature(packet: Buffer, peerDigest: Buffer, fullKey: Buffer): Buffer {
  const key = createHmac("sha256", fullKey).update(peerDigest).digest();
  return createHmac("sha256", key)
    .update(packet.subarray(0, HANDSHAKE_PACKET_SIZE - DIGEST_SIZE))
    .digest();
}

export interface HandshakeStep {
  /** Bytes to write to the peer now, or null. */
  output: Buffer | null;
  /** True once C2 has been received completely. */
  done: boolean;
  /** Bytes that followed C2 in the input (the start of the chunk stream), or null. */
  rest: Buffer | null;
  error?: never;
}

export interface ServerHandshakeOptions {
  randomBytes: (n: number) => Buffer;
  /** Any millisecond clock; S1's time field is its value modulo 2^32. */
  nowMs: () => number;
}

const HandshakeState = {
  /** Collecting C0 + C1 (1537 bytes). */
  AwaitC0C1: 0,
  /** S0/S1/S2 produced; skipping C2 (1536 bytes). */
  AwaitC2: 1,
  Done: 2,
} as const;
type HandshakeState = (typeof HandshakeState)[keyof typeof HandshakeState];

export type HandshakeKind = "plain" | "digest";

/**
 * Feed it every byte read from the socket until `done`; write each
 * non-null `output`. Input may be split anywhere. After `done`, further
 * input is handed back untouched as `rest`.
 */
export class ServerHandshake {
  readonly #randomBytes: (n: number) => Buffer;
  readonly #nowMs: () => number;
  readonly #c0c1 = Buffer.alloc(1 + HANDSHAKE_PACKET_SIZE);
  #state: HandshakeState = HandshakeState.AwaitC0C1;
  #filled = 0;
  #c2Remaining = HANDSHAKE_PACKET_SIZE;
  #kind: HandshakeKind | null = null;
  #failure: EdgeError | null = null;

  constructor(options: ServerHandshakeOptions) {
    this.#randomBytes = options.randomBytes;
    this.#nowMs = options.nowMs;
  }

  /** Which handshake the client asked for; null until C1 has arrived. */
  get kind(): HandshakeKind | null {
    return this.#kind;
  }

  get done(): boolean {
    return this.#state === HandshakeState.Done;
  }

  /** @throws EdgeError HandshakeVersion for a C0 other than 0x03; every later call throws it again. */
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
      if (this.#filled === 0 && input.length > 0) checkVersion(input[0]!);
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
      // they send back (echo of S1, or a digest response).
      const take = Math.min(input.length, this.#c2Remaining);
      this.#c2Remaining -= take;
      input = input.subarray(take);
      if (this.#c2Remaining > 0) return { output, done: false, rest: null };
      this.#state = HandshakeState.Done;
    }

    return { output, done: true, rest: input.length > 0 ? input : null };
  }

  /** S0 + S1 + S2 for the given C1. */
  #respond(c1: Buffer): Buffer {
    const out = Buffer.alloc(1 + 2 * HANDSHAKE_PACKET_SIZE);
    out[0] = HANDSHAKE_VERSION;
    const s1 = out.subarray(1, 1 + HANDSHAKE_PACKET_SIZE);
    const s2 = out.subarray(1 + HANDSHAKE_PACKET_SIZE);
    s1.writeUInt32BE(this.#nowMs() >>> 0, 0);
    this.#random(HANDSHAKE_PACKET_SIZE - 8).copy(s1, 8);

    const clientVersionZero = c1.readUInt32BE(4) === 0;
    const found = clientVersionZero ? null : findClientDigest(c1);
    if (found === null) {
      // Original handshake (also the fallback when a versioned C1 carries no
      // valid digest): version zero, S2 echoes C1.
      this.#kind = "plain";
      s1.writeUInt32BE(0, 4);
      c1.copy(s2);
      return out;
    }

    this.#kind = "digest";
    SERVER_VERSION.copy(s1, 4);
    const s1Offset = digestOffset(s1, found.scheme);
    computeDigest(s1, s1Offset, GENUINE_FMS_KEY_SHORT).copy(s1, s1Offset);

    const clientDigest = c1.subarray(found.offset, found.offset + DIGEST_SIZE);
    this.#random(HANDSHAKE_PACKET_SIZE - DIGEST_SIZE).copy(s2, 0);
    computeResponseSignature(s2, clientDigest, GENUINE_FMS_KEY).copy(s2, HANDSHAKE_PACKET_SIZE - DIGEST_SIZE);
    return out;
  }

  #random(n: number): Buffer {
    const bytes = this.#randomBytes(n);
    if (bytes.length < n) {
      throw new EdgeError(EdgeErrorCode.HandshakeInvalid, `randomBytes(${n}) returned ${bytes.length} bytes`);
    }
    return bytes;
  }
}

function checkVersion(version: number): void {
  if (version === HANDSHAKE_VERSION) return;
  if (version === 0x06 || version === 0x08 || version === 0x09) {
    throw new EdgeError(
      EdgeErrorCode.HandshakeVersion,
      `RTMPE (handshake type 0x0${version.toString(16)}) is not supported yet; use plain RTMP`,
    );
  }
  throw new EdgeError(
    EdgeErrorCode.HandshakeVersion,
    `unsupported RTMP handshake version 0x${version.toString(16).padStart(2, "0")}`,
  );
}
