/**
 * XTEA (Needham and Wheeler, 1997) encryption of one 64-bit block.
 *
 * The block is two 32-bit words [v0, v1] and the key four 32-bit words.
 * How bytes map to words is the caller's business: the published test
 * vectors read both big-endian, RTMPE type 8 reads the block little-endian
 * (signature.ts). Only encryption exists because RTMPE only ever encrypts:
 * both peers encrypt the expected signature and compare.
 */

const DELTA = 0x9e3779b9;

/** Encrypts `block` (two uint32 words) in place with `key` (four uint32 words). */
export function xteaEncrypt(block: Uint32Array, key: ArrayLike<number>, rounds = 32): void {
  let v0 = block[0]!;
  let v1 = block[1]!;
  let sum = 0;
  for (let round = 0; round < rounds; round += 1) {
    v0 = (v0 + ((((v1 << 4) ^ (v1 >>> 5)) + v1) ^ (sum + key[sum & 3]!))) >>> 0;
    sum = (sum + DELTA) >>> 0;
    v1 = (v1 + ((((v0 << 4) ^ (v0 >>> 5)) + v0) ^ (sum + key[(sum >>> 11) & 3]!))) >>> 0;
  }
  block[0] = v0;
  block[1] = v1;
}
