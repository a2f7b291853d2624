import { StreamfrontError } from "../../lib/errors.js";

/**
 * Stable codes for what the controller refuses. The HTTP API (a later
 * version) maps each to the CloudFront error of the same meaning.
 */
export const ControllerErrorCode = {
  /** No distribution has this id. (CloudFront: NoSuchStreamingDistribution, 404) */
  DistributionNotFound: "CONTROLLER_ERR_DISTRIBUTION_NOT_FOUND",
  /** A CNAME is already used by another distribution. (CNAMEAlreadyExists, 409) */
  CnameInUse: "CONTROLLER_ERR_CNAME_IN_USE",
  /** The id or domain name is already taken (a generator collision). */
  DistributionExists: "CONTROLLER_ERR_DISTRIBUTION_EXISTS",
  /** A field is malformed (bucket name, CNAME, comment length…). (InvalidArgument, 400) */
  InvalidDistribution: "CONTROLLER_ERR_INVALID_DISTRIBUTION",
  /** Another distribution was created with this CallerReference. (StreamingDistributionAlreadyExists, 409, unless the configs match) */
  CallerReferenceInUse: "CONTROLLER_ERR_CALLER_REFERENCE_IN_USE",
  /** The quota of distributions is reached. (TooManyStreamingDistributions, 400) */
  TooManyDistributions: "CONTROLLER_ERR_TOO_MANY_DISTRIBUTIONS",
  /** A tag change would exceed the tag quota. (InvalidTagging, 400) */
  TooManyTags: "CONTROLLER_ERR_TOO_MANY_TAGS",
  /** If-Match does not equal the current ETag. (PreconditionFailed, 412) */
  PreconditionFailed: "CONTROLLER_ERR_PRECONDITION_FAILED",
  /** Delete of a distribution that is still enabled. (StreamingDistributionNotDisabled, 409) */
  NotDisabled: "CONTROLLER_ERR_NOT_DISABLED",
  /** The store (Redis) cannot be reached or timed out; nothing was changed. (ServiceUnavailable, 503) */
  StoreUnavailable: "CONTROLLER_ERR_STORE_UNAVAILABLE",
} as const;
export type ControllerErrorCode = (typeof ControllerErrorCode)[keyof typeof ControllerErrorCode];

export class ControllerError extends StreamfrontError {
  declare readonly code: ControllerErrorCode;

  constructor(code: ControllerErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ControllerError";
  }
}
