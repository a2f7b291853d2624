import { StreamfrontError } from "../../lib/errors.js";

/**
 * Stable codes for what the controller refuses or fails. The HTTP API
 * (api/api-error.ts) answers each with the CloudFront error of the same
 * meaning.
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
  /**
   * The store holds an entry the controller cannot read (a hand edit, another
   * program, a bug in an older version), or Redis refused a command over our
   * data; only the call that met it fails. (InternalError, 500)
   */
  StoreData: "CONTROLLER_ERR_STORE_DATA",
  /** The file store (store=file) cannot be read (corrupt, not ours) or written. (InternalError, 500; at start: exit) */
  StoreFile: "CONTROLLER_ERR_STORE_FILE",
  /** No public key has this id. (NoSuchPublicKey, 404) */
  PublicKeyNotFound: "CONTROLLER_ERR_PUBLIC_KEY_NOT_FOUND",
  /** The generated public-key id is taken (a collision; retried with a new one). */
  PublicKeyExists: "CONTROLLER_ERR_PUBLIC_KEY_EXISTS",
  /** Another public key was created with this CallerReference. (PublicKeyAlreadyExists, 409, unless the configs match) */
  PublicKeyCallerReferenceInUse: "CONTROLLER_ERR_PUBLIC_KEY_CALLER_REFERENCE_IN_USE",
  /** The quota of public keys is reached. (TooManyPublicKeys, 400) */
  TooManyPublicKeys: "CONTROLLER_ERR_TOO_MANY_PUBLIC_KEYS",
  /** A public key's field is malformed (name, comment length…). (InvalidArgument, 400) */
  InvalidPublicKey: "CONTROLLER_ERR_INVALID_PUBLIC_KEY",
  /** The trusted-keys file cannot be read or has an invalid entry (exit at start; at a reload the old keys stay). */
  TrustedKeysFile: "CONTROLLER_ERR_TRUSTED_KEYS_FILE",
  /** The redis-url setting does not parse (exit at start). */
  RedisUrl: "CONTROLLER_ERR_REDIS_URL",
} as const;
export type ControllerErrorCode = (typeof ControllerErrorCode)[keyof typeof ControllerErrorCode];

export class ControllerError extends StreamfrontError {
  declare readonly code: ControllerErrorCode;

  constructor(code: ControllerErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ControllerError";
  }
}
