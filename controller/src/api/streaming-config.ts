import { aliasProblem } from "../alias.js";
import {
  type Distribution,
  type DistributionInput,
  DistributionKind,
  type DistributionPatch,
  type LoggingConfig,
  PriceClass,
  type Tag,
  type TrustedSignersConfig,
} from "../distribution.js";
import { ApiError } from "./api-error.js";
import { quoteValue } from "./xml-reader.js";

/**
 * The version-independent model of a streaming-distribution request body,
 * and the semantic checks CloudFront applies to it. The XML modules
 * (xml-2009.ts, xml-2020.ts) read a body into a RawStreamingConfig;
 * checkStreamingConfig turns that into a StreamingConfigInput or throws the
 * ApiError CloudFront answers.
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

export const defaultStreamingLimits: StreamingLimits = {
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

export function resolveLimits(limits: Partial<StreamingLimits> | undefined): StreamingLimits {
  return { ...defaultStreamingLimits, ...definedOnly(limits ?? {}) };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const maxCallerReferenceBytes = 128;
export const maxCommentChars = 128;
export const maxLoggingPrefixChars = 256;
export const maxTagKeyChars = 128;
export const maxTagValueChars = 256;

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
  // Counted in UTF-16 units, as checkDistribution (distribution.ts) does, so
  // a comment accepted here is never refused by the store.
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
export function originDomainNameOf(d: Distribution): string {
  return d.originDomainName !== "" ? d.originDomainName : `${d.originBucket}.s3.amazonaws.com`;
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

/** arn:aws:cloudfront::<accountId>:streaming-distribution/<Id>, as on StreamingDistribution/ARN. */
export function streamingDistributionArn(accountId: string, id: string): string {
  return `arn:aws:cloudfront::${accountId}:streaming-distribution/${id}`;
}

// The tagging operations' ResourceARN pattern, from the service model.
const arnPattern = /^arn:aws(?:-cn)?:cloudfront::([0-9]+):(.*)$/;

/**
 * The distribution id in a tagging Resource ARN. InvalidArgument when it is
 * not a CloudFront ARN at all (the model's pattern); AccessDenied when it
 * names another account (AWS answers cross-account resources so, without
 * saying whether they exist); NoSuchResource when it is one of this
 * account's but not a streaming distribution.
 */
export function parseStreamingDistributionArn(arn: string, accountId: string): string {
  const match = arn.length <= 2048 ? arnPattern.exec(arn) : null;
  if (match === null) throw invalid(`The resource ARN ${quoteValue(arn)} is not a CloudFront ARN.`);
  if (match[1] !== accountId) {
    throw new ApiError(
      "AccessDenied",
      `Access denied: the resource ${quoteValue(arn)} belongs to another account.`,
    );
  }
  const id = /^streaming-distribution\/([A-Z0-9]{1,128})$/.exec(match[2] ?? "")?.[1];
  if (id === undefined) {
    throw new ApiError("NoSuchResource", `The resource ${quoteValue(arn)} does not exist.`);
  }
  return id;
}

export const defaultListMaxItems = 100;
export const maxListMaxItems = 1000;

/**
 * The Marker and MaxItems query parameters of ListStreamingDistributions
 * (both optional strings on the wire); InvalidArgument when malformed.
 * Marker is the Id of the last item of the previous page ("" = from the start).
 */
export function parseListParameters(
  marker: string | undefined,
  maxItems: string | undefined,
): { marker: string; maxItems: number } {
  const from = marker ?? "";
  if (!/^[A-Z0-9]{0,128}$/.test(from)) throw invalid(`The marker ${quoteValue(from)} is not valid.`);
  if (maxItems === undefined || maxItems === "") return { marker: from, maxItems: defaultListMaxItems };
  const count = /^[0-9]{1,4}$/.test(maxItems) ? Number(maxItems) : Number.NaN;
  if (!(count >= 1 && count <= maxListMaxItems)) {
    throw invalid(`MaxItems ${quoteValue(maxItems)} must be an integer from 1 to ${maxListMaxItems}.`);
  }
  return { marker: from, maxItems: count };
}
