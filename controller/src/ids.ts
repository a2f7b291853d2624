import { randomBytes } from "node:crypto";

/** Source of random bytes; injectable so tests can force collisions. */
export type RandomBytes = (size: number) => Buffer;

const upperAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
export const lowerAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

/** CloudFront-shaped distribution ids: "E" and 13 upper-case letters or digits. */
export const distributionIdPattern = /^E[A-Z0-9]{13}$/;
/** The first label of a distribution's domain name: "s" and 13 lower-case letters or digits. */
export const domainLabelPattern = /^s[a-z0-9]{13}$/;

/**
 * count characters drawn uniformly from alphabet. Bytes at or above the
 * largest multiple of the alphabet's length are discarded (rejection
 * sampling): taking byte % 36 directly would favour the first 4 characters.
 */
export function randomChars(alphabet: string, count: number, random: RandomBytes = randomBytes): string {
  const n = alphabet.length;
  const limit = 256 - (256 % n);
  let out = "";
  while (out.length < count) {
    for (const byte of random(count * 2)) {
      if (byte >= limit) continue;
      out += alphabet[byte % n];
      if (out.length === count) break;
    }
  }
  return out;
}

export function newDistributionId(random: RandomBytes = randomBytes): string {
  return `E${randomChars(upperAlphabet, 13, random)}`;
}

/** e.g. s5c39gqb8ow64r.streamfront.local */
export function newDomainName(baseDomain: string, random: RandomBytes = randomBytes): string {
  return `s${randomChars(lowerAlphabet, 13, random)}.${baseDomain}`;
}
