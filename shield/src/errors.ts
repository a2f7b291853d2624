import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { StreamfrontError } from "../../lib/errors.js";

/**
 * Stable codes for everything the shield refuses or fails. Each maps to one
 * gRPC status; the code itself travels in the `streamfront-error-code`
 * trailer so an edge can log it without parsing messages.
 */
export const ShieldErrorCode = {
  /** A request field is empty, too long or out of bounds. */
  InvalidArgument: "SHIELD_ERR_INVALID_ARGUMENT",
  /**
   * The key is one S3 could read as another path (a dot segment, an empty
   * segment, a backslash, a control character, …: see object-key.ts), so
   * S3 is not asked. With path-style addressing such a key can name
   * another bucket of the same endpoint.
   */
  InvalidKey: "SHIELD_ERR_INVALID_KEY",
  /** The bucket is not the origin of any distribution this shield serves. */
  BucketNotAllowed: "SHIELD_ERR_BUCKET_NOT_ALLOWED",
  /** The object (or its bucket) does not exist in S3. */
  ObjectNotFound: "SHIELD_ERR_OBJECT_NOT_FOUND",
  /** The offset is at or past the end of the object. */
  RangeNotSatisfiable: "SHIELD_ERR_RANGE_NOT_SATISFIABLE",
  /** The object's ETag is no longer the one the read was pinned to. */
  ObjectChanged: "SHIELD_ERR_OBJECT_CHANGED",
  /** S3 failed, timed out or refused the shield's credentials. */
  OriginUnavailable: "SHIELD_ERR_ORIGIN_UNAVAILABLE",
  /**
   * Too many metadata lookups (StatObject HEADs) to one bucket are in
   * flight and waiting: this one was shed at once instead of queueing, so
   * lookups for names that do not exist cannot delay viewers' reads. The
   * caller may try again later.
   */
  LookupsShed: "SHIELD_ERR_LOOKUPS_SHED",
  /** The caller went away. */
  Aborted: "SHIELD_ERR_ABORTED",
  /** The shield is closing and ended the call; another shield can serve it. */
  ShuttingDown: "SHIELD_ERR_SHUTTING_DOWN",
} as const;
export type ShieldErrorCode = (typeof ShieldErrorCode)[keyof typeof ShieldErrorCode];

export class ShieldError extends StreamfrontError {
  declare readonly code: ShieldErrorCode;

  constructor(code: ShieldErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ShieldError";
  }
}

export const errorCodeMetadataKey = "streamfront-error-code";

const grpcStatusByCode: Readonly<Record<ShieldErrorCode, status>> = {
  SHIELD_ERR_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  SHIELD_ERR_INVALID_KEY: status.INVALID_ARGUMENT,
  SHIELD_ERR_BUCKET_NOT_ALLOWED: status.PERMISSION_DENIED,
  SHIELD_ERR_OBJECT_NOT_FOUND: status.NOT_FOUND,
  SHIELD_ERR_RANGE_NOT_SATISFIABLE: status.OUT_OF_RANGE,
  SHIELD_ERR_OBJECT_CHANGED: status.FAILED_PRECONDITION,
  SHIELD_ERR_ORIGIN_UNAVAILABLE: status.UNAVAILABLE,
  SHIELD_ERR_LOOKUPS_SHED: status.RESOURCE_EXHAUSTED,
  SHIELD_ERR_ABORTED: status.CANCELLED,
  SHIELD_ERR_SHUTTING_DOWN: status.UNAVAILABLE,
};

export function grpcStatusOf(code: ShieldErrorCode): status {
  return grpcStatusByCode[code];
}

/**
 * The status a call ends with for any thrown value. Unexpected errors become
 * INTERNAL with a generic message; their detail belongs in the log, not on
 * the wire.
 */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: status; details: string } {
  const metadata = new Metadata();
  if (error instanceof ShieldError) {
    metadata.set(errorCodeMetadataKey, error.code);
    return { code: grpcStatusOf(error.code), details: `${error.code}: ${error.message}`, metadata };
  }
  return { code: status.INTERNAL, details: "internal error (the shield log has the cause)", metadata };
}
