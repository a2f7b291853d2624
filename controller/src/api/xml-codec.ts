import { codec2009 } from "./xml-2009.js";
import { codec2020 } from "./xml-2020.js";
import type { StreamingXmlCodec } from "./xml-types.js";

/**
 * The API versions served (the first path segment of every request), and the
 * XML codec of each. Versions 2010-03-01 … 2012-03-15 are not served: their
 * streaming XML (S3Origin/DNSName with repeated CNAME, pre-2012 signers) is a
 * third shape nobody has asked for yet.
 */
const codecs: ReadonlyMap<string, StreamingXmlCodec> = new Map(
  [codec2009, codec2020].flatMap((codec) => codec.apiVersions.map((v) => [v, codec] as const)),
);

/** Every API version served, oldest first. */
export const servedApiVersions: readonly string[] = [...codecs.keys()].sort();

/** The newest version; the AWS SDK v3 speaks it. */
export const latestApiVersion = "2020-05-31";

/** The codec for a request's API version, or undefined when the version is not served. */
export function codecForVersion(apiVersion: string): StreamingXmlCodec | undefined {
  return codecs.get(apiVersion);
}
