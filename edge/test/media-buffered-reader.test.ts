import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EdgeErrorCode } from "../src/errors.js";
import { BufferedReader } from "../src/media/buffered-reader.js";
import { bufferSource, type RangeSource } from "../src/media/range-source.js";
import { countingSource, rejectsEdge } from "./media-helpers.js";

const DATA = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));

describe("bufferSource", () => {
  it("resolves min(length, size - offset) bytes", async () => {
    const source = bufferSource(DATA);
    assert.equal(source.size, 1000);
    assert.deepEqual(await source.read(998, 10), DATA.subarray(998));
    assert.equal((await source.read(1000, 10)).length, 0);
    assert.equal((await source.read(5000, 10)).length, 0);
  });
});

describe("BufferedReader", () => {
  it("serves small reads from one block read", async () => {
    const source = countingSource(DATA);
    const reader = new BufferedReader(source, { blockSize: 256 });
    for (let offset = 0; offset < 250; offset += 11) {
      assert.deepEqual(await reader.readAt(offset, 11), DATA.subarray(offset, offset + 11));
    }
    assert.deepEqual(source.reads, [{ offset: 0, length: 256 }]);
  });

  it("fetches aligned blocks, each once; a read straddling blocks joins only itself", async () => {
    const source = countingSource(DATA);
    const reader = new BufferedReader(source, { blockSize: 100 });
    await reader.readAt(0, 10);
    assert.deepEqual(await reader.readAt(95, 10), DATA.subarray(95, 105));
    assert.deepEqual(source.reads, [
      { offset: 0, length: 100 },
      { offset: 100, length: 100 },
    ]);
    // A read larger than a block fetches every block it covers.
    assert.deepEqual(await reader.readAt(550, 300), DATA.subarray(550, 850));
    assert.deepEqual(
      source.reads.slice(2).map((r) => r.offset),
      [500, 600, 700, 800],
    );
    // Inside a block, a read is a view of the block, not a copy.
    const a = await reader.readAt(810, 5);
    const b = await reader.readAt(812, 5);
    assert.equal(a.buffer, b.buffer);
  });

  it("tryReadAt answers from blocks it holds, or from the source's cache, and never fetches", async () => {
    const source = countingSource(DATA);
    const reader = new BufferedReader(source, { blockSize: 100 });
    assert.equal(reader.tryReadAt(10, 5), null, "nothing read yet");
    await reader.readAt(10, 5);
    assert.deepEqual(reader.tryReadAt(20, 30), DATA.subarray(20, 50));
    assert.equal(reader.tryReadAt(90, 20), null, "straddles into a block not held");
    assert.equal(reader.tryReadAt(-1, 5), null);
    assert.equal(reader.tryReadAt(2000, 5)?.length, 0, "past the end: empty, as readAt");
    assert.equal(source.reads.length, 1);

    const shared = Buffer.from(DATA.subarray(95, 105));
    const cachedSource: RangeSource = {
      size: DATA.length,
      read: async (offset, length) => DATA.subarray(offset, offset + length),
      readCached: (offset, length) => (offset === 95 && length === 10 ? shared : null),
    };
    const cachedReader = new BufferedReader(cachedSource, { blockSize: 100 });
    assert.equal(cachedReader.tryReadAt(95, 10), shared, "from the source's cache");
    assert.equal(
      await cachedReader.readAt(95, 10),
      shared,
      "a straddling read takes the source's joined bytes",
    );
  });

  it("keeps maxBlocks blocks so two regions read in turn do not thrash", async () => {
    const source = countingSource(DATA);
    const reader = new BufferedReader(source, { blockSize: 100, maxBlocks: 2 });
    for (let i = 0; i < 5; i++) {
      await reader.readAt(i * 10, 10);
      await reader.readAt(600 + i * 10, 10);
    }
    assert.equal(source.reads.length, 2);
  });

  it("clamps at the end and moves a cursor with read/peek/skip", async () => {
    const reader = new BufferedReader(bufferSource(DATA), { blockSize: 64 });
    assert.equal((await reader.readAt(990, 100)).length, 10);
    assert.equal((await reader.readAt(1000, 1)).length, 0);
    reader.seek(10);
    assert.deepEqual(await reader.peek(2), DATA.subarray(10, 12));
    assert.deepEqual(await reader.read(2), DATA.subarray(10, 12));
    reader.skip(3);
    assert.equal(reader.position, 15);
    assert.equal(reader.remaining, 985);
  });

  it("turns a short read from the source and invalid arguments into MediaInvalid", async () => {
    const liar: RangeSource = { size: 1000, read: () => Promise.resolve(Buffer.alloc(3)) };
    await rejectsEdge(() => new BufferedReader(liar).readAt(0, 10), EdgeErrorCode.MediaInvalid);
    const reader = new BufferedReader(bufferSource(DATA));
    await rejectsEdge(() => reader.readAt(-1, 10), EdgeErrorCode.MediaInvalid);
    await rejectsEdge(() => reader.readAt(0.5, 10), EdgeErrorCode.MediaInvalid);
  });
});
