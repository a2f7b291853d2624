import { StreamfrontError } from "../../../lib/errors.js";
import { ControllerError, type ControllerErrorCode } from "../errors.js";
import { escapeXmlText, xmlDeclaration } from "./xml-writer.js";

/**
 * Every error code the CloudFront API of streamfront answers, with its HTTP
 * status. The first block is the streaming-distribution error set of the
 * service models (botocore 2014-05-31 … 2020-05-31; the statuses are each
 * shape's `httpStatusCode`, cross-checked against @aws-sdk/client-cloudfront
 * in test/api-xml-sdk.test.ts). The rest are generic codes: those CloudFront's
 * own documents name (the API reference's RESTResponses.html page at AWS,
 * the fog mock of 2010-11-01), the ones CloudFront was seen to answer
 * (MalformedInput), and common AWS request-level codes, which CloudFront
 * does not document, with the status the other AWS services use for them.
 */
export const apiErrorStatus = {
  AccessDenied: 403,
  CNAMEAlreadyExists: 409,
  StreamingDistributionAlreadyExists: 409,
  StreamingDistributionNotDisabled: 409,
  IllegalUpdate: 400,
  InconsistentQuantities: 400,
  InvalidArgument: 400,
  InvalidIfMatchVersion: 400,
  PreconditionFailed: 412,
  InvalidOrigin: 400,
  InvalidOriginAccessIdentity: 400,
  MissingBody: 400,
  NoSuchStreamingDistribution: 404,
  NoSuchResource: 404,
  InvalidTagging: 400,
  TooManyStreamingDistributions: 400,
  TooManyStreamingDistributionCNAMEs: 400,
  TooManyTrustedSigners: 400,
  TrustedSignerDoesNotExist: 400,
  /** The public-key calls (CreatePublicKey …), statuses as in @aws-sdk/client-cloudfront. */
  PublicKeyAlreadyExists: 409,
  NoSuchPublicKey: 404,
  TooManyPublicKeys: 400,
  CannotChangeImmutablePublicKeyFields: 400,

  /** The body is not well-formed XML (or breaks our parser's safety limits). */
  MalformedXML: 400,
  /**
   * Well-formed XML that does not follow the schema (unknown, duplicate or
   * missing element). CloudFront answers this code for schema violations, e.g.
   * "Unexpected list element termination" (aws/aws-sdk-ruby#1067, #1954).
   */
  MalformedInput: 400,
  /** "The XML document you provided was well-formed and valid, but not appropriate for this operation." (fog) */
  InappropriateXML: 400,
  /** "Could not parse the specified URI." (RESTResponses.html) */
  InvalidURI: 400,
  InvalidAction: 400,
  NotImplemented: 501,
  InternalError: 500,
  ServiceUnavailable: 503,
  /** The SDKs retry on this code; 400 as in the other AWS XML services. */
  Throttling: 400,
  MissingAuthenticationToken: 403,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  RequestExpired: 403,
  IncompleteSignature: 400,
  MethodNotAllowed: 405,
  /**
   * The body is over the size we read. CloudFront documents no code for this;
   * 413 follows its own model, which gives its one entity-size error
   * (EntitySizeLimitExceeded) status 413.
   */
  EntityTooLarge: 413,
  /**
   * The body did not arrive within the body timeout of its headers. S3's
   * code and status for a stalled upload; the AWS SDKs retry on it.
   */
  RequestTimeout: 400,
} as const;
export type ApiErrorCode = keyof typeof apiErrorStatus;

/** Every code in apiErrorStatus, in table order. */
export const apiErrorCodes = Object.keys(apiErrorStatus) as readonly ApiErrorCode[];

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.hasOwn(apiErrorStatus, code);
}

/**
 * An error the API answers as an `<ErrorResponse>`: the code is the
 * CloudFront error code (which the AWS SDKs turn into the exception name),
 * and the message is shown to the client, so it must not leak internals.
 */
export class ApiError extends StreamfrontError {
  declare readonly code: ApiErrorCode;
  readonly httpStatus: number;

  constructor(code: ApiErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ApiError";
    this.httpStatus = apiErrorStatus[code];
  }
}

/** The API version used for an error body when the request's version is unusable (e.g. InvalidURI). */
export const fallbackApiVersion = "2020-05-31";
const apiVersionPattern = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The error body CloudFront sends (Content-Type text/xml):
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/<ver>/">
 *     <Error><Type>Sender|Receiver</Type><Code>…</Code><Message>…</Message></Error>
 *     <RequestId>…</RequestId>
 *   </ErrorResponse>
 *
 * Type is Sender for 4xx (the client's fault), Receiver for 5xx. The AWS SDK
 * reads Error/Code as the exception name and RequestId into $metadata.
 */
export function renderError(error: ApiError, requestId: string, apiVersion: string): string {
  const version = apiVersionPattern.test(apiVersion) ? apiVersion : fallbackApiVersion;
  const type = error.httpStatus >= 500 ? "Receiver" : "Sender";
  return (
    `${xmlDeclaration}<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/${version}/">` +
    `<Error><Type>${type}</Type><Code>${error.code}</Code>` +
    `<Message>${escapeXmlText(error.message)}</Message></Error>` +
    `<RequestId>${escapeXmlText(requestId)}</RequestId></ErrorResponse>`
  );
}

/** The CloudFront code for each refusal of the controller's model and store. */
const controllerErrorMapping = {
  CONTROLLER_ERR_DISTRIBUTION_NOT_FOUND: "NoSuchStreamingDistribution",
  CONTROLLER_ERR_CNAME_IN_USE: "CNAMEAlreadyExists",
  // An id or domain-name collision of the generator: a retry draws new ones,
  // and CallerReference makes a retried create safe. 500 makes the SDKs retry.
  CONTROLLER_ERR_DISTRIBUTION_EXISTS: "InternalError",
  CONTROLLER_ERR_INVALID_DISTRIBUTION: "InvalidArgument",
  CONTROLLER_ERR_CALLER_REFERENCE_IN_USE: "StreamingDistributionAlreadyExists",
  CONTROLLER_ERR_TOO_MANY_DISTRIBUTIONS: "TooManyStreamingDistributions",
  CONTROLLER_ERR_TOO_MANY_TAGS: "InvalidTagging",
  CONTROLLER_ERR_PRECONDITION_FAILED: "PreconditionFailed",
  CONTROLLER_ERR_NOT_DISABLED: "StreamingDistributionNotDisabled",
  CONTROLLER_ERR_STORE_UNAVAILABLE: "ServiceUnavailable",
  // Unreadable data or a broken store file: the cause is in the log, not for the client.
  CONTROLLER_ERR_STORE_DATA: "InternalError",
  CONTROLLER_ERR_STORE_FILE: "InternalError",
  CONTROLLER_ERR_REDIS_URL: "InternalError",
  CONTROLLER_ERR_PUBLIC_KEY_NOT_FOUND: "NoSuchPublicKey",
  // A generator collision, like CONTROLLER_ERR_DISTRIBUTION_EXISTS.
  CONTROLLER_ERR_PUBLIC_KEY_EXISTS: "InternalError",
  CONTROLLER_ERR_PUBLIC_KEY_CALLER_REFERENCE_IN_USE: "PublicKeyAlreadyExists",
  CONTROLLER_ERR_TOO_MANY_PUBLIC_KEYS: "TooManyPublicKeys",
  CONTROLLER_ERR_INVALID_PUBLIC_KEY: "InvalidArgument",
  // Only at start-up or a reload: never reaches a client.
  CONTROLLER_ERR_TRUSTED_KEYS_FILE: "InternalError",
} as const satisfies Record<ControllerErrorCode, ApiErrorCode>;

/** Codes whose controller message is an internal detail the client must not see. */
const genericMessages: Partial<Record<ApiErrorCode, string>> = {
  InternalError: "We encountered an internal error. Please try again.",
  ServiceUnavailable: "The service is unavailable. Please try again later.",
};

/**
 * Any thrown value as the ApiError to answer: ApiErrors pass through,
 * ControllerErrors get their CloudFront code, anything else is an
 * InternalError whose message says nothing about the cause (log the cause).
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ControllerError) {
    const code: ApiErrorCode = controllerErrorMapping[error.code] ?? "InternalError";
    return new ApiError(code, genericMessages[code] ?? error.message, { cause: error });
  }
  return new ApiError("InternalError", genericMessages.InternalError ?? "", { cause: error });
}
