import { StreamfrontError } from "../../../../lib/errors.js";

/**
 * The AWS error codes a refused request is answered with. They are the codes
 * AWS's common front end uses for every SigV4 service, so SDKs and the CLI
 * recognise them; the JS SDK, for one, lists SignatureDoesNotMatch among its
 * clock-skew codes and corrects its clock from the response's Date header.
 */
export const AuthErrorCode = {
  /** No Authorization header at all. */
  MissingAuthenticationToken: "MissingAuthenticationToken",
  /** The Authorization header (or the date it depends on) cannot be parsed. */
  IncompleteSignature: "IncompleteSignature",
  /** The access key id is not one of ours. */
  InvalidClientTokenId: "InvalidClientTokenId",
  /** Well formed, but wrong: signature, credential scope, payload hash or an expired date. */
  SignatureDoesNotMatch: "SignatureDoesNotMatch",
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

/**
 * Why a request was refused, finer than the AWS code: several reasons share
 * SignatureDoesNotMatch, and logs and metrics want to tell an expired date
 * from a wrong secret.
 */
export const AuthFailure = {
  Missing: "missing",
  Malformed: "malformed",
  /** The legacy "AWS id:signature" scheme on an API version that needs SigV4. */
  LegacyNotAllowed: "legacy-not-allowed",
  UnknownKey: "unknown-key",
  /** x-amz-security-token: temporary credentials, which streamfront never issues. */
  SecurityToken: "security-token",
  /** Credential scope names another date, region, service or terminator. */
  Scope: "scope",
  Expired: "expired",
  NotYetValid: "not-yet-valid",
  /** x-amz-content-sha256 is not the SHA-256 of the body, or the payload is unsigned. */
  PayloadHash: "payload-hash",
  /** A header listed in SignedHeaders is not in the request. */
  SignedHeaderMissing: "signed-header-missing",
  Mismatch: "mismatch",
} as const;
export type AuthFailure = (typeof AuthFailure)[keyof typeof AuthFailure];

interface Outcome {
  readonly code: AuthErrorCode;
  readonly httpStatus: number;
}

/** The AWS code and HTTP status each reason is answered with. */
export const authFailureOutcomes = {
  [AuthFailure.Missing]: { code: AuthErrorCode.MissingAuthenticationToken, httpStatus: 403 },
  [AuthFailure.Malformed]: { code: AuthErrorCode.IncompleteSignature, httpStatus: 400 },
  // CloudFront answered the legacy header on SigV4-only versions with
  // IncompleteSignature ("requires 'Credential' parameter…"; aws-sdk-ruby#317).
  [AuthFailure.LegacyNotAllowed]: { code: AuthErrorCode.IncompleteSignature, httpStatus: 400 },
  [AuthFailure.UnknownKey]: { code: AuthErrorCode.InvalidClientTokenId, httpStatus: 403 },
  [AuthFailure.SecurityToken]: { code: AuthErrorCode.InvalidClientTokenId, httpStatus: 403 },
  [AuthFailure.Scope]: { code: AuthErrorCode.SignatureDoesNotMatch, httpStatus: 403 },
  // AWS's global services answer a stale or future date with
  // SignatureDoesNotMatch "Signature expired: … is now earlier than …"
  // (aws-cli#6676, STS); RequestExpired is EC2's and RequestTimeTooSkewed S3's.
  [AuthFailure.Expired]: { code: AuthErrorCode.SignatureDoesNotMatch, httpStatus: 403 },
  [AuthFailure.NotYetValid]: { code: AuthErrorCode.SignatureDoesNotMatch, httpStatus: 403 },
  [AuthFailure.PayloadHash]: { code: AuthErrorCode.SignatureDoesNotMatch, httpStatus: 403 },
  [AuthFailure.SignedHeaderMissing]: { code: AuthErrorCode.SignatureDoesNotMatch, httpStatus: 403 },
  [AuthFailure.Mismatch]: { code: AuthErrorCode.SignatureDoesNotMatch, httpStatus: 403 },
} as const satisfies Record<AuthFailure, Outcome>;

/**
 * A refused request. `code` and `httpStatus` go into the CloudFront error
 * response (Type Sender); `message` is written for the client and may be
 * logged, so it never holds a secret, and it echoes request text only when
 * that text has a known safe shape (an access key id, a date, a header name).
 */
export class AuthError extends StreamfrontError {
  declare readonly code: AuthErrorCode;
  readonly httpStatus: number;
  readonly reason: AuthFailure;

  constructor(reason: AuthFailure, message: string, options?: ErrorOptions) {
    const outcome = authFailureOutcomes[reason];
    super(outcome.code, message, options);
    this.name = "AuthError";
    this.httpStatus = outcome.httpStatus;
    this.reason = reason;
  }
}
