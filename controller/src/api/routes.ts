import { ApiError } from "./api-error.js";

/** The operations of the streaming-distribution API. */
export const Operation = {
  Create: "CreateStreamingDistribution",
  CreateWithTags: "CreateStreamingDistributionWithTags",
  Get: "GetStreamingDistribution",
  GetConfig: "GetStreamingDistributionConfig",
  Update: "UpdateStreamingDistribution",
  Delete: "DeleteStreamingDistribution",
  List: "ListStreamingDistributions",
  Tag: "TagResource",
  Untag: "UntagResource",
  ListTags: "ListTagsForResource",
  CreatePublicKey: "CreatePublicKey",
  GetPublicKey: "GetPublicKey",
  GetPublicKeyConfig: "GetPublicKeyConfig",
  UpdatePublicKey: "UpdatePublicKey",
  DeletePublicKey: "DeletePublicKey",
  ListPublicKeys: "ListPublicKeys",
} as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

export interface Route {
  readonly operation: Operation;
  /** The first path segment, e.g. 2020-05-31 (not yet checked against the served versions). */
  readonly apiVersion: string;
  /** The id of /streaming-distribution/{Id}[/config] or /public-key/{Id}[/config]. */
  readonly id?: string;
  /** Query parameters, decoded; a key given without a value (?WithTags) maps to "". */
  readonly query: ReadonlyMap<string, string>;
}

/** Longest request target we look at; CloudFront's are short (an ARN is the longest part). */
const maxRequestTargetChars = 2048;
const versionPattern = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Maps a request line to an operation. Pure: method and request target in,
 * a Route or an ApiError out.
 *
 *   POST   /{v}/streaming-distribution                 Create
 *   POST   /{v}/streaming-distribution?WithTags        CreateWithTags
 *   GET    /{v}/streaming-distribution[?Marker&MaxItems] List
 *   GET    /{v}/streaming-distribution/{Id}            Get
 *   DELETE /{v}/streaming-distribution/{Id}            Delete
 *   GET    /{v}/streaming-distribution/{Id}/config     GetConfig
 *   PUT    /{v}/streaming-distribution/{Id}/config     Update
 *   POST   /{v}/tagging?Operation=Tag&Resource=ARN     Tag
 *   POST   /{v}/tagging?Operation=Untag&Resource=ARN   Untag
 *   GET    /{v}/tagging?Resource=ARN                   ListTags
 *   POST   /{v}/public-key                             CreatePublicKey
 *   GET    /{v}/public-key[?Marker&MaxItems]           ListPublicKeys
 *   GET    /{v}/public-key/{Id}                        GetPublicKey
 *   DELETE /{v}/public-key/{Id}                        DeletePublicKey
 *   GET    /{v}/public-key/{Id}/config                 GetPublicKeyConfig
 *   PUT    /{v}/public-key/{Id}/config                 UpdatePublicKey
 */
export function route(method: string, target: string): Route {
  if (target.length > maxRequestTargetChars) {
    throw new ApiError("InvalidURI", `The request URI is longer than ${maxRequestTargetChars} characters.`);
  }
  const queryAt = target.indexOf("?");
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  const query = parseQuery(queryAt < 0 ? "" : target.slice(queryAt + 1));
  const segments = path.split("/");
  // "/2020-05-31/streaming-distribution/E1/config" → ["", v, resource, id, "config"]
  if (segments[0] !== "" || segments.length < 3 || segments.length > 5) throw unknownUri(path);
  const apiVersion = segments[1]!;
  if (!versionPattern.test(apiVersion)) throw unknownUri(path);
  const resource = segments[2]!;
  const id = segments[3];
  const sub = segments[4];
  if (resource === "streaming-distribution") {
    if (id === undefined || (id === "" && segments.length === 4)) {
      if (method === "POST") {
        return {
          operation: query.has("WithTags") ? Operation.CreateWithTags : Operation.Create,
          apiVersion,
          query,
        };
      }
      if (method === "GET") return { operation: Operation.List, apiVersion, query };
      throw notAllowed(method, path);
    }
    const distributionId = decodeSegment(id, path);
    if (distributionId === "") throw unknownUri(path);
    if (sub === undefined) {
      if (method === "GET") return { operation: Operation.Get, apiVersion, id: distributionId, query };
      if (method === "DELETE") return { operation: Operation.Delete, apiVersion, id: distributionId, query };
      throw notAllowed(method, path);
    }
    if (sub === "config") {
      if (method === "GET") return { operation: Operation.GetConfig, apiVersion, id: distributionId, query };
      if (method === "PUT") return { operation: Operation.Update, apiVersion, id: distributionId, query };
      throw notAllowed(method, path);
    }
    throw unknownUri(path);
  }
  if (resource === "public-key") {
    if (id === undefined || (id === "" && segments.length === 4)) {
      if (method === "POST") return { operation: Operation.CreatePublicKey, apiVersion, query };
      if (method === "GET") return { operation: Operation.ListPublicKeys, apiVersion, query };
      throw notAllowed(method, path);
    }
    const keyId = decodeSegment(id, path);
    if (keyId === "") throw unknownUri(path);
    if (sub === undefined) {
      if (method === "GET") return { operation: Operation.GetPublicKey, apiVersion, id: keyId, query };
      if (method === "DELETE") return { operation: Operation.DeletePublicKey, apiVersion, id: keyId, query };
      throw notAllowed(method, path);
    }
    if (sub === "config") {
      if (method === "GET") return { operation: Operation.GetPublicKeyConfig, apiVersion, id: keyId, query };
      if (method === "PUT") return { operation: Operation.UpdatePublicKey, apiVersion, id: keyId, query };
      throw notAllowed(method, path);
    }
    throw unknownUri(path);
  }
  if (resource === "tagging" && id === undefined) {
    if (method === "GET") return { operation: Operation.ListTags, apiVersion, query };
    if (method !== "POST") throw notAllowed(method, path);
    const operation = query.get("Operation");
    if (operation === "Tag") return { operation: Operation.Tag, apiVersion, query };
    if (operation === "Untag") return { operation: Operation.Untag, apiVersion, query };
    throw new ApiError(
      "InvalidArgument",
      operation === undefined
        ? "POST /tagging needs the Operation parameter (Tag or Untag)."
        : `Unknown tagging Operation ${JSON.stringify(operation.slice(0, 40))}; expected Tag or Untag.`,
    );
  }
  if (resource === "distribution" || resource === "origin-access-identity") {
    throw new ApiError(
      "NotImplemented",
      `streamfront serves streaming distributions only, not /${resource}.`,
    );
  }
  throw unknownUri(path);
}

/** Query parameters in order of appearance; the first of a repeated key wins. Malformed escapes → InvalidURI. */
function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (query === "") return out;
  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? "" : decodeQueryPart(pair.slice(eq + 1));
    if (!out.has(key)) out.set(key, value);
  }
  return out;
}

function decodeQueryPart(part: string): string {
  try {
    return decodeURIComponent(part.replaceAll("+", " "));
  } catch {
    throw new ApiError(
      "InvalidURI",
      "Could not parse the specified URI: a query parameter has a bad %-escape.",
    );
  }
}

function decodeSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw unknownUri(path);
  }
}

function unknownUri(path: string): ApiError {
  return new ApiError(
    "InvalidURI",
    `Could not parse the specified URI: ${JSON.stringify(path.slice(0, 200))}.`,
  );
}

function notAllowed(method: string, path: string): ApiError {
  return new ApiError(
    "MethodNotAllowed",
    `${method.slice(0, 16)} is not allowed on ${JSON.stringify(path.slice(0, 200))}.`,
  );
}
