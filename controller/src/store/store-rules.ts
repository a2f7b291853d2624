import { checkDistribution, type Distribution, type DistributionPatch } from "../distribution.js";
import { ControllerError, ControllerErrorCode } from "../errors.js";
import { type RandomBytes, randomChars } from "../ids.js";
import type { TagChange } from "./distribution-store.js";

/**
 * What both stores decide the same way: how a patch or a tag change turns one
 * distribution into the next, what an ETag looks like, and the error each
 * refusal raises. Keeping it here is what lets one contract suite hold both
 * stores to identical answers (down to which error wins when several apply).
 */

const etagAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** ETags look like CloudFront's: "E" and 13 upper-case letters or digits. */
export const etagPattern = /^E[A-Z0-9]{13}$/;

/**
 * A fresh random ETag. Random rather than a counter or a hash of the config:
 * an ETag must change on every config change even when the config is set
 * back to an earlier value, and must not be guessable from the version.
 */
export function newEtag(random?: RandomBytes): string {
  return `E${randomChars(etagAlphabet, 13, random)}`;
}

/** The keys an update may change (DistributionPatch); anything else in a patch is ignored. */
const patchKeys = [
  "cnames",
  "enabled",
  "comment",
  "kind",
  "originAccessIdentity",
  "logging",
  "trustedSigners",
  "priceClass",
] as const satisfies readonly (keyof DistributionPatch)[];

/**
 * current with patch applied and a new ETag and modification time, validated
 * and frozen (throws InvalidDistribution). configVersion stays the current
 * one: the store stamps the version the change commits at.
 */
export function patched(
  current: Distribution,
  patch: DistributionPatch,
  etag: string,
  nowMs: number,
): Distribution {
  // Only the patchable keys, and only defined values, so that a patch built
  // in plain JS can neither erase a field nor change id, origin or tags.
  const defined = Object.fromEntries(
    patchKeys.filter((key) => patch[key] !== undefined).map((key) => [key, patch[key]]),
  ) as DistributionPatch;
  return checkDistribution({ ...current, ...defined, etag, lastModifiedMs: nowMs });
}

/**
 * current with change applied to its tags (validated, frozen). Removals go
 * first, then sets, so a key both removed and set ends up set; a set key
 * keeps its position, new keys are appended in order.
 */
export function retagged(current: Distribution, change: TagChange, maxTags: number): Distribution {
  const removed = new Set(change.removeKeys ?? []);
  const tags = new Map<string, string>();
  for (const tag of current.tags) if (!removed.has(tag.key)) tags.set(tag.key, tag.value);
  for (const tag of change.set ?? []) tags.set(tag.key, tag.value);
  if (tags.size > maxTags) {
    throw new ControllerError(
      ControllerErrorCode.TooManyTags,
      `distribution ${current.id} would have ${tags.size} tags (max ${maxTags})`,
    );
  }
  return checkDistribution({ ...current, tags: [...tags].map(([key, value]) => ({ key, value })) });
}

/** Ordered by id, by code unit (what "ordered by id" means in the contract). */
export function byId(a: { readonly id: string }, b: { readonly id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function notFound(id: string): ControllerError {
  return new ControllerError(ControllerErrorCode.DistributionNotFound, `no distribution ${id}`);
}

export function distributionExists(id: string, domainName: string): ControllerError {
  return new ControllerError(
    ControllerErrorCode.DistributionExists,
    `distribution id ${id} or domain name ${domainName} is taken or was used before`,
  );
}

export function callerReferenceInUse(callerReference: string, ownerId: string): ControllerError {
  return new ControllerError(
    ControllerErrorCode.CallerReferenceInUse,
    `caller reference ${JSON.stringify(callerReference)} was used to create distribution ${ownerId}`,
  );
}

export function tooManyDistributions(max: number): ControllerError {
  return new ControllerError(
    ControllerErrorCode.TooManyDistributions,
    `the quota of ${max} distributions is reached`,
  );
}

export function cnameInUse(cname: string, ownerId: string): ControllerError {
  return new ControllerError(
    ControllerErrorCode.CnameInUse,
    `CNAME ${cname} is already used by distribution ${ownerId}`,
  );
}

export function preconditionFailed(id: string, ifMatch: string, etag: string): ControllerError {
  return new ControllerError(
    ControllerErrorCode.PreconditionFailed,
    `If-Match ${ifMatch} does not match the current ETag ${etag} of distribution ${id}`,
  );
}

export function notDisabled(id: string): ControllerError {
  return new ControllerError(
    ControllerErrorCode.NotDisabled,
    `distribution ${id} is enabled; disable it before deleting it`,
  );
}

export function storeUnavailable(message: string, cause?: unknown): ControllerError {
  return new ControllerError(
    ControllerErrorCode.StoreUnavailable,
    message,
    cause === undefined ? undefined : { cause },
  );
}

export function storeClosed(): ControllerError {
  return storeUnavailable("the distribution store is closed");
}

export function publicKeyNotFound(id: string): ControllerError {
  return new ControllerError(ControllerErrorCode.PublicKeyNotFound, `no public key has id ${id}`);
}

export function publicKeyExists(id: string): ControllerError {
  return new ControllerError(ControllerErrorCode.PublicKeyExists, `public key id ${id} was already used`);
}

export function publicKeyCallerReferenceInUse(callerReference: string, owner: string): ControllerError {
  return new ControllerError(
    ControllerErrorCode.PublicKeyCallerReferenceInUse,
    `CallerReference ${callerReference} was already used for public key ${owner}`,
  );
}

export function tooManyPublicKeys(max: number): ControllerError {
  return new ControllerError(
    ControllerErrorCode.TooManyPublicKeys,
    `at most ${max} public keys may exist; delete one first`,
  );
}

export function publicKeyPreconditionFailed(id: string, ifMatch: string, etag: string): ControllerError {
  return new ControllerError(
    ControllerErrorCode.PreconditionFailed,
    `If-Match ${ifMatch} is not the current ETag ${etag} of public key ${id}`,
  );
}
