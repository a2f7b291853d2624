import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { SliceCache } from "../src/edge-cache/slice-cache.js";

const object = randomBytes(100_000);
const version = { bucket: "b", key: "k", etag: '"e1"', size: object.length };

function countingFetch(data: Buffer, delayMs = 0) {
  const calls: [number, number][] = [];
  const fetch = async (offset: number, length: number) => {
    calls.push([offset, length]);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return Buffer.from(data.subarray(offset, offset + length));
  };
  return { calls, fetch };
}

test("reads anywhere return the object's bytes; each slice is fetched once", async () => {
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 1 << 20 });
  const { calls, fetch } = countingFetch(object);
  const source = cache.source(version, fetch);
  const random = new Prng(7);
  for (let i = 0; i < 500; i++) {
    const offset = random.int(0, object.length - 1);
    const length = random.int(0, 20_000);
    const got = await source.read(offset, length);
    assert.ok(
      got.equals(object.subarray(offset, Math.min(object.length, offset + length))),
      `read ${offset}+${length}`,
    );
  }
  assert.equal(calls.length, Math.ceil(object.length / 4096), "one fetch per slice");
  for (const [offset, length] of calls) {
    assert.equal(offset % 4096, 0, "aligned");
    assert.equal(length, Math.min(4096, object.length - offset));
  }
  assert.equal((await source.read(object.length, 10)).length, 0);
});

test("concurrent misses of one slice share one fetch (collapsing)", async () => {
  const cache = new SliceCache({ sliceBytes: 8192, maxBytes: 1 << 20 });
  const { calls, fetch } = countingFetch(object, 20);
  const source = cache.source(version, fetch);
  const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => source.read(i * 10, 100)));
  for (const [i, r] of reads.entries()) assert.ok(r.equals(object.subarray(i * 10, i * 10 + 100)));
  assert.equal(calls.length, 1);
  assert.equal(cache.stats.misses, 1);
  assert.equal(cache.stats.collapsed, 49);
});

test("a new ETag is a new object: no bytes of the old version are served", async () => {
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 1 << 20 });
  const replaced = randomBytes(object.length);
  const a = cache.source(version, countingFetch(object).fetch);
  const b = cache.source({ ...version, etag: '"e2"' }, countingFetch(replaced).fetch);
  assert.ok((await a.read(0, 1000)).equals(object.subarray(0, 1000)));
  assert.ok((await b.read(0, 1000)).equals(replaced.subarray(0, 1000)));
});

test("memory stays within maxBytes, least recently used slices go first", async () => {
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 5 * 4096 });
  const { calls, fetch } = countingFetch(object);
  const source = cache.source(version, fetch);
  for (let i = 0; i < 24; i++) {
    await source.read(i * 4096, 10);
    assert.ok(cache.bytes <= 5 * 4096, `bytes ${cache.bytes}`);
  }
  assert.equal(cache.sliceCount, 5);
  assert.ok(cache.stats.evictions >= 19);
  const before = calls.length;
  await source.read(23 * 4096, 10); // recent: a hit
  assert.equal(calls.length, before);
  await source.read(0, 10); // evicted: fetched again
  assert.equal(calls.length, before + 1);
});

test("a failed fetch is not cached and the next read tries again", async () => {
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 1 << 20 });
  let fail = true;
  const source = cache.source(version, async (offset, length) => {
    if (fail) throw new Error("shield down");
    return Buffer.from(object.subarray(offset, offset + length));
  });
  await assert.rejects(source.read(0, 10), /shield down/);
  assert.equal(cache.bytes, 0);
  fail = false;
  assert.ok((await source.read(0, 10)).equals(object.subarray(0, 10)));
});

test("a short answer from the shield is an error, not a cached slice", async () => {
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 1 << 20 });
  const source = cache.source(version, async () => Buffer.alloc(10));
  await assert.rejects(source.read(0, 100), /got 10 of 4096 bytes/);
  assert.equal(cache.sliceCount, 0);
});

test("readCached: null until a slice is here, then views of it; a read across slices is joined once and shared", async () => {
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 1 << 20 });
  const { calls, fetch } = countingFetch(object);
  const viewerA = cache.source(version, fetch);
  const viewerB = cache.source(version, fetch);
  assert.ok(viewerA.readCached);
  assert.equal(viewerA.readCached(100, 50), null, "nothing fetched yet");
  await viewerA.read(0, 8192);
  await viewerB.read(0, 8192);
  assert.equal(calls.length, 2, "two slices, fetched once");
  const inside = viewerA.readCached(100, 50)!;
  assert.ok(inside.equals(object.subarray(100, 150)));
  assert.equal(inside.buffer, viewerB.readCached!(100, 50)!.buffer, "both views of one slice");
  const acrossA = viewerA.readCached(4000, 200)!;
  const acrossB = viewerB.readCached!(4000, 200)!;
  assert.ok(acrossA.equals(object.subarray(4000, 4200)));
  assert.equal(acrossA, acrossB, "the joined bytes are one Buffer for every reader");
  assert.equal(viewerA.readCached(8000, 200), null, "the third slice is not here");
  assert.equal(calls.length, 2, "readCached never fetches");
});

test("readCached after eviction answers null and the next read fetches again", async () => {
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 8192 });
  const { calls, fetch } = countingFetch(object);
  const source = cache.source(version, fetch);
  await source.read(0, 10);
  assert.ok(source.readCached!(0, 10));
  await source.read(4096, 10);
  await source.read(8192, 10);
  assert.equal(source.readCached!(0, 10), null, "slice 0 was evicted");
  assert.ok((await source.read(0, 10)).equals(object.subarray(0, 10)));
  assert.equal(calls.length, 4);
  assert.ok(cache.bytes <= 8192);
});
