import { type Distribution, PriceClass, type Tag } from "../distribution.js";
import { ApiError } from "./api-error.js";
import {
  ConfigShape,
  configFromDistribution,
  type RawStreamingConfig,
  type StreamingConfigInput,
  type StreamingConfigWithTags,
} from "./streaming-config/model.js";
import { checkStreamingConfig, type ParseOptions } from "./streaming-config/rules.js";
import {
  expectRoot,
  readBoolean,
  readStruct,
  readText,
  readToken,
  readXmlDocument,
  type XmlElement,
} from "./xml-reader.js";
import type {
  DistributionListPage,
  DistributionView,
  RenderContext,
  StreamingXmlCodec,
} from "./xml-types.js";
import { booleanText, element, leaf, rootElement, timestampText } from "./xml-writer.js";

/**
 * The streaming-distribution XML of API 2009-12-01, the version RTMP
 * distributions launched with. Lists are repeated elements (no
 * Quantity/Items), the origin is a plain element, and there is no access
 * identity, logging, trusted signer, price class, ARN or tagging yet.
 *
 * StreamingDistributionConfig (request and response):
 *   Origin            required, bucket.s3.amazonaws.com
 *   CallerReference   required
 *   CNAME             zero or more, repeated
 *   Comment           optional
 *   Enabled           required
 *
 * StreamingDistribution: Id, Status, LastModifiedTime, DomainName,
 * StreamingDistributionConfig.
 *
 * StreamingDistributionList: Marker, NextMarker (when truncated), MaxItems,
 * IsTruncated, then StreamingDistributionSummary* with Id, Status,
 * LastModifiedTime, DomainName, Origin, CNAME*, Comment, Enabled.
 */

const apiVersions2009 = ["2009-12-01"] as const;

/** Body of CreateStreamingDistribution / UpdateStreamingDistribution: <StreamingDistributionConfig>. */
export function parseStreamingDistributionConfig(
  body: Uint8Array,
  options: ParseOptions = {},
): StreamingConfigInput {
  const root = readXmlDocument(body, options.maxBodyBytes);
  expectRoot(root, "StreamingDistributionConfig");
  return checkStreamingConfig(readConfig(root), options.limits);
}

function readConfig(config: XmlElement): RawStreamingConfig {
  // CNAME repeats; every other child appears at most once.
  const cnames = config.children.filter((c) => c.name === "CNAME");
  const others = { ...config, children: config.children.filter((c) => c.name !== "CNAME") };
  const fields = readStruct(others, ["Origin", "CallerReference", "Enabled"], ["Comment"]);
  return {
    shape: ConfigShape.V2009,
    callerReference: readText(fields.CallerReference),
    originDomainName: readToken(fields.Origin),
    originAccessIdentity: "",
    aliases: cnames.map(readToken),
    comment: fields.Comment === undefined ? "" : readText(fields.Comment),
    logging: { enabled: false, bucket: "", prefix: "" },
    trustedSigners: { enabled: false, accounts: [] },
    priceClass: PriceClass.All,
    enabled: readBoolean(fields.Enabled),
  };
}

function noTagging(): ApiError {
  return new ApiError(
    "InvalidAction",
    "Tagging is not available in API version 2009-12-01; use 2016-08-01 or later.",
  );
}

/** Tagging came with API 2016-08-01: always InvalidAction. */
export function parseStreamingDistributionConfigWithTags(
  _body: Uint8Array,
  _options?: ParseOptions,
): StreamingConfigWithTags {
  throw noTagging();
}

/** Tagging came with API 2016-08-01: always InvalidAction. */
export function parseTags(_body: Uint8Array, _options?: ParseOptions): readonly Tag[] {
  throw noTagging();
}

/** Tagging came with API 2016-08-01: always InvalidAction. */
export function parseTagKeys(_body: Uint8Array, _options?: ParseOptions): readonly string[] {
  throw noTagging();
}

/** Tagging came with API 2016-08-01: always InvalidAction. */
export function renderTags(_tags: readonly Tag[], _context: RenderContext): string {
  throw noTagging();
}

function configChildren(config: StreamingConfigInput): string {
  return (
    leaf("Origin", config.originDomainName) +
    leaf("CallerReference", config.callerReference) +
    config.aliases.map((c) => leaf("CNAME", c)).join("") +
    leaf("Comment", config.comment) +
    leaf("Enabled", booleanText(config.enabled))
  );
}

/** Create / Get / Update response: <StreamingDistribution xmlns="…">. */
export function renderStreamingDistribution(view: DistributionView, context: RenderContext): string {
  const d = view.distribution;
  return rootElement(
    "StreamingDistribution",
    context.apiVersion,
    leaf("Id", d.id),
    leaf("Status", view.status),
    leaf("LastModifiedTime", timestampText(d.lastModifiedMs)),
    leaf("DomainName", d.domainName),
    element("StreamingDistributionConfig", configChildren(configFromDistribution(d))),
  );
}

/** GetStreamingDistributionConfig response: <StreamingDistributionConfig xmlns="…">. */
export function renderStreamingDistributionConfig(
  distribution: Distribution,
  context: RenderContext,
): string {
  return rootElement(
    "StreamingDistributionConfig",
    context.apiVersion,
    configChildren(configFromDistribution(distribution)),
  );
}

/** ListStreamingDistributions response: <StreamingDistributionList xmlns="…">. */
export function renderStreamingDistributionList(page: DistributionListPage, context: RenderContext): string {
  const summaries = page.items.map(({ distribution: d, status }) => {
    const config = configFromDistribution(d);
    return element(
      "StreamingDistributionSummary",
      leaf("Id", d.id),
      leaf("Status", status),
      leaf("LastModifiedTime", timestampText(d.lastModifiedMs)),
      leaf("DomainName", d.domainName),
      leaf("Origin", config.originDomainName),
      config.aliases.map((c) => leaf("CNAME", c)).join(""),
      leaf("Comment", config.comment),
      leaf("Enabled", booleanText(config.enabled)),
    );
  });
  return rootElement(
    "StreamingDistributionList",
    context.apiVersion,
    leaf("Marker", page.marker),
    page.nextMarker !== undefined ? leaf("NextMarker", page.nextMarker) : "",
    leaf("MaxItems", String(page.maxItems)),
    leaf("IsTruncated", booleanText(page.isTruncated)),
    ...summaries,
  );
}

export const codec2009: StreamingXmlCodec = {
  apiVersions: apiVersions2009,
  supportsTagging: false,
  parseStreamingDistributionConfig,
  parseStreamingDistributionConfigWithTags,
  parseTags,
  parseTagKeys,
  renderStreamingDistribution,
  renderStreamingDistributionConfig,
  renderStreamingDistributionList,
  renderTags,
};
