import { EdgeError, EdgeErrorCode } from "../errors.js";
import type { AmfObject, AmfValue } from "./amf-value.js";
import { type AmfBudget, decodeAmf3Value } from "./amf3.js";

/**
 * AMF0 (Action Message Format 0), the encoding of RTMP command and data
 * messages (types 18/19/20, and the bodies of type 15/17 after their format
 * byte).
 *
 * Every value is a one-byte type marker followed by a marker-specific body.
 * All integers are big-endian:
 *
 *   0x00 number        f64
 *   0x01 boolean       u8 (non-zero = true)
 *   0x02 string        u16 byteLength, UTF-8 bytes
 *   0x03 object        properties…, object-end
 *   0x05 null          –
 *   0x06 undefined     –
 *   0x07 reference     u16 index            (not supported: rejected)
 *   0x08 ECMA array    u32 count hint, properties…, object-end
 *   0x09 object-end    – (only after an empty property name)
 *   0x0A strict array  u32 count, values…
 *   0x0B date          f64 ms since epoch, s16 time zone (ignored, always 0)
 *   0x0C long string   u32 byteLength, UTF-8 bytes
 *   0x0D unsupported   – (decoded as undefined)
 *   0x0F XML document  u32 byteLength, UTF-8 bytes (decoded as a string)
 *   0x10 typed object  u16 class-name length, class name, properties…, object-end
 *   0x11 AVM+ switch   one AMF3 value follows (see amf3.ts)
 *
 * where a property is `u16 nameLength, UTF-8 name, value` and object-end is
 * the empty name `00 00` followed by the marker 0x09.
 */

export type { AmfObject, AmfValue } from "./amf-value.js";

export interface AmfLimits {
  /** Nesting depth of objects/arrays allowed; deeper input throws AmfTooDeep. Default 32. */
  maxDepth?: number;
  /**
   * Total number of values (including nested values and properties) one
   * decode may produce, and the largest strict-array count accepted.
   * Default 65536.
   */
  maxItems?: number;
}

export const AMF0_DEFAULT_MAX_DEPTH = 32;
const AMF0_DEFAULT_MAX_ITEMS = 65536;

const Amf0Marker = {
  Number: 0x00,
  Boolean: 0x01,
  String: 0x02,
  Object: 0x03,
  MovieClip: 0x04,
  Null: 0x05,
  Undefined: 0x06,
  Reference: 0x07,
  EcmaArray: 0x08,
  ObjectEnd: 0x09,
  StrictArray: 0x0a,
  Date: 0x0b,
  LongString: 0x0c,
  Unsupported: 0x0d,
  RecordSet: 0x0e,
  XmlDocument: 0x0f,
  TypedObject: 0x10,
  SwitchToAmf3: 0x11,
} as const;

const MAX_SHORT_STRING = 0xffff;
/** The encoder refuses to recurse deeper than this (guards against cycles). */
const ENCODE_MAX_DEPTH = 256;

/** A fresh object without a prototype, so peer-chosen keys such as `__proto__` stay plain data. */
export function createAmfObject(): AmfObject {
  return Object.create(null) as AmfObject;
}

function invalid(message: string): EdgeError {
  return new EdgeError(EdgeErrorCode.AmfInvalid, message);
}

// ---------------------------------------------------------------------------
// Decoding

class Amf0Reader implements AmfBudget {
  readonly #bytes: Buffer;
  readonly #maxDepth: number;
  readonly #maxItems: number;
  #offset = 0;
  #depth = 0;
  #items = 0;

  constructor(bytes: Buffer, maxDepth: number, maxItems: number) {
    this.#bytes = bytes;
    this.#maxDepth = maxDepth;
    this.#maxItems = maxItems;
  }

  get atEnd(): boolean {
    return this.#offset >= this.#bytes.length;
  }

  countItem(): void {
    this.#items += 1;
    if (this.#items > this.#maxItems) {
      throw invalid(`AMF data holds more than ${this.#maxItems} values`);
    }
  }

  enterNested(): void {
    this.#depth += 1;
    if (this.#depth > this.#maxDepth) {
      throw new EdgeError(EdgeErrorCode.AmfTooDeep, `AMF nesting deeper than ${this.#maxDepth}`);
    }
  }

  leaveNested(): void {
    this.#depth -= 1;
  }

  readValue(): AmfValue {
    this.countItem();
    const marker = this.#u8("type marker");
    switch (marker) {
      case Amf0Marker.Number:
        return this.#f64("number");
      case Amf0Marker.Boolean:
        return this.#u8("boolean") !== 0;
      case Amf0Marker.String:
        return this.#utf8(this.#u16("string length"), "string");
      case Amf0Marker.Object:
        return this.#nested(() => this.#readProperties(createAmfObject()));
      case Amf0Marker.Null:
        return null;
      case Amf0Marker.Undefined:
      case Amf0Marker.Unsupported:
        return undefined;
      case Amf0Marker.EcmaArray:
        // The count is only a hint: encoders disagree on it (some write 0),
        // and the object-end marker is what terminates the array.
        this.#u32("ECMA array count");
        return this.#nested(() => this.#readProperties(createAmfObject()));
      case Amf0Marker.StrictArray:
        return this.#nested(() => this.#readStrictArray());
      case Amf0Marker.Date: {
        const ms = this.#f64("date");
        this.#need(2, "date time zone");
        this.#offset += 2;
        return new Date(ms);
      }
      case Amf0Marker.LongString:
      case Amf0Marker.XmlDocument:
        return this.#utf8(this.#u32("long string length"), "long string");
      case Amf0Marker.TypedObject:
        // The class name only matters to an ActionScript VM; keep the properties.
        this.#utf8(this.#u16("class name length"), "class name");
        return this.#nested(() => this.#readProperties(createAmfObject()));
      case Amf0Marker.ObjectEnd:
        throw invalid(`AMF0 object-end marker outside an object at offset ${this.#offset - 1}`);
      case Amf0Marker.SwitchToAmf3: {
        // The AMF3 value is counted against the same limits; undo the count
        // for the switch marker itself so it is not counted twice.
        this.#items -= 1;
        const { value, offset } = decodeAmf3Value(this.#bytes, this.#offset, this);
        this.#offset = offset;
        return value;
      }
      case Amf0Marker.MovieClip:
      case Amf0Marker.Reference:
      case Amf0Marker.RecordSet:
        throw invalid(`unsupported AMF0 type marker 0x${marker.toString(16)} at offset ${this.#offset - 1}`);
      default:
        throw invalid(`unknown AMF0 type marker 0x${marker.toString(16)} at offset ${this.#offset - 1}`);
    }
  }

  #nested<T>(read: () => T): T {
    this.enterNested();
    const value = read();
    this.leaveNested();
    return value;
  }

  #readProperties(target: AmfObject): AmfObject {
    for (;;) {
      const name = this.#utf8(this.#u16("property name length"), "property name");
      if (name.length === 0 && this.#peekU8("object-end marker") === Amf0Marker.ObjectEnd) {
        this.#offset += 1;
        return target;
      }
      target[name] = this.readValue();
    }
  }

  #readStrictArray(): AmfValue[] {
    const count = this.#u32("strict array count");
    if (count > this.#maxItems) {
      throw invalid(`AMF0 strict array declares ${count} elements, above the limit of ${this.#maxItems}`);
    }
    // Every element takes at least its one-byte marker, so a count above the
    // remaining bytes is a lie; reject it before allocating anything.
    const remaining = this.#bytes.length - this.#offset;
    if (count > remaining) {
      throw invalid(`AMF0 strict array declares ${count} elements but only ${remaining} bytes remain`);
    }
    const values: AmfValue[] = [];
    for (let i = 0; i < count; i += 1) values.push(this.readValue());
    return values;
  }

  #need(n: number, what: string): void {
    const remaining = this.#bytes.length - this.#offset;
    if (n > remaining) {
      throw invalid(`truncated AMF0 ${what}: need ${n} bytes at offset ${this.#offset}, ${remaining} remain`);
    }
  }

  #peekU8(what: string): number {
    this.#need(1, what);
    return this.#bytes[this.#offset]!;
  }

  #u8(what: string): number {
    this.#need(1, what);
    const value = this.#bytes[this.#offset]!;
    this.#offset += 1;
    return value;
  }

  #u16(what: string): number {
    this.#need(2, what);
    const value = this.#bytes.readUInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  #u32(what: string): number {
    this.#need(4, what);
    const value = this.#bytes.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  #f64(what: string): number {
    this.#need(8, what);
    const value = this.#bytes.readDoubleBE(this.#offset);
    this.#offset += 8;
    return value;
  }

  #utf8(length: number, what: string): string {
    this.#need(length, what);
    const start = this.#offset;
    this.#offset += length;
    return this.#bytes.toString("utf8", start, this.#offset);
  }
}

/**
 * Decodes every AMF0 value in `bytes`, to the last byte. Objects, ECMA arrays
 * and typed objects decode to prototype-less {@link AmfObject}s.
 *
 * @throws EdgeError AmfInvalid on truncated or malformed data, unknown or
 *   unsupported markers, or more than `maxItems` values; AmfTooDeep when
 *   nesting exceeds `maxDepth`.
 */
export function decodeAmf0(bytes: Buffer, limits?: AmfLimits): AmfValue[] {
  const reader = new Amf0Reader(
    bytes,
    limits?.maxDepth ?? AMF0_DEFAULT_MAX_DEPTH,
    limits?.maxItems ?? AMF0_DEFAULT_MAX_ITEMS,
  );
  const values: AmfValue[] = [];
  while (!reader.atEnd) values.push(reader.readValue());
  return values;
}

// ---------------------------------------------------------------------------
// Encoding

/**
 * Sizing walks the values once and records each string's UTF-8 byte length
 * in visiting order; writing walks them again in the same order and takes
 * the lengths back, so no string is measured twice.
 */
class Amf0Sizer {
  readonly stringLengths: number[] = [];
  size = 0;

  value(value: AmfValue, depth: number): void {
    if (depth > ENCODE_MAX_DEPTH) {
      throw new EdgeError(EdgeErrorCode.AmfTooDeep, `AMF0 value nests deeper than ${ENCODE_MAX_DEPTH}`);
    }
    if (typeof value === "number") {
      this.size += 9;
    } else if (typeof value === "boolean") {
      this.size += 2;
    } else if (typeof value === "string") {
      const length = Buffer.byteLength(value, "utf8");
      this.stringLengths.push(length);
      this.size += (length > MAX_SHORT_STRING ? 5 : 3) + length;
    } else if (value === null || value === undefined) {
      this.size += 1;
    } else if (value instanceof Date) {
      this.size += 11;
    } else if (Array.isArray(value)) {
      this.size += 5;
      for (const element of value) this.value(element, depth + 1);
    } else {
      this.size += 1;
      for (const key of Object.keys(value)) {
        const length = Buffer.byteLength(key, "utf8");
        if (length > MAX_SHORT_STRING) {
          throw invalid(`AMF0 property name of ${length} bytes is longer than ${MAX_SHORT_STRING}`);
        }
        this.stringLengths.push(length);
        this.size += 2 + length;
        this.value(value[key], depth + 1);
      }
      this.size += 3;
    }
  }
}

class Amf0Writer {
  readonly #out: Buffer;
  readonly #stringLengths: number[];
  #next = 0;
  offset = 0;

  constructor(out: Buffer, stringLengths: number[]) {
    this.#out = out;
    this.#stringLengths = stringLengths;
  }

  value(value: AmfValue): void {
    const out = this.#out;
    if (typeof value === "number") {
      out[this.offset] = Amf0Marker.Number;
      out.writeDoubleBE(value, this.offset + 1);
      this.offset += 9;
    } else if (typeof value === "boolean") {
      out[this.offset] = Amf0Marker.Boolean;
      out[this.offset + 1] = value ? 1 : 0;
      this.offset += 2;
    } else if (typeof value === "string") {
      const length = this.#stringLengths[this.#next++]!;
      if (length > MAX_SHORT_STRING) {
        out[this.offset] = Amf0Marker.LongString;
        out.writeUInt32BE(length, this.offset + 1);
        this.offset += 5;
      } else {
        out[this.offset] = Amf0Marker.String;
        out.writeUInt16BE(length, this.offset + 1);
        this.offset += 3;
      }
      this.offset += out.write(value, this.offset, length, "utf8");
    } else if (value === null) {
      out[this.offset++] = Amf0Marker.Null;
    } else if (value === undefined) {
      out[this.offset++] = Amf0Marker.Undefined;
    } else if (value instanceof Date) {
      out[this.offset] = Amf0Marker.Date;
      out.writeDoubleBE(value.getTime(), this.offset + 1);
      out.writeInt16BE(0, this.offset + 9);
      this.offset += 11;
    } else if (Array.isArray(value)) {
      out[this.offset] = Amf0Marker.StrictArray;
      out.writeUInt32BE(value.length, this.offset + 1);
      this.offset += 5;
      for (const element of value) this.value(element);
    } else {
      out[this.offset++] = Amf0Marker.Object;
      for (const key of Object.keys(value)) {
        const length = this.#stringLengths[this.#next++]!;
        out.writeUInt16BE(length, this.offset);
        this.offset += 2;
        this.offset += out.write(key, this.offset, length, "utf8");
        this.value(value[key]);
      }
      // Object end: empty name, then the 0x09 marker.
      out[this.offset] = 0;
      out[this.offset + 1] = 0;
      out[this.offset + 2] = Amf0Marker.ObjectEnd;
      this.offset += 3;
    }
  }
}

/**
 * Encodes `values` back to back. Strings longer than 65535 UTF-8 bytes use
 * the long-string marker; arrays encode as strict arrays; objects as AMF0
 * objects in `Object.keys` order (insertion order, except that JavaScript
 * lists integer-like keys first).
 */
export function encodeAmf0(values: readonly AmfValue[]): Buffer {
  const sizer = new Amf0Sizer();
  for (const value of values) sizer.value(value, 0);
  const out = Buffer.allocUnsafe(sizer.size);
  const writer = new Amf0Writer(out, sizer.stringLengths);
  for (const value of values) writer.value(value);
  return out;
}
