import { createHash, timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { type AccessKeyLookup, accessKeyIdPattern } from "./access-keys.js";
import { AuthError, AuthFailure } from "./auth-error.js";
import {
  headerValue,
  type IncomingRequest,
  type IncomingRequestHead,
  splitRawPath,
} from "./incoming-request.js";
import { checkClockSkew, parseAmzDate } from "./request-time.js";

/**
 * AWS Signature Version 4, as CloudFront's control API takes it: one global
 * endpoint, so the scope is always us-east-1/cloudfront (botocore's model
 * for 2014-05-31 onwards).
 *
 * The signature is not recomputed here by hand. The request is rebuilt as a
 * Smithy HttpRequest holding exactly the signed headers, the raw (still
 * encoded) path and the decoded query, and signed again with the stored
 * secret by @smithy/signature-v4, the signer inside the JS SDK itself, at
 * the request's own x-amz-date. Canonicalisation (header trimming, query
 * sorting and re-encoding, the path's second encoding) is therefore the SDK's
 * byte for byte. This module only parses, checks what the signer cannot
 * (scope, clock, payload hash) and compares in constant time.
 */

export const SIGV4_ALGORITHM = "AWS4-HMAC-SHA256";
export const SIGV4_REGION = "us-east-1";
export const SIGV4_SERVICE = "cloudfront";
const SIGV4_TERMINATOR = "aws4_request";

/** The parts of an `Authorization: AWS4-HMAC-SHA256 …` header. */
export interface SigV4Authorization {
  readonly accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  /** Lower case, sorted, without duplicates. */
  readonly signedHeaders: readonly string[];
  /** 64 lower-case hex digits. */
  readonly signature: string;
}

const headerNamePattern = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const signaturePattern = /^[0-9a-f]{64}$/;
const scopeDatePattern = /^\d{8}$/;
const components = ["Credential", "SignedHeaders", "Signature"] as const;
type Component = (typeof components)[number];

function malformed(message: string): AuthError {
  return new AuthError(AuthFailure.Malformed, message);
}

/**
 * Parses the header strictly: the algorithm, one or more spaces, then
 * exactly the three components, comma-separated (a space after each comma
 * is optional). Anything else is IncompleteSignature, as at AWS.
 */
export function parseSigV4Authorization(value: string): SigV4Authorization {
  const head = /^AWS4-HMAC-SHA256 +/.exec(value);
  if (!head) throw malformed(`The Authorization header must start with "${SIGV4_ALGORITHM} ".`);
  const found = new Map<Component, string>();
  for (const [index, part] of value.slice(head[0].length).split(",").entries()) {
    // A space may follow each comma (the SDKs write one), nowhere else.
    const component = (index === 0 ? /^([A-Za-z]+)=([^ ]*)$/ : /^ ?([A-Za-z]+)=([^ ]*)$/).exec(part);
    if (!component) {
      throw malformed(
        `Component ${index + 1} of the Authorization header is not a valid key=value pair ` +
          "(expected Credential=…, SignedHeaders=…, Signature=…).",
      );
    }
    const name = component[1] as Component;
    if (!components.includes(name)) {
      throw malformed(
        `The Authorization header has an unknown component ${JSON.stringify(component[1]?.slice(0, 32))}.`,
      );
    }
    if (found.has(name)) throw malformed(`The Authorization header has '${name}' more than once.`);
    found.set(name, component[2] ?? "");
  }
  const missing = components.filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw malformed(missing.map((name) => `Authorization header requires '${name}' parameter.`).join(" "));
  }

  const credential = (found.get("Credential") ?? "").split("/");
  const [accessKeyId, scopeDate, region, service, terminator] = credential;
  if (
    credential.length !== 5 ||
    accessKeyId === undefined ||
    scopeDate === undefined ||
    region === undefined ||
    service === undefined ||
    terminator === undefined ||
    credential.some((piece) => piece.length === 0)
  ) {
    throw malformed(
      "Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request.",
    );
  }
  if (!scopeDatePattern.test(scopeDate)) throw malformed("The Credential's date must be YYYYMMDD.");

  const signedHeaders = (found.get("SignedHeaders") ?? "").split(";");
  for (const [index, name] of signedHeaders.entries()) {
    if (!headerNamePattern.test(name)) {
      throw malformed("SignedHeaders must be lower-case header names separated by ';'.");
    }
    const previous = signedHeaders[index - 1];
    if (previous !== undefined && previous >= name) {
      throw malformed("SignedHeaders must be sorted, without duplicates.");
    }
  }

  const signature = found.get("Signature") ?? "";
  if (!signaturePattern.test(signature))
    throw malformed("Signature must be 64 lower-case hexadecimal digits.");

  return { accessKeyId, scopeDate, region, service, terminator, signedHeaders, signature };
}

export interface VerifyOptions {
  readonly keys: AccessKeyLookup;
  /** Epoch ms. */
  readonly now: number;
  readonly maxSkewMs: number;
}

const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
const SHA256_HEADER = "x-amz-content-sha256";

/**
 * Verifies a SigV4-signed request and returns its access key id, or throws
 * AuthError. `authorization` is the request's Authorization header value.
 */
export async function verifySigV4(
  request: IncomingRequest,
  authorization: string,
  options: VerifyOptions,
): Promise<string> {
  const checked = precheckSigV4(request, authorization, options);
  checkBodyHash(request, request.body);
  await checkSignature(request, checked, request.body);
  return checked.auth.accessKeyId;
}

/** What precheckSigV4 found out from the headers, for the signature check that follows. */
export interface SigV4Precheck {
  readonly auth: SigV4Authorization;
  readonly secret: string;
  /** The request's x-amz-date, epoch ms. */
  readonly requestMs: number;
  /**
   * Whether the signature can be checked before the body arrives: the
   * client signed x-amz-content-sha256 (the JS SDK does), so the payload
   * hash in the canonical request is that header's value. Without it the
   * signer hashes the body itself (botocore, the AWS CLI).
   */
  readonly payloadHashSigned: boolean;
}

/**
 * Every check that needs no body and no HMAC: the header's form, the scope,
 * the clock, the key id, a declared unsigned payload. A request that fails
 * here is refused before a byte of its body is read.
 */
export function precheckSigV4(
  request: IncomingRequestHead,
  authorization: string,
  options: VerifyOptions,
): SigV4Precheck {
  const auth = parseSigV4Authorization(authorization);
  const signed = new Set(auth.signedHeaders);
  if (!signed.has("host")) throw malformed("'host' must be one of the SignedHeaders.");
  if (!signed.has("x-amz-date")) {
    throw malformed("'x-amz-date' must be one of the SignedHeaders (this endpoint dates requests by it).");
  }
  if (signed.has("authorization")) throw malformed("The Authorization header cannot sign itself.");
  // Smithy's signer drops a Date header before signing (it dates by
  // x-amz-date), so a request that signed one cannot be rebuilt; the SDKs
  // never sign it when they send x-amz-date.
  if (signed.has("date")) throw malformed("'date' cannot be a SignedHeader here; sign 'x-amz-date' instead.");

  const amzDate = headerValue(request.headers, "x-amz-date");
  if (amzDate === undefined) {
    throw malformed("Authorization header requires existence of an 'X-Amz-Date' header.");
  }
  const requestMs = parseAmzDate(amzDate);
  if (requestMs === undefined) {
    throw malformed("X-Amz-Date must be in ISO 8601 basic format, YYYYMMDDTHHMMSSZ.");
  }

  checkScope(auth, amzDate);
  checkClockSkew(requestMs, options.now, options.maxSkewMs);

  if (headerValue(request.headers, "x-amz-security-token") !== undefined) {
    throw new AuthError(
      AuthFailure.SecurityToken,
      "The security token included in the request is invalid: this endpoint issues no temporary " +
        "credentials; sign with an access key and secret only.",
    );
  }
  if (!accessKeyIdPattern.test(auth.accessKeyId)) {
    throw new AuthError(
      AuthFailure.UnknownKey,
      "The access key id in the Credential is not a valid access key id (16–128 upper-case letters or digits).",
    );
  }
  const secret = options.keys.secretFor(auth.accessKeyId);
  if (secret === undefined) {
    throw new AuthError(
      AuthFailure.UnknownKey,
      `The access key id ${auth.accessKeyId} is not known to this endpoint.`,
    );
  }
  checkDeclaredPayload(request);
  const payloadHashSigned =
    signed.has(SHA256_HEADER) && headerValue(request.headers, SHA256_HEADER) !== undefined;
  return { auth, secret, requestMs, payloadHashSigned };
}

/**
 * Recomputes the signature with the stored secret and compares it in
 * constant time. body undefined: the request's body has not arrived, and
 * the signed x-amz-content-sha256 stands for it (precheck.payloadHashSigned
 * must be true; checkBodyHash then holds the body to it once it is read).
 */
export async function checkSignature(
  request: IncomingRequestHead,
  precheck: SigV4Precheck,
  body: Buffer | undefined,
): Promise<void> {
  const { auth, secret, requestMs } = precheck;
  if (body === undefined && !precheck.payloadHashSigned) {
    throw new TypeError("checkSignature without a body needs a signed x-amz-content-sha256");
  }
  const { path, query } = splitRawPath(request.rawPath);
  const headers: Record<string, string> = Object.create(null);
  for (const name of auth.signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined) {
      throw new AuthError(
        AuthFailure.SignedHeaderMissing,
        `The signed header '${name}' is not in the request (was it removed by a proxy?).`,
      );
    }
    headers[name] = value;
  }

  const signer = new SignatureV4({
    service: SIGV4_SERVICE,
    region: SIGV4_REGION,
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey: secret },
    sha256: Hash.bind(null, "sha256"),
    // Every AWS service but S3 double-encodes the path; the SDK signs
    // CloudFront requests that way.
    uriEscapePath: true,
    // Never add x-amz-content-sha256: only the client's signed headers count.
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    new HttpRequest({ method: request.method, path, query, headers, body: body ?? Buffer.alloc(0) }),
    { signingDate: new Date(requestMs), signableHeaders: new Set(auth.signedHeaders) },
  );
  const ours = parseSigV4Authorization(String(resigned.headers.authorization));

  // The signer skips nothing it was told to sign, but if a future version
  // dropped or added a header the signatures would differ for a reason the
  // message should not hide.
  const sameHeaders = ours.signedHeaders.join(";") === auth.signedHeaders.join(";");
  if (!sameHeaders || !timingSafeEqual(Buffer.from(ours.signature), Buffer.from(auth.signature))) {
    throw new AuthError(
      AuthFailure.Mismatch,
      "The request signature we calculated does not match the signature you provided. " +
        "Check your AWS secret access key and signing method.",
    );
  }
}

function checkScope(auth: SigV4Authorization, amzDate: string): void {
  const scopeFault = (message: string) => new AuthError(AuthFailure.Scope, message);
  if (auth.scopeDate !== amzDate.slice(0, 8)) {
    throw scopeFault(
      `Date in Credential scope does not match YYYYMMDD from X-Amz-Date: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}'.`,
    );
  }
  if (auth.region !== SIGV4_REGION) {
    throw scopeFault(`Credential should be scoped to region '${SIGV4_REGION}' (CloudFront is global).`);
  }
  if (auth.service !== SIGV4_SERVICE) {
    throw scopeFault(`Credential should be scoped to correct service: '${SIGV4_SERVICE}'.`);
  }
  if (auth.terminator !== SIGV4_TERMINATOR) {
    throw scopeFault(`Credential should be scoped with a valid terminator: '${SIGV4_TERMINATOR}'.`);
  }
}

/**
 * x-amz-content-sha256, when sent (the JS SDK always sends it), must be the
 * hex SHA-256 of the body as received: the signature covers the header, not
 * the body, so without this check a changed body would pass. UNSIGNED-PAYLOAD
 * and the STREAMING-* forms are S3's alone; CloudFront bodies are small XML
 * and are always signed. Both faults are SignatureDoesNotMatch, which is what
 * AWS's non-S3 services answer, since they hash the body themselves.
 */
function checkDeclaredPayload(request: IncomingRequestHead): void {
  const declared = headerValue(request.headers, SHA256_HEADER);
  if (declared === undefined) return;
  if (declared === UNSIGNED_PAYLOAD || declared.startsWith("STREAMING-")) {
    throw new AuthError(
      AuthFailure.PayloadHash,
      "x-amz-content-sha256 declares an unsigned or streamed payload; the CloudFront API requires a signed one.",
    );
  }
}

/** The body against a declared x-amz-content-sha256 (see checkDeclaredPayload). */
export function checkBodyHash(request: IncomingRequestHead, body: Buffer): void {
  const declared = headerValue(request.headers, SHA256_HEADER);
  if (declared === undefined) return;
  checkDeclaredPayload(request);
  const actual = createHash("sha256").update(body).digest("hex");
  if (declared !== actual) {
    throw new AuthError(
      AuthFailure.PayloadHash,
      "The x-amz-content-sha256 header does not match the SHA-256 of the request body.",
    );
  }
}
