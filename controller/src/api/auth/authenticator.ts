import type { AccessKeyLookup } from "./access-keys.js";
import { AuthError, AuthFailure } from "./auth-error.js";
import { headerValue, type IncomingRequest, type IncomingRequestHead } from "./incoming-request.js";
import { verifyLegacy } from "./legacy.js";
import { type Clock, DEFAULT_MAX_SKEW_MS } from "./request-time.js";
import {
  checkBodyHash,
  checkSignature,
  precheckSigV4,
  SIGV4_ALGORITHM,
  SIGV4_REGION,
  SIGV4_SERVICE,
  verifySigV4,
} from "./sigv4.js";

// The HTTP layer needs only this module: the error it maps to a response,
// the request shape it fills in, and the helper tools sign legacy dates with.
export { AuthError, AuthErrorCode, AuthFailure } from "./auth-error.js";
export type { IncomingRequest, IncomingRequestHead } from "./incoming-request.js";
export { signLegacy } from "./legacy.js";
export { type Clock, DEFAULT_MAX_SKEW_MS } from "./request-time.js";

/** The API versions whose clients signed with "AWS id:signature". */
const DEFAULT_LEGACY_API_VERSIONS: readonly string[] = Object.freeze(["2009-12-01"]);

export const AuthScheme = { SigV4: "sigv4", Legacy: "legacy" } as const;
export type AuthScheme = (typeof AuthScheme)[keyof typeof AuthScheme];

export interface RequestAuthenticatorOptions {
  /** The operator keys; an AccessKeys, or any lookup (e.g. one that reloads a file). */
  readonly keys: AccessKeyLookup;
  /** @default Date.now */
  readonly clock?: Clock | undefined;
  /** How far a request's date may be from the clock, either way. @default 15 minutes */
  readonly maxSkewMs?: number | undefined;
  /**
   * API versions that may use the legacy scheme. Clients of the versions
   * up to 2012-07-01 signed this way too; widen the list to serve them.
   * @default ["2009-12-01"]
   */
  readonly legacyApiVersions?: readonly string[] | undefined;
}

/** Who sent an authenticated request, and how it was signed. */
export interface Authenticated {
  readonly accessKeyId: string;
  readonly scheme: AuthScheme;
}

/**
 * A request authenticated as far as its headers allow (authenticateHead).
 * `verified` says whether the signature itself was checked: always for the
 * legacy scheme (it signs the date only), for SigV4 when the client signed
 * x-amz-content-sha256 or declared no body. Otherwise only what needs no
 * body was checked (form, scope, clock, a known key id), and the HTTP layer
 * must bound such requests apart: their sender may not hold the secret.
 */
export interface HeadAuthentication {
  readonly verified: boolean;
  readonly accessKeyId: string;
  /** Checks the body (its declared hash, and the signature when not yet verified); throws AuthError. */
  finish(body: Buffer): Promise<Authenticated>;
}

/**
 * Authenticates control-API requests: picks the scheme from the
 * Authorization header, verifies it against the operator keys, and either
 * returns who signed or throws AuthError with the AWS code and HTTP status
 * to answer with. Holds no per-request state; one instance serves all.
 *
 * The HTTP layer should send a Date header with every error: the JS SDK
 * corrects its clock from it after a SignatureDoesNotMatch and retries.
 */
export class RequestAuthenticator {
  readonly #keys: AccessKeyLookup;
  readonly #clock: Clock;
  readonly #maxSkewMs: number;
  readonly #legacyApiVersions: ReadonlySet<string>;

  constructor(options: RequestAuthenticatorOptions) {
    const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (!Number.isFinite(maxSkewMs) || maxSkewMs <= 0) {
      throw new RangeError(`maxSkewMs must be a positive number of milliseconds (got ${maxSkewMs})`);
    }
    this.#keys = options.keys;
    this.#clock = options.clock ?? Date.now;
    this.#maxSkewMs = maxSkewMs;
    this.#legacyApiVersions = new Set(options.legacyApiVersions ?? DEFAULT_LEGACY_API_VERSIONS);
  }

  /**
   * apiVersion is the request path's first segment (e.g. 2020-05-31); it
   * decides whether the legacy scheme is allowed. Asynchronous because
   * Smithy's signer is.
   */
  async authenticate(request: IncomingRequest, apiVersion: string): Promise<Authenticated> {
    const authorization = this.#authorization(request);
    const verify = { keys: this.#keys, now: this.#clock(), maxSkewMs: this.#maxSkewMs };

    if (authorization.startsWith(SIGV4_ALGORITHM)) {
      const accessKeyId = await verifySigV4(request, authorization, verify);
      return { accessKeyId, scheme: AuthScheme.SigV4 };
    }
    this.#checkLegacyAllowed(authorization, apiVersion);
    const accessKeyId = verifyLegacy(request, authorization, verify);
    return { accessKeyId, scheme: AuthScheme.Legacy };
  }

  /**
   * Authenticates a request from its headers, before its body is read, so
   * that a sender without a key is refused at once and never holds a slot
   * or a buffer (see HeadAuthentication). hasBody: the request declares a
   * body (a Content-Length above 0, or chunked); without one the signature
   * is checked over the empty payload.
   */
  async authenticateHead(
    head: IncomingRequestHead,
    apiVersion: string,
    hasBody: boolean,
  ): Promise<HeadAuthentication> {
    const authorization = this.#authorization(head);
    const verify = { keys: this.#keys, now: this.#clock(), maxSkewMs: this.#maxSkewMs };

    if (authorization.startsWith(SIGV4_ALGORITHM)) {
      const checked = precheckSigV4(head, authorization, verify);
      const result: Authenticated = { accessKeyId: checked.auth.accessKeyId, scheme: AuthScheme.SigV4 };
      if (checked.payloadHashSigned || !hasBody) {
        await checkSignature(head, checked, checked.payloadHashSigned ? undefined : Buffer.alloc(0));
        return {
          verified: true,
          accessKeyId: result.accessKeyId,
          finish: async (body) => {
            if (!checked.payloadHashSigned && body.length > 0) {
              // Declared none, sent some: the signature covered the empty payload.
              await checkSignature(head, checked, body);
            }
            checkBodyHash(head, body);
            return result;
          },
        };
      }
      return {
        verified: false,
        accessKeyId: result.accessKeyId,
        finish: async (body) => {
          checkBodyHash(head, body);
          await checkSignature(head, checked, body);
          return result;
        },
      };
    }
    this.#checkLegacyAllowed(authorization, apiVersion);
    const accessKeyId = verifyLegacy(head, authorization, verify);
    const result: Authenticated = { accessKeyId, scheme: AuthScheme.Legacy };
    return { verified: true, accessKeyId, finish: async () => result };
  }

  /** The one Authorization header's value; AuthError when there is none or more than one. */
  #authorization(request: IncomingRequestHead): string {
    const raw = request.headers.authorization;
    if (Array.isArray(raw) && raw.length > 1) {
      throw new AuthError(AuthFailure.Malformed, "The request has more than one Authorization header.");
    }
    const authorization = headerValue(request.headers, "authorization")?.trim() ?? "";
    if (authorization === "") {
      const presigned = /[?&]x-amz-(?:signature|credential)=/i.test(request.rawPath);
      throw new AuthError(
        AuthFailure.Missing,
        presigned
          ? "Missing Authentication Token: presigned (query-string) requests are not accepted; " +
              "send an Authorization header."
          : `Missing Authentication Token: sign the request with ${SIGV4_ALGORITHM} ` +
              `(service ${SIGV4_SERVICE}, region ${SIGV4_REGION}).`,
      );
    }
    return authorization;
  }

  /** The legacy scheme, allowed on this API version; AuthError otherwise (or for an unknown scheme). */
  #checkLegacyAllowed(authorization: string, apiVersion: string): void {
    if (authorization.startsWith("AWS ")) {
      if (!this.#legacyApiVersions.has(apiVersion)) {
        throw new AuthError(
          AuthFailure.LegacyNotAllowed,
          `API version ${JSON.stringify(apiVersion.slice(0, 32))} requires AWS Signature Version 4 ` +
            `(Authorization: ${SIGV4_ALGORITHM} Credential=…, SignedHeaders=…, Signature=…); ` +
            `the 'AWS <AccessKeyId>:<Signature>' scheme is accepted only for API ` +
            `${[...this.#legacyApiVersions].join(", ") || "(none)"}.`,
        );
      }
      return;
    }
    throw new AuthError(
      AuthFailure.Malformed,
      `The Authorization header's scheme is not supported; use ${SIGV4_ALGORITHM}.`,
    );
  }
}
