import { EdgeErrorCode } from "../../../src/errors.js";
import {
  AMF0_DEFAULT_MAX_DEPTH,
  type AmfLimits,
  type AmfObject,
  type AmfValue,
  decodeAmf0,
  encodeAmf0,
} from "../../../src/rtmp/amf0.js";
import { decodeCommand } from "../../../src/rtmp/command.js";
import { MessageType } from "../../../src/rtmp/message-types.js";
import { check, defineTarget, type Prng, PropertyViolation, type Target } from "../fuzz-harness.js";
import { INTERESTING_U32, mutate, randomBytes } from "../mutators.js";

/**
 * decodeAmf0 (reaching AMF3 through the 0x11 marker) and decodeCommand for
 * types 20 and 17, on:
 *
 *   - structure-aware encodings generated here, independently of amf0.ts:
 *     every AMF0 marker the decoder accepts (object, ECMA array, typed
 *     object, strict array, long string, XML, date, unsupported, …) and
 *     AMF3 values behind 0x11 (U29 integers, string/date/XML references,
 *     inline and referenced traits, mixed arrays). Unmutated, these must
 *     decode to exactly the generated values;
 *   - encodeAmf0 output (round trip checked);
 *   - the same, mutated;
 *   - deep nesting (up to 100 000 levels, AMF0 and AMF3 containers mixed):
 *     well-formed input must decode up to maxDepth and throw AmfTooDeep
 *     beyond it, never overflow the stack;
 *   - huge declared lengths and counts;
 *   - random bytes.
 */

type Mode = "amf0" | "metadata" | "command20" | "command17";

interface AmfInput {
  data: Buffer;
  mode: Mode;
  limits: AmfLimits | undefined;
  /** What an unmutated encoding decodes to; null when nothing is promised. */
  expected: AmfValue[] | null;
  /** For deep nesting: the depth of a well-formed nest, which decides success vs AmfTooDeep. */
  nestDepth: number | null;
  provenance: string;
}

const ALPHABET = [
  "a",
  "b",
  "z",
  "A",
  "0",
  "1",
  "_",
  " ",
  ".",
  "é",
  "字",
  "😀",
  "\u0000",
  "onMetaData",
  "__proto__",
  "constructor",
];

function randomString(rng: Prng, maxParts = 6): string {
  const parts = rng.int(0, maxParts);
  let out = "";
  for (let i = 0; i < parts; i++) out += rng.pick(ALPHABET);
  return out;
}

function randomNumber(rng: Prng): number {
  return rng.pick([
    0,
    -0,
    1,
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53,
    2 ** 28 - 1,
    -(2 ** 28),
    2 ** 28,
    rng.int(-1000, 1000),
    (rng.next() - 0.5) * 1e12,
    rng.next(),
  ]);
}

// ---------------------------------------------------------------------------
// An independent structure-aware AMF0/AMF3 writer that returns, with the
// bytes, the value the decoder must produce.

class Writer {
  readonly parts: Buffer[] = [];
  u8(value: number): void {
    this.parts.push(Buffer.from([value & 0xff]));
  }
  u16(value: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value, 0);
    this.parts.push(b);
  }
  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0, 0);
    this.parts.push(b);
  }
  f64(value: number): void {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value, 0);
    this.parts.push(b);
  }
  raw(bytes: Buffer): void {
    this.parts.push(bytes);
  }
  /** U29: 7 bits in each of up to three bytes, 8 in a fourth; sometimes not minimal (still valid). */
  u29(value: number, rng: Prng): void {
    const v = value & 0x1fffffff;
    const long = rng.bool(0.05);
    if (v < 0x80 && !long) this.u8(v);
    else if (v < 0x4000 && !long) this.raw(Buffer.from([((v >> 7) & 0x7f) | 0x80, v & 0x7f]));
    else if (v < 0x200000 && !long)
      this.raw(Buffer.from([((v >> 14) & 0x7f) | 0x80, ((v >> 7) & 0x7f) | 0x80, v & 0x7f]));
    else
      this.raw(
        Buffer.from([
          ((v >> 22) & 0x7f) | 0x80,
          ((v >> 15) & 0x7f) | 0x80,
          ((v >> 8) & 0x7f) | 0x80,
          v & 0xff,
        ]),
      );
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const newObject = (): AmfObject => Object.create(null) as AmfObject;

/** The reference tables of one AMF3 switch, mirroring what the decoder records. */
interface Amf3Tables {
  strings: string[];
  objects: Array<Date | string | null>;
  traits: Array<{ dynamic: boolean; sealed: string[] }>;
}

class AmfGenerator {
  readonly #rng: Prng;
  readonly #w = new Writer();
  #budget: number;

  constructor(rng: Prng, budget: number) {
    this.#rng = rng;
    this.#budget = budget;
  }

  bytes(): Buffer {
    return this.#w.bytes();
  }

  #containerAllowed(depth: number): boolean {
    return depth < 6 && this.#budget-- > 0;
  }

  #utf8Short(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.#w.u16(bytes.length);
    this.#w.raw(bytes);
  }

  #properties(target: AmfObject, depth: number): void {
    const count = this.#rng.int(0, 5);
    for (let i = 0; i < count; i++) {
      const name = randomString(this.#rng, 3);
      this.#utf8Short(name);
      target[name] = this.amf0(depth + 1);
    }
    this.#w.raw(Buffer.from([0, 0, 0x09]));
  }

  /** One AMF0 value (possibly switching to AMF3), returning what it decodes to. */
  amf0(depth: number): AmfValue {
    const rng = this.#rng;
    const w = this.#w;
    const container = this.#containerAllowed(depth);
    const choice = rng.int(0, container ? 15 : 8);
    switch (choice) {
      case 0: {
        const value = randomNumber(rng);
        w.u8(0x00);
        w.f64(value);
        return value;
      }
      case 1: {
        const byte = rng.pick([0, 1, 2, 0xff]);
        w.u8(0x01);
        w.u8(byte);
        return byte !== 0;
      }
      case 2:
      case 3: {
        const value = randomString(rng);
        const bytes = Buffer.from(value, "utf8");
        const marker = rng.pick([0x02, 0x02, 0x0c, 0x0f]);
        w.u8(marker);
        if (marker === 0x02) w.u16(bytes.length);
        else w.u32(bytes.length);
        w.raw(bytes);
        return value;
      }
      case 4:
        w.u8(0x05);
        return null;
      case 5:
        w.u8(rng.pick([0x06, 0x0d]));
        return undefined;
      case 6: {
        const ms = rng.pick([0, -1, 1_700_000_000_000, 8.64e15, Number.NaN, rng.int(-1e9, 1e9)]);
        w.u8(0x0b);
        w.f64(ms);
        w.u16(rng.pick([0, 0xffff, 60]));
        return new Date(ms);
      }
      case 7:
      case 8:
        if (depth > 0 || rng.bool(0.5)) return this.#switchToAmf3(depth);
        return this.amf0(depth);
      case 9:
      case 10: {
        const target = newObject();
        w.u8(0x03);
        this.#properties(target, depth);
        return target;
      }
      case 11: {
        const target = newObject();
        w.u8(0x08);
        w.u32(rng.pick([0, 1, 5, 0xffffffff, rng.uint32()]));
        this.#properties(target, depth);
        return target;
      }
      case 12: {
        const target = newObject();
        w.u8(0x10);
        this.#utf8Short(randomString(rng, 2));
        this.#properties(target, depth);
        return target;
      }
      case 13:
      case 14: {
        const count = rng.int(0, 5);
        w.u8(0x0a);
        w.u32(count);
        const values: AmfValue[] = [];
        for (let i = 0; i < count; i++) values.push(this.amf0(depth + 1));
        return values;
      }
      default:
        return this.#switchToAmf3(depth);
    }
  }

  #switchToAmf3(depth: number): AmfValue {
    this.#w.u8(0x11);
    return this.amf3({ strings: [], objects: [], traits: [] }, depth);
  }

  /** A UTF-8-vr: a string-table reference when one exists (sometimes), else inline. */
  #string3(tables: Amf3Tables, value: string): void {
    const rng = this.#rng;
    const index = value.length > 0 ? tables.strings.lastIndexOf(value) : -1;
    if (index >= 0 && rng.bool(0.7)) {
      this.#w.u29(index << 1, rng);
      return;
    }
    const bytes = Buffer.from(value, "utf8");
    this.#w.u29((bytes.length << 1) | 1, rng);
    this.#w.raw(bytes);
    if (value.length > 0) tables.strings.push(value);
  }

  /** A string likely to be in the table already, to exercise references. */
  #name3(tables: Amf3Tables): string {
    const rng = this.#rng;
    if (tables.strings.length > 0 && rng.bool(0.4)) return rng.pick(tables.strings);
    return randomString(rng, 3);
  }

  amf3(tables: Amf3Tables, depth: number): AmfValue {
    const rng = this.#rng;
    const w = this.#w;
    const container = this.#containerAllowed(depth);
    const choice = rng.int(0, container ? 13 : 9);
    switch (choice) {
      case 0: {
        const marker = rng.int(0, 3);
        w.u8(marker);
        return [undefined, null, false, true][marker];
      }
      case 1:
      case 2: {
        const value = rng.pick([
          0,
          1,
          -1,
          127,
          128,
          16383,
          16384,
          2 ** 21 - 1,
          2 ** 21,
          2 ** 28 - 1,
          -(2 ** 28),
          rng.int(-(2 ** 28), 2 ** 28 - 1),
        ]);
        w.u8(0x04);
        w.u29(value, rng);
        return value;
      }
      case 3: {
        const value = randomNumber(rng);
        w.u8(0x05);
        w.f64(value);
        return value;
      }
      case 4:
      case 5: {
        const value = this.#name3(tables);
        w.u8(0x06);
        this.#string3(tables, value);
        return value;
      }
      case 6: {
        // XML / XMLDocument: object-table reference or inline (then recorded).
        w.u8(rng.pick([0x07, 0x0b]));
        const known = tables.objects.findIndex((o) => typeof o === "string");
        if (known >= 0 && rng.bool(0.5)) {
          w.u29(known << 1, rng);
          return tables.objects[known]!;
        }
        const value = randomString(rng);
        const bytes = Buffer.from(value, "utf8");
        w.u29((bytes.length << 1) | 1, rng);
        w.raw(bytes);
        tables.objects.push(value);
        return value;
      }
      case 7:
      case 8: {
        w.u8(0x08);
        const known = tables.objects.findIndex((o) => o instanceof Date);
        if (known >= 0 && rng.bool(0.5)) {
          w.u29(known << 1, rng);
          return tables.objects[known]!;
        }
        const date = new Date(rng.pick([0, 1_700_000_000_000, -1, rng.int(-1e9, 1e9)]));
        w.u29(1, rng);
        w.f64(date.getTime());
        tables.objects.push(date);
        return date;
      }
      case 9:
        return this.#switchNull();
      case 10:
      case 11:
        return this.#array3(tables, depth);
      default:
        return this.#object3(tables, depth);
    }
  }

  #switchNull(): AmfValue {
    this.#w.u8(0x01);
    return null;
  }

  #array3(tables: Amf3Tables, depth: number): AmfValue {
    const rng = this.#rng;
    const dense = rng.int(0, 4);
    this.#w.u8(0x09);
    this.#w.u29((dense << 1) | 1, rng);
    tables.objects.push(null);
    let assoc: AmfObject | null = null;
    const named = rng.bool(0.3) ? rng.int(1, 3) : 0;
    for (let i = 0; i < named; i++) {
      let name = this.#name3(tables);
      if (name.length === 0) name = "k";
      this.#string3(tables, name);
      assoc ??= newObject();
      assoc[name] = this.amf3(tables, depth + 1);
    }
    this.#string3(tables, "");
    const values: AmfValue[] = [];
    for (let i = 0; i < dense; i++) values.push(this.amf3(tables, depth + 1));
    if (assoc === null) return values;
    for (const [i, element] of values.entries()) assoc[String(i)] = element;
    return assoc;
  }

  #object3(tables: Amf3Tables, depth: number): AmfValue {
    const rng = this.#rng;
    const w = this.#w;
    w.u8(0x0a);
    let traits: { dynamic: boolean; sealed: string[] };
    if (tables.traits.length > 0 && rng.bool(0.4)) {
      const index = rng.int(0, tables.traits.length - 1);
      traits = tables.traits[index]!;
      w.u29((index << 2) | 0b01, rng);
    } else {
      const sealedCount = rng.int(0, 3);
      traits = { dynamic: rng.bool(0.6), sealed: [] };
      w.u29((sealedCount << 4) | (traits.dynamic ? 0b1000 : 0) | 0b011, rng);
      this.#string3(tables, rng.bool(0.5) ? "" : randomString(rng, 2));
      for (let i = 0; i < sealedCount; i++) {
        const name = this.#name3(tables);
        traits.sealed.push(name);
        this.#string3(tables, name);
      }
      tables.traits.push(traits);
    }
    tables.objects.push(null);
    const object = newObject();
    for (const name of traits.sealed) object[name] = this.amf3(tables, depth + 1);
    if (traits.dynamic) {
      const members = rng.int(0, 3);
      for (let i = 0; i < members; i++) {
        let name = this.#name3(tables);
        if (name.length === 0) name = "d";
        this.#string3(tables, name);
        object[name] = this.amf3(tables, depth + 1);
      }
      this.#string3(tables, "");
    }
    return object;
  }

  /** A command-shaped sequence: name, transaction id, command object, args. */
  command(): AmfValue[] {
    const rng = this.#rng;
    const w = this.#w;
    const name = rng.pick([
      "connect",
      "createStream",
      "play",
      "play2",
      "pause",
      "seek",
      "_checkbw",
      "FCSubscribe",
      "deleteStream",
      randomString(rng),
    ]);
    if (rng.bool(0.8)) {
      this.#utf8Short(name);
      this.#w.parts.splice(-2, 0, Buffer.from([0x02]));
    } else {
      w.u8(0x11);
      this.#string3({ strings: [], objects: [], traits: [] }, name);
      w.parts.splice(-2, 0, Buffer.from([0x06]));
    }
    const tid = rng.pick([0, 1, 2, 4, rng.int(0, 1e6)]);
    if (rng.bool(0.85)) {
      w.u8(0x00);
      w.f64(tid);
    } else {
      w.u8(0x11);
      w.u8(0x04);
      w.u29(tid, rng);
    }
    const values: AmfValue[] = [name, tid];
    const rest = rng.int(0, 4);
    for (let i = 0; i < rest; i++) values.push(this.amf0(0));
    return values;
  }
}

// ---------------------------------------------------------------------------
// Deep nesting and huge lengths

type Level = "object" | "ecma" | "typed" | "strict" | "amf3-array" | "amf3-object";
const LEVELS: readonly Level[] = ["object", "ecma", "typed", "strict", "amf3-array", "amf3-object"];

/** Opening bytes of each container kind holding one child, and (in AMF3) without the 0x11 switch. */
const OPEN: Record<Level, { amf0: Buffer; amf3: Buffer }> = {
  // object with property "a"
  object: { amf0: Buffer.from([0x03, 0x00, 0x01, 0x61]), amf3: Buffer.alloc(0) },
  // ECMA array, count hint 1, property "a"
  ecma: { amf0: Buffer.from([0x08, 0, 0, 0, 1, 0x00, 0x01, 0x61]), amf3: Buffer.alloc(0) },
  // typed object of class "C", property "a"
  typed: { amf0: Buffer.from([0x10, 0x00, 0x01, 0x43, 0x00, 0x01, 0x61]), amf3: Buffer.alloc(0) },
  // strict array of one element
  strict: { amf0: Buffer.from([0x0a, 0, 0, 0, 1]), amf3: Buffer.alloc(0) },
  // AMF3 array: dense count 1, no named entries (the empty name 0x01), then the element
  "amf3-array": { amf0: Buffer.from([0x11, 0x09, 0x03, 0x01]), amf3: Buffer.from([0x09, 0x03, 0x01]) },
  // AMF3 object: inline traits (dynamic, no sealed members, class ""), member "a"; "" ends it
  "amf3-object": {
    amf0: Buffer.from([0x11, 0x0a, 0x0b, 0x01, 0x03, 0x61]),
    amf3: Buffer.from([0x0a, 0x0b, 0x01, 0x03, 0x61]),
  },
};
const AMF0_END = Buffer.from([0x00, 0x00, 0x09]);
const AMF3_END = Buffer.from([0x01]);
const CLOSE: Record<Level, Buffer | null> = {
  object: AMF0_END,
  ecma: AMF0_END,
  typed: AMF0_END,
  strict: null,
  "amf3-array": null,
  "amf3-object": AMF3_END,
};

/** A nest `depth` containers deep, built iteratively (the generator must not recurse either). */
function deepNest(rng: Prng, depth: number): Buffer {
  const prefix: Buffer[] = [];
  const suffix: Buffer[] = [];
  let inAmf3 = false;
  const uniform = rng.bool(0.5);
  let kind = rng.pick(LEVELS);
  for (let i = 0; i < depth; i++) {
    if (!uniform) kind = rng.pick(LEVELS);
    // Once in AMF3, only AMF3 containers can nest.
    if (inAmf3 && kind !== "amf3-array" && kind !== "amf3-object") kind = "amf3-array";
    prefix.push(inAmf3 ? OPEN[kind].amf3 : OPEN[kind].amf0);
    const close = CLOSE[kind];
    if (close) suffix.push(close);
    if (kind === "amf3-array" || kind === "amf3-object") inAmf3 = true;
  }
  const leaf = Buffer.from([inAmf3 ? 0x01 : 0x05]);
  return Buffer.concat([...prefix, leaf, ...suffix.reverse()]);
}

function hugeLengths(rng: Prng): Buffer {
  const big = rng.pick(INTERESTING_U32.filter((v) => v >= 0x7fff));
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(big, 0);
  const u16 = Buffer.from([0xff, rng.int(0, 255)]);
  const u29Max = Buffer.from([0xff, 0xff, 0xff, 0xff]);
  const u29Big = Buffer.from([0xbf, 0xff, 0xff, 0xff]);
  const templates: Buffer[] = [
    Buffer.concat([Buffer.from([0x02]), u16]),
    Buffer.concat([Buffer.from([0x0c]), u32]),
    Buffer.concat([Buffer.from([0x0f]), u32]),
    Buffer.concat([Buffer.from([0x0a]), u32]),
    Buffer.concat([Buffer.from([0x08]), u32, Buffer.from([0, 0, 9])]),
    Buffer.concat([Buffer.from([0x03]), u16]),
    Buffer.concat([Buffer.from([0x10]), u16]),
    Buffer.concat([Buffer.from([0x11, 0x06]), rng.pick([u29Max, u29Big])]),
    Buffer.concat([Buffer.from([0x11, 0x07]), rng.pick([u29Max, u29Big])]),
    Buffer.concat([Buffer.from([0x11, 0x09]), rng.pick([u29Max, u29Big]), Buffer.from([0x01])]),
    Buffer.concat([Buffer.from([0x11, 0x0a]), rng.pick([u29Max, u29Big]), Buffer.from([0x01])]),
    // References far past anything recorded.
    Buffer.concat([Buffer.from([0x11, 0x06]), Buffer.from([0xbf, 0xff, 0xff, 0xfe])]),
    Buffer.concat([Buffer.from([0x11, 0x08]), Buffer.from([0xbf, 0xff, 0xff, 0xfe])]),
    Buffer.concat([Buffer.from([0x11, 0x0a]), Buffer.from([0xbf, 0xff, 0xff, 0xfd])]),
    // A million-element strict array of nulls: the count is real, the item limit must stop it.
    Buffer.concat([Buffer.from([0x0a, 0x00, 0x0f, 0x42, 0x40]), Buffer.alloc(rng.int(0, 80_000), 0x05)]),
  ];
  const head = rng.pick(templates);
  const tail = rng.bool(0.5) ? randomBytes(rng, rng.int(0, 64)) : Buffer.alloc(0);
  const prefix = rng.bool(0.3) ? Buffer.from([0x03, 0x00, 0x01, 0x78]) : Buffer.alloc(0);
  return Buffer.concat([prefix, head, tail]);
}

// ---------------------------------------------------------------------------

function decode(input: AmfInput): AmfValue[] {
  const { data, mode, limits } = input;
  if (mode === "amf0" || mode === "metadata") return decodeAmf0(data, limits);
  const command = decodeCommand(
    data,
    mode === "command20" ? MessageType.CommandAmf0 : MessageType.CommandAmf3,
    limits,
  );
  return [command.name, command.transactionId, command.commandObject, ...command.args];
}

/** The first difference between two decoded values, or null (prototypes ignored, NaN and -0 exact). */
export function amfDifference(got: AmfValue, want: AmfValue, path = "$"): string | null {
  if (typeof want !== "object" || want === null) {
    return Object.is(got, want) ? null : `${path}: got ${show(got)}, want ${show(want)}`;
  }
  if (want instanceof Date) {
    return got instanceof Date && Object.is(got.getTime(), want.getTime())
      ? null
      : `${path}: got ${show(got)}, want ${show(want)}`;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length)
      return `${path}: got ${show(got)}, want an array of ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const d = amfDifference(got[i], want[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (typeof got !== "object" || got === null || Array.isArray(got) || got instanceof Date)
    return `${path}: got ${show(got)}, want an object`;
  const gotKeys = Object.keys(got).sort();
  const wantKeys = Object.keys(want).sort();
  if (gotKeys.join("\u0001") !== wantKeys.join("\u0001"))
    return `${path}: keys [${gotKeys}] vs [${wantKeys}]`;
  for (const key of wantKeys) {
    const d = amfDifference(got[key], want[key], `${path}.${key}`);
    if (d) return d;
  }
  return null;
}

function show(value: AmfValue): string {
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (typeof value === "object" && value !== null) return "object";
  return String(value);
}

function generate(rng: Prng): AmfInput {
  const mode = rng.pick<Mode>(["amf0", "amf0", "amf0", "metadata", "command20", "command17", "command17"]);
  const customLimits = rng.bool(0.1);
  const limits: AmfLimits | undefined = customLimits
    ? { maxDepth: rng.int(1, 64), maxItems: rng.pick([1, 10, 1000, 65536]) }
    : mode === "metadata"
      ? { maxItems: 4_000_000 }
      : undefined;
  const kind = rng.int(0, 19);

  if (kind <= 1) {
    const length = rng.int(0, 512);
    const data = randomBytes(rng, length);
    if (length > 0 && rng.bool(0.7)) data[0] = rng.int(0, 0x11);
    return { data, mode, limits, expected: null, nestDepth: null, provenance: "random" };
  }
  if (kind <= 3) {
    const maxDepth = limits?.maxDepth ?? AMF0_DEFAULT_MAX_DEPTH;
    // Past maxDepth + 1 the decoder must stop at the same point, so very deep nests are rare (they cost generation time).
    const depth = rng.pick([
      maxDepth,
      maxDepth + 1,
      rng.int(1, 64),
      rng.bool(0.9) ? rng.int(100, 5000) : 100_000,
    ]);
    const nest = deepNest(rng, depth);
    if (rng.bool(0.3))
      return {
        data: mutate(rng, nest, 2),
        mode: "amf0",
        limits,
        expected: null,
        nestDepth: null,
        provenance: `deep ${depth}, mutated`,
      };
    // A tiny item limit may stop a shallow nest first; the depth property is only stated without one.
    const nestDepth = (limits?.maxItems ?? 65536) >= 1000 ? depth : null;
    return { data: nest, mode: "amf0", limits, expected: null, nestDepth, provenance: `deep ${depth}` };
  }
  if (kind <= 5)
    return {
      data: hugeLengths(rng),
      mode,
      limits,
      expected: null,
      nestDepth: null,
      provenance: "huge lengths",
    };

  // Structure-aware: our own writer, or encodeAmf0.
  const generator = new AmfGenerator(rng, rng.int(0, 40));
  let values: AmfValue[];
  let data: Buffer;
  let provenance: string;
  if (mode === "command20" || mode === "command17") {
    values = generator.command();
    data = generator.bytes();
    if (mode === "command17" && rng.bool(0.7)) data = Buffer.concat([Buffer.from([0x00]), data]);
    provenance = "command";
  } else if (rng.bool(0.7)) {
    const count = rng.int(1, 4);
    values = [];
    for (let i = 0; i < count; i++) values.push(generator.amf0(0));
    data = generator.bytes();
    provenance = "structured";
  } else {
    const count = rng.int(1, 4);
    values = [];
    for (let i = 0; i < count; i++) values.push(generator.amf0(0));
    // encodeAmf0 writes its own shapes (strict arrays, plain objects): decode its output and compare.
    try {
      data = encodeAmf0(values);
    } catch {
      data = generator.bytes();
    }
    provenance = "encodeAmf0";
  }
  if (kind <= 11 && !customLimits) {
    const expected = mode === "command20" || mode === "command17" ? commandShape(values) : values;
    return { data, mode, limits, expected, nestDepth: null, provenance };
  }
  return {
    data: mutate(rng, data, 4),
    mode,
    limits,
    expected: null,
    nestDepth: null,
    provenance: `${provenance}, mutated`,
  };
}

/** What decodeCommand's fields look like when flattened back into a list. */
function commandShape(values: AmfValue[]): AmfValue[] {
  return [values[0], values[1], values.length > 2 ? values[2] : null, ...values.slice(3)];
}

function execute(input: AmfInput): void {
  let values: AmfValue[];
  try {
    values = decode(input);
  } catch (error) {
    if (input.expected !== null && !(error instanceof PropertyViolation)) {
      const message = error instanceof Error ? error.message : String(error);
      check(false, () => `a valid encoding was rejected: ${message}`);
    }
    if (input.nestDepth !== null) {
      const maxDepth = input.limits?.maxDepth ?? AMF0_DEFAULT_MAX_DEPTH;
      const code = (error as { code?: unknown }).code;
      check(
        input.nestDepth > maxDepth && code === EdgeErrorCode.AmfTooDeep,
        () => `a well-formed nest ${input.nestDepth} deep (max ${maxDepth}) threw ${String(code)}`,
      );
    }
    throw error;
  }
  if (input.nestDepth !== null) {
    const maxDepth = input.limits?.maxDepth ?? AMF0_DEFAULT_MAX_DEPTH;
    check(
      input.nestDepth <= maxDepth,
      () => `a nest ${input.nestDepth} deep decoded with maxDepth ${maxDepth}`,
    );
  }
  const expected = input.expected;
  if (expected === null) return;
  check(
    values.length === expected.length,
    () => `decoded ${values.length} values, encoded ${expected.length}`,
  );
  const difference = amfDifference(values, expected);
  check(difference === null, () => `round trip differs at ${difference}`);
}

export const amfTarget: Target = defineTarget<AmfInput>({
  name: "amf",
  summary:
    "decodeAmf0 (+AMF3 via 0x11) and decodeCommand types 20/17: structured, mutated, deep, huge, random",
  codes: [EdgeErrorCode.AmfInvalid, EdgeErrorCode.AmfTooDeep, EdgeErrorCode.CommandInvalid],
  generate,
  execute,
  bytes: (input) => input.data,
  withBytes: (input, data) => ({ ...input, data, expected: null, nestDepth: null }),
  describe: (input) =>
    `${input.provenance}; mode ${input.mode}${input.limits ? `, limits ${JSON.stringify(input.limits)}` : ""}${input.nestDepth !== null ? `, nest depth ${input.nestDepth}` : ""}`,
});
