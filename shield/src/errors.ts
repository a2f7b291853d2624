import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { StreamfrontError } from "../../lib/errors.js";
import { errorCodeMetadataKey, type ShieldErrorCode } from "../../lib/shield-error-code.js";

// The codes travel to edges in the error-code trailer, so they are a contract and live in lib/.
export { errorCodeMetadataKey, ShieldErrorCode } from "../../lib/shield-error-code.js";

export class ShieldError extends StreamfrontError {
  declare readonly code: ShieldErrorCode;

  constructor(code: ShieldErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ShieldError";
  }
}

const grpcStatusByCode: Readonly<Record<ShieldErrorCode, status>> = {
  SHIELD_ERR_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  SHIELD_ERR_INVALID_KEY: status.INVALID_ARGUMENT,
  SHIELD_ERR_BUCKET_NOT_ALLOWED: status.PERMISSION_DENIED,
  SHIELD_ERR_OBJECT_NOT_FOUND: status.NOT_FOUND,
  SHIELD_ERR_RANGE_NOT_SATISFIABLE: status.OUT_OF_RANGE,
  SHIELD_ERR_OBJECT_CHANGED: status.FAILED_PRECONDITION,
  SHIELD_ERR_ORIGIN_UNAVAILABLE: status.UNAVAILABLE,
  SHIELD_ERR_OVERLOADED: status.UNAVAILABLE,
  SHIELD_ERR_LOOKUPS_SHED: status.RESOURCE_EXHAUSTED,
  SHIELD_ERR_ABORTED: status.CANCELLED,
  SHIELD_ERR_LOGGING_NOT_ENABLED: status.FAILED_PRECONDITION,
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
