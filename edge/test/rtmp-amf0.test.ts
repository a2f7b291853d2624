import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { EdgeErrorCode } from "../src/errors.js";
import { type AmfObject, type AmfValue, createAmfObject, decodeAmf0, encodeAmf0 } from "../src/rtmp/amf0.js";
import { assertEdgeError, onlyEdgeErrors } from "./helpers/edge-error.js";
import { toPlain } from "./helpers/plain.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const decodePlain = (bytes: Buffer): AmfValue[] => decodeAmf0(bytes).map(toPlain);

function roundTrip(values: AmfValue[]): void {
  assert.deepStrictEqual(decodePlain(encodeAmf0(values)), values);
}

describe("AMF0 known vectors", () => {
  it("encodes scalars byte for byte", () => {
    assert.deepStrictEqual(encodeAmf0([1]), hex("00 3ff0000000000000"));
    assert.deepStrictEqual(encodeAmf0([true, false]), hex("0101 0100"));
    assert.deepStrictEqual(encodeAmf0(["connect"]), hex("02 0007 636f6e6e656374"));
    assert.deepStrictEqual(encodeAmf0([null, undefined]), hex("05 06"));
    assert.deepStrictEqual(encodeAmf0([new Date(0)]), hex("0b 0000000000000000 0000"));
    assert.deepStrictEqual(encodeAmf0([[]]), hex("0a 00000000"));
  });

  it("encodes objects in insertion order with the object-end marker", () => {
    assert.deepStrictEqual(
      encodeAmf0([{ b: 1, a: null }]),
      hex("03 0001 62 00 3ff0000000000000 0001 61 05 000009"),
    );
  });

  it("encodes a connect command like Flash Player", () => {
    const bytes = encodeAmf0(["connect", 1, { app: "cfx/st" }]);
    assert.deepStrictEqual(
      bytes,
      hex(`02 0007 636f6e6e656374  00 3ff0000000000000
           03 0003 617070 02 0006 6366782f7374 000009`),
    );
  });

  it("decodes an ECMA array to an object, ignoring its count hint", () => {
    assert.deepStrictEqual(decodePlain(hex("08 00000001 0001 61 05 000009")), [{ a: null }]);
    // Some encoders write 0 as the count; the object-end marker terminates.
    assert.deepStrictEqual(decodePlain(hex("08 00000000 0001 61 0101 000009")), [{ a: true }]);
  });

  it("decodes strict arrays, typed objects, dates, long strings and XML documents", () => {
    assert.deepStrictEqual(decodePlain(hex("0a 00000002 00 4000000000000000 05")), [[2, null]]);
    assert.deepStrictEqual(decodePlain(hex("10 0003 466f6f 0001 78 0101 000009")), [{ x: true }]);
    const [date] = decodeAmf0(hex("0b 40f86a0000000000 0000"));
    assert.ok(date instanceof Date);
    assert.equal(date.getTime(), 100000);
    assert.deepStrictEqual(decodeAmf0(hex("0c 00000002 6869")), ["hi"]);
    assert.deepStrictEqual(decodeAmf0(hex("0f 00000003 3c612f")), ["<a/"]);
    assert.deepStrictEqual(decodeAmf0(hex("0d")), [undefined]);
  });

  it("treats an empty property name not followed by 0x09 as a property", () => {
    assert.deepStrictEqual(decodePlain(hex("03 0000 05 000009")), [{ "": null }]);
  });

  it("decodes nothing from no bytes", () => {
    assert.deepStrictEqual(decodeAmf0(Buffer.alloc(0)), []);
  });
});

describe("AMF0 round trips", () => {
  it("round-trips every value kind", () => {
    roundTrip([0, -0, 1.5, -1e300, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]);
    roundTrip([true, false, null, undefined, "", "plain", "ünïcødé ✓ 😀"]);
    roundTrip([new Date(1_234_567_890_123)]);
    roundTrip([[1, "two", [3, [null]], { four: 4 }]]);
    roundTrip([{ level: "status", code: "NetConnection.Connect.Success", data: { version: "3,5,1,525" } }]);
    roundTrip([{}, [], { nested: { deeper: { deepest: [undefined] } } }]);
  });

  it("keeps NaN", () => {
    const [value] = decodeAmf0(encodeAmf0([Number.NaN]));
    assert.ok(Number.isNaN(value));
  });

  it("uses a short string up to 65535 bytes and a long string above", () => {
    const short = "x".repeat(0xffff);
    const long = "y".repeat(0x10000);
    const shortBytes = encodeAmf0([short]);
    const longBytes = encodeAmf0([long]);
    assert.equal(shortBytes[0], 0x02);
    assert.equal(shortBytes.length, 3 + 0xffff);
    assert.equal(longBytes[0], 0x0c);
    assert.equal(longBytes.readUInt32BE(1), 0x10000);
    assert.deepStrictEqual(decodeAmf0(Buffer.concat([shortBytes, longBytes])), [short, long]);
    // Multi-byte characters count in bytes, not UTF-16 units.
    const wide = "é".repeat(40000);
    const wideBytes = encodeAmf0([wide]);
    assert.equal(wideBytes[0], 0x0c);
    assert.deepStrictEqual(decodeAmf0(wideBytes), [wide]);
  });

  it("round-trips random value trees", () => {
    const prng = new Prng(0xa3f0);
    const strings = ["", "a", "onMetaData", "ключ", "__proto__", "constructor", "0", "12"];
    const randomValue = (depth: number): AmfValue => {
      const kind = prng.int(0, depth > 4 ? 5 : 8);
      switch (kind) {
        case 0:
          return prng.next() * 1e6 - 5e5;
        case 1:
          return prng.bool();
        case 2:
          return prng.pick(strings) + prng.int(0, 9);
        case 3:
          return null;
        case 4:
          return undefined;
        case 5:
          return new Date(prng.int(0, 2e12));
        case 6:
        case 7: {
          const object = createAmfObject();
          const count = prng.int(0, 5);
          for (let i = 0; i < count; i += 1) object[prng.pick(strings)] = randomValue(depth + 1);
          return object;
        }
        default: {
          const count = prng.int(0, 5);
          return Array.from({ length: count }, () => randomValue(depth + 1));
        }
      }
    };
    for (let i = 0; i < 500; i += 1) {
      const values = Array.from({ length: prng.int(1, 4) }, () => randomValue(0));
      const encoded = encodeAmf0(values);
      const decoded = decodeAmf0(encoded);
      assert.deepStrictEqual(decoded, values, `case ${i}`);
      // Re-encoding the decoded values is byte-identical.
      assert.deepStrictEqual(encodeAmf0(decoded), encoded, `case ${i} re-encode`);
    }
  });
});

describe("AMF0 objects are safe", () => {
  it("decodes objects without a prototype so __proto__ stays data", () => {
    const bytes = encodeAmf0([
      Object.defineProperty(createAmfObject(), "__proto__", { value: { polluted: true }, enumerable: true }),
    ]);
    const [decoded] = decodeAmf0(bytes) as [AmfObject];
    assert.equal(Object.getPrototypeOf(decoded), null);
    assert.deepStrictEqual(Object.keys(decoded), ["__proto__"]);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.getPrototypeOf(Object.prototype), null);
  });

  it("does not expose inherited members for absent keys", () => {
    const [decoded] = decodeAmf0(encodeAmf0([{ app: "vod" }])) as [AmfObject];
    assert.equal(decoded.toString, undefined);
    assert.equal(decoded.constructor, undefined);
  });
});

describe("AMF0 rejects bad input with EdgeError", () => {
  it("rejects every truncation of a complex value", () => {
    const bytes = encodeAmf0([{ a: [1, "two", new Date(5)], b: { c: null, d: "x".repeat(20) }, e: true }]);
    for (let end = 1; end < bytes.length; end += 1) {
      assertEdgeError(() => decodeAmf0(bytes.subarray(0, end)), EdgeErrorCode.AmfInvalid);
    }
  });

  it("rejects unknown and unsupported markers", () => {
    for (const marker of ["04", "07 0000", "0e", "12", "ff"]) {
      assertEdgeError(() => decodeAmf0(hex(marker)), EdgeErrorCode.AmfInvalid);
    }
    // 0x11 switches to AMF3 (tested in rtmp-amf3.test.ts); a truncated AMF3 value is invalid.
    assertEdgeError(() => decodeAmf0(hex("11")), EdgeErrorCode.AmfInvalid, /AMF3/);
    assertEdgeError(() => decodeAmf0(hex("11 06")), EdgeErrorCode.AmfInvalid, /AMF3/);
  });

  it("rejects an object-end marker outside an object", () => {
    assertEdgeError(() => decodeAmf0(hex("09")), EdgeErrorCode.AmfInvalid);
    assertEdgeError(() => decodeAmf0(hex("0a 00000001 09")), EdgeErrorCode.AmfInvalid);
  });

  it("checks declared lengths against the remaining bytes before allocating", () => {
    assertEdgeError(() => decodeAmf0(hex("02 0005 6869")), EdgeErrorCode.AmfInvalid);
    assertEdgeError(() => decodeAmf0(hex("0c ffffffff 6869")), EdgeErrorCode.AmfInvalid);
    assertEdgeError(() => decodeAmf0(hex("0a 0000ffff 05")), EdgeErrorCode.AmfInvalid, /remain/);
  });

  it("limits the number of items", () => {
    assertEdgeError(() => decodeAmf0(hex("0a ffffffff")), EdgeErrorCode.AmfInvalid, /limit/);
    const tenNulls = Buffer.alloc(10, 0x05);
    assert.equal(decodeAmf0(tenNulls, { maxItems: 10 }).length, 10);
    assertEdgeError(() => decodeAmf0(tenNulls, { maxItems: 9 }), EdgeErrorCode.AmfInvalid);
    const array = encodeAmf0([[1, 2, 3]]);
    assertEdgeError(() => decodeAmf0(array, { maxItems: 2 }), EdgeErrorCode.AmfInvalid);
  });

  it("limits nesting depth (default 32)", () => {
    const nest = (levels: number): AmfValue => {
      let value: AmfValue = null;
      for (let i = 0; i < levels; i += 1) value = [value];
      return value;
    };
    assert.equal(decodeAmf0(encodeAmf0([nest(32)])).length, 1);
    assertEdgeError(() => decodeAmf0(encodeAmf0([nest(33)])), EdgeErrorCode.AmfTooDeep);
    assertEdgeError(
      () => decodeAmf0(encodeAmf0([{ a: { b: {} } }]), { maxDepth: 2 }),
      EdgeErrorCode.AmfTooDeep,
    );
    // A hand-made object nest far deeper than any stack would allow recursion for.
    const deep = Buffer.concat([Buffer.from([0x03]), Buffer.alloc(100_000 * 4, hex("00016103"))]);
    assertEdgeError(() => decodeAmf0(deep), EdgeErrorCode.AmfTooDeep);
  });

  it("refuses to encode cycles", () => {
    const cyclic: AmfValue[] = [];
    cyclic.push(cyclic);
    assertEdgeError(() => encodeAmf0([cyclic]), EdgeErrorCode.AmfTooDeep);
  });

  it("only ever throws EdgeError on random garbage and mutated encodings", () => {
    const prng = new Prng(0x5eed);
    for (let i = 0; i < 3000; i += 1) {
      const garbage = prng.bytes(prng.int(0, 64));
      // Bias towards valid markers so the decoder gets past the first byte.
      if (garbage.length > 0) garbage[0] = prng.int(0, 0x12);
      onlyEdgeErrors(() => decodeAmf0(garbage), `garbage case ${i} (${garbage.toString("hex")})`);
    }
    const valid = encodeAmf0(["onStatus", 0, null, { level: "status", code: "x", list: [1, true, "s"] }]);
    for (let i = 0; i < 3000; i += 1) {
      const mutated = Buffer.from(valid);
      for (let flips = prng.int(1, 3); flips > 0; flips -= 1) {
        mutated[prng.int(0, mutated.length - 1)] = prng.int(0, 255);
      }
      onlyEdgeErrors(() => decodeAmf0(mutated), `mutation case ${i} (${mutated.toString("hex")})`);
    }
  });
});
