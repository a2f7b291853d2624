import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { EdgeErrorCode } from "../src/errors.js";
import { type AmfValue, decodeAmf0 } from "../src/rtmp/amf0.js";
import { decodeCommand } from "../src/rtmp/command.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { assertEdgeError, onlyEdgeErrors } from "./helpers/edge-error.js";
import { toPlain } from "./helpers/plain.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const ascii = (text: string): string => Buffer.from(text, "ascii").toString("hex");
/** Decodes one AMF3 value given as hex, through the AMF0 0x11 switch. */
const amf3 = (body: string): AmfValue => {
  const values = decodeAmf0(hex(`11 ${body}`));
  assert.equal(values.length, 1);
  return toPlain(values[0]);
};

describe("AMF3 values inside AMF0 (marker 0x11)", () => {
  it("decodes scalars", () => {
    assert.equal(amf3("00"), undefined);
    assert.equal(amf3("01"), null);
    assert.equal(amf3("02"), false);
    assert.equal(amf3("03"), true);
    assert.equal(amf3("05 3ff8000000000000"), 1.5);
  });

  it("decodes U29 integers of every width, sign-extended", () => {
    assert.equal(amf3("04 00"), 0);
    assert.equal(amf3("04 7f"), 0x7f);
    assert.equal(amf3("04 8100"), 0x80);
    assert.equal(amf3("04 ff7f"), 0x3fff);
    assert.equal(amf3("04 818000"), 0x4000);
    assert.equal(amf3("04 ffff7f"), 0x1fffff);
    assert.equal(amf3("04 80c08000"), 0x200000);
    assert.equal(amf3("04 bfffffff"), 0x0fffffff);
    assert.equal(amf3("04 c0808000"), -0x10000000);
    assert.equal(amf3("04 ffffffff"), -1);
  });

  it("decodes strings and string references", () => {
    assert.equal(amf3(`06 07 ${ascii("abc")}`), "abc");
    assert.equal(amf3("06 01"), "");
    // Array of two: the second element references string 0.
    assert.deepStrictEqual(amf3(`09 05 01 06 07 ${ascii("abc")} 06 00`), ["abc", "abc"]);
  });

  it("decodes dates, XML, and date references", () => {
    const date = amf3("08 01 40f86a0000000000");
    assert.ok(date instanceof Date);
    assert.equal(date.getTime(), 100000);
    assert.equal(amf3(`07 05 ${ascii("<a")}`), "<a");
    assert.equal(amf3(`0b 05 ${ascii("<b")}`), "<b");
    const [first, second] = amf3("09 05 01 08 01 40f86a0000000000 08 02") as [Date, Date];
    assert.equal(second.getTime(), first.getTime());
  });

  it("decodes dynamic, sealed and traits-referencing objects", () => {
    // 0x0b: inline object, inline traits, dynamic, 0 sealed; anonymous class.
    assert.deepStrictEqual(amf3(`0a 0b 01 07 ${ascii("app")} 06 07 ${ascii("vod")} 01`), { app: "vod" });
    // 0x23: inline traits with 2 sealed names, class "Foo"; then an object reusing traits 0 (header 0x01).
    assert.deepStrictEqual(amf3(`09 05 01  0a 23 07 ${ascii("Foo")} 03 61 03 62 04 01 02  0a 01 04 02 03`), [
      { a: 1, b: false },
      { a: 2, b: true },
    ]);
  });

  it("decodes a mixed array to an object", () => {
    assert.deepStrictEqual(amf3(`09 03 03 ${ascii("k")} 06 03 ${ascii("v")} 01 04 07`), { k: "v", "0": 7 });
  });

  it("keeps __proto__ as data", () => {
    const [value] = decodeAmf0(hex(`11 0a 0b 01 13 ${ascii("__proto__")} 03 01`));
    assert.equal(Object.getPrototypeOf(value), null);
    assert.deepStrictEqual(Object.keys(value as object), ["__proto__"]);
  });

  it("continues with AMF0 after the AMF3 value", () => {
    assert.deepStrictEqual(decodeAmf0(hex("11 04 05 05 11 03")), [5, null, true]);
  });

  it("decodes an AMF3 command (type 17) whose argument switched to AMF3", () => {
    const payload = hex(
      `00 02 0004 ${ascii("play")} 00 4010000000000000 05 11 06 0d ${ascii("sample")} 11 04 00`,
    );
    assert.deepStrictEqual(decodeCommand(payload, MessageType.CommandAmf3), {
      name: "play",
      transactionId: 4,
      commandObject: null,
      args: ["sample", 0],
    });
  });

  it("rejects references to arrays and objects, bad references and unsupported types", () => {
    assertEdgeError(() => amf3("09 05 01 0a 0b 01 01 0a 02"), EdgeErrorCode.AmfInvalid, /not supported/);
    assertEdgeError(() => amf3("09 03 01 09 00"), EdgeErrorCode.AmfInvalid, /not supported/);
    assertEdgeError(() => amf3("06 00"), EdgeErrorCode.AmfInvalid, /out of range/);
    assertEdgeError(() => amf3("08 04"), EdgeErrorCode.AmfInvalid, /out of range/);
    assertEdgeError(() => amf3("0a 05"), EdgeErrorCode.AmfInvalid, /out of range/);
    assertEdgeError(() => amf3("0a 07 01"), EdgeErrorCode.AmfInvalid, /externalizable/);
    for (const marker of ["0c 01", "0d 01", "0e 01", "0f 01", "10 01", "11 01", "12", "ff"]) {
      assertEdgeError(() => amf3(marker), EdgeErrorCode.AmfInvalid);
    }
  });

  it("bounds counts and lengths by the bytes that remain", () => {
    assertEdgeError(() => amf3("09 bfffffff 01"), EdgeErrorCode.AmfInvalid, /remain/);
    assertEdgeError(() => amf3("06 bfffffff"), EdgeErrorCode.AmfInvalid, /truncated/);
    assertEdgeError(() => amf3("0a bfffff7b 01"), EdgeErrorCode.AmfInvalid, /remain/);
  });

  it("shares the AMF0 depth and item limits", () => {
    const nested = `${"09 03 01 ".repeat(40)}01`;
    assertEdgeError(() => amf3(nested), EdgeErrorCode.AmfTooDeep);
    assert.equal(decodeAmf0(hex(`11 ${"09 03 01 ".repeat(5)}01`), { maxDepth: 5 }).length, 1);
    assertEdgeError(
      () => decodeAmf0(hex(`11 ${"09 03 01 ".repeat(6)}01`), { maxDepth: 5 }),
      EdgeErrorCode.AmfTooDeep,
    );
    assertEdgeError(() => decodeAmf0(hex("11 09 07 01 01 01 01"), { maxItems: 3 }), EdgeErrorCode.AmfInvalid);
    assert.equal(decodeAmf0(hex("11 09 07 01 01 01 01"), { maxItems: 4 }).length, 1);
  });

  it("rejects every truncation of a complex value", () => {
    const bytes = hex(
      `11 09 07 03 ${ascii("k")} 06 03 ${ascii("v")} 01  0a 23 07 ${ascii("Foo")} 03 61 03 62 04 ff7f 05 3ff8000000000000  0a 01 06 00 08 01 40f86a0000000000  06 03 ${ascii("x")}`,
    );
    assert.equal(decodeAmf0(bytes).length, 1);
    for (let end = 1; end < bytes.length; end += 1) {
      assertEdgeError(() => decodeAmf0(bytes.subarray(0, end)), EdgeErrorCode.AmfInvalid);
    }
  });

  it("only ever throws EdgeError on random AMF3 garbage", () => {
    const prng = new Prng(0x0a3);
    for (let i = 0; i < 4000; i += 1) {
      const garbage = prng.bytes(prng.int(1, 48));
      garbage[0] = 0x11;
      if (garbage.length > 1) garbage[1] = prng.int(0, 0x0c);
      onlyEdgeErrors(() => decodeAmf0(garbage), `case ${i} (${garbage.toString("hex")})`);
    }
  });
});
