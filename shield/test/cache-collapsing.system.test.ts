import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  delay,
  eventually,
  GatedOrigin,
  silentLogger,
  startTestS3,
  type TestS3,
} from "../../lib/testing/shield.js";
import { CachingOrigin, type CachingOriginOptions } from "../src/cache/caching-origin.js";
import { sliceId } from "../src/cache/slice-key.js";
import { ShieldError, ShieldErrorCode } from "../src/errors.js";
import type { Origin } from "../src/origin.js";
import { S3Origin } from "../src/s3-origin.js";

const bucket = "collapse-bucket";
const sliceBytes = 64 * 1024;
const hour = 3_600_000;
const freshness = { defaultTtlMs: 24 * hour, minTtlMs: hour, maxTtlMs: 365 * 24 * hour };

async function readAll(
  origin: Origin,
  key: string,
  offset: number,
  length: number,
  etag?: string,
  signal = new AbortController().signal,
): Promise<Buffer> {
  const range = await origin.readRange(bucket, key, offset, length, etag, signal);
  const parts: Buffer[] = [];
  for await (const chunk of range) parts.push(chunk);
  return Buffer.concat(parts);
}

describe("request collapsing and read-while-fetch (CachingOrigin over S3Origin and s3rver)", () => {
  let s3: TestS3;
  const objects = new Map<string, Buffer>();

  before(async () => {
    s3 = await startTestS3(bucket);
    for (const [key, bytes] of [
      ["cold.bin", Math.floor(5.5 * sliceBytes)],
      ["gated.bin", 2 * sliceBytes],
      ["huge.bin", 16 * 1024 * 1024],
      ["finish.bin", sliceBytes],
      ["two-readers.bin", sliceBytes],
      ["break.bin", sliceBytes],
      ["served.bin", sliceBytes],
    ] as const) {
      const body = randomBytes(bytes);
      objects.set(key, body);
      await s3.s3.putObject(bucket, key, body);
    }
  });

  after(async () => {
    await s3?.close();
  });

  function s3Origin(): S3Origin {
    return new S3Origin({ client: s3.s3.client, logger: silentLogger() });
  }

  function cache(origin: Origin, options: Partial<CachingOriginOptions> = {}): CachingOrigin {
    return new CachingOrigin({
      origin,
      logger: silentLogger(),
      sliceBytes,
      memoryBytes: 64 * sliceBytes,
      readAheadSlices: 0,
      freshness,
      negativeTtlMs: 10_000,
      ...options,
    });
  }

  const requestsFor = (key: string, method: string) =>
    s3.s3.requests.filter((r) => r.key === key && r.method === method);

  it("fifty concurrent readers of a cold range share one HEAD and one GET per slice, bytes identical", async () => {
    const origin = cache(s3Origin());
    const key = "cold.bin";
    const body = objects.get(key)!;
    const offset = 1000;
    const length = body.length - 3000;
    s3.s3.clearRequests();
    const results = await Promise.all(Array.from({ length: 50 }, () => readAll(origin, key, offset, length)));
    const expected = body.subarray(offset, offset + length);
    for (const [i, data] of results.entries()) assert.ok(data.equals(expected), `reader ${i}`);
    const gets = requestsFor(key, "GET");
    const slicesInRange = Math.floor((offset + length - 1) / sliceBytes) + 1;
    assert.equal(slicesInRange, 6);
    assert.equal(gets.length, slicesInRange, gets.map((g) => g.range).join(" "));
    assert.deepEqual(
      gets.map((g) => g.range).sort(),
      Array.from(
        { length: slicesInRange },
        (_, i) => `bytes=${i * sliceBytes}-${(i + 1) * sliceBytes - 1}`,
      ).sort(),
    );
    assert.ok(gets.every((g) => g.ifMatch && g.outcome === "finished"));
    assert.equal(requestsFor(key, "HEAD").length, 1, "the stats collapsed too");
    const { misses, collapsed, memoryHits } = origin.stats;
    assert.equal(misses, slicesInRange);
    assert.equal(misses + collapsed + memoryHits, 50 * slicesInRange);
    assert.ok(collapsed > 0);
    assert.equal(origin.fetchesInFlight, 0);
    assert.equal(origin.fetchingBytes, 0);
    // Warm now: another reader costs S3 nothing.
    s3.s3.clearRequests();
    assert.ok((await readAll(origin, key, offset, length)).equals(expected));
    assert.equal(s3.s3.requests.length, 0);
    await origin.close();
  });

  it("a reader that joins a fetch half-way gets the bytes already there at once, then follows it", async () => {
    const gated = new GatedOrigin(s3Origin(), 4096);
    const origin = cache(gated);
    const key = "gated.bin";
    const body = objects.get(key)!;
    const { etag } = await origin.stat(bucket, key);
    s3.s3.clearRequests();
    gated.hold();
    gated.allow(3);
    const first = (await origin.readRange(bucket, key, 0, sliceBytes, etag, new AbortController().signal))[
      Symbol.asyncIterator
    ]();
    const firstParts: Buffer[] = [];
    while (firstParts.reduce((n, b) => n + b.length, 0) < 3 * 4096) {
      const next = await first.next();
      assert.ok(!next.done);
      firstParts.push(next.value);
    }
    // The fetch is stuck at 12 KiB of 64 KiB; a second reader arrives.
    const second = (await origin.readRange(bucket, key, 0, sliceBytes, etag, new AbortController().signal))[
      Symbol.asyncIterator
    ]();
    const early = await second.next();
    assert.ok(!early.done);
    assert.equal(early.value.length, 3 * 4096, "everything received so far, in one view");
    assert.ok(early.value.equals(body.subarray(0, 3 * 4096)));
    assert.equal(origin.fetchesInFlight, 1, "the fetch is still running");
    assert.equal(gated.chunksPassed, 3);
    assert.equal(origin.stats.collapsed, 1);
    // It follows along as more arrives, before the fetch ends.
    gated.allow(2);
    const follow = await second.next();
    assert.ok(!follow.done);
    assert.ok(follow.value.equals(body.subarray(3 * 4096, 3 * 4096 + follow.value.length)));
    assert.equal(origin.fetchesInFlight, 1);
    gated.open();
    const secondParts = [early.value, follow.value];
    for (let next = await second.next(); !next.done; next = await second.next()) secondParts.push(next.value);
    for (let next = await first.next(); !next.done; next = await first.next()) firstParts.push(next.value);
    assert.ok(Buffer.concat(firstParts).equals(body.subarray(0, sliceBytes)));
    assert.ok(Buffer.concat(secondParts).equals(body.subarray(0, sliceBytes)));
    assert.equal(requestsFor(key, "GET").length, 1);
    await origin.close();
  });

  it("aborts the S3 request when every reader of a fetch has gone", async () => {
    const big = 16 * 1024 * 1024;
    const gated = new GatedOrigin(s3Origin(), 64 * 1024);
    const origin = cache(gated, { sliceBytes: big, memoryBytes: 4 * big });
    const key = "huge.bin";
    const { etag } = await origin.stat(bucket, key);
    s3.s3.clearRequests();
    gated.hold();
    gated.allow(1);
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const readers = controllers.map(async (controller) => {
      const range = await origin.readRange(bucket, key, 0, big, etag, controller.signal);
      let got = 0;
      try {
        for await (const chunk of range) got += chunk.length;
      } catch (error) {
        return { got, error };
      }
      return { got, error: undefined };
    });
    await eventually(() => gated.chunksPassed === 1 && origin.stats.collapsed === 2, 5_000, "three readers");
    // Two leave: the fetch goes on for the third.
    controllers[0]!.abort();
    controllers[1]!.abort();
    await delay(50);
    assert.equal(origin.stats.abandoned, 0);
    assert.equal(origin.fetchesInFlight, 1);
    // The last one leaves with 64 KiB of 16 MiB in: not worth finishing.
    controllers[2]!.abort();
    const outcomes = await Promise.all(readers);
    for (const { error } of outcomes) {
      assert.ok(error instanceof ShieldError && error.code === ShieldErrorCode.Aborted, String(error));
    }
    assert.equal(origin.stats.abandoned, 1);
    await eventually(() => gated.bodiesStoppedEarly === 1, 5_000, "the S3 body to be released");
    await eventually(
      () => requestsFor(key, "GET").some((r) => r.outcome !== "pending"),
      5_000,
      "s3rver to see the GET end",
    );
    assert.equal(requestsFor(key, "GET")[0]?.outcome, "aborted");
    assert.equal(origin.fetchesInFlight, 0);
    await eventually(() => origin.fetchingBytes === 0, 5_000, "the fetch budget to be returned");
    assert.ok(!origin.memory.has(sliceId({ bucket, key, etag }, big, 0)), "a partial slice is never cached");
    await origin.close();
  });

  it("finishes a fetch whose readers left once most of it had arrived, and caches it", async () => {
    const gated = new GatedOrigin(s3Origin(), 4096);
    const origin = cache(gated);
    const key = "finish.bin";
    const body = objects.get(key)!;
    const { etag } = await origin.stat(bucket, key);
    s3.s3.clearRequests();
    gated.hold();
    gated.allow(10);
    const controller = new AbortController();
    const range = await origin.readRange(bucket, key, 0, sliceBytes, etag, controller.signal);
    let got = 0;
    const reading = (async () => {
      try {
        for await (const chunk of range) got += chunk.length;
      } catch {
        // aborted below
      }
    })();
    await eventually(() => got === 10 * 4096, 5_000, "10 of 16 chunks");
    controller.abort();
    await reading;
    assert.equal(origin.stats.abandoned, 0, "10/16 arrived: finished, not abandoned");
    gated.open();
    await eventually(() => origin.fetchesInFlight === 0, 5_000, "the fetch to finish");
    assert.ok(origin.memory.has(sliceId({ bucket, key, etag }, sliceBytes, 0)));
    assert.equal(requestsFor(key, "GET")[0]?.outcome, "finished");
    s3.s3.clearRequests();
    assert.ok((await readAll(origin, key, 0, sliceBytes, etag)).equals(body));
    assert.equal(s3.s3.requests.length, 0);
    await origin.close();
  });

  it("a reader served a small range of a cold slice leaves the fetch to finish and be cached", async () => {
    const gated = new GatedOrigin(s3Origin(), 4096);
    const origin = cache(gated);
    const key = "served.bin";
    const body = objects.get(key)!;
    const { etag } = await origin.stat(bucket, key);
    s3.s3.clearRequests();
    gated.hold();
    gated.allow(1);
    // One chunk of sixteen: the reader gets all it asked for while most of the slice is on its way.
    assert.ok((await readAll(origin, key, 0, 4096, etag)).equals(body.subarray(0, 4096)));
    assert.equal(origin.stats.abandoned, 0, "served, not abandoned");
    gated.open();
    await eventually(() => origin.fetchesInFlight === 0, 5_000, "the fetch to finish");
    assert.ok(origin.memory.has(sliceId({ bucket, key, etag }, sliceBytes, 0)));
    s3.s3.clearRequests();
    assert.ok((await readAll(origin, key, 4096, sliceBytes - 4096, etag)).equals(body.subarray(4096)));
    assert.equal(s3.s3.requests.length, 0, "the rest of the slice came from memory");
    await origin.close();
  });

  it("a reader that stops early (break) releases the fetch like one that aborts", async () => {
    const gated = new GatedOrigin(s3Origin(), 4096);
    const origin = cache(gated);
    const key = "break.bin";
    const { etag } = await origin.stat(bucket, key);
    gated.hold();
    gated.allow(1);
    const range = await origin.readRange(bucket, key, 0, sliceBytes, etag, new AbortController().signal);
    for await (const chunk of range) {
      assert.equal(chunk.length, 4096);
      break;
    }
    assert.equal(origin.stats.abandoned, 1);
    await eventually(() => gated.bodiesStoppedEarly === 1, 5_000, "the S3 body to be released");
    assert.equal(origin.fetchesInFlight, 0);
    gated.open();
    await origin.close();
  });

  it("one reader leaving does not disturb the others", async () => {
    const gated = new GatedOrigin(s3Origin(), 4096);
    const origin = cache(gated);
    const key = "two-readers.bin";
    const body = objects.get(key)!;
    const { etag } = await origin.stat(bucket, key);
    gated.hold();
    gated.allow(2);
    const leaving = new AbortController();
    const left = origin.readRange(bucket, key, 0, sliceBytes, etag, leaving.signal).then(async (range) => {
      for await (const _ of range) leaving.abort();
    });
    const staying = readAll(origin, key, 0, sliceBytes, etag);
    await assert.rejects(
      left,
      (e: unknown) => e instanceof ShieldError && e.code === ShieldErrorCode.Aborted,
    );
    gated.open();
    assert.ok((await staying).equals(body));
    assert.equal(origin.stats.abandoned, 0);
    await origin.close();
  });
});
