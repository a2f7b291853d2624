import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CompressingChunkWriter } from "../../lib/testing/chunk-writer.js";
import { Prng } from "../../lib/testing/prng.js";
import { EdgeErrorCode } from "../src/errors.js";
import { ChunkDecoder, type ChunkDecoderLimits } from "../src/rtmp/chunk-decoder.js";
import { basicHeaderSize, chunkedSize, encodeMessage, encodeMessages } from "../src/rtmp/chunk-encoder.js";
import { abort, setChunkSize } from "../src/rtmp/control-messages.js";
import { MessageType, type RtmpMessage } from "../src/rtmp/message-types.js";
import { ReassemblyBudget } from "../src/rtmp/reassembly-budget.js";
import { assertEdgeError, onlyEdgeErrors } from "./helpers/edge-error.js";
import { everyFeeding, randomPieces } from "./helpers/feed.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const LIMITS: ChunkDecoderLimits = { maxMessageBytes: 1 << 20, maxChunkStreams: 64, maxChunkSize: 1 << 20 };
const newDecoder = (limits: Partial<ChunkDecoderLimits> = {}): ChunkDecoder =>
  new ChunkDecoder({ ...LIMITS, ...limits });

function message(fields: Partial<RtmpMessage> & { payload: Buffer }): RtmpMessage {
  return {
    chunkStreamId: 3,
    messageTypeId: MessageType.CommandAmf0,
    messageStreamId: 0,
    timestamp: 0,
    ...fields,
  };
}

/** Decodes `bytes` fed whole, byte by byte and split at every offset; all must agree. */
function decodeEveryWay(bytes: Buffer, limits: Partial<ChunkDecoderLimits> = {}): RtmpMessage[] {
  const whole = newDecoder(limits).push(bytes);
  for (const { label, pieces } of everyFeeding(bytes)) {
    const decoder = newDecoder(limits);
    const got = pieces.flatMap((piece) => decoder.push(piece));
    assert.deepStrictEqual(got, whole, label);
    assert.equal(decoder.bytesReceived, bytes.length);
  }
  return whole;
}

describe("chunk encoder known vectors", () => {
  it("writes a fmt 0 header on chunk stream 3", () => {
    const encoded = encodeMessage(
      message({ timestamp: 0x010203, messageStreamId: 1, payload: Buffer.from("hello") }),
      128,
    );
    // fmt 0 | csid 3, timestamp 010203, length 5, type 20, stream id 1 (LE), payload.
    assert.deepStrictEqual(encoded, hex("03 010203 000005 14 01000000 68656c6c6f"));
  });

  it("splits into fmt 3 continuation chunks", () => {
    const encoded = encodeMessage(message({ payload: Buffer.from("abcdefg") }), 3);
    assert.deepStrictEqual(encoded, hex("03 000000 000007 14 00000000 616263 c3 646566 c3 67"));
  });

  it("uses 2- and 3-byte basic headers", () => {
    const at = (csid: number): Buffer =>
      encodeMessage(message({ chunkStreamId: csid, payload: Buffer.alloc(0) }), 128);
    assert.deepStrictEqual(at(63).subarray(0, 1), hex("3f"));
    assert.deepStrictEqual(at(64).subarray(0, 2), hex("00 00"));
    assert.deepStrictEqual(at(319).subarray(0, 2), hex("00 ff"));
    assert.deepStrictEqual(at(320).subarray(0, 3), hex("01 00 01"));
    // 3-byte form: csid = third byte * 256 + second byte + 64.
    assert.deepStrictEqual(at(64 + 0x1234).subarray(0, 3), hex("01 34 12"));
    assert.deepStrictEqual(at(65599).subarray(0, 3), hex("01 ff ff"));
    const continuation = encodeMessage(message({ chunkStreamId: 320, payload: Buffer.alloc(3) }), 2);
    assert.deepStrictEqual(continuation.subarray(3 + 11 + 2, 3 + 11 + 2 + 3), hex("c1 00 01"));
  });

  it("writes an extended timestamp on the first and every continuation chunk", () => {
    const encoded = encodeMessage(message({ timestamp: 0x01000000, payload: Buffer.from("abcd") }), 2);
    assert.deepStrictEqual(encoded, hex("03 ffffff 000004 14 00000000 01000000 6162 c3 01000000 6364"));
    const boundary = encodeMessage(message({ timestamp: 0xffffff, payload: Buffer.alloc(0) }), 128);
    assert.deepStrictEqual(boundary, hex("03 ffffff 000000 14 00000000 00ffffff"));
    const below = encodeMessage(message({ timestamp: 0xfffffe, payload: Buffer.alloc(0) }), 128);
    assert.deepStrictEqual(below, hex("03 fffffe 000000 14 00000000"));
  });

  it("predicts its output size with chunkedSize", () => {
    const prng = new Prng(99);
    for (let i = 0; i < 300; i += 1) {
      const m = message({
        chunkStreamId: prng.pick([2, 63, 64, 319, 320, 65599]),
        timestamp: prng.bool() ? prng.uint32() : prng.int(0, 1000),
        payload: Buffer.alloc(prng.int(0, 700)),
      });
      const chunkSize = prng.int(1, 300);
      const extended = m.timestamp >= 0xffffff;
      assert.equal(
        encodeMessage(m, chunkSize).length,
        chunkedSize(m.payload.length, chunkSize, m.chunkStreamId, extended),
      );
    }
    assert.equal(basicHeaderSize(2), 1);
    assert.equal(chunkedSize(0, 128, 3, false), 12);
    assert.equal(chunkedSize(256, 128, 3, false), 12 + 256 + 1);
    assert.equal(chunkedSize(257, 128, 3, true), 16 + 257 + 2 * 5);
  });

  it("encodes several messages into one buffer", () => {
    const a = message({ payload: Buffer.from("a") });
    const b = message({ chunkStreamId: 400, timestamp: 0xfffffff0, payload: Buffer.alloc(300, 7) });
    assert.deepStrictEqual(
      encodeMessages([a, b], 128),
      Buffer.concat([encodeMessage(a, 128), encodeMessage(b, 128)]),
    );
  });

  it("rejects caller mistakes with RangeError", () => {
    const m = message({ payload: Buffer.alloc(1) });
    assert.throws(() => encodeMessage(m, 0), RangeError);
    assert.throws(() => encodeMessage(m, 0x80000000), RangeError);
    assert.throws(() => encodeMessage({ ...m, chunkStreamId: 1 }, 128), RangeError);
    assert.throws(() => encodeMessage({ ...m, chunkStreamId: 65600 }, 128), RangeError);
    assert.throws(() => encodeMessage({ ...m, payload: Buffer.alloc(0x1000000) }, 1 << 20), RangeError);
  });
});

describe("ChunkDecoder known vectors", () => {
  it("decodes a fmt 0 message on chunk stream 3", () => {
    const [decoded, ...more] = decodeEveryWay(hex("03 010203 000005 14 01000000 68656c6c6f"));
    assert.equal(more.length, 0);
    assert.deepStrictEqual(decoded, {
      chunkStreamId: 3,
      messageTypeId: 20,
      messageStreamId: 1,
      timestamp: 0x010203,
      payload: Buffer.from("hello"),
    });
  });

  it("decodes 2- and 3-byte basic headers, including the non-minimal 3-byte form", () => {
    const body = "000000 000001 08 00000000 aa";
    const csids = (bytes: string): number[] => decodeEveryWay(hex(bytes)).map((m) => m.chunkStreamId);
    assert.deepStrictEqual(csids(`00 00 ${body}`), [64]);
    assert.deepStrictEqual(csids(`00 ff ${body}`), [319]);
    assert.deepStrictEqual(csids(`01 00 01 ${body}`), [320]);
    assert.deepStrictEqual(csids(`01 34 12 ${body}`), [0x1234 + 64]);
    assert.deepStrictEqual(csids(`01 ff ff ${body}`), [65599]);
    assert.deepStrictEqual(csids(`01 00 00 ${body}`), [64]);
  });

  it("reassembles a message split over fmt 3 chunks (default chunk size 128)", () => {
    const payload = Buffer.alloc(300);
    for (let i = 0; i < payload.length; i += 1) payload[i] = i & 0xff;
    const bytes = Buffer.concat([
      hex("04 000064 00012c 09 01000000"),
      payload.subarray(0, 128),
      hex("c4"),
      payload.subarray(128, 256),
      hex("c4"),
      payload.subarray(256),
    ]);
    const [decoded] = decodeEveryWay(bytes);
    assert.deepStrictEqual(decoded, {
      chunkStreamId: 4,
      messageTypeId: 9,
      messageStreamId: 1,
      timestamp: 100,
      payload,
    });
  });

  it("applies fmt 1, fmt 2 and fmt 3 timestamp deltas", () => {
    // The spec's example 1: a 1000 ms fmt 0, then deltas of 20 via fmt 2 and two fmt 3 chunks.
    const bytes = hex(`
      05 0003e8 000002 08 01000000 1111
      85 000014 2222
      c5 3333
      c5 4444
      45 000005 000001 09 55
      c5 66`);
    const decoded = decodeEveryWay(bytes);
    assert.deepStrictEqual(
      decoded.map((m) => [m.timestamp, m.messageTypeId, m.messageStreamId, m.payload.toString("hex")]),
      [
        [1000, 8, 1, "1111"],
        [1020, 8, 1, "2222"],
        [1040, 8, 1, "3333"],
        [1060, 8, 1, "4444"],
        [1065, 9, 1, "55"],
        [1070, 9, 1, "66"],
      ],
    );
  });

  it("treats a fmt 0 timestamp as the delta of a following fmt 3 message (ffmpeg convention)", () => {
    const decoded = decodeEveryWay(hex("06 000010 000001 08 01000000 aa c6 bb"));
    assert.deepStrictEqual(
      decoded.map((m) => m.timestamp),
      [0x10, 0x20],
    );
  });

  it("reads extended timestamps on fmt 0 and on the fmt 3 chunks after them", () => {
    const bytes = hex(`
      03 ffffff 000004 12 00000000 01000000 6162
      c3 01000000 6364`);
    // Chunk size 2 first, so the 4-byte payload takes two chunks.
    const withSize = Buffer.concat([encodeMessage(setChunkSize(2), 128), bytes]);
    const [sizeMessage, data] = decodeEveryWay(withSize);
    assert.equal(sizeMessage!.messageTypeId, MessageType.SetChunkSize);
    assert.deepStrictEqual(data, {
      chunkStreamId: 3,
      messageTypeId: 18,
      messageStreamId: 0,
      timestamp: 0x01000000,
      payload: Buffer.from("abcd"),
    });
  });

  it("carries an extended delta through fmt 1 and a new-message fmt 3", () => {
    const bytes = hex(`
      03 000010 000001 08 01000000 aa
      43 ffffff 000001 08 01000000 bb
      c3 01000000 cc`);
    assert.deepStrictEqual(
      decodeEveryWay(bytes).map((m) => m.timestamp),
      [0x10, 0x01000010, 0x02000010],
    );
  });

  it("wraps timestamps modulo 2^32", () => {
    const bytes = hex(`
      03 ffffff 000001 08 01000000 fffffff0 aa
      83 000020 bb`);
    assert.deepStrictEqual(
      decodeEveryWay(bytes).map((m) => m.timestamp),
      [0xfffffff0, 0x10],
    );
  });

  it("emits empty messages", () => {
    const decoded = decodeEveryWay(hex("03 000007 000000 14 00000000 c3"));
    assert.deepStrictEqual(
      decoded.map((m) => [m.timestamp, m.payload.length]),
      [
        [7, 0],
        [14, 0],
      ],
    );
  });

  it("reassembles interleaved chunk streams", () => {
    const a = Buffer.alloc(200, 0xaa);
    const b = Buffer.alloc(150, 0xbb);
    const bytes = Buffer.concat([
      hex("04 000000 0000c8 08 01000000"),
      a.subarray(0, 128),
      hex("05 000000 000096 09 01000000"),
      b.subarray(0, 128),
      hex("c4"),
      a.subarray(128),
      hex("c5"),
      b.subarray(128),
    ]);
    const decoded = decodeEveryWay(bytes);
    assert.deepStrictEqual(
      decoded.map((m) => [m.chunkStreamId, m.payload]),
      [
        [4, a],
        [5, b],
      ],
    );
  });

  it("applies SetChunkSize to the chunks after it, and returns it", () => {
    const big = message({ chunkStreamId: 8, payload: Buffer.alloc(5000, 1) });
    const bytes = Buffer.concat([encodeMessage(setChunkSize(4096), 128), encodeMessage(big, 4096)]);
    const decoder = newDecoder();
    const decoded = decoder.push(bytes);
    assert.equal(decoder.chunkSize, 4096);
    assert.deepStrictEqual(decoded, [setChunkSize(4096), big]);
    // The first message's payload is a view of the input: no copy.
    assert.equal(decoded[0]!.payload.buffer, bytes.buffer);
  });

  it("discards a partial message on Abort", () => {
    const bytes = Buffer.concat([
      hex("04 000000 0000c8 08 01000000"),
      Buffer.alloc(128, 1),
      encodeMessage(abort(4), 128),
      // A new fmt 0 header on chunk stream 4 is legal again after the abort.
      hex("04 000000 000001 08 01000000 ee"),
    ]);
    const decoded = decodeEveryWay(bytes);
    assert.deepStrictEqual(
      decoded.map((m) => [m.chunkStreamId, m.messageTypeId, m.payload.toString("hex")]),
      [
        [2, MessageType.Abort, "00000004"],
        [4, 8, "ee"],
      ],
    );
  });

  it("counts bytes received", () => {
    const decoder = newDecoder();
    decoder.push(hex("03 000000"));
    decoder.push(hex("000001 14 00000000"));
    assert.equal(decoder.bytesReceived, 12);
    decoder.push(hex("05"));
    assert.equal(decoder.bytesReceived, 13);
  });
});

describe("ChunkDecoder rejects bad input", () => {
  it("rejects fmt 1/2/3 on a chunk stream it has not seen", () => {
    for (const first of ["43", "83", "c3", "40 05", "c1 00 01"]) {
      assertEdgeError(() => newDecoder().push(hex(first)), EdgeErrorCode.ChunkInvalid);
    }
  });

  it("rejects a new header while a message is incomplete", () => {
    const decoder = newDecoder();
    decoder.push(hex("03 000000 0000c8 08 01000000"));
    decoder.push(Buffer.alloc(128));
    assertEdgeError(() => decoder.push(hex("83 000001")), EdgeErrorCode.ChunkInvalid, /before its message/);
  });

  it("rejects a message above maxMessageBytes from its header alone", () => {
    const decoder = newDecoder({ maxMessageBytes: 1000 });
    assert.deepStrictEqual(decoder.push(hex("03 000000 0003e8 09 01000000")), []);
    assertEdgeError(
      () => newDecoder({ maxMessageBytes: 1000 }).push(hex("03 000000 0003e9 09 01000000")),
      EdgeErrorCode.MessageTooLarge,
    );
    assertEdgeError(
      () => newDecoder({ maxMessageBytes: 1000 }).push(hex("03 000000 ffffff 09 01000000")),
      EdgeErrorCode.MessageTooLarge,
    );
    const later = newDecoder({ maxMessageBytes: 1000 });
    later.push(hex("03 000000 000001 09 01000000 00"));
    assertEdgeError(() => later.push(hex("43 000000 0003e9 09")), EdgeErrorCode.MessageTooLarge);
  });

  it("rejects more chunk streams than maxChunkStreams", () => {
    const decoder = newDecoder({ maxChunkStreams: 3 });
    const empty = (csid: number): Buffer =>
      encodeMessage(message({ chunkStreamId: csid, payload: Buffer.alloc(0) }), 128);
    decoder.push(Buffer.concat([empty(3), empty(4), empty(500), empty(3)]));
    assertEdgeError(() => decoder.push(empty(6)), EdgeErrorCode.TooManyChunkStreams);
  });

  it("validates SetChunkSize", () => {
    const payloadOf = (value: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(value);
      return b;
    };
    const withSize = (payload: Buffer): Buffer =>
      encodeMessage(message({ chunkStreamId: 2, messageTypeId: MessageType.SetChunkSize, payload }), 128);
    for (const bad of [0, 0x80000000, 0x80000001, 0xffffffff, (1 << 20) + 1]) {
      assertEdgeError(() => newDecoder().push(withSize(payloadOf(bad))), EdgeErrorCode.ChunkSizeInvalid);
    }
    assert.equal(newDecoder().push(withSize(payloadOf(1))).length, 1);
    assert.equal(newDecoder().push(withSize(payloadOf(1 << 20))).length, 1);
    assertEdgeError(
      () => newDecoder({ maxChunkSize: 4096 }).push(withSize(payloadOf(4097))),
      EdgeErrorCode.ChunkSizeInvalid,
    );
    assertEdgeError(() => newDecoder().push(withSize(Buffer.alloc(3))), EdgeErrorCode.ChunkInvalid);
    assertEdgeError(
      () =>
        newDecoder().push(
          encodeMessage(message({ messageTypeId: MessageType.Abort, payload: Buffer.alloc(2) }), 128),
        ),
      EdgeErrorCode.ChunkInvalid,
    );
  });

  it("stays dead after an error", () => {
    const decoder = newDecoder();
    const first = assertEdgeError(() => decoder.push(hex("43")), EdgeErrorCode.ChunkInvalid);
    const again = assertEdgeError(
      () => decoder.push(hex("03 000000 000000 14 00000000")),
      EdgeErrorCode.ChunkInvalid,
    );
    assert.equal(again, first);
  });

  it("only ever throws EdgeError on random garbage and mutated streams", () => {
    const prng = new Prng(0xbad);
    const limits = { maxMessageBytes: 4096, maxChunkStreams: 8, maxChunkSize: 4096 };
    for (let i = 0; i < 3000; i += 1) {
      const garbage = prng.bytes(prng.int(1, 200));
      // Start like a real stream often enough to get past the first header.
      if (prng.bool()) garbage[0] = prng.int(0, 63);
      const decoder = newDecoder(limits);
      onlyEdgeErrors(
        () => {
          for (const piece of randomPieces(garbage, prng, 16)) decoder.push(piece);
        },
        `garbage case ${i} (${garbage.toString("hex")})`,
      );
    }
    const writer = new CompressingChunkWriter();
    const valid = Buffer.concat(
      Array.from({ length: 20 }, (_, k) =>
        writer.write(
          message({ chunkStreamId: 3 + (k % 4), timestamp: k * 40, payload: Buffer.alloc(k * 17, k) }),
        ),
      ),
    );
    for (let i = 0; i < 2000; i += 1) {
      const mutated = Buffer.from(valid);
      for (let flips = prng.int(1, 4); flips > 0; flips -= 1) {
        mutated[prng.int(0, mutated.length - 1)] = prng.int(0, 255);
      }
      const decoder = newDecoder(limits);
      onlyEdgeErrors(() => {
        for (const piece of randomPieces(mutated, prng, 64)) decoder.push(piece);
      }, `mutation case ${i}`);
    }
  });
});

describe("ChunkDecoder randomized round trips", () => {
  function randomMessage(prng: Prng, csid: number, previousTimestamp: number): RtmpMessage {
    const payloadLength = prng.bool(0.05) ? prng.int(1000, 6000) : prng.int(0, 400);
    let timestamp: number;
    const roll = prng.next();
    if (roll < 0.5) timestamp = (previousTimestamp + prng.pick([0, 20, 23, 40])) >>> 0;
    else if (roll < 0.7) timestamp = prng.uint32();
    else if (roll < 0.8) timestamp = (0xffffff + prng.int(-2, 2)) >>> 0;
    else timestamp = prng.int(0, 100000);
    return {
      chunkStreamId: csid,
      messageTypeId: prng.pick([8, 9, 18, 20, 22]),
      messageStreamId: prng.pick([0, 1, 1, 1, 7, 0xfffffffe]),
      timestamp,
      payload: prng.bytes(payloadLength),
    };
  }

  it("decodes 2,000 fmt-0 encoded messages with random chunk sizes and random splits", () => {
    const prng = new Prng(20260);
    for (let trial = 0; trial < 20; trial += 1) {
      const chunkSize = prng.pick([1, 2, 7, 64, 128, 129, 1000, 4096, 65536]);
      const messages = Array.from({ length: 100 }, () =>
        randomMessage(prng, prng.pick([2, 3, 4, 63, 64, 319, 320, 65599]), 0),
      );
      const bytes = Buffer.concat([
        encodeMessage(setChunkSize(chunkSize), 128),
        encodeMessages(messages, chunkSize),
      ]);
      const decoder = newDecoder();
      const decoded = randomPieces(bytes, prng, prng.pick([1, 10, 500, 20000])).flatMap((p) =>
        decoder.push(p),
      );
      assert.deepStrictEqual(decoded.slice(1), messages, `trial ${trial}, chunk size ${chunkSize}`);
      assert.equal(decoder.bytesReceived, bytes.length);
    }
  });

  it("decodes compressed (fmt 1/2/3), interleaved chunk streams", () => {
    const prng = new Prng(777);
    const fmtCounts: [number, number, number, number] = [0, 0, 0, 0];
    for (let trial = 0; trial < 30; trial += 1) {
      const writer = new CompressingChunkWriter();
      const chunkSize = prng.pick([1, 3, 50, 128, 300, 4096]);
      const parts: Buffer[] = [writer.write(setChunkSize(chunkSize))];
      writer.chunkSize = chunkSize;
      const csids = [3, 4, 5, 64, 400];
      const last = new Map<number, { message: RtmpMessage; delta: number }>();
      const expected: RtmpMessage[] = [];
      // Up to one active message per chunk stream; chunks leave in random order.
      const active = new Map<number, { message: RtmpMessage; chunks: Buffer[] }>();
      let created = 0;
      while (created < 80 || active.size > 0) {
        const idle = csids.filter((c) => !active.has(c));
        if (created < 80 && idle.length > 0 && (active.size === 0 || prng.bool(0.4))) {
          const csid = prng.pick(idle);
          const previous = last.get(csid);
          let m = randomMessage(prng, csid, previous?.message.timestamp ?? 0);
          if (previous !== undefined && prng.bool(0.5)) {
            // Repeat the last message's shape (and often its delta), so fmt 2 and fmt 3 get used.
            const delta = prng.bool(0.7) ? previous.delta : prng.int(0, 50);
            m = {
              ...previous.message,
              timestamp: (previous.message.timestamp + delta) >>> 0,
              payload: prng.bytes(previous.message.payload.length),
            };
          }
          last.set(csid, { message: m, delta: (m.timestamp - (previous?.message.timestamp ?? 0)) >>> 0 });
          const forceFmt0 = prng.bool(0.1);
          fmtCounts[forceFmt0 ? 0 : writer.peekFmt(m)] += 1;
          active.set(csid, { message: m, chunks: writer.chunks(m, forceFmt0) });
          created += 1;
          continue;
        }
        const csid = prng.pick([...active.keys()]);
        const entry = active.get(csid)!;
        parts.push(entry.chunks.shift()!);
        if (entry.chunks.length === 0) {
          expected.push(entry.message);
          active.delete(csid);
        }
      }
      const bytes = Buffer.concat(parts);
      const decoder = newDecoder();
      const decoded = randomPieces(bytes, prng, prng.pick([1, 13, 400, 100000])).flatMap((p) =>
        decoder.push(p),
      );
      assert.deepStrictEqual(decoded.slice(1), expected, `trial ${trial}, chunk size ${chunkSize}`);
    }
    // Every header type was exercised a fair number of times.
    for (const [fmt, count] of fmtCounts.entries()) assert.ok(count > 50, `fmt ${fmt} used ${count} times`);
  });

  it("decodes runs of fmt 2 and fmt 3 headers, with and without extended deltas", () => {
    const writer = new CompressingChunkWriter();
    const messages: RtmpMessage[] = [];
    const fmts: number[] = [];
    let timestamp = 0xfffff000;
    for (let i = 0; i < 12; i += 1) {
      timestamp = (timestamp + (i < 6 ? 40 : 0x1000000)) >>> 0;
      const m = message({
        chunkStreamId: 6,
        messageTypeId: 8,
        messageStreamId: 1,
        timestamp,
        payload: Buffer.alloc(150, i),
      });
      messages.push(m);
      const chunks = writer.chunks(m);
      fmts.push(chunks[0]![0]! >> 6);
    }
    // fmt 0, then fmt 2 (new delta 40) and fmt 3 repeats; then the same with an extended delta.
    assert.deepStrictEqual(fmts, [0, 2, 3, 3, 3, 3, 2, 3, 3, 3, 3, 3]);
    const replay = new CompressingChunkWriter();
    const bytes = Buffer.concat(messages.map((m) => replay.write(m)));
    assert.deepStrictEqual(decodeEveryWay(bytes), messages);
  });
});

describe("ChunkDecoder reassembly bounds", () => {
  /** SetChunkSize 1, then `streams` messages of `length` bytes (csid 4…), one byte per chunk, round-robin, `sent` bytes each. */
  function tinyChunks(streams: number, length: number, sent: number): Buffer {
    const parts: Buffer[] = [encodeMessage(setChunkSize(1), 128)];
    for (let s = 0; s < streams; s++) {
      const header = hex(`${(4 + s).toString(16).padStart(2, "0")} 000000 000000 14 00000000 41`);
      header.writeUIntBE(length, 4, 3);
      parts.push(header);
    }
    const round = Buffer.alloc(streams * 2);
    for (let s = 0; s < streams; s++) {
      round[2 * s] = 0xc0 | (4 + s);
      round[2 * s + 1] = 0x41;
    }
    for (let i = 1; i < sent; i++) parts.push(round);
    return Buffer.concat(parts);
  }

  it("stops the issue's attack (14 × 65,536 bytes at chunk size 1) at the per-connection bound", () => {
    const budget = new ReassemblyBudget(64 << 20);
    const decoder = new ChunkDecoder({ ...LIMITS, maxBufferedBytes: 256 * 1024 }, budget);
    const attack = tinyChunks(14, 65_536, 65_535);
    let peak = 0;
    const error = assertEdgeError(() => {
      for (let at = 0; at < attack.length; at += 65_536) {
        decoder.push(attack.subarray(at, at + 65_536));
        peak = Math.max(peak, decoder.bufferedBytes);
      }
    }, EdgeErrorCode.ReassemblyLimit);
    assert.match(error.message, /above the limit of 262144 per connection/);
    assert.ok(peak <= 256 * 1024, `held ${peak} bytes`);
    // The dead decoder gave everything back.
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(budget.usedBytes, 0);
  });

  it("holds about what arrived, not the declared length, and nothing per chunk", () => {
    const budget = new ReassemblyBudget(1 << 20);
    const decoder = new ChunkDecoder(LIMITS, budget);
    // 14 streams declaring 65,536 bytes each, 1,000 bytes of each sent one per chunk.
    decoder.push(tinyChunks(14, 65_536, 1_000));
    assert.equal(decoder.bufferedBytes, 14 * 1024);
    assert.equal(budget.usedBytes, 14 * 1024);
    decoder.close();
    assert.equal(budget.usedBytes, 0);
  });

  it("shares one edge-wide budget between connections", () => {
    const budget = new ReassemblyBudget(48 * 1024);
    const limits = { ...LIMITS, maxBufferedBytes: 40 * 1024 };
    const first = new ChunkDecoder(limits, budget);
    const second = new ChunkDecoder(limits, budget);
    // 30,000 of 40,000 bytes each (32 KiB buffers): under each connection's 40 KiB, over 48 KiB together.
    first.push(tinyChunks(1, 40_000, 30_000));
    assert.equal(budget.usedBytes, 32_768);
    assertEdgeError(() => second.push(tinyChunks(1, 40_000, 30_000)), EdgeErrorCode.ReassemblyBudget);
    assert.equal(budget.usedBytes, 32_768, "the refused decoder holds nothing");
    first.close();
    assert.equal(budget.usedBytes, 0);
    const third = new ChunkDecoder(limits, budget);
    assert.deepStrictEqual(third.push(tinyChunks(1, 40_000, 30_000)), [expectSetChunkSize(1)]);
    third.close();
  });

  it("returns the charge when a message completes or is aborted", () => {
    const budget = new ReassemblyBudget(1 << 20);
    const decoder = new ChunkDecoder(LIMITS, budget);
    const payload = Buffer.alloc(5000, 7);
    const [got] = decoder.push(encodeMessage(message({ payload }), 128));
    assert.deepStrictEqual(got!.payload, payload);
    assert.equal(budget.usedBytes, 0);
    decoder.push(hex("04 000000 001388 14 00000000").subarray(0, 12));
    decoder.push(Buffer.alloc(128, 1));
    assert.ok(budget.usedBytes > 0);
    decoder.push(encodeMessage({ ...abort(4), chunkStreamId: 2 }, 128));
    assert.equal(budget.usedBytes, 0);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it("charges nothing for a message that arrives in one piece", () => {
    const budget = new ReassemblyBudget(64 * 1024);
    const decoder = new ChunkDecoder({ ...LIMITS, maxBufferedBytes: 1024 }, budget);
    const payload = Buffer.alloc(60_000, 3);
    const bytes = encodeMessage(message({ payload }), 1 << 20);
    // One chunk, one input buffer: a view, not a copy, and no charge.
    decoder.push(encodeMessage(setChunkSize(1 << 20), 128));
    const [got] = decoder.push(bytes);
    assert.equal(got!.payload.buffer, bytes.buffer);
    assert.equal(budget.usedBytes, 0);
  });

  it("applies new limits from setLimits (stricter before connect, looser after)", () => {
    const decoder = new ChunkDecoder({ ...LIMITS, maxMessageBytes: 1024, maxBufferedBytes: 1024 });
    const big = encodeMessage(message({ payload: Buffer.alloc(4000, 1) }), 128);
    decoder.setLimits({ ...LIMITS, maxMessageBytes: 4096, maxBufferedBytes: 8192 });
    assert.equal(decoder.push(big).length, 1);
    const strict = new ChunkDecoder({ ...LIMITS, maxMessageBytes: 1024, maxBufferedBytes: 1024 });
    assertEdgeError(() => strict.push(big), EdgeErrorCode.MessageTooLarge);
  });

  it("hands out one message at a time with write() and next()", () => {
    const decoder = newDecoder();
    const three = Buffer.concat(
      [1, 2, 3].map((n) => encodeMessage(message({ payload: Buffer.alloc(300, n) }), 128)),
    );
    decoder.write(three);
    assert.equal(decoder.next()?.payload[0], 1);
    assert.ok(decoder.queuedBytes > 0);
    assert.equal(decoder.next()?.payload[0], 2);
    assert.equal(decoder.next()?.payload[0], 3);
    assert.equal(decoder.next(), null);
    assert.equal(decoder.queuedBytes, 0);
  });
});

function expectSetChunkSize(size: number): RtmpMessage {
  return { ...setChunkSize(size), timestamp: 0, messageStreamId: 0 };
}
