import {
  type Distribution,
  type DistributionInput,
  DistributionKind,
  type DistributionPatch,
  type LoggingConfig,
  type PriceClass,
  type Tag,
  type TrustedSignersConfig,
} from "../../distribution.js";

/**
 * The version-independent model of a streaming-distribution request body.
 * The XML modules (xml-2009.ts, xml-2020.ts) read a body into a
 * RawStreamingConfig; checkStreamingConfig (rules.ts) turns that into a
 * StreamingConfigInput, which this module maps to and from the stored
 * Distribution.
 */

/**
 * Which API shape a config was read from. A 2009-12-01 config carries only
 * origin, CNAMEs, comment, enabled and caller reference, so an update in that
 * shape must leave the rest of the distribution alone.
 */
export const ConfigShape = { V2009: "2009-12-01", V2012: "2012-05-05" } as const;
export type ConfigShape = (typeof ConfigShape)[keyof typeof ConfigShape];

/** A config as the XML says it, before the semantic checks. */
export interface RawStreamingConfig {
  readonly shape: ConfigShape;
  readonly callerReference: string;
  /** S3Origin/DomainName (2012+) or Origin (2009). */
  readonly originDomainName: string;
  readonly originAccessIdentity: string;
  readonly aliases: readonly string[];
  readonly comment: string;
  readonly logging: LoggingConfig;
  readonly trustedSigners: TrustedSignersConfig;
  readonly priceClass: string;
  readonly enabled: boolean;
}

/** A checked config: origin normalised (lower case) with its bucket, CNAMEs lower case. */
export interface StreamingConfigInput extends RawStreamingConfig {
  readonly originBucket: string;
  readonly priceClass: PriceClass;
}

export interface StreamingConfigWithTags {
  readonly config: StreamingConfigInput;
  readonly tags: readonly Tag[];
}

/** What the store needs to create the distribution. */
export function toDistributionInput(
  config: StreamingConfigInput,
  tags: readonly Tag[] = [],
): DistributionInput {
  return {
    originBucket: config.originBucket,
    originDomainName: config.originDomainName,
    originAccessIdentity: config.originAccessIdentity,
    cnames: config.aliases,
    enabled: config.enabled,
    kind: DistributionKind.Streaming,
    callerReference: config.callerReference,
    comment: config.comment,
    logging: config.logging,
    trustedSigners: config.trustedSigners,
    priceClass: config.priceClass,
    tags,
  };
}

/**
 * The change an UpdateStreamingDistribution body makes. The body replaces
 * the whole config, but only the fields its API shape carries: a 2009-12-01
 * body leaves access identity, logging, signers and price class as they are.
 * Call checkUpdate first (origin and caller reference cannot change).
 */
export function toDistributionPatch(config: StreamingConfigInput): DistributionPatch {
  const common = { cnames: config.aliases, enabled: config.enabled, comment: config.comment };
  if (config.shape === ConfigShape.V2009) return common;
  return {
    ...common,
    originAccessIdentity: config.originAccessIdentity,
    logging: config.logging,
    trustedSigners: config.trustedSigners,
    priceClass: config.priceClass,
  };
}

/** The origin domain name of a distribution; made up from the bucket for ones created without the API. */
function originDomainNameOf(d: Distribution): string {
  return d.originDomainName !== "" ? d.originDomainName : `${d.originBucket}.s3.amazonaws.com`;
}

/** The config of a stored distribution, in the full (2012+) shape. */
export function configFromDistribution(d: Distribution): StreamingConfigInput {
  return {
    shape: ConfigShape.V2012,
    callerReference: d.callerReference,
    originDomainName: originDomainNameOf(d),
    originBucket: d.originBucket,
    originAccessIdentity: d.originAccessIdentity,
    aliases: d.cnames,
    comment: d.comment,
    logging: d.logging,
    trustedSigners: d.trustedSigners,
    priceClass: d.priceClass,
    enabled: d.enabled,
  };
}

/**
 * Whether two configs are the same for CallerReference idempotency: a create
 * that repeats a reference with the same config gets the original answer.
 * Whitespace around values does not count, nor the order of CNAMEs and
 * signers (they are sets); the API shape does not count either.
 */
export function configsEqual(a: StreamingConfigInput, b: StreamingConfigInput): boolean {
  const same = (x: string, y: string) => x.trim() === y.trim();
  const sameSet = (x: readonly string[], y: readonly string[]) => {
    const left = new Set(x.map((s) => s.trim()));
    const right = new Set(y.map((s) => s.trim()));
    return left.size === right.size && [...left].every((s) => right.has(s));
  };
  return (
    same(a.callerReference, b.callerReference) &&
    same(a.originDomainName.toLowerCase(), b.originDomainName.toLowerCase()) &&
    same(a.originAccessIdentity, b.originAccessIdentity) &&
    sameSet(
      a.aliases.map((c) => c.toLowerCase()),
      b.aliases.map((c) => c.toLowerCase()),
    ) &&
    same(a.comment, b.comment) &&
    a.logging.enabled === b.logging.enabled &&
    same(a.logging.bucket, b.logging.bucket) &&
    same(a.logging.prefix, b.logging.prefix) &&
    a.trustedSigners.enabled === b.trustedSigners.enabled &&
    sameSet(a.trustedSigners.accounts, b.trustedSigners.accounts) &&
    a.priceClass === b.priceClass &&
    a.enabled === b.enabled
  );
}

/** Whether two tag lists hold the same key/value pairs, in any order. */
export function tagsEqual(a: readonly Tag[], b: readonly Tag[]): boolean {
  if (a.length !== b.length) return false;
  const values = new Map(a.map((t) => [t.key, t.value]));
  return values.size === a.length && b.every((t) => values.get(t.key) === t.value);
}
