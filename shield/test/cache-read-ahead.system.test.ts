import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { eventually, silentLogger, startTestS3, type TestS3 } from "../../lib/testing/shield.js";
import { CachingOrigin } from "../src/cache/caching-origin.js";
import { FetchBudget } from "../src/cache/fetch-budget.js";
import { ReadAhead } from "../src/cache/read-ahead.js";
import { S3Origin } from "../src/s3-origin.js";

const sliceBytes = 64 * 1024;
const hour = 3_600_000;
const freshness = { defaultTtlMs: 24 * hour, minTtlMs: hour, maxTtlMs: 365 * 24 * hour };

describe("ReadAhead (sequential detection)", () => {
  it("prefetches only for a read that continues where one ended, never past the object", () => {
    const ra = new ReadAhead({ slices: 2, sliceBytes: 100 });
    const size = 1000;
    assert.deepEqual(ra.onRead("v", 0, 100, size), { first: 1, last: 0 }, "first read: nothing");
    assert.deepEqual(ra.onRead("v", 100, 200, size), { first: 2, last: 3 });
    assert.deepEqual(ra.onRead("v", 200, 300, size), { first: 3, last: 4 });
    assert.deepEqual(ra.onRead("v", 700, 800, size), { first: 1, last: 0 }, "a jump starts a new stream");
    assert.deepEqual(ra.onRead("v", 800, 900, size), { first: 9, last: 9 }, "cut at the last slice");
    assert.deepEqual(ra.onRead("v", 900, 1000, size), { first: 10, last: 9 }, "nothing after the end");
  });

  it("tells versions and concurrent viewers apart", () => {
    const ra = new ReadAhead({ slices: 1, sliceBytes: 100 });
    ra.onRead("a", 0, 100, 1000);
    assert.deepEqual(ra.onRead("b", 100, 200, 1000), { first: 1, last: 0 }, "another version");
    // Fifty viewers starting the same object together are fifty first reads.
    for (let i = 0; i < 50; i++)
      assert.ok(ra.onRead("c", 0, 100, 1000).first > ra.onRead("c", 0, 100, 1000).last);
    // Two viewers at different positions each continue their own stream.
    ra.onRead("d", 0, 100, 1000);
    ra.onRead("d", 500, 600, 1000);
    assert.deepEqual(ra.onRead("d", 100, 200, 1000), { first: 2, last: 2 });
    assert.deepEqual(ra.onRead("d", 600, 700, 1000), { first: 7, last: 7 });
  });

  it("forgets the oldest streams past its bound, and 0 slices turns it off", () => {
    const ra = new ReadAhead({ slices: 2, sliceBytes: 100, maxStreams: 3 });
    for (let i = 0; i < 10; i++) ra.onRead(`v${i}`, 0, 100, 1000);
    assert.equal(ra.streams, 3);
    assert.deepEqual(ra.onRead("v0", 100, 200, 1000), { first: 1, last: 0 });
    assert.deepEqual(ra.onRead("v9", 100, 200, 1000), { first: 2, last: 3 });
    const off = new ReadAhead({ slices: 0, sliceBytes: 100 });
    off.onRead("v", 0, 100, 1000);
    assert.deepEqual(off.onRead("v", 100, 200, 1000), { first: 1, last: 0 });
  });
});

describe("FetchBudget", () => {
  it("queues takers in order, lets read-ahead take only below its limit, and drops aborted waiters", async () => {
    const budget = new FetchBudget(100);
    assert.ok(budget.tryTake(60));
    assert.ok(!budget.tryTake(60));
    assert.ok(!budget.tryTake(10, 50), "read-ahead limit");
    const order: string[] = [];
    const controller = new AbortController();
    const first = budget.take(60, new AbortController().signal).then(() => order.push("first"));
    const aborted = budget.take(60, controller.signal).catch(() => order.push("aborted"));
    controller.abort();
    await aborted;
    budget.give(60);
    await first;
    assert.deepEqual(order, ["aborted", "first"]);
    assert.equal(budget.used, 60);
    // Larger than the whole budget: goes through alone rather than never.
    budget.give(60);
    await budget.take(500, new AbortController().signal);
    assert.equal(budget.used, 500);
  });
});

describe("read-ahead through CachingOrigin over s3rver", () => {
  const bucket = "readahead-bucket";
  const key = "movie.bin";
  const slices = 12;
  let s3: TestS3;
  let body: Buffer;
  let etag: string;

  before(async () => {
    s3 = await startTestS3(bucket);
    body = randomBytes(slices * sliceBytes);
    await s3.s3.putObject(bucket, key, body);
  });

  after(async () => {
    await s3?.close();
  });

  function cache(readAheadSlices: number): CachingOrigin {
    return new CachingOrigin({
      origin: new S3Origin({ client: s3.s3.client, logger: silentLogger() }),
      logger: silentLogger(),
      sliceBytes,
      memoryBytes: 64 * sliceBytes,
      readAheadSlices,
      freshness,
      negativeTtlMs: 10_000,
    });
  }

  async function read(origin: CachingOrigin, offset: number, length: number): Promise<Buffer> {
    const range = await origin.readRange(bucket, key, offset, length, etag, new AbortController().signal);
    const parts: Buffer[] = [];
    for await (const chunk of range) parts.push(chunk);
    return Buffer.concat(parts);
  }

  const getsOfSlice = () =>
    s3.s3.requests
      .filter((r) => r.method === "GET" && r.key === key)
      .map((r) => Number(/^bytes=(\d+)-/.exec(r.range ?? "")?.[1]) / sliceBytes);

  it("a sequential reader finds the next slices already fetched, at most N ahead", async () => {
    const origin = cache(2);
    etag = (await origin.stat(bucket, key)).etag;
    s3.s3.clearRequests();
    assert.ok((await read(origin, 0, sliceBytes)).equals(body.subarray(0, sliceBytes)));
    assert.deepEqual(getsOfSlice(), [0], "a first read prefetches nothing");
    for (let index = 1; index < slices; index++) {
      const data = await read(origin, index * sliceBytes, sliceBytes);
      assert.ok(data.equals(body.subarray(index * sliceBytes, (index + 1) * sliceBytes)), `slice ${index}`);
      await eventually(() => origin.fetchesInFlight === 0, 5_000, "prefetches to land");
      const gets = getsOfSlice();
      assert.ok(
        Math.max(...gets) <= Math.min(slices - 1, index + 2),
        `slice ${index}: GETs ${gets.join(",")}`,
      );
    }
    // Every slice fetched exactly once, none past the end.
    assert.deepEqual(
      getsOfSlice().sort((a, b) => a - b),
      Array.from({ length: slices }, (_, i) => i),
    );
    assert.ok(origin.stats.readAhead >= slices - 3, `readAhead ${origin.stats.readAhead}`);
    assert.ok(origin.stats.memoryHits + origin.stats.collapsed >= slices - 3);
    await origin.close();
  });

  it("random reads prefetch nothing", async () => {
    const origin = cache(2);
    s3.s3.clearRequests();
    for (const index of [7, 2, 10, 0, 5]) await read(origin, index * sliceBytes + 10, 100);
    assert.equal(origin.stats.readAhead, 0);
    assert.deepEqual(getsOfSlice(), [7, 2, 10, 0, 5]);
    await origin.close();
  });

  it("a long read holds a bounded window of slices, fetching the next while sending one", async () => {
    const origin = cache(0);
    s3.s3.clearRequests();
    const range = await origin.readRange(bucket, key, 0, body.length, etag, new AbortController().signal);
    const iterator = range[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.ok(!first.done);
    await eventually(() => origin.fetchesInFlight === 0, 5_000, "the window's fetches");
    // The reader has not taken slice 1 yet: slice 0 and the one after it, no more.
    assert.deepEqual(getsOfSlice(), [0, 1]);
    const parts = [first.value];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) parts.push(next.value);
    assert.ok(Buffer.concat(parts).equals(body));
    await origin.close();
  });
});
