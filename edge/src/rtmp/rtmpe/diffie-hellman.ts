import { createDiffieHellman, type DiffieHellman } from "node:crypto";
import { EdgeError, EdgeErrorCode } from "../../errors.js";
import type { DigestScheme } from "../digest-scheme.js";

/**
 * The Diffie-Hellman exchange of RTMPE.
 *
 * Group: the 1024-bit MODP group of RFC 2409 §6.2 ("Oakley group 2";
 * librtmp calls it RFC 3526's, Node calls it "modp2"), generator 2. Public
 * keys are 128 bytes, big-endian, zero-padded on the left, and sit inside
 * C1 and S1 at an offset given by the same digest scheme as the packet's
 * digest (the two regions never overlap, nor hold the bytes that choose
 * either offset):
 *   scheme 1 — (sum of bytes 1532..1535) % 632 + 772, so within 772..1531;
 *   scheme 2 — (sum of bytes 768..771) % 632 + 8, so within 8..767.
 * The shared secret is 128 bytes, zero-padded on the left as well.
 */

export const DH_KEY_SIZE = 128;

/** RFC 2409 §6.2: 2^1024 - 2^960 - 1 + 2^64 * (floor(2^894 pi) + 129093). */
export const OAKLEY_GROUP_2_PRIME: Buffer = Buffer.from(
  "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
    "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
    "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
    "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff",
  "hex",
);
const PRIME_MINUS_ONE: Buffer = Buffer.from(OAKLEY_GROUP_2_PRIME);
PRIME_MINUS_ONE[DH_KEY_SIZE - 1] = PRIME_MINUS_ONE[DH_KEY_SIZE - 1]! - 1;
const GENERATOR = Buffer.from([2]);

/** Offset of the 128-byte public key in a 1536-byte C1/S1. */
export function dhKeyOffset(packet: Buffer, scheme: DigestScheme): number {
  const base = scheme === 1 ? 1532 : 768;
  const sum = packet[base]! + packet[base + 1]! + packet[base + 2]! + packet[base + 3]!;
  return (sum % 632) + (scheme === 1 ? 772 : 8);
}

/**
 * Whether `key` is a usable peer public key: 128 bytes and 1 < y < p - 1.
 * p is a safe prime, so the only small subgroups are {1} and {1, p - 1};
 * excluding those values is the whole small-subgroup check.
 */
export function isValidDhPublicKey(key: Buffer): boolean {
  if (key.length !== DH_KEY_SIZE) return false;
  let aboveOne = false;
  for (let i = 0; i < DH_KEY_SIZE - 1 && !aboveOne; i += 1) aboveOne = key[i] !== 0;
  if (!aboveOne && key[DH_KEY_SIZE - 1]! <= 1) return false;
  return Buffer.compare(key, PRIME_MINUS_ONE) < 0;
}

/*
 * Constructing a Node DiffieHellman object runs OpenSSL's DH_check on the
 * group (a primality test, about 50 ms here), so one object is made on
 * first use and re-keyed per exchange with setPrivateKey(). That is safe
 * because dhExchange() uses it synchronously from start to finish.
 */
let shared: DiffieHellman | null = null;

function group(): DiffieHellman {
  shared ??= createDiffieHellman(OAKLEY_GROUP_2_PRIME, GENERATOR);
  return shared;
}

/** Pays the one-time setup cost now (e.g. at server start) instead of in the first RTMPE handshake. */
export function prepareDiffieHellman(): void {
  group();
}

export interface DhExchange {
  /** Our public key, 128 bytes. */
  publicKey: Buffer;
  /** The shared secret, 128 bytes. */
  sharedSecret: Buffer;
}

/**
 * Makes our key pair from `entropy` (at least 128 random bytes) and the
 * secret shared with `peerPublicKey`.
 * @throws EdgeError HandshakeInvalid when the peer's key is not valid.
 */
export function dhExchange(entropy: Buffer, peerPublicKey: Buffer): DhExchange {
  if (!isValidDhPublicKey(peerPublicKey)) {
    throw new EdgeError(
      EdgeErrorCode.HandshakeInvalid,
      "RTMPE: the client's Diffie-Hellman public key is out of range (must be 128 bytes with 1 < y < p-1)",
    );
  }
  if (entropy.length < DH_KEY_SIZE) {
    throw new EdgeError(
      EdgeErrorCode.HandshakeInvalid,
      `RTMPE: ${entropy.length} bytes of entropy for a DH key`,
    );
  }
  // A private exponent in [2^1022, 2^1023): full size, and below p.
  const privateKey = Buffer.from(entropy.subarray(0, DH_KEY_SIZE));
  privateKey[0] = (privateKey[0]! & 0x3f) | 0x40;
  try {
    const dh = group();
    dh.setPrivateKey(privateKey);
    const publicKey = leftPad(dh.generateKeys());
    const sharedSecret = leftPad(dh.computeSecret(peerPublicKey));
    return { publicKey, sharedSecret };
  } catch (error) {
    throw new EdgeError(EdgeErrorCode.HandshakeInvalid, "RTMPE: Diffie-Hellman exchange failed", {
      cause: error,
    });
  }
}

function leftPad(value: Buffer): Buffer {
  if (value.length === DH_KEY_SIZE) return value;
  const out = Buffer.alloc(DH_KEY_SIZE);
  value.copy(out, DH_KEY_SIZE - value.length);
  return out;
}
