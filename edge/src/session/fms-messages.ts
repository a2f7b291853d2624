import type { AmfObject, AmfValue } from "../rtmp/amf0.js";
import { encodeAmf0 } from "../rtmp/amf0.js";
import { encodeCommand } from "../rtmp/command.js";
import { setChunkSize, setPeerBandwidth, userControl, windowAckSize } from "../rtmp/control-messages.js";
import {
  MessageType,
  PeerBandwidthLimit,
  type RtmpMessage,
  UserControlEvent,
} from "../rtmp/message-types.js";

/**
 * Every command and data message an FMS 3.5 edge sends (connect results and
 * rejections, _result/_error, onStatus, onPlayStatus, |RtmpSampleAccess,
 * onBWDone…), built in this one place. Pure: they return messages; the
 * session and the stream player decide when to write them.
 */

/** Chunk streams the edge sends on: control 2, commands 3, data 5, audio 6, video 7. */
export const OutChunkStream = { Control: 2, Command: 3, Data: 5, Audio: 6, Video: 7 } as const;

const fmsVersion = "FMS/3,5,1,525";

function object(fields: Record<string, AmfValue>): AmfObject {
  const o: AmfObject = Object.create(null);
  for (const [k, v] of Object.entries(fields)) o[k] = v;
  return o;
}

export function commandMessage(
  streamId: number,
  name: string,
  txn: number,
  cmdObj: AmfValue,
  ...args: AmfValue[]
) {
  return {
    chunkStreamId: OutChunkStream.Command,
    messageTypeId: MessageType.CommandAmf0,
    messageStreamId: streamId,
    timestamp: 0,
    payload: encodeCommand(name, txn, cmdObj, ...args),
  } satisfies RtmpMessage;
}

export function dataMessage(streamId: number, timestamp: number, ...values: AmfValue[]): RtmpMessage {
  return {
    chunkStreamId: OutChunkStream.Data,
    messageTypeId: MessageType.DataAmf0,
    messageStreamId: streamId,
    timestamp,
    payload: encodeAmf0(values),
  };
}

export function connectResult(txn: number, objectEncoding: number, clientId: string): RtmpMessage {
  return commandMessage(
    0,
    "_result",
    txn,
    object({ fmsVer: fmsVersion, capabilities: 31, mode: 1 }),
    object({
      level: "status",
      code: "NetConnection.Connect.Success",
      description: "Connection succeeded.",
      objectEncoding,
      data: object({ version: "3,5,1,525" }),
      clientid: clientId,
    }),
  );
}

/** FMS and librtmp's usual window and peer bandwidth. */
const windowSize = 2_500_000;

/**
 * The answer to an accepted connect: window acknowledgement size, peer
 * bandwidth, the edge's chunk size, StreamBegin 0, the connect's _result,
 * onBWDone.
 */
export function connectAccepted(
  txn: number,
  objectEncoding: number,
  clientId: string,
  outChunkSize: number,
): RtmpMessage[] {
  return [
    windowAckSize(windowSize),
    setPeerBandwidth(windowSize, PeerBandwidthLimit.Dynamic),
    setChunkSize(outChunkSize),
    userControl(UserControlEvent.StreamBegin, 0),
    connectResult(txn, objectEncoding, clientId),
    commandMessage(0, "onBWDone", 0, null),
  ];
}

/** FCSubscribe's answer: onFCSubscribe with NetStream.Play.Start for the name. */
export function fcSubscribeStarted(name: string): RtmpMessage {
  return commandMessage(
    0,
    "onFCSubscribe",
    0,
    null,
    object({ level: "status", code: "NetStream.Play.Start", description: name }),
  );
}

/** The refusal of publish, releaseStream and FCPublish: this edge only plays. */
export function publishRefused(streamId: number): RtmpMessage {
  return onStatus(
    streamId,
    "error",
    "NetStream.Publish.BadName",
    "This is a video-on-demand edge: publishing is not allowed.",
  );
}

/**
 * CloudFront put its reason (DistributionNotFound, InvalidInstance, …) in
 * the reject's description and in `application`, where players read it.
 */
export function connectRejected(txn: number, reason: string, detail: string): RtmpMessage {
  return commandMessage(
    0,
    "_error",
    txn,
    null,
    object({
      level: "error",
      code: "NetConnection.Connect.Rejected",
      description: `[ ${reason} ] ${detail}`,
      application: object({ code: reason, message: detail }),
    }),
  );
}

export function callFailed(txn: number, description: string): RtmpMessage {
  return commandMessage(
    0,
    "_error",
    txn,
    null,
    object({ level: "error", code: "NetConnection.Call.Failed", description }),
  );
}

export function onStatus(
  streamId: number,
  level: "status" | "warning" | "error",
  code: string,
  description: string,
  extra: Record<string, AmfValue> = {},
): RtmpMessage {
  return commandMessage(streamId, "onStatus", 0, null, object({ level, code, description, ...extra }));
}

/** onPlayStatus is a data message (FMS sends it with the stream's data). */
export function onPlayStatus(
  streamId: number,
  timestamp: number,
  code: string,
  extra: Record<string, AmfValue> = {},
) {
  return dataMessage(streamId, timestamp, "onPlayStatus", object({ level: "status", code, ...extra }));
}

export function sampleAccess(streamId: number): RtmpMessage {
  return dataMessage(streamId, 0, "|RtmpSampleAccess", false, false);
}

export function dataStart(streamId: number): RtmpMessage {
  return dataMessage(streamId, 0, "onStatus", object({ code: "NetStream.Data.Start" }));
}

/** What a play's statuses name: the stream, the item's name and the client's id. */
export interface PlayStatusTarget {
  readonly streamId: number;
  readonly name: string;
  readonly clientId: string;
}

function playStatus(target: PlayStatusTarget, code: string, description: string): RtmpMessage {
  return onStatus(target.streamId, "status", code, description, {
    details: target.name,
    clientid: target.clientId,
  });
}

/** A new play's reset: StreamIsRecorded, StreamBegin, NetStream.Play.Reset. */
export function playReset(target: PlayStatusTarget): RtmpMessage[] {
  return [
    userControl(UserControlEvent.StreamIsRecorded, target.streamId),
    userControl(UserControlEvent.StreamBegin, target.streamId),
    playStatus(target, "NetStream.Play.Reset", `Playing and resetting ${target.name}.`),
  ];
}

/** NetStream.Play.Start, |RtmpSampleAccess and, when asked for, NetStream.Data.Start. */
export function playStart(target: PlayStatusTarget, fmsDataStart?: boolean): RtmpMessage[] {
  return [
    playStatus(target, "NetStream.Play.Start", `Started playing ${target.name}.`),
    sampleAccess(target.streamId),
    ...(fmsDataStart ? [dataStart(target.streamId)] : []),
  ];
}

/** A seek to mediaMs: StreamEOF, the play's reset with Seek.Notify before Play.Reset, then the play's start. */
export function seekNotify(target: PlayStatusTarget, mediaMs: number, fmsDataStart?: boolean): RtmpMessage[] {
  const { streamId } = target;
  return [
    userControl(UserControlEvent.StreamEOF, streamId),
    userControl(UserControlEvent.StreamIsRecorded, streamId),
    userControl(UserControlEvent.StreamBegin, streamId),
    playStatus(target, "NetStream.Seek.Notify", `Seeking ${mediaMs} (stream ID: ${streamId}).`),
    playStatus(target, "NetStream.Play.Reset", `Playing and resetting ${target.name}.`),
    ...playStart(target, fmsDataStart),
  ];
}

/** A pause: NetStream.Pause.Notify, StreamEOF. */
export function pauseNotify(target: PlayStatusTarget): RtmpMessage[] {
  return [
    playStatus(target, "NetStream.Pause.Notify", `Pausing ${target.name}.`),
    userControl(UserControlEvent.StreamEOF, target.streamId),
  ];
}

/** An unpause: NetStream.Unpause.Notify, StreamBegin. */
export function unpauseNotify(target: PlayStatusTarget): RtmpMessage[] {
  return [
    playStatus(target, "NetStream.Unpause.Notify", `Unpausing ${target.name}.`),
    userControl(UserControlEvent.StreamBegin, target.streamId),
  ];
}

/** The end of a play at endMs: NetStream.Play.Stop, onPlayStatus NetStream.Play.Complete, StreamEOF. */
export function playComplete(
  target: PlayStatusTarget,
  endMs: number,
  durationSeconds: number,
): RtmpMessage[] {
  return [
    playStatus(target, "NetStream.Play.Stop", `Stopped playing ${target.name}.`),
    onPlayStatus(target.streamId, endMs, "NetStream.Play.Complete", { bytes: 0, duration: durationSeconds }),
    userControl(UserControlEvent.StreamEOF, target.streamId),
  ];
}

/** What a play ended by the edge's shutdown is told (README: Draining). */
export const shutdownDescription = "the edge is shutting down";

/**
 * A play the edge ends because it shuts down: NetStream.Play.Stop (what FMS
 * sends when a play stops before its end) with no onPlayStatus
 * NetStream.Play.Complete, so a player can tell it from the end of the
 * item and play on from another edge; then StreamEOF.
 */
export function playStoppedForShutdown(target: PlayStatusTarget): RtmpMessage[] {
  return [
    onStatus(target.streamId, "status", "NetStream.Play.Stop", shutdownDescription, {
      details: target.name,
      clientid: target.clientId,
    }),
    userControl(UserControlEvent.StreamEOF, target.streamId),
  ];
}
