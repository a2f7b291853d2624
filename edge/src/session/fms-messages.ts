import type { AmfObject, AmfValue } from "../rtmp/amf0.js";
import { encodeAmf0 } from "../rtmp/amf0.js";
import { encodeCommand } from "../rtmp/command.js";
import { MessageType, type RtmpMessage } from "../rtmp/message-types.js";

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
