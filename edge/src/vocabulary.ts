/**
 * The edge's domain words: how a viewer came in, why a connection was
 * refused, how a play ended, what an RTMPT request came to. Sessions, the
 * transport and the metrics all speak them; none of them is a metric.
 */

/** How a viewer reached the edge: RTMP, RTMPE (encrypted), RTMPT/RTMPTE (HTTP tunnel), plain HTTP. */
export const Protocol = {
  Rtmp: "rtmp",
  Rtmpe: "rtmpe",
  Rtmpt: "rtmpt",
  Rtmpte: "rtmpte",
  Http: "http",
} as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

/** Results of a play, a fixed set so the label stays small. */
export const PlayResult = {
  Started: "started",
  Completed: "completed",
  NotFound: "not_found",
  Failed: "failed",
  /** Refused by the distribution's signed-URL check (the refusals counter says why). */
  Denied: "denied",
} as const;
export type PlayResult = (typeof PlayResult)[keyof typeof PlayResult];

/** Metadata lookups a connection's budget may refuse. */
export const LookupCommand = { GetStreamLength: "getStreamLength", Play: "play" } as const;
export type LookupCommand = (typeof LookupCommand)[keyof typeof LookupCommand];

/** Why a connect or connection was refused. */
export const Rejection = {
  DistributionNotFound: "DistributionNotFound",
  DistributionTypeMismatch: "DistributionTypeMismatch",
  DistributionDisabled: "DistributionDisabled",
  InvalidInstance: "InvalidInstance",
  InvalidURI: "InvalidURI",
  TooManyConnections: "TooManyConnections",
  TooManyConnectionsPerIp: "TooManyConnectionsPerIp",
  /** The address already holds max-pre-play-connections-per-ip connections that have not started a play. */
  TooManyPrePlayConnectionsPerIp: "TooManyPrePlayConnectionsPerIp",
  ProtocolError: "ProtocolError",
  /** A new connection while the edge drains (README: Draining). */
  ShuttingDown: "ShuttingDown",
} as const;
export type Rejection = (typeof Rejection)[keyof typeof Rejection];

/** Outcomes of an RTMPT request, a fixed set so the label stays small. */
export const RtmptResult = {
  Ok: "ok",
  /** Answered with the closed marker: the session had ended. */
  Closed: "closed",
  BadRequest: "bad_request",
  UnknownSession: "unknown_session",
  BadSequence: "bad_sequence",
  TooLarge: "too_large",
  TooManySessions: "too_many_sessions",
  /** An open while the edge drains (README: Draining). */
  ShuttingDown: "shutting_down",
} as const;
export type RtmptResult = (typeof RtmptResult)[keyof typeof RtmptResult];
