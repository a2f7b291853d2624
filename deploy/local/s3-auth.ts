import { timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AccessKeyPair } from "../../controller/src/api/auth/access-keys.js";
import { AuthError } from "../../controller/src/api/auth/auth-error.js";
import {
  headerValue,
  type IncomingHeaders,
  splitRawPath,
} from "../../controller/src/api/auth/incoming-request.js";
import { DEFAULT_MAX_SKEW_MS, parseAmzDate } from "../../controller/src/api/auth/request-time.js";
import { parseSigV4Authorization } from "../../controller/src/api/auth/sigv4.js";

/**
 * Authentication in front of the embedded S3. s3rver 3.7 checks only that a
 * SigV4 request names its one access key ("Signature version 4 calculation
 * is unimplemented", lib/middleware/authentication.js) and lets unsigned
 * requests through, so anyone who reaches its port could write or delete
 * objects. Every request is therefore verified here first, the way S3
 * verifies header-signed requests: the signature is recomputed by
 * @smithy/signature-v4 (the SDK's own signer, as the controller's API does)
 * over the method, the raw path, the query, every signed header and the
 * declared x-amz-content-sha256, with the secret of the one key pair this
 * server accepts.
 *
 * Like S3 with UNSIGNED-PAYLOAD, the body itself is not hashed again: what
 * authenticates the sender is the signature, and the shield and the upload
 * code send unsigned payloads for streamed bodies anyway. Presigned URLs and
 * aws-chunked signed streaming are not used by streamfront and are refused.
 */

/** What the gate needs of a request; nothing tied to node:http. */
export interface S3Request {
  readonly method: string;
  /** As received: path and query, still percent-encoded. */
  readonly rawPath: string;
  readonly headers: IncomingHeaders;
}

/** A refusal in S3's own terms (the SDK maps Code to its exception names). */
export interface S3Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export interface S3AuthOptions {
  readonly credentials: AccessKeyPair;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
  /** Anonymous GET and HEAD of keys under these "bucket/prefix" strings are allowed (a public-read policy). */
  readonly publicReadPrefixes?: readonly string[];
}

const refuse = (status: number, code: string, message: string): S3Refusal => ({ status, code, message });

/** undefined when the request may go on to s3rver; else why not. */
export async function checkS3Request(
  request: S3Request,
  options: S3AuthOptions,
): Promise<S3Refusal | undefined> {
  const { path, query } = splitRawPath(request.rawPath);
  if ("X-Amz-Signature" in query || "X-Amz-Algorithm" in query || "Signature" in query) {
    return refuse(
      403,
      "AccessDenied",
      "Query-string authentication (presigned URLs) is not accepted by the embedded S3; sign the Authorization header.",
    );
  }
  const authorization = headerValue(request.headers, "authorization");
  if (authorization === undefined) {
    if (isPublicRead(request.method, path, options.publicReadPrefixes ?? [])) return undefined;
    return refuse(
      403,
      "AccessDenied",
      "Anonymous access is refused: sign requests (SigV4) with the embedded S3's access key.",
    );
  }
  let auth: ReturnType<typeof parseSigV4Authorization>;
  try {
    auth = parseSigV4Authorization(authorization);
  } catch (error) {
    const message = error instanceof AuthError ? error.message : "The Authorization header is malformed.";
    return refuse(400, "AuthorizationHeaderMalformed", message);
  }
  if (auth.service !== "s3" || auth.terminator !== "aws4_request") {
    return refuse(
      400,
      "AuthorizationHeaderMalformed",
      "The Credential must be scoped to service s3/aws4_request.",
    );
  }
  const signed = new Set(auth.signedHeaders);
  for (const required of ["host", "x-amz-date", "x-amz-content-sha256"]) {
    if (!signed.has(required)) {
      return refuse(400, "AuthorizationHeaderMalformed", `'${required}' must be one of the SignedHeaders.`);
    }
  }
  const payloadHash = headerValue(request.headers, "x-amz-content-sha256") ?? "";
  if (payloadHash.startsWith("STREAMING-")) {
    return refuse(501, "NotImplemented", "aws-chunked signed streaming uploads are not supported here.");
  }
  if (payloadHash !== "UNSIGNED-PAYLOAD" && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    return refuse(
      400,
      "InvalidArgument",
      "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 in hex.",
    );
  }
  const amzDate = headerValue(request.headers, "x-amz-date") ?? "";
  const requestMs = parseAmzDate(amzDate);
  if (requestMs === undefined || auth.scopeDate !== amzDate.slice(0, 8)) {
    return refuse(403, "AccessDenied", "X-Amz-Date must be YYYYMMDDTHHMMSSZ, on the Credential's date.");
  }
  const now = (options.clock ?? Date.now)();
  if (Math.abs(now - requestMs) > DEFAULT_MAX_SKEW_MS) {
    return refuse(
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the server's is too large.",
    );
  }
  const ours = options.credentials;
  if (auth.accessKeyId !== ours.accessKeyId) {
    return refuse(
      403,
      "InvalidAccessKeyId",
      "The AWS Access Key Id you provided does not exist in our records.",
    );
  }
  const headers: Record<string, string> = Object.create(null);
  for (const name of auth.signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined) {
      return refuse(403, "AccessDenied", `The signed header '${name}' is not in the request.`);
    }
    headers[name] = value;
  }
  const signer = new SignatureV4({
    service: "s3",
    region: auth.region,
    credentials: { accessKeyId: ours.accessKeyId, secretAccessKey: ours.secretAccessKey },
    sha256: Hash.bind(null, "sha256"),
    // S3 signs the path as sent, without the second encoding other services use.
    uriEscapePath: false,
    applyChecksum: false,
  });
  const resigned = await signer.sign(new HttpRequest({ method: request.method, path, query, headers }), {
    signingDate: new Date(requestMs),
    signableHeaders: signed,
  });
  const expected = parseSigV4Authorization(String(resigned.headers.authorization));
  const sameHeaders = expected.signedHeaders.join(";") === auth.signedHeaders.join(";");
  if (!sameHeaders || !timingSafeEqual(Buffer.from(expected.signature), Buffer.from(auth.signature))) {
    return refuse(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
  }
  return undefined;
}

function isPublicRead(method: string, rawPath: string, prefixes: readonly string[]): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath.slice(1));
  } catch {
    return false;
  }
  // A dot segment could climb out of the public prefix once s3rver normalises it.
  if (decoded.split("/").some((segment) => segment === "." || segment === "..")) return false;
  return prefixes.some((prefix) => decoded.startsWith(prefix));
}

/** S3's XML error body. */
export function s3ErrorXml(refusal: S3Refusal, requestId: string): string {
  const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code>` +
    `<Message>${xmlText(refusal.message)}</Message><RequestId>${requestId}</RequestId></Error>`
  );
}
