import { type Distribution, PriceClass, type Tag } from "../distribution.js";
import { streamingDistributionArn } from "./streaming-config/arn.js";
import {
  ConfigShape,
  configFromDistribution,
  type RawStreamingConfig,
  type StreamingConfigInput,
  type StreamingConfigWithTags,
} from "./streaming-config/model.js";
import {
  checkStreamingConfig,
  checkTagKeys,
  checkTags,
  type ParseOptions,
} from "./streaming-config/rules.js";
import {
  expectRoot,
  readBoolean,
  readListItems,
  readQuantityItems,
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
import { booleanText, element, leaf, quantityItems, rootElement, timestampText } from "./xml-writer.js";

/**
 * The streaming-distribution XML of API 2020-05-31, which is also the shape of
 * every version from 2012-05-05 on as far as streaming goes (lists as
 * Quantity + Items since 2012-05-05; ARN and tagging since 2016-08-01). Only
 * the namespace (http://cloudfront.amazonaws.com/doc/<version>/) differs.
 * Element names and which are required follow @aws-sdk/client-cloudfront.
 *
 * StreamingDistributionConfig (request and response):
 *   CallerReference                 required, text
 *   S3Origin                        required
 *     DomainName                    required, bucket.s3[.-<region>].amazonaws.com
 *     OriginAccessIdentity          required, may be empty
 *   Aliases                         optional
 *     Quantity, Items/CNAME*
 *   Comment                         required, may be empty
 *   Logging                         optional; all three children required
 *     Enabled, Bucket, Prefix
 *   TrustedSigners                  required
 *     Enabled, Quantity, Items/AwsAccountNumber*
 *   PriceClass                      optional, PriceClass_100 | _200 | _All
 *   Enabled                         required
 */

/** The API versions served with this shape: every CloudFront version from 2012-05-05 through 2020-05-31. */
const apiVersions2020 = [
  "2012-05-05",
  "2012-07-01",
  "2013-05-12",
  "2013-08-26",
  "2013-09-27",
  "2013-11-11",
  "2013-11-22",
  "2014-01-31",
  "2014-05-31",
  "2014-10-21",
  "2014-11-06",
  "2015-04-17",
  "2015-07-27",
  "2015-09-17",
  "2016-01-13",
  "2016-01-28",
  "2016-08-01",
  "2016-08-20",
  "2016-09-07",
  "2016-09-29",
  "2016-11-25",
  "2017-03-25",
  "2017-10-30",
  "2018-06-18",
  "2018-11-05",
  "2019-03-26",
  "2020-05-31",
] as const;

// ---------------------------------------------------------------------------
// Parsing

/** Body of CreateStreamingDistribution / UpdateStreamingDistribution: <StreamingDistributionConfig>. */
export function parseStreamingDistributionConfig(
  body: Uint8Array,
  options: ParseOptions = {},
): StreamingConfigInput {
  const root = readXmlDocument(body, options.maxBodyBytes);
  expectRoot(root, "StreamingDistributionConfig");
  return checkStreamingConfig(readConfig(root), options.limits);
}

/**
 * Body of CreateStreamingDistributionWithTags:
 *
 *   <StreamingDistributionConfigWithTags>
 *     <StreamingDistributionConfig>…</StreamingDistributionConfig>
 *     <Tags><Items><Tag><Key/><Value/></Tag>…</Items></Tags>
 *   </StreamingDistributionConfigWithTags>
 */
export function parseStreamingDistributionConfigWithTags(
  body: Uint8Array,
  options: ParseOptions = {},
): StreamingConfigWithTags {
  const root = readXmlDocument(body, options.maxBodyBytes);
  expectRoot(root, "StreamingDistributionConfigWithTags");
  const fields = readStruct(root, ["StreamingDistributionConfig", "Tags"]);
  const raw = readConfig(fields.StreamingDistributionConfig);
  const tags = readTags(fields.Tags);
  const config = checkStreamingConfig(raw, options.limits);
  return { config, tags: checkTags(tags, options.limits) };
}

/** Body of TagResource: <Tags><Items><Tag><Key/><Value/></Tag>…</Items></Tags> (Value may be left out). */
export function parseTags(body: Uint8Array, options: ParseOptions = {}): readonly Tag[] {
  const root = readXmlDocument(body, options.maxBodyBytes);
  expectRoot(root, "Tags");
  return checkTags(readTags(root), options.limits);
}

/** Body of UntagResource: <TagKeys><Items><Key/>…</Items></TagKeys>. */
export function parseTagKeys(body: Uint8Array, options: ParseOptions = {}): readonly string[] {
  const root = readXmlDocument(body, options.maxBodyBytes);
  expectRoot(root, "TagKeys");
  const fields = readStruct(root, [], ["Items"]);
  const keys = readListItems(fields.Items, "Key").map(readText);
  return checkTagKeys(keys, options.limits);
}

function readConfig(config: XmlElement): RawStreamingConfig {
  const fields = readStruct(
    config,
    ["CallerReference", "S3Origin", "Comment", "TrustedSigners", "Enabled"],
    ["Aliases", "Logging", "PriceClass"],
  );
  const origin = readStruct(fields.S3Origin, ["DomainName", "OriginAccessIdentity"]);

  let aliases: readonly string[] = [];
  if (fields.Aliases !== undefined) {
    const a = readStruct(fields.Aliases, ["Quantity"], ["Items"]);
    aliases = readQuantityItems(fields.Aliases, a.Quantity, a.Items, "CNAME").map(readToken);
  }

  let logging = { enabled: false, bucket: "", prefix: "" };
  if (fields.Logging !== undefined) {
    const l = readStruct(fields.Logging, ["Enabled", "Bucket", "Prefix"]);
    logging = { enabled: readBoolean(l.Enabled), bucket: readToken(l.Bucket), prefix: readText(l.Prefix) };
  }

  const s = readStruct(fields.TrustedSigners, ["Enabled", "Quantity"], ["Items"]);
  const trustedSigners = {
    enabled: readBoolean(s.Enabled),
    accounts: readQuantityItems(fields.TrustedSigners, s.Quantity, s.Items, "AwsAccountNumber").map(
      readToken,
    ),
  };

  return {
    shape: ConfigShape.V2012,
    callerReference: readText(fields.CallerReference),
    originDomainName: readToken(origin.DomainName),
    originAccessIdentity: readToken(origin.OriginAccessIdentity),
    aliases,
    comment: readText(fields.Comment),
    logging,
    trustedSigners,
    priceClass: fields.PriceClass === undefined ? PriceClass.All : readToken(fields.PriceClass),
    enabled: readBoolean(fields.Enabled),
  };
}

function readTags(tags: XmlElement): Tag[] {
  const fields = readStruct(tags, [], ["Items"]);
  return readListItems(fields.Items, "Tag").map((tag) => {
    const t = readStruct(tag, ["Key"], ["Value"]);
    return { key: readText(t.Key), value: t.Value === undefined ? "" : readText(t.Value) };
  });
}

// ---------------------------------------------------------------------------
// Rendering

/** The children of StreamingDistributionConfig, always complete (GetConfig output feeds Update input). */
function configChildren(config: StreamingConfigInput): string {
  return (
    leaf("CallerReference", config.callerReference) +
    element(
      "S3Origin",
      leaf("DomainName", config.originDomainName),
      leaf("OriginAccessIdentity", config.originAccessIdentity),
    ) +
    element("Aliases", quantityItems(config.aliases.map((c) => leaf("CNAME", c)))) +
    leaf("Comment", config.comment) +
    element(
      "Logging",
      leaf("Enabled", booleanText(config.logging.enabled)),
      leaf("Bucket", config.logging.bucket),
      leaf("Prefix", config.logging.prefix),
    ) +
    trustedSignersElement(config) +
    leaf("PriceClass", config.priceClass) +
    leaf("Enabled", booleanText(config.enabled))
  );
}

function trustedSignersElement(config: StreamingConfigInput): string {
  return element(
    "TrustedSigners",
    leaf("Enabled", booleanText(config.trustedSigners.enabled)),
    quantityItems(config.trustedSigners.accounts.map((a) => leaf("AwsAccountNumber", a))),
  );
}

/**
 * ActiveTrustedSigners: the signers of a distribution that requires signed
 * URLs, each with its active key pairs; Enabled when any has one.
 *
 *   <ActiveTrustedSigners><Enabled/><Quantity/>
 *     <Items><Signer><AwsAccountNumber/><KeyPairIds><Quantity/><Items><KeyPairId/>…
 */
function activeTrustedSigners(view: DistributionView): string {
  const { trustedSigners } = view.distribution;
  const accounts = trustedSigners.enabled ? trustedSigners.accounts : [];
  let anyKeyPair = false;
  const signers = accounts.map((account) => {
    const keyPairIds = view.activeKeyPairIds?.get(account) ?? [];
    if (keyPairIds.length > 0) anyKeyPair = true;
    return element(
      "Signer",
      leaf("AwsAccountNumber", account),
      element("KeyPairIds", quantityItems(keyPairIds.map((k) => leaf("KeyPairId", k)))),
    );
  });
  return element("ActiveTrustedSigners", leaf("Enabled", booleanText(anyKeyPair)), quantityItems(signers));
}

/**
 * Create / Get / Update response:
 *
 *   <StreamingDistribution xmlns="…">
 *     <Id/><ARN/><Status/><LastModifiedTime/><DomainName/>
 *     <ActiveTrustedSigners>…</ActiveTrustedSigners>
 *     <StreamingDistributionConfig>…</StreamingDistributionConfig>
 *   </StreamingDistribution>
 */
export function renderStreamingDistribution(view: DistributionView, context: RenderContext): string {
  const d = view.distribution;
  return rootElement(
    "StreamingDistribution",
    context.apiVersion,
    leaf("Id", d.id),
    leaf("ARN", streamingDistributionArn(context.accountId, d.id)),
    leaf("Status", view.status),
    leaf("LastModifiedTime", timestampText(d.lastModifiedMs)),
    leaf("DomainName", d.domainName),
    activeTrustedSigners(view),
    element("StreamingDistributionConfig", configChildren(configFromDistribution(d))),
  );
}

/** GetStreamingDistributionConfig response: <StreamingDistributionConfig xmlns="…">…</…>. */
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

/**
 * ListStreamingDistributions response:
 *
 *   <StreamingDistributionList xmlns="…">
 *     <Marker/><NextMarker/>?<MaxItems/><IsTruncated/><Quantity/>
 *     <Items><StreamingDistributionSummary>
 *       Id ARN Status LastModifiedTime DomainName S3Origin Aliases
 *       TrustedSigners Comment PriceClass Enabled
 *     </StreamingDistributionSummary>…</Items>
 *   </StreamingDistributionList>
 *
 * NextMarker is there only when the list is truncated.
 */
export function renderStreamingDistributionList(page: DistributionListPage, context: RenderContext): string {
  const summaries = page.items.map(({ distribution: d, status }) => {
    const config = configFromDistribution(d);
    return element(
      "StreamingDistributionSummary",
      leaf("Id", d.id),
      leaf("ARN", streamingDistributionArn(context.accountId, d.id)),
      leaf("Status", status),
      leaf("LastModifiedTime", timestampText(d.lastModifiedMs)),
      leaf("DomainName", d.domainName),
      element(
        "S3Origin",
        leaf("DomainName", config.originDomainName),
        leaf("OriginAccessIdentity", config.originAccessIdentity),
      ),
      element("Aliases", quantityItems(config.aliases.map((c) => leaf("CNAME", c)))),
      trustedSignersElement(config),
      leaf("Comment", config.comment),
      leaf("PriceClass", config.priceClass),
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
    quantityItems(summaries),
  );
}

/**
 * ListTagsForResource response: <Tags xmlns="…"><Items><Tag><Key/><Value/></Tag>…</Items></Tags>.
 * An empty list is written <Items/>, which the SDK reads as Items: [].
 */
export function renderTags(tags: readonly Tag[], context: RenderContext): string {
  const items = tags.map((t) => element("Tag", leaf("Key", t.key), leaf("Value", t.value)));
  return rootElement(
    "Tags",
    context.apiVersion,
    items.length === 0 ? "<Items/>" : element("Items", ...items),
  );
}

export const codec2020: StreamingXmlCodec = {
  apiVersions: apiVersions2020,
  supportsTagging: true,
  parseStreamingDistributionConfig,
  parseStreamingDistributionConfigWithTags,
  parseTags,
  parseTagKeys,
  renderStreamingDistribution,
  renderStreamingDistributionConfig,
  renderStreamingDistributionList,
  renderTags,
};
