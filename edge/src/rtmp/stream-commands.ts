import type { AmfObject, AmfValue } from "./amf0.js";
import type { RtmpCommand } from "./command.js";

/**
 * What the commands a Flash player sends mean, read from their decoded AMF
 * values: connect's target fields, and the NetStream commands (play, play2,
 * seek, pause/pauseRaw, receiveAudio/receiveVideo, closeStream,
 * deleteStream) as typed requests, or a typed rejection naming the onStatus
 * FMS answers it with. Pure: the session routes the result, NetStream acts
 * on it.
 *
 * Times: play's start and len are milliseconds on the wire (Flash's
 * NetStream.play multiplies its seconds; librtmp and ffmpeg send ms); play2's
 * NetStreamPlayOptions carries seconds.
 */

/** connect's command object, as far as the edge reads it. */
export interface ConnectRequest {
  readonly kind: "connect";
  /** The tcUrl and app fields as sent (not checked here: routing/connect-url.ts). */
  readonly tcUrl: AmfValue | undefined;
  readonly app: AmfValue | undefined;
  /** 0 (AMF0) unless the client sent a number: echoed in the connect's _result. */
  readonly objectEncoding: number;
  /** swfUrl, pageUrl and flashVer when strings ("" otherwise): the access log's c-referrer, x-page-url, c-user-agent. */
  readonly swfUrl: string;
  readonly pageUrl: string;
  readonly flashVer: string;
}

/**
 * play(name, start, len, reset):
 * - start -2000 (or -2, or absent) recorded or live — recorded here, this
 *   edge has no live streams; -1000 (or -1) live only (`liveOnly`, never
 *   found here); N ≥ 0 from N ms; any other negative start plays from 0.
 * - len -1 (or absent, or negative) to the end, 0 a single frame, N ms.
 * - reset false, 0 or 2 appends to the playlist; anything else replaces it.
 */
export interface PlayRequest {
  readonly kind: "play";
  /** "" when the name is not a string (it is then not found). */
  readonly name: string;
  readonly liveOnly: boolean;
  /** Where to start, ≥ 0 ms. */
  readonly startMs: number;
  /** -1 to the end, 0 a single frame, N ms. */
  readonly lengthMs: number;
  readonly reset: boolean;
}

/** play(false) and play2 with transition "stop": end what plays and empty the playlist. */
export interface StopRequest {
  readonly kind: "stop";
}

/** play2's transitions: switch and swap change rendition at a keyframe; reset and append act like play. */
export type Play2Transition = "switch" | "reset" | "append";

/** play2(NetStreamPlayOptions), a transition other than stop. */
export interface Play2Request {
  readonly kind: "play2";
  readonly transition: Play2Transition;
  readonly name: string;
  /** The stream being replaced, when the options name one (informational: the switch applies to what plays). */
  readonly oldStreamName: string | null;
  /** options.start in ms when positive, else 0 (its -2 and -1 mean "from the start" here). */
  readonly startMs: number;
  /** options.len in ms when ≥ 0, else -1 (to the end). */
  readonly lengthMs: number;
}

export interface SeekRequest {
  readonly kind: "seek";
  /** The first numeric argument: a finite time ≥ 0 in ms of the current item. */
  readonly ms: number;
}

/** pause(flag, ms) and pauseRaw: FMS answers both the same way. */
export interface PauseRequest {
  readonly kind: "pause";
  readonly paused: boolean;
}

export interface ReceiveRequest {
  readonly kind: "receive";
  readonly track: "audio" | "video";
  readonly enabled: boolean;
}

/** closeStream: what plays on the command's stream stops; the stream stays. */
export interface CloseStreamRequest {
  readonly kind: "closeStream";
}

/** deleteStream(id): the stream named by its first numeric argument goes away. */
export interface DeleteStreamRequest {
  readonly kind: "deleteStream";
  readonly streamId: number;
}

export type StreamRequest =
  | PlayRequest
  | StopRequest
  | Play2Request
  | SeekRequest
  | PauseRequest
  | ReceiveRequest
  | CloseStreamRequest
  | DeleteStreamRequest;

/** The onStatus a rejected command is answered with. */
export interface RejectionStatus {
  readonly code: "NetStream.Play.Failed" | "NetStream.Seek.Failed" | "NetStream.InvalidArg";
  readonly description: string;
}

/** A command whose arguments do not make a request; `status` null: FMS ignores it without a word. */
export interface CommandRejection {
  readonly kind: "rejected";
  readonly command: string;
  readonly status: RejectionStatus | null;
}

/** The commands parseStreamCommand reads; every other name is no stream command. */
export const streamCommandNames = [
  "play",
  "play2",
  "seek",
  "pause",
  "pauseRaw",
  "receiveAudio",
  "receiveVideo",
  "closeStream",
  "deleteStream",
] as const;
export type StreamCommandName = (typeof streamCommandNames)[number];

export function isStreamCommandName(name: string): name is StreamCommandName {
  return (streamCommandNames as readonly string[]).includes(name);
}

export function parseConnect(command: RtmpCommand): ConnectRequest {
  const obj = isObject(command.commandObject) ? command.commandObject : null;
  return {
    kind: "connect",
    tcUrl: obj?.tcUrl,
    app: obj?.app,
    objectEncoding: typeof obj?.objectEncoding === "number" ? obj.objectEncoding : 0,
    swfUrl: typeof obj?.swfUrl === "string" ? obj.swfUrl : "",
    pageUrl: typeof obj?.pageUrl === "string" ? obj.pageUrl : "",
    flashVer: typeof obj?.flashVer === "string" ? obj.flashVer : "",
  };
}

/** A NetStream command's request, or its rejection; null for a command that is none of streamCommandNames. */
export function parseStreamCommand(command: RtmpCommand): StreamRequest | CommandRejection | null {
  if (!isStreamCommandName(command.name)) return null;
  switch (command.name) {
    case "play":
      return parsePlay(command.args);
    case "play2":
      return parsePlay2(command.args);
    case "seek":
      return parseSeek(command.args);
    case "pause":
    case "pauseRaw":
      return parsePause(command.name, command.args);
    case "receiveAudio":
      return parseReceive("receiveAudio", "audio", command.args);
    case "receiveVideo":
      return parseReceive("receiveVideo", "video", command.args);
    case "closeStream":
      return { kind: "closeStream" };
    case "deleteStream": {
      const streamId = command.args.find(isNumber);
      return streamId === undefined
        ? { kind: "rejected", command: command.name, status: null }
        : { kind: "deleteStream", streamId };
    }
  }
}

/** FMS's "recorded or live" start, the default. */
export const StartRecordedOrLive = -2000;
/** FMS's "live only" start. */
export const StartLiveOnly = -1000;

export function parsePlay(args: readonly AmfValue[]): PlayRequest | StopRequest {
  const [nameArg, startArg, lengthArg, resetArg] = args;
  if (nameArg === false) return { kind: "stop" };
  const start = isFiniteNumber(startArg) ? startArg : StartRecordedOrLive;
  const length = isFiniteNumber(lengthArg) ? lengthArg : -1;
  return {
    kind: "play",
    name: typeof nameArg === "string" ? nameArg : "",
    // -1 is Flash's seconds form of -1000, sent as is by some clients.
    liveOnly: start === StartLiveOnly || start === -1,
    startMs: Math.max(0, start),
    lengthMs: length >= 0 ? length : -1,
    reset: !(resetArg === false || resetArg === 0 || resetArg === 2),
  };
}

export function parsePlay2(args: readonly AmfValue[]): Play2Request | StopRequest | CommandRejection {
  const options = args.find(isObject);
  if (!options) return playFailed("play2", "play2 needs a NetStreamPlayOptions object.");
  const transitionArg = typeof options.transition === "string" ? options.transition : "switch";
  let transition: Play2Transition;
  switch (transitionArg) {
    case "switch":
    case "swap":
      transition = "switch";
      break;
    case "reset":
      transition = "reset";
      break;
    case "append":
    case "appendAndWait":
      transition = "append";
      break;
    case "stop":
      return { kind: "stop" };
    default:
      return playFailed("play2", `Unknown play2 transition ${transitionArg}.`);
  }
  return {
    kind: "play2",
    transition,
    name: typeof options.streamName === "string" ? options.streamName : "",
    oldStreamName: typeof options.oldStreamName === "string" ? options.oldStreamName : null,
    startMs: typeof options.start === "number" && options.start > 0 ? options.start * 1000 : 0,
    lengthMs: typeof options.len === "number" && options.len >= 0 ? options.len * 1000 : -1,
  };
}

/** The description of NetStream.Seek.Failed, for a bad time and for a seek with nothing playing alike. */
export const seekFailedDescription = "Seek failed: nothing is playing or the time is invalid.";

export function parseSeek(args: readonly AmfValue[]): SeekRequest | CommandRejection {
  const ms = args.find(isNumber);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    return {
      kind: "rejected",
      command: "seek",
      status: { code: "NetStream.Seek.Failed", description: seekFailedDescription },
    };
  }
  return { kind: "seek", ms };
}

export function parsePause(
  name: "pause" | "pauseRaw",
  args: readonly AmfValue[],
): PauseRequest | CommandRejection {
  const paused = args.find(isBoolean);
  if (paused === undefined) {
    return {
      kind: "rejected",
      command: name,
      status: { code: "NetStream.InvalidArg", description: "pause needs a true or false argument." },
    };
  }
  return { kind: "pause", paused };
}

export function parseReceive(
  name: "receiveAudio" | "receiveVideo",
  track: "audio" | "video",
  args: readonly AmfValue[],
): ReceiveRequest | CommandRejection {
  const enabled = args.find(isBoolean);
  return enabled === undefined
    ? { kind: "rejected", command: name, status: null }
    : { kind: "receive", track, enabled };
}

function playFailed(command: string, description: string): CommandRejection {
  return { kind: "rejected", command, status: { code: "NetStream.Play.Failed", description } };
}

function isObject(value: AmfValue): value is AmfObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isNumber(value: AmfValue): value is number {
  return typeof value === "number";
}

function isFiniteNumber(value: AmfValue): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isBoolean(value: AmfValue): value is boolean {
  return typeof value === "boolean";
}
