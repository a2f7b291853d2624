import { aliasProblem } from "../../alias.js";
import {
  type Distribution,
  type LoggingConfig,
  maxCommentChars,
  PriceClass,
  type Tag,
  type TrustedSignersConfig,
} from "../../distribution.js";
import { ApiError } from "../api-error.js";
import { quoteValue } from "../xml-reader.js";
import type { RawStreamingConfig, StreamingConfigInput } from "./model.js";

/**
 * The checks CloudFront applies to a streaming distribution's config and
 * tags beyond what the XML schema says: S3 origins, CNAMEs, logging,
 * trusted signers, price classes, tag text, the quotas, and what an update
 * may not change. Each throws the ApiError CloudFront answers.
 */

/** Quotas that the checks apply; the controller may configure them. */
export interface StreamingLimits {
  /** CNAMEs per streaming distribution (CloudFront: 10). */
  readonly maxCnames: number;
  /** Tags per distribution, and per tagging request (CloudFront: 50). */
  readonly maxTags: number;
  /** Trusted signers per distribution (CloudFront: 5 per cache behaviour). */
  readonly maxTrustedSigners: number;
  /**
   * When set, a 12-digit signer account must be one of these, else
   * TrustedSignerDoesNotExist; when unset any 12-digit account is accepted.
   */
  readonly knownSignerAccounts?: ReadonlySet<string> | undefined;
}

const defaultStreamingLimits: StreamingLimits = {
  maxCnames: 10,
  maxTags: 50,
  maxTrustedSigners: 5,
};

/** Options every body parser takes. */
export interface ParseOptions {
  /** Bound on the request body in bytes (default 64 KiB). */
  readonly maxBodyBytes?: number | undefined;
  readonly limits?: Partial<StreamingLimits> | undefined;
}

function resolveLimits(limits: Partial<StreamingLimits> | undefined): StreamingLimits {
  return { ...defaultStreamingLimits, ...definedOnly(limits ?? {}) };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const maxCallerReferenceBytes = 128;
const maxLoggingPrefixChars = 256;
const maxTagKeyChars = 128;
const maxTagValueChars = 256;

const priceClasses: readonly string[] = Object.values(PriceClass);

function invalid(message: string): ApiError {
  return new ApiError("InvalidArgument", message);
}

/** Length in characters (code points), as AWS counts for comments and tags. */
function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** raw after CloudFront's semantic checks; throws the ApiError CloudFront answers. */
export function checkStreamingConfig(
  raw: RawStreamingConfig,
  limits?: Partial<StreamingLimits>,
): StreamingConfigInput {
  const quota = resolveLimits(limits);
  checkCallerReference(raw.callerReference);
  const origin = parseS3Origin(raw.originDomainName);
  if (origin === undefined) {
    throw new ApiError(
      "InvalidOrigin",
      `The origin ${quoteValue(raw.originDomainName)} is not an Amazon S3 bucket: use bucket.s3.amazonaws.com or bucket.s3.<region>.amazonaws.com with a DNS-compatible bucket name.`,
    );
  }
  const originAccessIdentity = raw.originAccessIdentity.trim();
  if (originAccessIdentity !== "" && !oaiPattern.test(originAccessIdentity)) {
    throw new ApiError(
      "InvalidOriginAccessIdentity",
      `The origin access identity ${quoteValue(originAccessIdentity)} is not valid: use origin-access-identity/cloudfront/<ID> or leave it empty.`,
    );
  }
  const aliases = checkCnames(raw.aliases, quota);
  // The store's own limit, counted in UTF-16 units as checkDistribution
  // (distribution.ts) does, so a comment accepted here is never refused there.
  if (raw.comment.length > maxCommentChars) {
    throw invalid(
      `The comment is too long (${raw.comment.length} characters; the maximum is ${maxCommentChars}).`,
    );
  }
  const logging = checkLogging(raw.logging);
  const trustedSigners = checkTrustedSigners(raw.trustedSigners, quota);
  if (!priceClasses.includes(raw.priceClass)) {
    throw invalid(`The price class ${quoteValue(raw.priceClass)} is not one of ${priceClasses.join(", ")}.`);
  }
  return {
    shape: raw.shape,
    callerReference: raw.callerReference,
    originDomainName: origin.domainName,
    originBucket: origin.bucket,
    originAccessIdentity,
    aliases,
    comment: raw.comment,
    logging,
    trustedSigners,
    priceClass: raw.priceClass as PriceClass,
    enabled: raw.enabled,
  };
}

function checkCallerReference(reference: string): void {
  const bytes = Buffer.byteLength(reference, "utf8");
  if (reference.trim() === "") throw invalid("The CallerReference must not be empty.");
  if (bytes > maxCallerReferenceBytes) {
    throw invalid(
      `The CallerReference is too long (${bytes} bytes; the maximum is ${maxCallerReferenceBytes} bytes of UTF-8).`,
    );
  }
}

// Bucket names that work as a DNS label sequence (S3's "DNS-compatible" rules).
const bucketPattern = /^[a-z0-9](?:[a-z0-9.-]{1,61})[a-z0-9]$/;
const ipAddressPattern = /^\d{1,3}(?:\.\d{1,3}){3}$/;
// e.g. us-east-1, eu-central-1, us-gov-west-1, ap-southeast-2
const regionPattern = "[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}";
/**
 * The S3 REST endpoints CloudFront takes as a streaming origin, virtual-host
 * style: bucket.s3.amazonaws.com, bucket.s3.<region>.amazonaws.com and the
 * older bucket.s3-<region>.amazonaws.com. Not path style, website endpoints,
 * s3-accelerate, or a bucket's own CNAME.
 */
const s3HostPattern = new RegExp(`^(.+)\\.s3(?:[.-]${regionPattern})?\\.amazonaws\\.com$`);

function isDnsCompatibleBucket(bucket: string): boolean {
  return (
    bucketPattern.test(bucket) &&
    !bucket.includes("..") &&
    !bucket.includes(".-") &&
    !bucket.includes("-.") &&
    !ipAddressPattern.test(bucket)
  );
}

/** The bucket of an S3 origin domain name (lower-cased), or undefined when it is not one. */
export function parseS3Origin(domainName: string): { domainName: string; bucket: string } | undefined {
  const normalised = domainName.trim().toLowerCase();
  if (normalised.length > 253) return undefined;
  const bucket = s3HostPattern.exec(normalised)?.[1];
  if (bucket === undefined || !isDnsCompatibleBucket(bucket)) return undefined;
  return { domainName: normalised, bucket };
}

const oaiPattern = /^origin-access-identity\/cloudfront\/[A-Z0-9]{1,64}$/;

function checkCnames(cnames: readonly string[], quota: StreamingLimits): readonly string[] {
  if (cnames.length > quota.maxCnames) {
    throw new ApiError(
      "TooManyStreamingDistributionCNAMEs",
      `Your request contains more CNAMEs (${cnames.length}) than are allowed per distribution (${quota.maxCnames}).`,
    );
  }
  const seen = new Set<string>();
  for (const raw of cnames) {
    const cname = raw.trim().toLowerCase();
    // One rule for the API, the stores and the demo-cname setting (alias.ts).
    const problem = aliasProblem(cname);
    if (problem !== undefined) {
      throw invalid(`The CNAME ${quoteValue(raw)} is not a valid host name: ${problem}.`);
    }
    if (seen.has(cname)) throw invalid(`The CNAME ${quoteValue(cname)} is listed more than once.`);
    seen.add(cname);
  }
  return [...seen];
}

function checkLogging(logging: LoggingConfig): LoggingConfig {
  // CloudFront silently clears Bucket and Prefix when logging is off.
  if (!logging.enabled) return { enabled: false, bucket: "", prefix: "" };
  const bucket = parseS3Origin(logging.bucket);
  if (bucket === undefined) {
    throw invalid(
      `The logging bucket ${quoteValue(logging.bucket)} is not an Amazon S3 bucket domain name (e.g. mylogs.s3.amazonaws.com).`,
    );
  }
  if (charCount(logging.prefix) > maxLoggingPrefixChars) {
    throw invalid(`The logging prefix is too long (the maximum is ${maxLoggingPrefixChars} characters).`);
  }
  return { enabled: true, bucket: bucket.domainName, prefix: logging.prefix };
}

const accountPattern = /^[0-9]{12}$/;

function checkTrustedSigners(signers: TrustedSignersConfig, quota: StreamingLimits): TrustedSignersConfig {
  if (signers.accounts.length > quota.maxTrustedSigners) {
    throw new ApiError(
      "TooManyTrustedSigners",
      `Your request contains more trusted signers (${signers.accounts.length}) than are allowed per distribution (${quota.maxTrustedSigners}).`,
    );
  }
  const seen = new Set<string>();
  for (const raw of signers.accounts) {
    const account = raw.trim();
    if (account !== "self" && !accountPattern.test(account)) {
      throw invalid(`The trusted signer ${quoteValue(raw)} is not "self" or a 12-digit AWS account number.`);
    }
    if (
      account !== "self" &&
      quota.knownSignerAccounts !== undefined &&
      !quota.knownSignerAccounts.has(account)
    ) {
      throw new ApiError("TrustedSignerDoesNotExist", `The trusted signer ${account} does not exist.`);
    }
    if (seen.has(account))
      throw invalid(`The trusted signer ${quoteValue(account)} is listed more than once.`);
    seen.add(account);
  }
  if (signers.enabled && seen.size === 0) {
    throw invalid("TrustedSigners is enabled but lists no signer: no one could sign a URL.");
  }
  return { enabled: signers.enabled, accounts: [...seen] };
}

// AWS's tag pattern: letters, separators (space), digits and _ . : / = + - @
const tagTextPattern = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

function checkTagKey(key: string): void {
  const length = charCount(key);
  if (length < 1 || length > maxTagKeyChars) {
    throw new ApiError(
      "InvalidTagging",
      `The tag key ${quoteValue(key)} must be 1 to ${maxTagKeyChars} characters long.`,
    );
  }
  if (!tagTextPattern.test(key)) {
    throw new ApiError(
      "InvalidTagging",
      `The tag key ${quoteValue(key)} may contain only letters, digits, spaces and _ . : / = + - @.`,
    );
  }
  if (key.toLowerCase().startsWith("aws:")) {
    throw new ApiError("InvalidTagging", `The tag key ${quoteValue(key)} uses the reserved prefix aws:.`);
  }
}

/** tags after AWS's tag rules; InvalidTagging otherwise. */
export function checkTags(tags: readonly Tag[], limits?: Partial<StreamingLimits>): readonly Tag[] {
  const { maxTags } = resolveLimits(limits);
  if (tags.length > maxTags) {
    throw new ApiError("InvalidTagging", `Too many tags (${tags.length}; the maximum is ${maxTags}).`);
  }
  const keys = new Set<string>();
  for (const { key, value } of tags) {
    checkTagKey(key);
    if (keys.has(key))
      throw new ApiError("InvalidTagging", `The tag key ${quoteValue(key)} is given more than once.`);
    keys.add(key);
    if (charCount(value) > maxTagValueChars) {
      throw new ApiError(
        "InvalidTagging",
        `The value of tag ${quoteValue(key)} is too long (the maximum is ${maxTagValueChars} characters).`,
      );
    }
    if (!tagTextPattern.test(value)) {
      throw new ApiError(
        "InvalidTagging",
        `The value of tag ${quoteValue(key)} may contain only letters, digits, spaces and _ . : / = + - @.`,
      );
    }
  }
  return tags.map(({ key, value }) => ({ key, value }));
}

/** Keys for UntagResource after the key rules; InvalidTagging otherwise. Repeated keys are merged. */
export function checkTagKeys(keys: readonly string[], limits?: Partial<StreamingLimits>): readonly string[] {
  const { maxTags } = resolveLimits(limits);
  if (keys.length > maxTags) {
    throw new ApiError("InvalidTagging", `Too many tag keys (${keys.length}; the maximum is ${maxTags}).`);
  }
  for (const key of keys) checkTagKey(key);
  return [...new Set(keys)];
}

/** IllegalUpdate when config would change what CloudFront never lets change: origin and CallerReference. */
export function checkUpdate(current: Distribution, config: StreamingConfigInput): void {
  const sameOrigin =
    current.originDomainName !== ""
      ? current.originDomainName.toLowerCase() === config.originDomainName
      : current.originBucket === config.originBucket;
  if (!sameOrigin || current.callerReference !== config.callerReference) {
    throw new ApiError("IllegalUpdate", "Origin and CallerReference cannot be updated.");
  }
}
