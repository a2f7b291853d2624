import { EdgeError, EdgeErrorCode } from "../errors.js";
import { type AmfLimits, type AmfValue, decodeAmf0, encodeAmf0 } from "./amf0.js";
import { MessageType } from "./message-types.js";

/**
 * Command messages (connect, createStream, play, _result, onStatus, …):
 *
 *   type 20 (AMF0):  name (string) | transaction id (number) | command object | args…
 *   type 17 (AMF3):  0x00 | the same AMF0 values
 *
 * The leading byte of a type 17 payload selects the encoding of what follows;
 * Flash Player always writes 0x00 (AMF0) and switches individual values to
 * AMF3 with the AMF0 marker 0x11.
 */

export interface RtmpCommand {
  name: string;
  transactionId: number;
  /** Usually an object for requests (connect) and null for most others. */
  commandObject: AmfValue;
  args: AmfValue[];
}

function commandInvalid(message: string): EdgeError {
  return new EdgeError(EdgeErrorCode.CommandInvalid, message);
}

/**
 * Decodes a type 20 or type 17 command payload. A missing command object
 * (some clients send only name and transaction id) decodes as null.
 *
 * @throws EdgeError CommandInvalid for other message types or a payload not
 *   shaped like a command; AmfInvalid/AmfTooDeep for bad AMF.
 */
export function decodeCommand(payload: Buffer, messageTypeId: number, limits?: AmfLimits): RtmpCommand {
  let body = payload;
  if (messageTypeId === MessageType.CommandAmf3) {
    // A command starts with a string, never a number, so a leading 0x00 can
    // only be the format byte. Tolerate its absence.
    if (body.length > 0 && body[0] === 0x00) body = body.subarray(1);
  } else if (messageTypeId !== MessageType.CommandAmf0) {
    throw commandInvalid(`message type ${messageTypeId} is not a command message`);
  }
  const values = decodeAmf0(body, limits);
  const [name, transactionId] = values;
  if (typeof name !== "string") {
    throw commandInvalid(`command name is ${describe(name)}, expected a string`);
  }
  if (typeof transactionId !== "number") {
    throw commandInvalid(
      `command "${name}" has transaction id ${describe(transactionId)}, expected a number`,
    );
  }
  return {
    name,
    transactionId,
    commandObject: values.length > 2 ? values[2] : null,
    args: values.slice(3),
  };
}

/** An AMF0 (type 20) command payload. */
export function encodeCommand(
  name: string,
  transactionId: number,
  commandObject: AmfValue,
  ...args: AmfValue[]
): Buffer {
  return encodeAmf0([name, transactionId, commandObject, ...args]);
}

function describe(value: AmfValue): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  return `a ${typeof value}`;
}
