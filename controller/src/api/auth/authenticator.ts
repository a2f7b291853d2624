import type { AccessKeyLookup } from "./access-keys.js";
import { AuthError, AuthFailure } from "./auth-error.js";
import { headerValue, type IncomingRequest } from "./incoming-request.js";
import { verifyLegacy } from "./legacy.js";
import { type Clock, DEFAULT_MAX_SKEW_MS } from "./request-time.js";
import { SIGV4_ALGORITHM, SIGV4_REGION, SIGV4_SERVICE, verifySigV4 } from "./sigv4.js";

// The HTTP layer needs only this module: the error it maps to a response,
// the request shape it fills in, and the helper tools sign legacy dates with.
export { AuthError, AuthErrorCode, AuthFailure } from "./auth-error.js";
export type { IncomingRequest } from "./incoming-request.js";
export { signLegacy } from "./legacy.js";
export { type Clock, DEFAULT_MAX_SKEW_MS } from "./request-time.js";

/** The API versions whose clients signed with "AWS id:signature". */
export const DEFAULT_LEGACY_API_VERSIONS: readonly string[] = Object.freeze(["2009-12-01"]);

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
    const verify = { keys: this.#keys, now: this.#clock(), maxSkewMs: this.#maxSkewMs };

    if (authorization.startsWith(SIGV4_ALGORITHM)) {
      const accessKeyId = await verifySigV4(request, authorization, verify);
      return { accessKeyId, scheme: AuthScheme.SigV4 };
    }
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
      const accessKeyId = verifyLegacy(request, authorization, verify);
      return { accessKeyId, scheme: AuthScheme.Legacy };
    }
    throw new AuthError(
      AuthFailure.Malformed,
      `The Authorization header's scheme is not supported; use ${SIGV4_ALGORITHM}.`,
    );
  }
}
