import { EdgeError, EdgeErrorCode } from "../errors.js";
import type { AmfObject, AmfValue } from "./amf-value.js";

/**
 * AMF3 decoding, for the values Flash Player switches to AMF3 inside AMF0
 * data (the AMF0 marker 0x11) when a NetConnection uses objectEncoding 3.
 * Decode only: the edge always answers in AMF0.
 *
 * Lengths, counts and references use U29, a variable-length unsigned 29-bit
 * integer: up to three bytes carry 7 bits each (high bit = "more follows"),
 * a fourth byte carries 8 bits.
 *
 *   0x00 undefined   0x01 null   0x02 false   0x03 true
 *   0x04 integer     U29, sign-extended from 29 bits
 *   0x05 double      f64 BE
 *   0x06 string      U29 (len << 1 | 1) + UTF-8, or (index << 1) = string-table reference
 *   0x07 XML doc     U29 (len << 1 | 1) + UTF-8, or object-table reference   → string
 *   0x08 date        U29 (1) + f64 ms, or object-table reference             → Date
 *   0x09 array       U29 (dense count << 1 | 1), assoc (name, value)… "" , dense values…
 *   0x0A object      U29 traits header, class name, sealed names…, sealed values…,
 *                    then if dynamic (name, value)… ""
 *   0x0B XML         as 0x07
 *   0x0C ByteArray, 0x0D–0x10 vectors, 0x11 dictionary: not supported (rejected)
 *
 * Strings are not marker-prefixed where the spec says "UTF-8-vr" (property
 * names, class names); the empty string is never added to the string table.
 *
 * Only string, date and XML references are followed. A reference to an
 * array or object is rejected: it could build a cycle, or a DAG that a
 * caller expands exponentially when it logs or re-encodes the value, and
 * Flash Player does not repeat objects inside RTMP commands.
 */

/** The limits the surrounding AMF0 decode enforces, shared so an AMF3 value cannot escape them. */
export interface AmfBudget {
  /** Called for every value decoded. Throws when over the item limit. */
  countItem(): void;
  /** Called entering an object/array. Throws AmfTooDeep when too deep. */
  enterNested(): void;
  leaveNested(): void;
}

const Amf3Marker = {
  Undefined: 0x00,
  Null: 0x01,
  False: 0x02,
  True: 0x03,
  Integer: 0x04,
  Double: 0x05,
  String: 0x06,
  XmlDocument: 0x07,
  Date: 0x08,
  Array: 0x09,
  Object: 0x0a,
  Xml: 0x0b,
  ByteArray: 0x0c,
} as const;

interface Traits {
  dynamic: boolean;
  sealedNames: string[];
}

function invalid(message: string): EdgeError {
  return new EdgeError(EdgeErrorCode.AmfInvalid, message);
}

/** Reads one AMF3 value with fresh reference tables, as each AMF0 0x11 switch starts. */
export function decodeAmf3Value(
  bytes: Buffer,
  offset: number,
  budget: AmfBudget,
): { value: AmfValue; offset: number } {
  const reader = new Amf3Reader(bytes, offset, budget);
  const value = reader.readValue();
  return { value, offset: reader.offset };
}

class Amf3Reader {
  readonly #bytes: Buffer;
  readonly #budget: AmfBudget;
  readonly #strings: string[] = [];
  /** The object table: the leaves (dates, XML) that may be referenced, null for arrays and objects. */
  readonly #objects: Array<Date | string | null> = [];
  readonly #traits: Traits[] = [];
  offset: number;

  constructor(bytes: Buffer, offset: number, budget: AmfBudget) {
    this.#bytes = bytes;
    this.offset = offset;
    this.#budget = budget;
  }

  readValue(): AmfValue {
    this.#budget.countItem();
    const marker = this.#u8("AMF3 type marker");
    switch (marker) {
      case Amf3Marker.Undefined:
        return undefined;
      case Amf3Marker.Null:
        return null;
      case Amf3Marker.False:
        return false;
      case Amf3Marker.True:
        return true;
      case Amf3Marker.Integer: {
        const value = this.#u29();
        return value & 0x10000000 ? value - 0x20000000 : value;
      }
      case Amf3Marker.Double: {
        this.#need(8, "AMF3 double");
        const value = this.#bytes.readDoubleBE(this.offset);
        this.offset += 8;
        return value;
      }
      case Amf3Marker.String:
        return this.#readString();
      case Amf3Marker.XmlDocument:
      case Amf3Marker.Xml:
        return this.#readXml();
      case Amf3Marker.Date:
        return this.#readDate();
      case Amf3Marker.Array:
        return this.#readArray();
      case Amf3Marker.Object:
        return this.#readObject();
      default:
        throw invalid(`unsupported AMF3 type marker 0x${marker.toString(16)} at offset ${this.offset - 1}`);
    }
  }

  /** A UTF-8-vr: a string-table reference or an inline string. */
  #readString(): string {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#stringReference(header >>> 1);
    const value = this.#utf8(header >>> 1);
    if (value.length > 0) this.#strings.push(value);
    return value;
  }

  #readXml(): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#objectReference(header >>> 1);
    const value = this.#utf8(header >>> 1);
    this.#objects.push(value);
    return value;
  }

  #readDate(): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#objectReference(header >>> 1);
    this.#need(8, "AMF3 date");
    const value = new Date(this.#bytes.readDoubleBE(this.offset));
    this.offset += 8;
    this.#objects.push(value);
    return value;
  }

  #readArray(): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#objectReference(header >>> 1);
    const denseCount = header >>> 1;
    this.#checkCount(denseCount, "AMF3 array");
    this.#objects.push(null);
    this.#budget.enterNested();

    let assoc: AmfObject | null = null;
    for (;;) {
      const name = this.#readString();
      if (name.length === 0) break;
      assoc ??= Object.create(null) as AmfObject;
      assoc[name] = this.readValue();
    }
    const dense: AmfValue[] = [];
    for (let i = 0; i < denseCount; i += 1) dense.push(this.readValue());

    // A purely dense array stays an array; a mixed one becomes an object
    // holding the named entries and the dense ones under "0", "1", ….
    let value: AmfValue = dense;
    if (assoc !== null) {
      for (const [i, element] of dense.entries()) assoc[String(i)] = element;
      value = assoc;
    }
    this.#budget.leaveNested();
    return value;
  }

  /**
   * Object header (U29O), read from the low bits up:
   *   bit 0 = 0: object-table reference (index = header >> 1)
   *   bit 1 = 0: traits-table reference (index = header >> 2)
   *   bit 2 = 1: externalizable traits (not supported)
   *   bit 3    : dynamic
   *   header >> 4: number of sealed member names
   */
  #readObject(): AmfValue {
    const header = this.#u29();
    if ((header & 1) === 0) return this.#objectReference(header >>> 1);
    let traits: Traits;
    if ((header & 2) === 0) {
      const traitsIndex = header >>> 2;
      const known = this.#traits[traitsIndex];
      if (known === undefined) throw invalid(`AMF3 traits reference ${traitsIndex} out of range`);
      traits = known;
    } else {
      if ((header & 4) !== 0) throw invalid("externalizable AMF3 objects are not supported");
      const sealedCount = header >>> 4;
      this.#checkCount(sealedCount, "AMF3 sealed member");
      this.#readString(); // class name: only meaningful to an ActionScript VM
      const sealedNames: string[] = [];
      for (let i = 0; i < sealedCount; i += 1) sealedNames.push(this.#readString());
      traits = { dynamic: (header & 8) !== 0, sealedNames };
      this.#traits.push(traits);
    }

    const object = Object.create(null) as AmfObject;
    this.#objects.push(null);
    this.#budget.enterNested();
    for (const name of traits.sealedNames) object[name] = this.readValue();
    if (traits.dynamic) {
      for (;;) {
        const name = this.#readString();
        if (name.length === 0) break;
        object[name] = this.readValue();
      }
    }
    this.#budget.leaveNested();
    return object;
  }

  #stringReference(index: number): string {
    const value = this.#strings[index];
    if (value === undefined) throw invalid(`AMF3 string reference ${index} out of range`);
    return value;
  }

  #objectReference(index: number): AmfValue {
    if (index >= this.#objects.length) throw invalid(`AMF3 object reference ${index} out of range`);
    const value = this.#objects[index]!;
    if (value === null) throw invalid(`AMF3 reference ${index} to an array or object is not supported`);
    return value;
  }

  /** Every element takes at least one byte, so a count above the bytes left is a lie. */
  #checkCount(count: number, what: string): void {
    const remaining = this.#bytes.length - this.offset;
    if (count > remaining) throw invalid(`${what} count ${count} but only ${remaining} bytes remain`);
  }

  #u29(): number {
    let value = 0;
    for (let i = 0; i < 3; i += 1) {
      const byte = this.#u8("AMF3 U29");
      value = (value << 7) | (byte & 0x7f);
      if ((byte & 0x80) === 0) return value;
    }
    // The fourth byte contributes all 8 bits.
    return ((value << 8) | this.#u8("AMF3 U29")) >>> 0;
  }

  #u8(what: string): number {
    this.#need(1, what);
    return this.#bytes[this.offset++]!;
  }

  #utf8(length: number): string {
    this.#need(length, "AMF3 string");
    const start = this.offset;
    this.offset += length;
    return this.#bytes.toString("utf8", start, this.offset);
  }

  #need(n: number, what: string): void {
    const remaining = this.#bytes.length - this.offset;
    if (n > remaining) {
      throw invalid(`truncated ${what}: need ${n} bytes at offset ${this.offset}, ${remaining} remain`);
    }
  }
}
