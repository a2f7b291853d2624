import { errorCode, errorMessage } from "../../../lib/errors.js";
import { EdgeErrorCode } from "../errors.js";

/** The onStatus codes a failed play is answered with. */
export const PlayFailureStatus = {
  Failed: "NetStream.Play.Failed",
  FileStructureInvalid: "NetStream.Play.FileStructureInvalid",
} as const;
export type PlayFailureStatus = (typeof PlayFailureStatus)[keyof typeof PlayFailureStatus];

/**
 * What the viewer's player sees for an edge error: a NetStream status the
 * edge sends on the play's stream (the connection stays open), or the
 * connection closed under it, which Flash reports as
 * NetConnection.Connect.Closed and an RTMPT client as a refused request.
 */
export type ViewerStatus =
  | { readonly kind: "netstream"; readonly level: "error"; readonly code: PlayFailureStatus }
  | { readonly kind: "closed"; readonly code: "NetConnection.Connect.Closed" };

const playFailed: ViewerStatus = { kind: "netstream", level: "error", code: PlayFailureStatus.Failed };
const fileInvalid: ViewerStatus = {
  kind: "netstream",
  level: "error",
  code: PlayFailureStatus.FileStructureInvalid,
};
const closed: ViewerStatus = { kind: "closed", code: "NetConnection.Connect.Closed" };

/**
 * The one table from edge error codes to what the viewer is told (README:
 * Error codes). Play failures end the one play with a NetStream status;
 * everything else is a connection-level fault the edge closes the
 * connection for. `satisfies Record<EdgeErrorCode, …>` keeps it complete:
 * a new code does not compile until it has a row.
 */
export const viewerStatusByCode = {
  EDGE_ERR_HANDSHAKE_VERSION: closed,
  EDGE_ERR_HANDSHAKE_INVALID: closed,
  EDGE_ERR_HANDSHAKE_TIMEOUT: closed,
  EDGE_ERR_RC4_UNAVAILABLE: closed,
  EDGE_ERR_CHUNK_INVALID: closed,
  EDGE_ERR_MESSAGE_TOO_LARGE: closed,
  EDGE_ERR_CHUNK_SIZE_INVALID: closed,
  EDGE_ERR_TOO_MANY_CHUNK_STREAMS: closed,
  EDGE_ERR_REASSEMBLY_LIMIT: closed,
  EDGE_ERR_REASSEMBLY_BUDGET: closed,
  EDGE_ERR_AMF_INVALID: closed,
  EDGE_ERR_AMF_TOO_DEEP: closed,
  EDGE_ERR_COMMAND_INVALID: closed,
  EDGE_ERR_MEDIA_INVALID: fileInvalid,
  EDGE_ERR_MEDIA_TOO_LARGE: fileInvalid,
  EDGE_ERR_SHIELD_UNAVAILABLE: playFailed,
  EDGE_ERR_ORIGIN_UNAVAILABLE: playFailed,
  EDGE_ERR_SHIELD_TARGET_INVALID: closed,
  EDGE_ERR_PLAY_STALLED: playFailed,
  EDGE_ERR_LOOKUP_RATE_LIMITED: playFailed,
  EDGE_ERR_FAILED_PLAY_IDLE: closed,
  EDGE_ERR_IDLE_TIMEOUT: closed,
  EDGE_ERR_SLOW_VIEWER: closed,
  EDGE_ERR_RTMPT_REQUEST_INVALID: closed,
  EDGE_ERR_RTMPT_UNKNOWN_SESSION: closed,
  EDGE_ERR_RTMPT_SEQUENCE: closed,
  EDGE_ERR_RTMPT_BODY_TOO_LARGE: closed,
  EDGE_ERR_RTMPT_BACKLOG: closed,
  EDGE_ERR_RTMPT_TOO_MANY_SESSIONS: closed,
  EDGE_ERR_HTTP_TIMEOUT: closed,
  EDGE_ERR_HTTP_INVALID: closed,
  EDGE_ERR_PRE_PLAY_TIMEOUT: closed,
  // Access-log codes never reach a viewer: a full spool or a failed delivery drops or delays log lines only.
  EDGE_ERR_ACCESS_LOG_SPOOL_FULL: closed,
  EDGE_ERR_ACCESS_LOG_DELIVERY_FAILED: closed,
  // A bug while opening or reading a play ends that play; elsewhere it closes the connection.
  EDGE_ERR_INTERNAL: playFailed,
} as const satisfies Record<EdgeErrorCode, ViewerStatus>;

function isEdgeErrorCode(code: string | undefined): code is EdgeErrorCode {
  return code !== undefined && Object.hasOwn(viewerStatusByCode, code);
}

/** The edge code a failed play is counted and logged under: its own, or EDGE_ERR_INTERNAL for a bug. */
export function playFailureCode(error: unknown): EdgeErrorCode {
  const code = errorCode(error);
  return isEdgeErrorCode(code) ? code : EdgeErrorCode.Internal;
}

/** The onStatus a play that failed with `error` is answered with: status code, level and description. */
export function playFailureStatus(
  name: string,
  error: unknown,
): { readonly code: PlayFailureStatus; readonly level: "error"; readonly description: string } {
  const status = viewerStatusByCode[playFailureCode(error)];
  // A connection-level code reaching a play (it should not) still ends only the play.
  const code = status.kind === "netstream" ? status.code : PlayFailureStatus.Failed;
  return { code, level: "error", description: `Failed to play ${name}: ${errorMessage(error)}` };
}
