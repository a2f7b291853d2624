import { type AmfObject, type AmfValue, createAmfObject, decodeAmf0, encodeAmf0 } from "../rtmp/amf0.js";

/**
 * The onMetaData data message: AMF0 string "onMetaData" then one object or
 * ECMA array of properties (duration in seconds, width, height, codec ids,
 * and for FLV an optional `keyframes: {times: [s…], filepositions: [byte…]}`
 * index written by flvtool2/yamdi/ffmpeg).
 */
const ON_METADATA = "onMetaData";

/** 0x02 (string marker), u16 length 10, "onMetaData". */
const ON_METADATA_PREFIX = Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from(ON_METADATA, "latin1")]);

/** A keyframes index can hold two numbers per keyframe; hours of 1 s GOPs need far more than the default cap. */
const METADATA_MAX_ITEMS = 4_000_000;

function isOnMetaData(body: Buffer): boolean {
  return (
    body.length > ON_METADATA_PREFIX.length &&
    body.subarray(0, ON_METADATA_PREFIX.length).equals(ON_METADATA_PREFIX)
  );
}

/** The properties object, or null when the body is not a well-formed onMetaData message. */
export function decodeOnMetaData(body: Buffer): AmfObject | null {
  if (!isOnMetaData(body)) return null;
  let values: AmfValue[];
  try {
    values = decodeAmf0(body, { maxItems: METADATA_MAX_ITEMS });
  } catch {
    // Damaged metadata costs the keyframe index, not playback.
    return null;
  }
  const props = values[1];
  return isAmfObject(props) ? props : null;
}

export function encodeOnMetaData(props: AmfObject): Buffer {
  return encodeAmf0([ON_METADATA, props]);
}

/** Builds a prototype-less AMF object from defined entries only. */
export function amfObject(entries: Record<string, AmfValue>): AmfObject {
  const out = createAmfObject();
  for (const [key, value] of Object.entries(entries)) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function isAmfObject(value: AmfValue): value is AmfObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function numberProp(props: AmfObject | null, key: string): number | undefined {
  const value = props?.[key];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export interface KeyframeIndex {
  /** Keyframe timestamps in ms, non-decreasing. */
  timesMs: number[];
  /** Byte offset of each keyframe's FLV tag header. */
  positions: number[];
}

/**
 * `keyframes.{times, filepositions}` when both are equally long arrays of
 * finite numbers in ascending order; anything else is treated as absent and
 * seeking falls back to scanning tags.
 */
export function keyframeIndex(props: AmfObject | null, objectSize: number): KeyframeIndex | null {
  const keyframes = props?.keyframes;
  if (keyframes === undefined || !isAmfObject(keyframes)) return null;
  const { times, filepositions } = keyframes;
  if (!Array.isArray(times) || !Array.isArray(filepositions)) return null;
  if (times.length === 0 || times.length !== filepositions.length) return null;
  const timesMs: number[] = [];
  const positions: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    const p = filepositions[i];
    if (typeof t !== "number" || typeof p !== "number" || !Number.isFinite(t) || !Number.isSafeInteger(p)) {
      return null;
    }
    const ms = Math.round(t * 1000);
    if (p < 0 || p >= objectSize) return null;
    if (i > 0 && (ms < timesMs[i - 1]! || p <= positions[i - 1]!)) return null;
    timesMs.push(ms);
    positions.push(p);
  }
  return { timesMs, positions };
}
