import type { Distribution, Tag } from "../distribution.js";
import type { StreamingConfigInput, StreamingConfigWithTags } from "./streaming-config/model.js";
import type { ParseOptions } from "./streaming-config/rules.js";

/** StreamingDistribution/Status: InProgress until every edge applied the change, then Deployed. */
export const DistributionStatus = { InProgress: "InProgress", Deployed: "Deployed" } as const;
export type DistributionStatus = (typeof DistributionStatus)[keyof typeof DistributionStatus];

/** What a response needs beyond the stored distribution. */
export interface DistributionView {
  readonly distribution: Distribution;
  readonly status: DistributionStatus;
  /**
   * Active key-pair ids per trusted-signer account ("self" or the number),
   * for ActiveTrustedSigners. Accounts missing here are listed with no key
   * pairs; ActiveTrustedSigners/Enabled is true only if some signer has one.
   */
  readonly activeKeyPairIds?: ReadonlyMap<string, readonly string[]> | undefined;
}

export interface RenderContext {
  /** The API version of the request; it names the response's XML namespace. */
  readonly apiVersion: string;
  /** The account in ARNs (12 digits). */
  readonly accountId: string;
}

/** One page of ListStreamingDistributions. */
export interface DistributionListPage {
  readonly items: readonly DistributionView[];
  /** The Marker of the request, echoed ("" when none). */
  readonly marker: string;
  /** The MaxItems of the request (or the default), echoed. */
  readonly maxItems: number;
  /** The Id of the last item, when there is a next page. */
  readonly nextMarker?: string | undefined;
  readonly isTruncated: boolean;
}

/** The XML reader and writer of one API shape; pick one with codecForVersion (xml-codec.ts). */
export interface StreamingXmlCodec {
  /** The API versions (URL path prefix) this codec serves. */
  readonly apiVersions: readonly string[];
  /** False for 2009-12-01: there was no tagging API yet (the tag parsers throw InvalidAction). */
  readonly supportsTagging: boolean;
  /** Body of CreateStreamingDistribution and UpdateStreamingDistribution. */
  parseStreamingDistributionConfig(body: Uint8Array, options?: ParseOptions): StreamingConfigInput;
  /** Body of CreateStreamingDistributionWithTags. */
  parseStreamingDistributionConfigWithTags(body: Uint8Array, options?: ParseOptions): StreamingConfigWithTags;
  /** Body of TagResource. */
  parseTags(body: Uint8Array, options?: ParseOptions): readonly Tag[];
  /** Body of UntagResource. */
  parseTagKeys(body: Uint8Array, options?: ParseOptions): readonly string[];
  /** Create/Get/Update response body. */
  renderStreamingDistribution(view: DistributionView, context: RenderContext): string;
  /** GetStreamingDistributionConfig response body. */
  renderStreamingDistributionConfig(distribution: Distribution, context: RenderContext): string;
  /** ListStreamingDistributions response body. */
  renderStreamingDistributionList(page: DistributionListPage, context: RenderContext): string;
  /** ListTagsForResource response body. */
  renderTags(tags: readonly Tag[], context: RenderContext): string;
}
