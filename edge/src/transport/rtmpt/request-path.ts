import { EdgeError, EdgeErrorCode } from "../../errors.js";
import { sessionIdPattern } from "./session-id.js";

/**
 * RTMPT request lines. Every request is a POST:
 *
 *   /fcs/ident2            probe; FMS (HTTPIdent off) and so CloudFront answer 404
 *   /open/1                new session; the answer is "<id>\n"
 *   /send/<id>/<seq>       client bytes in the body; the answer carries server bytes
 *   /idle/<id>/<seq>       poll with a 1-byte body
 *   /close/<id>/<seq>      end the session
 *
 * `seq` counts requests of one session from 0 (librtmp sets its counter to 0
 * after the open; ffmpeg starts at 0 and hard-codes "/open/1").
 */
export const RtmptCommandKind = {
  Ident: "ident",
  Open: "open",
  Send: "send",
  Idle: "idle",
  Close: "close",
} as const;
export type RtmptCommandKind = (typeof RtmptCommandKind)[keyof typeof RtmptCommandKind];

export type RtmptCommand =
  | { readonly kind: typeof RtmptCommandKind.Ident }
  | { readonly kind: typeof RtmptCommandKind.Open }
  | {
      readonly kind:
        | typeof RtmptCommandKind.Send
        | typeof RtmptCommandKind.Idle
        | typeof RtmptCommandKind.Close;
      readonly sessionId: string;
      readonly seq: number;
    };

/** Why a request line is not a valid RTMPT command. */
export const RtmptRejectReason = {
  /** Not an RTMPT path at all: the HTTP responder's other routes or 404 take it. */
  NotTunnel: "not_tunnel",
  /** An RTMPT command sent with a method other than POST. */
  Method: "method",
  /** Wrong number of segments, a query, an empty or oversized path. */
  Malformed: "malformed",
  /** /open/<n> with n other than 1. */
  OpenVersion: "open_version",
  /** The id segment is not the shape this edge hands out. */
  SessionId: "session_id",
  /** The sequence segment is not a decimal integer in [0, maxSequence]. */
  Sequence: "sequence",
} as const;
export type RtmptRejectReason = (typeof RtmptRejectReason)[keyof typeof RtmptRejectReason];

/** librtmp and ffmpeg print the counter with %d: it is a signed 32-bit int. */
export const maxSequence = 0x7fff_ffff;
/** "/close/" + 32-char id + "/" + 10 digits is 50; anything much longer is not ours. */
const maxPathLength = 128;

const tunnelCommands = new Set<string>(["send", "idle", "close"]);
const identPaths = new Set(["/fcs/ident", "/fcs/ident/", "/fcs/ident2", "/fcs/ident2/"]);
const decimal = /^(0|[1-9][0-9]{0,9})$/;

export class RtmptRequestError extends EdgeError {
  readonly reason: RtmptRejectReason;

  constructor(reason: RtmptRejectReason, message: string) {
    super(EdgeErrorCode.RtmptRequestInvalid, message);
    this.name = "RtmptRequestError";
    this.reason = reason;
  }
}

/**
 * Reads a request's method and target into a command, or the reason it is
 * not one. Never throws: the HTTP path calls it for every request on the
 * shared port, most of which (crossdomain.xml, stray GETs) are not RTMPT.
 */
export function classifyRtmptRequest(method: string, url: string): RtmptCommand | RtmptRequestError {
  if (identPaths.has(url)) return { kind: RtmptCommandKind.Ident };
  const segments = url.split("/");
  // A leading "/" makes segments[0] empty; the command is the next one.
  const name = segments[0] === "" ? segments[1] : undefined;
  if (name === undefined || (name !== "open" && !tunnelCommands.has(name))) {
    return new RtmptRequestError(RtmptRejectReason.NotTunnel, "not an RTMPT path");
  }
  if (method !== "POST") {
    return new RtmptRequestError(
      RtmptRejectReason.Method,
      `RTMPT ${name} must be a POST, not ${describe(method)}`,
    );
  }
  if (url.length > maxPathLength) {
    return new RtmptRequestError(
      RtmptRejectReason.Malformed,
      `RTMPT path is ${url.length} characters (max ${maxPathLength})`,
    );
  }
  if (url.includes("?")) {
    return new RtmptRequestError(RtmptRejectReason.Malformed, "RTMPT paths carry no query");
  }
  if (name === "open") {
    if (segments.length !== 3) {
      return new RtmptRequestError(RtmptRejectReason.Malformed, "expected /open/1");
    }
    if (segments[2] !== "1") {
      return new RtmptRequestError(
        RtmptRejectReason.OpenVersion,
        `expected /open/1, got /open/${describe(segments[2]!)}`,
      );
    }
    return { kind: RtmptCommandKind.Open };
  }
  if (segments.length !== 4) {
    return new RtmptRequestError(
      RtmptRejectReason.Malformed,
      `expected /${name}/<id>/<seq>, got ${segments.length - 1} segments`,
    );
  }
  const sessionId = segments[2]!;
  if (!sessionIdPattern.test(sessionId)) {
    return new RtmptRequestError(
      RtmptRejectReason.SessionId,
      `session id ${describe(sessionId)} is not 32 lowercase hex digits`,
    );
  }
  const seqText = segments[3]!;
  const seq = decimal.test(seqText) ? Number(seqText) : Number.NaN;
  if (!(seq <= maxSequence)) {
    return new RtmptRequestError(
      RtmptRejectReason.Sequence,
      `sequence number ${describe(seqText)} is not an integer in [0, ${maxSequence}]`,
    );
  }
  return { kind: name as "send" | "idle" | "close", sessionId, seq };
}

/** classifyRtmptRequest for callers that want an exception. */
export function parseRtmptRequest(method: string, url: string): RtmptCommand {
  const result = classifyRtmptRequest(method, url);
  if (result instanceof RtmptRequestError) throw result;
  return result;
}

/** The path a client sends for a command; the inverse of the parser. */
export function formatRtmptPath(command: RtmptCommand): string {
  switch (command.kind) {
    case RtmptCommandKind.Ident:
      return "/fcs/ident2";
    case RtmptCommandKind.Open:
      return "/open/1";
    default:
      return `/${command.kind}/${command.sessionId}/${command.seq}`;
  }
}

/**
 * Fuzz target: the input's first line is the method, the rest the target.
 * Only RtmptRequestError may escape; a parsed command must print back to
 * the very path it came from (ident aliases excepted).
 */
export function fuzzRtmptRequest(bytes: Uint8Array): void {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const newline = text.indexOf("\n");
  const method = newline < 0 ? "POST" : text.slice(0, newline);
  const url = newline < 0 ? text : text.slice(newline + 1);
  const command = parseRtmptRequest(method, url);
  if (command.kind !== RtmptCommandKind.Ident && formatRtmptPath(command) !== url) {
    // A fuzz finding, not an error a peer can cause: the fuzzer reports any throw but RtmptRequestError.
    throw new Error(`round trip changed ${JSON.stringify(url)} into ${formatRtmptPath(command)}`);
  }
}

/** A peer-supplied token for a message: quoted, cut short, control bytes escaped. */
function describe(token: string): string {
  const cut = token.length > 40 ? `${token.slice(0, 40)}…` : token;
  return JSON.stringify(cut);
}
