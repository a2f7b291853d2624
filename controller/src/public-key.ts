import { createPublicKey, type KeyObject } from "node:crypto";
import type { PublicKey as WirePublicKey } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { ControllerError, ControllerErrorCode } from "./errors.js";
import { type RandomBytes, randomChars } from "./ids.js";

/**
 * A CloudFront public key (CreatePublicKey) of this installation's account,
 * as the stores keep it. The config part (callerReference, name,
 * encodedKey, comment) is what the client sent; only the comment may
 * change afterwards, as at CloudFront.
 */
export interface PublicKeyRecord {
  /** K and 13 upper-case letters or digits, like CloudFront's. */
  readonly id: string;
  readonly callerReference: string;
  readonly name: string;
  /** The RSA public key, PEM (SubjectPublicKeyInfo), normalised to end in one newline. */
  readonly encodedKey: string;
  readonly comment: string;
  readonly createdMs: number;
  readonly etag: string;
  /** The config version that created or last changed it. */
  readonly configVersion: number;
}

/** What UpdatePublicKey may change. */
export interface PublicKeyPatch {
  readonly comment: string;
}

export const publicKeyIdPattern = /^K[A-Z0-9]{13}$/;
const upperAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

export function newPublicKeyId(random?: RandomBytes): string {
  return `K${randomChars(upperAlphabet, 13, random)}`;
}

/** CloudFront's limits on PublicKeyConfig fields (its documentation: Comment ≤ 128; Name ≤ 128). */
export const maxPublicKeyNameChars = 128;
export const maxPublicKeyCommentChars = 128;
export const maxCallerReferenceChars = 128;
/** CloudFront's quota of public keys per account. */
export const defaultMaxPublicKeys = 10;
/** CloudFront accepts RSA 2048-bit keys for signed URLs; smaller ones are refused. */
export const minRsaKeyBits = 2048;
/** A PEM larger than this is not a public key we want to parse (an 8192-bit key is ~1.4 kB). */
const maxEncodedKeyChars = 4096;
const namePattern = /^[A-Za-z0-9_-]+$/;

/**
 * The problem with an EncodedKey, or undefined when it is a PEM RSA public
 * key of at least 2048 bits. Pure: the text in, a sentence out.
 */
export function encodedKeyProblem(encodedKey: string): string | undefined {
  if (encodedKey.length > maxEncodedKeyChars) return `is longer than ${maxEncodedKeyChars} characters`;
  if (!/-----BEGIN PUBLIC KEY-----/.test(encodedKey)) {
    return "is not a PEM public key (-----BEGIN PUBLIC KEY-----)";
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: encodedKey, format: "pem" });
  } catch {
    return "does not parse as a PEM public key";
  }
  if (key.asymmetricKeyType !== "rsa") return `is a ${key.asymmetricKeyType ?? "non-RSA"} key, not RSA`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < minRsaKeyBits) return `is a ${bits}-bit RSA key; at least ${minRsaKeyBits} bits are needed`;
  return undefined;
}

/** The PEM as stored: surrounding blank space dropped, one final newline. */
export function normalizeEncodedKey(encodedKey: string): string {
  return `${encodedKey.trim().replaceAll("\r\n", "\n")}\n`;
}

/** The problem with a Name, or undefined. */
export function publicKeyNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > maxPublicKeyNameChars) return `is longer than ${maxPublicKeyNameChars} characters`;
  if (!namePattern.test(name)) return "may hold only letters, digits, '-' and '_'";
  return undefined;
}

/** Validates and freezes a record (a store's input or a decoded entry); throws InvalidPublicKey. */
export function checkPublicKey(key: PublicKeyRecord): PublicKeyRecord {
  const problem =
    (publicKeyIdPattern.test(key.id) ? undefined : `id ${JSON.stringify(key.id)} is not K + 13 characters`) ??
    (key.callerReference.length === 0 || key.callerReference.length > maxCallerReferenceChars
      ? `callerReference must be 1-${maxCallerReferenceChars} characters`
      : undefined) ??
    prefixed("name", publicKeyNameProblem(key.name)) ??
    (key.comment.length > maxPublicKeyCommentChars
      ? `comment is longer than ${maxPublicKeyCommentChars} characters`
      : undefined) ??
    (key.encodedKey.length === 0 ? "encodedKey is empty" : undefined);
  if (problem !== undefined) {
    throw new ControllerError(ControllerErrorCode.InvalidPublicKey, `public key ${key.id}: ${problem}`);
  }
  return Object.freeze({
    id: key.id,
    callerReference: key.callerReference,
    name: key.name,
    encodedKey: key.encodedKey,
    comment: key.comment,
    createdMs: key.createdMs,
    etag: key.etag,
    configVersion: key.configVersion,
  });
}

function prefixed(field: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `${field} ${problem}`;
}

/** What an edge gets: the key, under the account that owns it. */
export function publicKeyToWire(key: PublicKeyRecord, accountId: string): WirePublicKey {
  return { id: key.id, accountId, encodedKey: key.encodedKey };
}

export function byPublicKeyId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
