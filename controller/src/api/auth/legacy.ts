import { createHmac, timingSafeEqual } from "node:crypto";
import { type AccessKeyLookup, accessKeyIdPattern } from "./access-keys.js";
import { AuthError, AuthFailure } from "./auth-error.js";
import { headerValue, type IncomingRequestHead } from "./incoming-request.js";
import { checkClockSkew, parseHttpDate } from "./request-time.js";

/**
 * CloudFront's original scheme (API 2009-12-01 era; the API reference's
 * RESTAuthentication.html page at AWS):
 *
 *   Authorization: AWS <AccessKeyId>:<Base64(HMAC-SHA1(secret, UTF-8(date)))>
 *
 * where date is the x-amz-date header's value when present, else Date's.
 * Only the date is signed, so the scheme relies on HTTPS for everything
 * else. No maintained library implements this retired scheme (Smithy and
 * botocore dropped it), and it is one HMAC, so node:crypto does it here.
 */

const legacyPattern = /^AWS ([^\s:]+):(\S+)$/;
/** Base64 of a 20-byte HMAC-SHA1: 27 characters and one "=". */
const legacySignaturePattern = /^[A-Za-z0-9+/]{27}=$/;

/** Base64(HMAC-SHA1(secret, UTF-8(date))): the legacy signature of a date string. */
export function signLegacy(secret: string, date: string): string {
  return createHmac("sha1", secret).update(date, "utf8").digest("base64");
}

export interface LegacyAuthorization {
  readonly accessKeyId: string;
  /** Base64, as sent. */
  readonly signature: string;
}

function parseLegacyAuthorization(value: string): LegacyAuthorization {
  const m = legacyPattern.exec(value);
  if (!m || m[1] === undefined || m[2] === undefined) {
    throw new AuthError(
      AuthFailure.Malformed,
      "The Authorization header must have the form 'AWS <AccessKeyId>:<Signature>'.",
    );
  }
  if (!legacySignaturePattern.test(m[2])) {
    throw new AuthError(
      AuthFailure.Malformed,
      "The signature must be the Base64 of a 20-byte HMAC-SHA1 (28 characters).",
    );
  }
  return { accessKeyId: m[1], signature: m[2] };
}

export interface LegacyVerifyOptions {
  readonly keys: AccessKeyLookup;
  /** Epoch ms. */
  readonly now: number;
  readonly maxSkewMs: number;
}

/**
 * Verifies a legacy-signed request and returns its access key id, or throws
 * AuthError. `authorization` is the request's Authorization header value.
 */
export function verifyLegacy(
  request: IncomingRequestHead,
  authorization: string,
  options: LegacyVerifyOptions,
): string {
  const auth = parseLegacyAuthorization(authorization);
  const amzDate = headerValue(request.headers, "x-amz-date");
  const date = amzDate ?? headerValue(request.headers, "date");
  const dateHeader = amzDate === undefined ? "Date" : "x-amz-date";
  if (date === undefined) {
    throw new AuthError(AuthFailure.Malformed, "The request needs a Date or x-amz-date header to be signed.");
  }
  const requestMs = parseHttpDate(date);
  if (requestMs === undefined) {
    throw new AuthError(
      AuthFailure.Malformed,
      `The ${dateHeader} header must be an RFC 1123 date (Sun, 22 Nov 2026 04:58:45 GMT) or ISO 8601.`,
    );
  }
  checkClockSkew(requestMs, options.now, options.maxSkewMs);

  const secret = accessKeyIdPattern.test(auth.accessKeyId)
    ? options.keys.secretFor(auth.accessKeyId)
    : undefined;
  if (secret === undefined) {
    throw new AuthError(
      AuthFailure.UnknownKey,
      accessKeyIdPattern.test(auth.accessKeyId)
        ? `The access key id ${auth.accessKeyId} is not known to this endpoint.`
        : "The access key id is not a valid access key id (16–128 upper-case letters or digits).",
    );
  }
  const expected = createHmac("sha1", secret).update(date, "utf8").digest();
  const provided = Buffer.from(auth.signature, "base64");
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    throw new AuthError(
      AuthFailure.Mismatch,
      `The request signature we calculated does not match the signature you provided. ` +
        `Check your AWS secret access key; the string to sign is the ${dateHeader} header's value.`,
    );
  }
  return auth.accessKeyId;
}
