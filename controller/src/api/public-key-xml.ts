import type { PublicKeyRecord } from "../public-key.js";
import { expectRoot, readStruct, readText, readXmlDocument } from "./xml-reader.js";
import type { RenderContext } from "./xml-types.js";
import { element, leaf, rootElement, timestampText } from "./xml-writer.js";

/**
 * The public-key XML of API 2020-05-31, element names and which are
 * required as in @aws-sdk/client-cloudfront:
 *
 *   PublicKeyConfig (request of Create/Update, response of GetPublicKeyConfig)
 *     CallerReference, Name, EncodedKey  required
 *     Comment                            optional
 *   PublicKey (response of Create/Get/Update)
 *     Id, CreatedTime, PublicKeyConfig
 *   PublicKeyList (response of ListPublicKeys)
 *     NextMarker?, MaxItems, Quantity, Items/PublicKeySummary*
 *       Id, Name, CreatedTime, EncodedKey, Comment?
 *
 * Only shape is checked here; what the values may be is the API's
 * (public-key-api.ts) business.
 */

/** A PublicKeyConfig as sent: text as written (EncodedKey keeps its line breaks). */
export interface PublicKeyConfigInput {
  readonly callerReference: string;
  readonly name: string;
  readonly encodedKey: string;
  /** Absent and empty are the same to CloudFront (the SDK leaves it out when unset). */
  readonly comment: string;
}

export interface PublicKeyListPage {
  readonly items: readonly PublicKeyRecord[];
  readonly maxItems: number;
  readonly nextMarker?: string | undefined;
}

export function parsePublicKeyConfig(body: Uint8Array, maxBodyBytes?: number): PublicKeyConfigInput {
  const root = readXmlDocument(body, maxBodyBytes);
  expectRoot(root, "PublicKeyConfig");
  const f = readStruct(root, ["CallerReference", "Name", "EncodedKey"], ["Comment"]);
  return {
    callerReference: readText(f.CallerReference),
    name: readText(f.Name),
    encodedKey: readText(f.EncodedKey),
    comment: f.Comment === undefined ? "" : readText(f.Comment),
  };
}

function configChildren(key: PublicKeyRecord): string[] {
  return [
    leaf("CallerReference", key.callerReference),
    leaf("Name", key.name),
    leaf("EncodedKey", key.encodedKey),
    leaf("Comment", key.comment),
  ];
}

export function renderPublicKey(key: PublicKeyRecord, context: RenderContext): string {
  return rootElement(
    "PublicKey",
    context.apiVersion,
    leaf("Id", key.id),
    leaf("CreatedTime", timestampText(key.createdMs)),
    element("PublicKeyConfig", ...configChildren(key)),
  );
}

export function renderPublicKeyConfig(key: PublicKeyRecord, context: RenderContext): string {
  return rootElement("PublicKeyConfig", context.apiVersion, ...configChildren(key));
}

export function renderPublicKeyList(page: PublicKeyListPage, context: RenderContext): string {
  const summaries = page.items.map((k) =>
    element(
      "PublicKeySummary",
      leaf("Id", k.id),
      leaf("Name", k.name),
      leaf("CreatedTime", timestampText(k.createdMs)),
      leaf("EncodedKey", k.encodedKey),
      leaf("Comment", k.comment),
    ),
  );
  return rootElement(
    "PublicKeyList",
    context.apiVersion,
    page.nextMarker !== undefined ? leaf("NextMarker", page.nextMarker) : "",
    leaf("MaxItems", String(page.maxItems)),
    leaf("Quantity", String(page.items.length)),
    summaries.length === 0 ? "<Items/>" : element("Items", ...summaries),
  );
}
