import { z } from "zod";
import { StreamfrontError } from "../../../lib/errors.js";
import { checkDistribution, type Distribution, DistributionKind, PriceClass } from "../distribution.js";
import { ControllerErrorCode } from "../errors.js";
import { checkPublicKey, type PublicKeyRecord } from "../public-key.js";
import { type DistributionChange, WatcherRole } from "./distribution-store.js";

/**
 * How RedisStore writes distributions, changes and watchers as JSON, and
 * reads them back. Everything read is checked field by field before use:
 * Redis is shared, so a bad entry (a hand edit, another program, a bug in an
 * older version) must fail the one call that meets it with a clear error,
 * never crash a replica or reach an edge.
 */

/** The store holds an entry it cannot read, or Redis refused a command over our data. */
export class StoreDataError extends StreamfrontError {
  constructor(message: string, options?: ErrorOptions) {
    super(ControllerErrorCode.StoreData, message, options);
    this.name = "StoreDataError";
  }
}

const tagSchema = z.object({ key: z.string(), value: z.string() });

const distributionSchema = z.object({
  id: z.string().min(1),
  domainName: z.string().min(1),
  cnames: z.array(z.string()),
  originBucket: z.string(),
  originDomainName: z.string(),
  originAccessIdentity: z.string(),
  enabled: z.boolean(),
  kind: z.enum([DistributionKind.Streaming, DistributionKind.Web]),
  callerReference: z.string(),
  comment: z.string(),
  logging: z.object({ enabled: z.boolean(), bucket: z.string(), prefix: z.string() }),
  trustedSigners: z.object({ enabled: z.boolean(), accounts: z.array(z.string()) }),
  priceClass: z.enum([PriceClass.Only100, PriceClass.Only200, PriceClass.All]),
  tags: z.array(tagSchema),
  etag: z.string().min(1),
  configVersion: z.number().int().nonnegative(),
  lastModifiedMs: z.number(),
});

const changeSchema = z.object({
  version: z.number().int().nonnegative(),
  upserts: z.array(z.unknown()),
  removedIds: z.array(z.string()),
  // Absent in entries written before public keys existed.
  publicKeyUpserts: z.array(z.unknown()).default([]),
  removedPublicKeyIds: z.array(z.string()).default([]),
});

const watcherSchema = z.object({
  role: z.enum([WatcherRole.Edge, WatcherRole.Shield]),
  appliedVersion: z.number().int().nonnegative(),
});

function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new StoreDataError(`${what} is not JSON: ${preview(raw)}`, { cause: error });
  }
}

function preview(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}

/**
 * A distribution read from the store; `what` names where it came from for
 * the error ("distribution EXXX in streamfront:{sf}:dists"). When expectedId
 * is given the entry must carry that id (it was found under that key).
 */
export function decodeDistribution(raw: string, what: string, expectedId?: string): Distribution {
  return checkedDistribution(parseJson(raw, what), what, expectedId);
}

/** Like decodeDistribution, for a value already parsed from JSON (a FileStore's file). */
export function checkedDistribution(value: unknown, what: string, expectedId?: string): Distribution {
  const parsed = distributionSchema.safeParse(value);
  if (!parsed.success) {
    throw new StoreDataError(`${what} is malformed: ${z.prettifyError(parsed.error)}`);
  }
  if (expectedId !== undefined && parsed.data.id !== expectedId) {
    throw new StoreDataError(`${what} carries the id ${parsed.data.id}`);
  }
  try {
    return checkDistribution(parsed.data);
  } catch (error) {
    throw new StoreDataError(`${what} is invalid: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The distribution as JSON without its configVersion, which the Lua script
 * appends once it knows the version the change commits at (see
 * stampConfigVersion in redis-scripts.ts). The result always ends with the
 * object's closing brace.
 */
export function encodeUnstamped(d: Distribution): string {
  return JSON.stringify(d, (key, value: unknown) => (key === "configVersion" ? undefined : value));
}

export function encodeDistribution(d: Distribution): string {
  return JSON.stringify(d);
}

/** One entry of the change log: exactly one version's change. */
export function decodeChange(raw: string, what: string): DistributionChange {
  const parsed = changeSchema.safeParse(parseJson(raw, what));
  if (!parsed.success) throw new StoreDataError(`${what} is malformed: ${z.prettifyError(parsed.error)}`);
  const upserts = parsed.data.upserts.map((u, i) => checkedDistribution(u, `${what}, upsert ${i}`));
  return Object.freeze({
    version: parsed.data.version,
    upserts: Object.freeze(upserts),
    removedIds: Object.freeze([...parsed.data.removedIds]),
    publicKeyUpserts: Object.freeze(
      parsed.data.publicKeyUpserts.map((k, i) => checkedPublicKey(k, `${what}, public key upsert ${i}`)),
    ),
    removedPublicKeyIds: Object.freeze([...parsed.data.removedPublicKeyIds]),
  });
}

export interface StoredWatcher {
  readonly role: WatcherRole;
  readonly appliedVersion: number;
}

export function encodeWatcher(w: StoredWatcher): string {
  return JSON.stringify({ role: w.role, appliedVersion: w.appliedVersion });
}

export function decodeWatcher(raw: string, what: string): StoredWatcher {
  const parsed = watcherSchema.safeParse(parseJson(raw, what));
  if (!parsed.success) throw new StoreDataError(`${what} is malformed: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const publicKeySchema = z.strictObject({
  id: z.string(),
  callerReference: z.string(),
  name: z.string(),
  encodedKey: z.string(),
  comment: z.string(),
  createdMs: z.number().int().nonnegative(),
  etag: z.string(),
  configVersion: z.number().int().nonnegative(),
});

/** A stored public key, every field checked; throws StoreDataError naming what. */
export function checkedPublicKey(value: unknown, what: string, expectedId?: string): PublicKeyRecord {
  const parsed = publicKeySchema.safeParse(value);
  if (!parsed.success) throw new StoreDataError(`${what} is malformed: ${z.prettifyError(parsed.error)}`);
  if (expectedId !== undefined && parsed.data.id !== expectedId) {
    throw new StoreDataError(`${what} has id ${parsed.data.id}`);
  }
  try {
    return checkPublicKey(parsed.data);
  } catch (error) {
    throw new StoreDataError(`${what}: ${(error as Error).message}`, { cause: error });
  }
}

export function decodePublicKey(raw: string, what: string, expectedId?: string): PublicKeyRecord {
  return checkedPublicKey(parseJson(raw, what), what, expectedId);
}

/** A public key as RedisStore sends it to a script: JSON without configVersion (the script stamps it). */
export function encodeUnstampedPublicKey(k: PublicKeyRecord): string {
  return JSON.stringify(k, (key, value: unknown) => (key === "configVersion" ? undefined : value));
}
