/** Header names in lower case, values as node:http gives them. */
export type IncomingHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * A request as far as its headers: what the HTTP layer can authenticate
 * before it reads (and buffers) a byte of the body.
 */
export interface IncomingRequestHead {
  /** Upper case, e.g. GET. */
  readonly method: string;
  /** Path and query exactly as received (IncomingMessage.url), still percent-encoded. */
  readonly rawPath: string;
  readonly headers: IncomingHeaders;
}

/**
 * What authentication needs of a request, with no tie to a server: the
 * HTTP layer fills it from node:http's IncomingMessage once the body is read.
 */
export interface IncomingRequest extends IncomingRequestHead {
  readonly body: Buffer;
}

/**
 * One header's value. Repeated headers (node:http gives an array only for a
 * few names) are joined with commas, as SigV4's canonical form joins them.
 */
export function headerValue(headers: IncomingHeaders, name: string): string | undefined {
  if (!Object.hasOwn(headers, name)) return undefined;
  const value = headers[name];
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : value.join(",");
}

/**
 * Splits a raw request target into its still-encoded path and its decoded
 * query, in the shape Smithy's HttpRequest holds (the SDK built it that way
 * before encoding it onto the wire):
 * - a parameter without "=" (CloudFront's `?WithTags`) gets the empty string,
 *   which the signer writes back as `WithTags=`, as the SigV4 spec asks;
 * - a repeated name gets an array, which the signer sorts by value;
 * - "+" stays "+": SigV4 clients encode spaces as %20, and reading "+" as a
 *   space would make the signer write %20 where the client signed %2B.
 */
export function splitRawPath(rawPath: string): { path: string; query: Record<string, string | string[]> } {
  const mark = rawPath.indexOf("?");
  const path = mark === -1 ? rawPath : rawPath.slice(0, mark);
  const query: Record<string, string | string[]> = Object.create(null);
  if (mark === -1) return { path, query };
  for (const part of rawPath.slice(mark + 1).split("&")) {
    if (part.length === 0) continue;
    const equals = part.indexOf("=");
    const name = percentDecode(equals === -1 ? part : part.slice(0, equals));
    const value = equals === -1 ? "" : percentDecode(part.slice(equals + 1));
    const previous = query[name];
    if (previous === undefined) query[name] = value;
    else if (typeof previous === "string") query[name] = [previous, value];
    else previous.push(value);
  }
  return { path, query };
}

/**
 * Percent-decoding that never throws: a "%" not followed by two hex digits
 * stays literal and bytes that are not UTF-8 become U+FFFD. Such a request
 * then simply fails its signature check, instead of failing here with an
 * error that would need its own code.
 */
export function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  const pieces: Buffer[] = [];
  let last = 0;
  for (const match of text.matchAll(/%[0-9A-Fa-f]{2}/g)) {
    pieces.push(Buffer.from(text.slice(last, match.index), "utf8"));
    pieces.push(Buffer.from([Number.parseInt(match[0].slice(1), 16)]));
    last = match.index + 3;
  }
  pieces.push(Buffer.from(text.slice(last), "utf8"));
  return Buffer.concat(pieces).toString("utf8");
}
