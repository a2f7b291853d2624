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
} as const;
export type ControllerErrorCode = (typeof ControllerErrorCode)[keyof typeof ControllerErrorCode];

export class ControllerError extends StreamfrontError {
  declare readonly code: ControllerErrorCode;

  constructor(code: ControllerErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ControllerError";
  }
}
