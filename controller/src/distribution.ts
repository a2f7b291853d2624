import {
  type Distribution as WireDistribution,
  DistributionKind as WireKind,
} from "../../proto/gen/streamfront/controller/v1/controller.js";
import { aliasProblem } from "./alias.js";
import { ControllerError, ControllerErrorCode } from "./errors.js";
import { lowerAlphabet, newDistributionId, newDomainName, type RandomBytes, randomChars } from "./ids.js";

export const DistributionKind = { Streaming: "streaming", Web: "web" } as const;
export type DistributionKind = (typeof DistributionKind)[keyof typeof DistributionKind];

/** CloudFront's price classes; streamfront records them (it has one price). */
export const PriceClass = {
  Only100: "PriceClass_100",
  Only200: "PriceClass_200",
  All: "PriceClass_All",
} as const;
export type PriceClass = (typeof PriceClass)[keyof typeof PriceClass];

/** Access-log settings as the API carries them (Logging element). */
export interface LoggingConfig {
  readonly enabled: boolean;
  /** e.g. mylogs.s3.amazonaws.com; empty when disabled. */
  readonly bucket: string;
  readonly prefix: string;
}

/** Who may sign URLs (TrustedSigners element): "self" or 12-digit account numbers. */
export interface TrustedSignersConfig {
  readonly enabled: boolean;
  readonly accounts: readonly string[];
}

export interface Tag {
  readonly key: string;
  readonly value: string;
}

/**
 * One distribution as the controller stores it. Plain and frozen: a change
 * makes a new object, so anything holding the old one (a snapshot being
 * sent) keeps a consistent view.
 */
export interface Distribution {
  /** e.g. EGTXBD79H29TRA */
  readonly id: string;
  /** e.g. s5c39gqb8ow64r.streamfront.local */
  readonly domainName: string;
  /** Lower-case host names viewers may use instead of domainName; unique across distributions. */
  readonly cnames: readonly string[];
  readonly originBucket: string;
  /**
   * The origin as the API client wrote it (S3Origin/DomainName, or Origin in
   * 2009-12-01), e.g. media.s3.amazonaws.com; originBucket is derived from it.
   * Empty for distributions made without the API (the demo, tests).
   */
  readonly originDomainName: string;
  /** origin-access-identity/cloudfront/<id>, or empty. */
  readonly originAccessIdentity: string;
  readonly enabled: boolean;
  readonly kind: DistributionKind;
  /** The client's idempotency token from the create request. */
  readonly callerReference: string;
  readonly comment: string;
  readonly logging: LoggingConfig;
  readonly trustedSigners: TrustedSignersConfig;
  readonly priceClass: PriceClass;
  readonly tags: readonly Tag[];
  /**
   * The HTTP ETag of the current config: the store sets a new one on every
   * config change (tags do not change it), and If-Match compares against it.
   */
  readonly etag: string;
  /**
   * The store's config version at which this distribution last changed; the
   * distribution is Deployed once every live edge has applied this version.
   * Set by the store on create and update.
   */
  readonly configVersion: number;
  readonly lastModifiedMs: number;
}

/** What a client chooses when creating a distribution. */
export interface DistributionInput {
  readonly originBucket: string;
  readonly originDomainName?: string;
  readonly originAccessIdentity?: string;
  readonly cnames?: readonly string[];
  readonly enabled?: boolean;
  readonly kind?: DistributionKind;
  readonly callerReference?: string;
  readonly comment?: string;
  readonly logging?: LoggingConfig;
  readonly trustedSigners?: TrustedSignersConfig;
  readonly priceClass?: PriceClass;
  readonly tags?: readonly Tag[];
}

/**
 * The fields an update may change; id, domain name, origin and caller
 * reference never change (the API answers IllegalUpdate), and tags change
 * only through the tagging operations.
 */
export type DistributionPatch = Partial<
  Pick<
    Distribution,
    | "cnames"
    | "enabled"
    | "comment"
    | "kind"
    | "originAccessIdentity"
    | "logging"
    | "trustedSigners"
    | "priceClass"
  >
>;

export interface NewDistributionContext {
  readonly baseDomain: string;
  readonly now: number;
  readonly random?: RandomBytes;
}

/** CloudFront allows 100 alternate domain names per distribution. */
export const maxCnames = 100;
/** CloudFront's limit on the comment. */
export const maxCommentChars = 128;
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** A fresh, validated distribution with new id and domain name. */
export function newDistribution(input: DistributionInput, context: NewDistributionContext): Distribution {
  return checkDistribution({
    id: newDistributionId(context.random),
    domainName: newDomainName(context.baseDomain, context.random),
    cnames: input.cnames ?? [],
    originBucket: input.originBucket,
    originDomainName: input.originDomainName ?? "",
    originAccessIdentity: input.originAccessIdentity ?? "",
    enabled: input.enabled ?? true,
    kind: input.kind ?? DistributionKind.Streaming,
    // Unique without the caller's help: distributions made outside the API (demo, tests) need one too.
    callerReference:
      input.callerReference ?? `streamfront-${context.now}-${randomChars(lowerAlphabet, 12, context.random)}`,
    comment: input.comment ?? "",
    logging: input.logging ?? { enabled: false, bucket: "", prefix: "" },
    trustedSigners: input.trustedSigners ?? { enabled: false, accounts: [] },
    priceClass: input.priceClass ?? PriceClass.All,
    tags: input.tags ?? [],
    // The store assigns both when it stores the distribution.
    etag: "",
    configVersion: 0,
    lastModifiedMs: context.now,
  });
}

/** d with normalised CNAMEs (lower case, no duplicates), frozen; throws InvalidDistribution. */
export function checkDistribution(d: Distribution): Distribution {
  if (!bucketPattern.test(d.originBucket)) {
    throw invalid(`origin bucket ${JSON.stringify(d.originBucket)} is not a valid S3 bucket name`);
  }
  if (d.cnames.length > maxCnames) throw invalid(`too many CNAMEs (${d.cnames.length} vs max ${maxCnames})`);
  const cnames = [...new Set(d.cnames.map((c) => c.trim().toLowerCase()))];
  for (const cname of cnames) {
    const problem = aliasProblem(cname);
    if (problem !== undefined) throw invalid(`CNAME ${JSON.stringify(cname)} is not a host name: ${problem}`);
  }
  if (d.comment.length > maxCommentChars) {
    throw invalid(`comment is too long (${d.comment.length} vs max ${maxCommentChars} characters)`);
  }
  if (d.kind !== DistributionKind.Streaming && d.kind !== DistributionKind.Web) {
    throw invalid(`unknown distribution kind ${JSON.stringify(d.kind)}`);
  }
  return Object.freeze({
    ...d,
    cnames: Object.freeze(cnames),
    logging: Object.freeze({ ...d.logging }),
    trustedSigners: Object.freeze({
      ...d.trustedSigners,
      accounts: Object.freeze([...d.trustedSigners.accounts]),
    }),
    tags: Object.freeze(d.tags.map((t) => Object.freeze({ key: t.key, value: t.value }))),
  });
}

/**
 * The distribution as edges and shields receive it. `accountId` is this
 * installation's account: TrustedSigners' Self means it, so watchers see
 * account ids only.
 */
export function toWire(d: Distribution, accountId: string): WireDistribution {
  return {
    id: d.id,
    domainName: d.domainName,
    cnames: [...d.cnames],
    originBucket: d.originBucket,
    enabled: d.enabled,
    kind:
      d.kind === DistributionKind.Streaming
        ? WireKind.DISTRIBUTION_KIND_STREAMING
        : WireKind.DISTRIBUTION_KIND_WEB,
    trustedSigners: {
      enabled: d.trustedSigners.enabled,
      accountIds: [...new Set(d.trustedSigners.accounts.map((a) => (a === "self" ? accountId : a)))],
    },
    logging: { enabled: d.logging.enabled, bucket: d.logging.bucket, prefix: d.logging.prefix },
  };
}

function invalid(message: string): ControllerError {
  return new ControllerError(ControllerErrorCode.InvalidDistribution, message);
}
