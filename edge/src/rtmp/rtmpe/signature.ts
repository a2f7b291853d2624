import { Blowfish } from "./blowfish.js";
import { RTMPE8_XTEA_KEYS, RTMPE9_BLOWFISH_KEYS_HEX } from "./signature-keys.js";
import { xteaEncrypt } from "./xtea.js";

/**
 * The extra step of the RTMPE type 8 and type 9 handshakes.
 *
 * The 32-byte signature that closes a digest-handshake C2 or S2 is
 * HMAC-SHA256(key, packet[0..1504)) where key = HMAC-SHA256(full genuine
 * key, peer's digest). In types 8 and 9 the sender then encrypts each of its
 * four 8-byte blocks, block i with fixed key number `key[i * 8] % 15`:
 *   type 8 — XTEA, 32 rounds (RTMPE8_XTEA_KEYS);
 *   type 9 — Blowfish (RTMPE9_BLOWFISH_KEYS_HEX).
 * Each block is read as two little-endian 32-bit words and written back the
 * same way. The receiver checks by computing the plain signature, encrypting
 * it the same way and comparing, so nobody ever decrypts.
 *
 * Both directions use it: the server encrypts S2's signature (keyed from
 * C1's digest with the FMS key) and the client encrypts C2's (keyed from
 * S1's digest with the Flash Player key). librtmp applies it according to
 * the type the *server* answered in S0.
 */

export type SignedRtmpeType = 8 | 9;

const BLOCK = 8;
const blowfishKeys: Array<Blowfish | undefined> = [];

function blowfishKey(index: number): Blowfish {
  let key = blowfishKeys[index];
  if (key === undefined) {
    key = new Blowfish(Buffer.from(RTMPE9_BLOWFISH_KEYS_HEX[index]!, "hex"));
    blowfishKeys[index] = key;
  }
  return key;
}

/**
 * Encrypts `signature` (32 bytes) in place for handshake `type`.
 * `signatureKey` is the HMAC key the plain signature was made with.
 */
export function encryptSignature(type: SignedRtmpeType, signature: Buffer, signatureKey: Buffer): void {
  const words = new Uint32Array(2);
  for (let at = 0; at + BLOCK <= signature.length; at += BLOCK) {
    const keyIndex = signatureKey[at]! % 15;
    words[0] = signature.readUInt32LE(at);
    words[1] = signature.readUInt32LE(at + 4);
    if (type === 8) xteaEncrypt(words, RTMPE8_XTEA_KEYS[keyIndex]!);
    else blowfishKey(keyIndex).encrypt(words);
    signature.writeUInt32LE(words[0]!, at);
    signature.writeUInt32LE(words[1]!, at + 4);
  }
}
