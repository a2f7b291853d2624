import {
  type Distribution as WireDistribution,
  DistributionKind as WireKind,
} from "../../proto/gen/streamfront/controller/v1/controller.js";
import { ControllerError, ControllerErrorCode } from "./errors.js";
import { newDistributionId, newDomainName, type RandomBytes } from "./ids.js";

export const DistributionKind = { Streaming: "streaming", Web: "web" } as const;
export type DistributionKind = (typeof DistributionKind)[keyof typeof DistributionKind];

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
  readonly enabled: boolean;
  readonly kind: DistributionKind;
  /** The client's idempotency token from the create request. */
  readonly callerReference: string;
  readonly comment: string;
  readonly lastModifiedMs: number;
}

/** What a client chooses when creating a distribution. */
export interface DistributionInput {
  readonly originBucket: string;
  readonly cnames?: readonly string[];
  readonly enabled?: boolean;
  readonly kind?: DistributionKind;
  readonly callerReference?: string;
  readonly comment?: string;
}

/** The fields an update may change; id and domain name never change. */
export type DistributionPatch = Partial<
  Pick<Distribution, "cnames" | "originBucket" | "enabled" | "comment" | "kind">
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
const hostLabel = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/** A host name, or a wildcard one (*.example.com) as CloudFront allows. */
const cnamePattern = new RegExp(`^(?:\\*\\.)?${hostLabel}(?:\\.${hostLabel})*$`);

/** A fresh, validated distribution with new id and domain name. */
export function newDistribution(input: DistributionInput, context: NewDistributionContext): Distribution {
  return checkDistribution({
    id: newDistributionId(context.random),
    domainName: newDomainName(context.baseDomain, context.random),
    cnames: input.cnames ?? [],
    originBucket: input.originBucket,
    enabled: input.enabled ?? true,
    kind: input.kind ?? DistributionKind.Streaming,
    callerReference: input.callerReference ?? `${context.now}`,
    comment: input.comment ?? "",
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
    if (cname.length > 253 || !cnamePattern.test(cname))
      throw invalid(`CNAME ${JSON.stringify(cname)} is not a host name`);
  }
  if (d.comment.length > maxCommentChars) {
    throw invalid(`comment is too long (${d.comment.length} vs max ${maxCommentChars} characters)`);
  }
  if (d.kind !== DistributionKind.Streaming && d.kind !== DistributionKind.Web) {
    throw invalid(`unknown distribution kind ${JSON.stringify(d.kind)}`);
  }
  return Object.freeze({ ...d, cnames: Object.freeze(cnames) });
}

/** The distribution as edges and shields receive it. */
export function toWire(d: Distribution): WireDistribution {
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
  };
}

function invalid(message: string): ControllerError {
  return new ControllerError(ControllerErrorCode.InvalidDistribution, message);
}
