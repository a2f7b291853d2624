import { StreamfrontError } from "../../lib/errors.js";

/**
 * Stable codes for everything the edge rejects. A peer's protocol violation
 * closes that one connection with a log line naming the code; it never
 * throws past the session.
 */
export const EdgeErrorCode = {
  /** C0 carried a version this edge does not speak. */
  HandshakeVersion: "EDGE_ERR_HANDSHAKE_VERSION",
  /** The handshake was malformed (an RTMPE C1 without a valid digest or DH key, …). */
  HandshakeInvalid: "EDGE_ERR_HANDSHAKE_INVALID",
  /**
   * The peer sent no byte within the handshake timeout, or did not finish
   * the handshake and connect within it (a silent or slow client, not a
   * broken one).
   */
  HandshakeTimeout: "EDGE_ERR_HANDSHAKE_TIMEOUT",
  /** RTMPE was configured with rc4 "native" but this process has no OpenSSL RC4 (start Node with --openssl-legacy-provider). */
  Rc4Unavailable: "EDGE_ERR_RC4_UNAVAILABLE",
  /** A chunk header is malformed (bad fmt for a new chunk stream, …). */
  ChunkInvalid: "EDGE_ERR_CHUNK_INVALID",
  /** A message declared a length above the configured maximum. */
  MessageTooLarge: "EDGE_ERR_MESSAGE_TOO_LARGE",
  /** The peer asked for a chunk size outside [1, maxChunkSize]. */
  ChunkSizeInvalid: "EDGE_ERR_CHUNK_SIZE_INVALID",
  /** The peer opened more chunk streams than allowed. */
  TooManyChunkStreams: "EDGE_ERR_TOO_MANY_CHUNK_STREAMS",
  /**
   * The peer's partly received messages would hold more bytes than one
   * connection may buffer (max-reassembly-bytes, or max-connect-bytes
   * before connect).
   */
  ReassemblyLimit: "EDGE_ERR_REASSEMBLY_LIMIT",
  /**
   * Buffering the peer's partly received message would pass the edge-wide
   * reassembly budget shared by all connections (reassembly-budget-bytes).
   */
  ReassemblyBudget: "EDGE_ERR_REASSEMBLY_BUDGET",
  /** AMF data is malformed, truncated or of an unknown type marker. */
  AmfInvalid: "EDGE_ERR_AMF_INVALID",
  /** AMF nesting went past the configured depth. */
  AmfTooDeep: "EDGE_ERR_AMF_TOO_DEEP",
  /** A command message is not shaped like a command. */
  CommandInvalid: "EDGE_ERR_COMMAND_INVALID",
  /** A media object's container is malformed or unsupported. */
  MediaInvalid: "EDGE_ERR_MEDIA_INVALID",
  /** A media object's header (e.g. MP4 moov) is larger than allowed. */
  MediaTooLarge: "EDGE_ERR_MEDIA_TOO_LARGE",
  /**
   * No shield replica served the call: each was down, shutting down
   * (SHIELD_ERR_SHUTTING_DOWN), overloaded, silent, or broke the stream.
   * The edge fails over between replicas before it gives up with this.
   */
  ShieldUnavailable: "EDGE_ERR_SHIELD_UNAVAILABLE",
  /**
   * The shield answered that S3 failed or timed out
   * (SHIELD_ERR_ORIGIN_UNAVAILABLE). Every replica reads the same bucket, so
   * the edge does not fail over on it; a play retries within the viewer's
   * buffer and, when S3 stays down, ends with this code.
   */
  OriginUnavailable: "EDGE_ERR_ORIGIN_UNAVAILABLE",
  /** A shield-address entry is not host:port or dns:<name>:<port> (exit at start). */
  ShieldTargetInvalid: "EDGE_ERR_SHIELD_TARGET_INVALID",
  /**
   * A play's reads kept failing (every shield replica down or silent, S3
   * stalled behind them past the edge's idle timeout) for longer than the
   * viewer had media buffered, or than play-stall-max-ms: the play ends with
   * NetStream.Play.Failed. When the shield's last answer was S3 failing, the
   * play ends with OriginUnavailable instead.
   */
  PlayStalled: "EDGE_ERR_PLAY_STALLED",
  /**
   * A connection used up its budget of metadata lookups (getStreamLength,
   * plays of names that are not found): the lookup is refused unasked.
   */
  LookupRateLimited: "EDGE_ERR_LOOKUP_RATE_LIMITED",
  /** After a failed or not-found play, the connection played nothing and sent nothing for failed-play-idle-timeout-ms. */
  FailedPlayIdle: "EDGE_ERR_FAILED_PLAY_IDLE",
  /** The connection idled past its timeout. */
  IdleTimeout: "EDGE_ERR_IDLE_TIMEOUT",
  /**
   * The viewer read too slowly: bytes queued for it (media, replies,
   * acknowledgements alike) stayed over max-queued-bytes for
   * slow-viewer-timeout-ms, or passed twice max-queued-bytes plus 2 MiB.
   */
  SlowViewer: "EDGE_ERR_SLOW_VIEWER",
  /** An RTMPT request's method or path is malformed (unknown command, bad id or sequence number). */
  RtmptRequestInvalid: "EDGE_ERR_RTMPT_REQUEST_INVALID",
  /** An RTMPT request named a session this edge does not have. */
  RtmptUnknownSession: "EDGE_ERR_RTMPT_UNKNOWN_SESSION",
  /** An RTMPT request's sequence number is not the previous one plus one. */
  RtmptSequence: "EDGE_ERR_RTMPT_SEQUENCE",
  /** An RTMPT request body is larger than allowed. */
  RtmptBodyTooLarge: "EDGE_ERR_RTMPT_BODY_TOO_LARGE",
  /**
   * An RTMPT client's /send bodies piled up unread past max-queued-bytes:
   * it sends faster than the edge handles its requests (or than it takes
   * the answers), which a player never does.
   */
  RtmptBacklog: "EDGE_ERR_RTMPT_BACKLOG",
  /** Opening an RTMPT session would pass the total or per-address cap. */
  RtmptTooManySessions: "EDGE_ERR_RTMPT_TOO_MANY_SESSIONS",
  /** An HTTP connection on the shared port did not finish its request headers, its request or its keep-alive wait in time. */
  HttpTimeout: "EDGE_ERR_HTTP_TIMEOUT",
  /** A request on the shared port's HTTP side could not be parsed (garbage, oversized headers). */
  HttpInvalid: "EDGE_ERR_HTTP_INVALID",
  /** A connection or RTMPT session did not start a play within pre-play-timeout-ms of being accepted. */
  PrePlayTimeout: "EDGE_ERR_PRE_PLAY_TIMEOUT",
  /**
   * The access-log spool reached access-log-spool-bytes (files are not
   * being delivered: no shield or S3 answers): new access-log lines are
   * dropped, counted in access_log_lines_dropped_total, and logged once
   * per episode. Viewers are not affected.
   */
  AccessLogSpoolFull: "EDGE_ERR_ACCESS_LOG_SPOOL_FULL",
  /**
   * Delivering a sealed access-log file through the shield failed (no
   * shield answered, S3 failed behind it, or the shield does not know the
   * distribution's Logging yet): the file stays spooled and is tried again
   * with backoff.
   */
  AccessLogDeliveryFailed: "EDGE_ERR_ACCESS_LOG_DELIVERY_FAILED",
  /** A session failed on an error that carries no code of its own (a bug: the log has the stack). */
  Internal: "EDGE_ERR_INTERNAL",
} as const;
export type EdgeErrorCode = (typeof EdgeErrorCode)[keyof typeof EdgeErrorCode];

export class EdgeError extends StreamfrontError {
  declare readonly code: EdgeErrorCode;

  constructor(code: EdgeErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "EdgeError";
  }
}
