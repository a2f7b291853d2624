/**
 * The shield's error codes and the gRPC trailer that carries them. They are
 * the shield's (shield/src/errors.ts re-exports them and maps each to a gRPC
 * status) but an edge reads them off the wire to tell a shield that is going
 * away (fail over) from S3 being down (no replica can help), so the registry
 * is a contract and lives here, next to proto/.
 */

/** The gRPC trailer (response metadata) a shield puts its error code in. */
export const errorCodeMetadataKey = "streamfront-error-code";

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
  /**
   * S3 failed, timed out or refused the shield's credentials. Every replica
   * asks the same bucket, so an edge does not fail over on it.
   */
  OriginUnavailable: "SHIELD_ERR_ORIGIN_UNAVAILABLE",
  /**
   * Too many reads of one bucket are waiting for an S3 slot on this shield
   * (S3Origin maxQueuedReads): this shield is busy, not S3; another replica can serve.
   */
  Overloaded: "SHIELD_ERR_OVERLOADED",
  /**
   * Too many metadata lookups (StatObject HEADs) to one bucket are in
   * flight and waiting: this one was shed at once instead of queueing, so
   * lookups for names that do not exist cannot delay viewers' reads. The
   * caller may try again later.
   */
  LookupsShed: "SHIELD_ERR_LOOKUPS_SHED",
  /** The caller went away. */
  Aborted: "SHIELD_ERR_ABORTED",
  /**
   * An access-log delivery (DeliverAccessLog) for a distribution that has
   * no Logging enabled in this shield's config: nothing is written. An edge
   * whose own config still says Logging keeps the file and tries again (the
   * shield may not have the new config yet).
   */
  LoggingNotEnabled: "SHIELD_ERR_LOGGING_NOT_ENABLED",
  /** The shield is closing and ended the call; another shield can serve it. */
  ShuttingDown: "SHIELD_ERR_SHUTTING_DOWN",
} as const;
export type ShieldErrorCode = (typeof ShieldErrorCode)[keyof typeof ShieldErrorCode];
