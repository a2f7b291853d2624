import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { after, before, beforeEach, describe, it } from "node:test";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { createS3Client, S3ClientPool } from "../../lib/s3-client.js";
import { FaultKind, S3ErrorCode, seededRandom } from "../../lib/testing/fault-proxy.js";
import { delay, eventually, readAll, stat } from "../../lib/testing/shield.js";
import { BucketLimiter, Lane } from "../src/bucket-limiter.js";
import { ShieldError, ShieldErrorCode } from "../src/errors.js";
import { backoffDelayMs, sleep } from "../src/retry.js";
import { classify, OriginOperation, OriginResult } from "../src/s3/outcome.js";
import {
  collect,
  collectUntilError,
  type FaultyS3,
  RecordingObserver,
  sampleValue,
  startFaultyS3,
  startShieldBehindProxy,
  testOrigin,
} from "./fault-helpers.js";

const bucket = "faulty-origin";
const otherBucket = "quiet-origin";
const { Get, Head } = OriginOperation;

/** A ShieldError with this code, for assert.rejects. */
function shieldError(code: ShieldErrorCode, message?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ShieldError, `expected a ShieldError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

/** Longest run of consecutive "fail" decisions in the first n draws of the seeded PRNG. */
function longestFailureRun(seed: number, fraction: number, n: number): number {
  const random = seededRandom(seed);
  let run = 0;
  let longest = 0;
  for (let i = 0; i < n; i++) {
    run = random() < fraction ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

describe("backoffDelayMs (full jitter)", () => {
  const policy = { baseMs: 100, capMs: 1_000 };

  it("stays in [0, min(cap, base × 2^(n-1))) for the extremes of random", () => {
    const ceilings = [100, 200, 400, 800, 1_000, 1_000, 1_000];
    for (const [i, ceiling] of ceilings.entries()) {
      const retry = i + 1;
      assert.equal(
        backoffDelayMs(retry, policy, () => 0),
        0,
        `retry ${retry}, random 0`,
      );
      assert.equal(
        backoffDelayMs(retry, policy, () => 0.5),
        ceiling / 2,
        `retry ${retry}, random 0.5`,
      );
      assert.equal(
        backoffDelayMs(retry, policy, () => 0.999_999),
        ceiling - 1,
        `retry ${retry}, random → 1`,
      );
    }
  });

  it("spreads real jitter over the whole window and never past the cap", () => {
    const random = seededRandom(7);
    const samples = Array.from({ length: 2_000 }, () => backoffDelayMs(3, policy, random));
    assert.ok(samples.every((ms) => ms >= 0 && ms < 400));
    assert.ok(Math.min(...samples) < 40 && Math.max(...samples) > 360, "uses the whole [0, 400) window");
    assert.equal(
      backoffDelayMs(10_000, policy, () => 0.999_999),
      999,
      "a huge retry count is capped",
    );
  });

  it("sleep rejects with Aborted as soon as the signal fires", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(sleep(5_000, controller.signal), shieldError(ShieldErrorCode.Aborted));
    // Generous: it separates an abort (about 20 ms) from the 5 s sleep running out, on any load.
    assert.ok(performance.now() - started < 4_000);
  });
});

describe("classify", () => {
  const s3Error = (name: string, status: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  const nodeError = (code: string, name = "Error") => Object.assign(new Error(code), { code, name });

  it("retries 5xx, throttling, broken connections and timeouts, and nothing else", () => {
    const table: ReadonlyArray<readonly [unknown, OriginResult, boolean]> = [
      [s3Error("SlowDown", 503), OriginResult.Throttled, true],
      [s3Error("TooManyRequestsException", 429), OriginResult.Throttled, true],
      [s3Error("InternalError", 500), OriginResult.ServerError, true],
      [s3Error("ServiceUnavailable", 503), OriginResult.ServerError, true],
      [s3Error("Unknown", 502), OriginResult.ServerError, true],
      [nodeError("ECONNRESET"), OriginResult.Reset, true],
      // The SDK renames a reset before the headers to TimeoutError; the code decides.
      [nodeError("ECONNRESET", "TimeoutError"), OriginResult.Reset, true],
      [nodeError("ECONNREFUSED"), OriginResult.Reset, true],
      [nodeError("ETIMEDOUT", "TimeoutError"), OriginResult.Timeout, true],
      [s3Error("RequestTimeout", 400), OriginResult.Timeout, true],
      [s3Error("NoSuchKey", 404), OriginResult.NotFound, false],
      [s3Error("InvalidRange", 416), OriginResult.OutOfRange, false],
      [s3Error("PreconditionFailed", 412), OriginResult.PreconditionFailed, false],
      [s3Error("AccessDenied", 403), OriginResult.Error, false],
      [new Error("something else"), OriginResult.Error, false],
    ];
    for (const [error, result, retryable] of table) {
      const failure = classify(error, false);
      assert.deepEqual([failure.result, failure.retryable], [result, retryable], String(error));
    }
    assert.equal(
      classify(Object.assign(new Error("x"), { name: "AbortError" }), true).result,
      OriginResult.Timeout,
    );
  });
});

describe("BucketLimiter", () => {
  it("grants up to the limit, queues the rest in order and hands slots over on release", async () => {
    const limiter = new BucketLimiter({ maxConcurrent: 2, maxQueued: 10 });
    const a = await limiter.acquire("b");
    const b = await limiter.acquire("b");
    const order: string[] = [];
    const c = limiter.acquire("b").then((release) => {
      order.push("c");
      return release;
    });
    const d = limiter.acquire("b").then((release) => {
      order.push("d");
      return release;
    });
    await delay(5);
    assert.deepEqual([limiter.inFlight("b"), limiter.queued("b"), order.length], [2, 2, 0]);
    a();
    a(); // a second release of the same slot changes nothing
    const releaseC = await c;
    assert.deepEqual([limiter.inFlight("b"), limiter.queued("b")], [2, 1]);
    b();
    const releaseD = await d;
    assert.deepEqual(order, ["c", "d"]);
    releaseC();
    releaseD();
    assert.deepEqual([limiter.inFlight("b"), limiter.queued("b")], [0, 0]);
  });

  it("fails at once when the bucket's queue is full, and keeps buckets apart", async () => {
    const limiter = new BucketLimiter({ maxConcurrent: 1, maxQueued: 1 });
    const held = await limiter.acquire("hot");
    const waiting = limiter.acquire("hot");
    await assert.rejects(limiter.acquire("hot"), shieldError(ShieldErrorCode.Overloaded, /waiting/));
    const elsewhere = await limiter.acquire("cold");
    elsewhere();
    held();
    (await waiting)();
  });

  it("drops a waiter whose signal aborts, without disturbing the others", async () => {
    const limiter = new BucketLimiter({ maxConcurrent: 1, maxQueued: 5 });
    const held = await limiter.acquire("b");
    const controller = new AbortController();
    const abandoned = limiter.acquire("b", controller.signal);
    const next = limiter.acquire("b");
    controller.abort();
    await assert.rejects(abandoned, shieldError(ShieldErrorCode.Aborted));
    assert.equal(limiter.queued("b"), 1);
    held();
    (await next)();
    assert.equal(limiter.inFlight("b"), 0);
    await assert.rejects(limiter.acquire("b", AbortSignal.abort()), shieldError(ShieldErrorCode.Aborted));
  });

  it("keeps lookups to their own slots and queue, sheds the excess, and serves reads first", async () => {
    const limiter = new BucketLimiter({
      maxConcurrent: 3,
      maxQueued: 10,
      maxLookups: 2,
      maxQueuedLookups: 2,
    });
    const lookupA = await limiter.acquire("b", undefined, Lane.Lookup);
    const lookupB = await limiter.acquire("b", undefined, Lane.Lookup);
    // Lookups hold their two slots; the third slot is left for reads.
    const order: string[] = [];
    const queuedLookups = [1, 2].map((n) =>
      limiter.acquire("b", undefined, Lane.Lookup).then((release) => {
        order.push(`lookup${n}`);
        return release;
      }),
    );
    await assert.rejects(
      limiter.acquire("b", undefined, Lane.Lookup),
      shieldError(ShieldErrorCode.LookupsShed, /2 in flight, 2 lookups waiting/),
    );
    assert.equal(limiter.shedLookups, 1);
    const readA = await limiter.acquire("b");
    assert.deepEqual(
      [limiter.inFlight("b"), limiter.lookupsInFlight("b"), limiter.queuedLookups("b")],
      [3, 2, 2],
    );
    // Every slot is taken: a read now waits, and goes before the waiting lookups.
    const readB = limiter.acquire("b").then((release) => {
      order.push("read");
      return release;
    });
    lookupA();
    const releaseReadB = await readB;
    assert.deepEqual(order, ["read"]);
    readA();
    const releaseLookup1 = await queuedLookups[0]!;
    assert.deepEqual(order, ["read", "lookup1"]);
    // Lookups are at their bound again (lookupB and lookup1): with a slot free, lookup2 still waits.
    releaseReadB();
    assert.deepEqual(
      [limiter.inFlight("b"), limiter.lookupsInFlight("b"), limiter.queuedLookups("b")],
      [2, 2, 1],
    );
    lookupB();
    (await queuedLookups[1]!)();
    releaseLookup1();
    assert.deepEqual([limiter.inFlight("b"), limiter.queued("b")], [0, 0]);
  });

  it("gives a freed HEAD slot to a waiting play's open before waiting lookups, each queue bounded", async () => {
    const limiter = new BucketLimiter({
      maxConcurrent: 8,
      maxQueued: 10,
      maxLookups: 1,
      maxQueuedLookups: 1,
    });
    const first = await limiter.acquire("b", undefined, Lane.Lookup);
    const order: string[] = [];
    const lookup = limiter.acquire("b", undefined, Lane.Lookup).then((release) => {
      order.push("lookup");
      return release;
    });
    const open = limiter.acquire("b", undefined, Lane.Open).then((release) => {
      order.push("open");
      return release;
    });
    // Each queue holds one: both are full now.
    await assert.rejects(
      limiter.acquire("b", undefined, Lane.Lookup),
      shieldError(ShieldErrorCode.LookupsShed),
    );
    await assert.rejects(
      limiter.acquire("b", undefined, Lane.Open),
      shieldError(ShieldErrorCode.LookupsShed),
    );
    assert.deepEqual(limiter.queuedByLane(), { read: 0, open: 1, lookup: 1 });
    // Reads are not held back by HEADs at their bound.
    (await limiter.acquire("b"))();
    first();
    (await open)();
    (await lookup)();
    assert.deepEqual(order, ["open", "lookup"]);
    assert.equal(limiter.inFlight("b"), 0);
  });
});

describe("S3Origin against s3rver behind the fault proxy", () => {
  let faulty: FaultyS3;
  let big: Buffer;
  let bigEtag: string;
  let small: Buffer;

  before(async () => {
    faulty = await startFaultyS3(bucket, otherBucket);
    big = randomBytes(512 * 1024);
    small = randomBytes(32 * 1024);
    await faulty.s3.s3.putObject(bucket, "media/big.bin", big);
    await faulty.s3.s3.putObject(bucket, "media/small.bin", small);
    await faulty.s3.s3.putObject(otherBucket, "media/small.bin", small);
    const head = await faulty.s3.s3.client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: "media/big.bin" }),
    );
    bigEtag = head.ETag ?? "";
    assert.ok(bigEtag);
  });

  after(async () => {
    await faulty?.close();
  });

  beforeEach(() => {
    faulty.proxy.clearRules();
    faulty.proxy.onRequest(undefined);
    faulty.proxy.resetStats();
    faulty.s3.s3.clearRequests();
  });

  const gets = () => faulty.proxy.requests.filter((r) => r.method === "GET");

  it("completes 200 range reads with 20% of GETs failing 503 (seeded), counting every failure", async () => {
    const seed = 5;
    // The reads run one after another, so the k-th GET gets the k-th draw;
    // with this seed no four draws in a row fail, which is what four
    // attempts per read survive.
    assert.ok(longestFailureRun(seed, 0.2, 400) < 4, "fixture: the seed has no run of 4 failures");
    faulty.proxy.addRule({
      name: "20% 503",
      match: { method: "GET" },
      schedule: { kind: "fraction", fraction: 0.2, seed },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.ServiceUnavailable },
    });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer);
    let expectedBytes = 0;
    for (let i = 0; i < 200; i++) {
      const length = 1 + ((i * 7_919) % 8_192);
      const offset = (i * 104_729) % (big.length - length);
      const data = await collect(
        await origin.readRange(
          bucket,
          "media/big.bin",
          offset,
          length,
          undefined,
          AbortSignal.timeout(10_000),
        ),
      );
      assert.ok(data.equals(big.subarray(offset, offset + length)), `read ${i}: ${offset}+${length}`);
      expectedBytes += length;
    }
    const injected = faulty.proxy.stats.faults.error;
    assert.ok(injected >= 25 && injected <= 75, `about 20% failed (${injected} of ${gets().length})`);
    assert.equal(gets().length, 200 + injected, "one more GET per failure, no SDK retries underneath");
    assert.deepEqual(observer.summary(Get), { ok: 200, server_error: injected });
    assert.equal(observer.bytesRead, expectedBytes, "retries read no byte twice");
  });

  it("a shield whose S3 fails 20% of requests with 503 completes every play, and its metrics show the failures", async () => {
    const seed = 99;
    assert.ok(longestFailureRun(seed, 0.2, 400) < 4, "fixture: the seed has no run of 4 failures");
    faulty.proxy.addRule({
      name: "20% 503",
      schedule: { kind: "fraction", fraction: 0.2, seed },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.ServiceUnavailable },
    });
    // Without the slice cache every read goes to S3 and meets the faults.
    const shield = await startShieldBehindProxy(faulty.proxy, [bucket], {
      STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: "0",
    });
    try {
      const block = 8 * 1024;
      for (let play = 0; play < 20; play++) {
        // A play as an edge does it: stat, then the object block by block.
        const info = await stat(shield.client, bucket, "media/small.bin");
        assert.equal(info.size, small.length);
        const blocks: Buffer[] = [];
        for (let offset = 0; offset < small.length; offset += block) {
          const { data } = await readAll(shield.client, {
            bucket,
            key: "media/small.bin",
            offset,
            length: block,
            etag: info.etag,
          });
          blocks.push(data);
        }
        assert.ok(Buffer.concat(blocks).equals(small), `play ${play}`);
      }
      const injected = faulty.proxy.stats.faults.error;
      assert.ok(injected > 10, `failures were injected (${injected})`);
      const text = await shield.registry.metrics();
      const origin = (operation: string, result: string) =>
        sampleValue(text, "streamfront_shield_origin_requests_total", { operation, result });
      assert.equal(origin("head", "server_error") + origin("get", "server_error"), injected);
      assert.equal(origin("head", "ok"), 20);
      assert.equal(origin("get", "ok"), 80);
      assert.equal(
        sampleValue(text, "streamfront_shield_range_reads_total", { grpc_status: "unavailable" }),
        0,
      );
    } finally {
      await shield.close();
    }
  });

  it("retries SlowDown with exponential backoff", async () => {
    faulty.proxy.addRule({
      match: { method: "GET" },
      schedule: { kind: "first", count: 2 },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.SlowDown },
    });
    const observer = new RecordingObserver();
    // random → 1: the waits are the ceilings minus one, 39 ms then 79 ms.
    const origin = testOrigin(faulty.client, observer, {
      backoff: { baseMs: 40, capMs: 1_000 },
      random: () => 0.99,
    });
    const started = performance.now();
    const data = await collect(
      await origin.readRange(bucket, "media/small.bin", 0, 1_000, undefined, AbortSignal.timeout(5_000)),
    );
    const ms = performance.now() - started;
    assert.ok(data.equals(small.subarray(0, 1_000)));
    // Timers never fire early, so the lower bound holds on any machine; the
    // exact waits are backoffDelayMs's (tested above). The upper bound only
    // guards a hang: a loaded machine may add any amount to it.
    assert.ok(ms >= 115, `waited 39 + 79 ms between attempts (took ${ms.toFixed(0)} ms)`);
    assert.ok(ms < 4_000, `and did not hang (${ms.toFixed(0)} ms)`);
    assert.deepEqual(observer.summary(Get), { throttled: 2, ok: 1 });
    assert.equal(gets().length, 3);
  });

  it("retries a HEAD that failed", async () => {
    faulty.proxy.addRule({
      match: { method: "HEAD" },
      schedule: { kind: "first", count: 2 },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.InternalError },
    });
    const observer = new RecordingObserver();
    const info = await testOrigin(faulty.client, observer).stat(bucket, "media/big.bin");
    assert.equal(info.size, big.length);
    assert.equal(info.etag, bigEtag);
    assert.deepEqual(observer.summary(Head), { server_error: 2, ok: 1 });
  });

  it("resumes a body reset mid-stream from the next byte, pinned to the first answer's ETag", async () => {
    faulty.proxy.addRule({
      match: { method: "GET" },
      schedule: { kind: "first", count: 1 },
      fault: { kind: FaultKind.Reset, afterBytes: 100_000 },
    });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer);
    const offset = 1_000;
    const length = 300_000;
    const range = await origin.readRange(
      bucket,
      "media/big.bin",
      offset,
      length,
      undefined,
      AbortSignal.timeout(5_000),
    );
    const data = await collect(range);
    assert.ok(data.equals(big.subarray(offset, offset + length)), "bytes identical to the object");
    const [first, second, ...more] = gets();
    assert.equal(more.length, 0, "exactly two GETs");
    assert.equal(first?.headers.range, `bytes=${offset}-${offset + length - 1}`);
    assert.equal(first?.headers["if-match"], undefined);
    const resumedAt = Number(/^bytes=(\d+)-(\d+)$/.exec(String(second?.headers.range))?.[1]);
    assert.ok(resumedAt > offset && resumedAt <= offset + 100_000, `resumed at ${resumedAt}`);
    assert.equal(second?.headers.range, `bytes=${resumedAt}-${offset + length - 1}`);
    assert.equal(second?.headers["if-match"], bigEtag, "the resume is pinned to the version being read");
    assert.deepEqual(observer.summary(Get), { reset: 1, ok: 1 });
    assert.equal(observer.bytesRead, length, "no byte read twice");
  });

  it("keeps resuming while attempts make progress; gives up after maxAttempts without any", async () => {
    const progressing = faulty.proxy.addRule({
      match: { method: "GET" },
      schedule: { kind: "first", count: 3 },
      fault: { kind: FaultKind.Reset, afterBytes: 60_000 },
    });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, { maxAttempts: 2 });
    const data = await collect(
      await origin.readRange(bucket, "media/big.bin", 0, big.length, undefined, AbortSignal.timeout(5_000)),
    );
    assert.ok(data.equals(big));
    assert.equal(gets().length, 4, "three resets, each after progress, then the rest");
    assert.deepEqual(observer.summary(Get), { reset: 3, ok: 1 });
    progressing.remove();

    faulty.proxy.resetStats();
    faulty.proxy.addRule({ match: { method: "GET" }, fault: { kind: FaultKind.Reset, afterBytes: 0 } });
    const stuck = testOrigin(faulty.client, new RecordingObserver(), { maxAttempts: 3 });
    await assert.rejects(
      async () =>
        collect(
          await stuck.readRange(
            bucket,
            "media/big.bin",
            0,
            big.length,
            undefined,
            AbortSignal.timeout(5_000),
          ),
        ),
      shieldError(ShieldErrorCode.OriginUnavailable),
    );
    assert.equal(gets().length, 3, "maxAttempts GETs without a byte of progress");
  });

  it("ends a read whose object was replaced between attempts with ObjectChanged, never mixed bytes", async () => {
    const key = "media/replaced.bin";
    const original = randomBytes(256 * 1024);
    const replacement = randomBytes(256 * 1024);
    await faulty.s3.s3.putObject(bucket, key, original);
    faulty.proxy.addRule({
      match: { method: "GET", path: /replaced\.bin/ },
      schedule: { kind: "first", count: 1 },
      fault: { kind: FaultKind.Reset, afterBytes: 64 * 1024 },
    });
    let replaced = false;
    // The resumed GET reaches the real S3 only after the object was replaced there.
    faulty.proxy.onRequest(async (r) => {
      if (r.method === "GET" && r.path.includes("replaced.bin") && r.faults.length === 0 && !replaced) {
        replaced = true;
        await faulty.s3.s3.putObject(bucket, key, replacement);
      }
    });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer);
    const range = await origin.readRange(
      bucket,
      key,
      0,
      original.length,
      undefined,
      AbortSignal.timeout(5_000),
    );
    const { data, error } = await collectUntilError(range);
    assert.ok(replaced);
    assert.ok(error instanceof ShieldError && error.code === ShieldErrorCode.ObjectChanged, String(error));
    assert.ok(data.length <= 64 * 1024, `only bytes of the first answer (${data.length})`);
    assert.ok(
      data.equals(original.subarray(0, data.length)),
      "every byte from the original, none from the new version",
    );
    assert.equal(gets()[1]?.headers["if-match"], range.etag);
    assert.deepEqual(observer.summary(Get), { reset: 1, precondition_failed: 1 });
  });

  it("gives up on a persistent 500 after maxAttempts, in bounded time", async () => {
    faulty.proxy.addRule({ fault: { kind: FaultKind.Error, code: S3ErrorCode.InternalError } });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, {
      maxAttempts: 4,
      backoff: { baseMs: 20, capMs: 40 },
    });
    const started = performance.now();
    await assert.rejects(
      origin.readRange(bucket, "media/big.bin", 0, 100, undefined, AbortSignal.timeout(5_000)),
      shieldError(ShieldErrorCode.OriginUnavailable, /after 4 attempts \(InternalError 500\)/),
    );
    const ms = performance.now() - started;
    // Waits of at most 19 + 39 + 39 ms, plus four quick refusals; the bound
    // is a hang guard only (the 4 GETs and the error decide), loose for load.
    assert.ok(ms < 4_500, `gave up after ${ms.toFixed(0)} ms`);
    assert.equal(gets().length, 4, "four GETs: the SDK does not retry underneath");
    assert.deepEqual(observer.summary(Get), { server_error: 4 });

    await assert.rejects(
      origin.stat(bucket, "media/big.bin"),
      shieldError(ShieldErrorCode.OriginUnavailable),
    );
    assert.deepEqual(observer.summary(Head), { server_error: 4 });
  });

  it("does not retry what another attempt cannot fix", async () => {
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer);
    await assert.rejects(
      origin.stat(bucket, "media/missing.bin"),
      shieldError(ShieldErrorCode.ObjectNotFound),
    );
    await assert.rejects(
      origin.readRange(bucket, "media/big.bin", big.length + 10, 10, undefined, AbortSignal.timeout(5_000)),
      shieldError(ShieldErrorCode.RangeNotSatisfiable),
    );
    assert.equal(faulty.proxy.stats.requests, 2);
    assert.deepEqual(observer.summary(Head), { not_found: 1 });
    assert.deepEqual(observer.summary(Get), { out_of_range: 1 });
  });

  it("times out slow headers, retries, then fails with OriginUnavailable", async () => {
    faulty.proxy.addRule({ match: { method: "GET" }, fault: { kind: FaultKind.Delay, ms: 3_000 } });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, { timeoutMs: 150, maxAttempts: 3 });
    const started = performance.now();
    await assert.rejects(
      origin.readRange(bucket, "media/small.bin", 0, 100, undefined, AbortSignal.timeout(10_000)),
      shieldError(ShieldErrorCode.OriginUnavailable, /after 3 attempts \(TimeoutError\)/),
    );
    const ms = performance.now() - started;
    // At least three 150 ms timeouts (timers never fire early), and less than
    // one 3 s proxy delay: an attempt that was not timed out would wait that
    // long. Both hold however loaded the machine is.
    assert.ok(ms >= 440 && ms < 2_900, `three 150 ms timeouts (${ms.toFixed(0)} ms)`);
    assert.deepEqual(observer.summary(Get), { timeout: 3 });
    await eventually(() => faulty.proxy.stats.inFlight === 0, 3_000, "the timed-out requests to be dropped");
    assert.equal(gets().length, 3);
  });

  it("retries a slow first answer and completes", async () => {
    faulty.proxy.addRule({
      match: { method: "GET" },
      schedule: { kind: "first", count: 1 },
      fault: { kind: FaultKind.Delay, ms: 3_000 },
    });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, { timeoutMs: 150 });
    const data = await collect(
      await origin.readRange(bucket, "media/small.bin", 0, 5_000, undefined, AbortSignal.timeout(5_000)),
    );
    assert.ok(data.equals(small.subarray(0, 5_000)));
    assert.deepEqual(observer.summary(Get), { timeout: 1, ok: 1 });
  });

  it("times out a stalled body and resumes it", async () => {
    faulty.proxy.addRule({
      match: { method: "GET" },
      schedule: { kind: "first", count: 1 },
      fault: { kind: FaultKind.Hang, afterBytes: 50_000 },
    });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, { timeoutMs: 200 });
    const data = await collect(
      await origin.readRange(bucket, "media/big.bin", 0, big.length, undefined, AbortSignal.timeout(5_000)),
    );
    assert.ok(data.equals(big));
    assert.deepEqual(observer.summary(Get), { timeout: 1, ok: 1 });
    assert.equal(gets().length, 2);
  });

  it("does not mistake a slow consumer for a stalled S3", async () => {
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, { timeoutMs: 100 });
    const range = await origin.readRange(
      bucket,
      "media/big.bin",
      0,
      big.length,
      undefined,
      AbortSignal.timeout(5_000),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of range) {
      if (chunks.length === 0) await delay(300);
      chunks.push(Buffer.from(chunk));
    }
    assert.ok(Buffer.concat(chunks).equals(big));
    assert.deepEqual(observer.summary(Get), { ok: 1 });
  });

  it("keeps at most maxConcurrencyPerBucket requests in flight per bucket", async () => {
    // Every GET lingers, so the reads overlap as much as the limit allows.
    faulty.proxy.addRule({ match: { method: "GET" }, fault: { kind: FaultKind.Delay, ms: 40 } });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, { maxConcurrencyPerBucket: 2 });
    const reads = Array.from({ length: 10 }, async (_, i) => {
      const offset = i * 1_000;
      const range = await origin.readRange(
        bucket,
        "media/big.bin",
        offset,
        20_000,
        undefined,
        AbortSignal.timeout(5_000),
      );
      return { offset, data: await collect(range) };
    });
    for (const { offset, data } of await Promise.all(reads)) {
      assert.ok(data.equals(big.subarray(offset, offset + 20_000)));
    }
    assert.equal(faulty.proxy.stats.peakInFlight, 2, "never more than 2, and the limit was reached");
    assert.equal(origin.inFlight(bucket), 0);
    assert.deepEqual(observer.summary(Get), { ok: 10 });
  });

  it("gives up promptly on a read aborted while it waits for a slot", async () => {
    faulty.proxy.addRule({ match: { method: "GET", path: /big\.bin/ }, fault: { kind: FaultKind.Hang } });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer, { maxConcurrencyPerBucket: 1, timeoutMs: 10_000 });
    const holder = new AbortController();
    const holding = origin.readRange(bucket, "media/big.bin", 0, 100, undefined, holder.signal);
    holding.catch(() => {});
    await eventually(() => faulty.proxy.stats.inFlight === 1, 3_000, "the first GET to hang in the proxy");
    const waiter = new AbortController();
    const waiting = origin.readRange(bucket, "media/small.bin", 0, 100, undefined, waiter.signal);
    await delay(30);
    // Another bucket has its own slots.
    const other = await collect(
      await origin.readRange(otherBucket, "media/small.bin", 0, 100, undefined, AbortSignal.timeout(5_000)),
    );
    assert.ok(other.equals(small.subarray(0, 100)));
    const started = performance.now();
    waiter.abort();
    await assert.rejects(waiting, shieldError(ShieldErrorCode.Aborted));
    // The slot is held by a GET that hangs until its 10 s timeout: an abort
    // that waited for the slot would take that long; a loaded machine cannot.
    assert.ok(performance.now() - started < 5_000, "aborted without waiting for the slot");
    assert.equal(
      gets().filter((r) => r.path.includes(bucket)).length,
      1,
      "the aborted read never reached S3",
    );
    holder.abort();
    await assert.rejects(holding, shieldError(ShieldErrorCode.Aborted));
    assert.deepEqual(observer.summary(Get), { ok: 1, aborted: 1 });
    assert.equal(origin.inFlight(bucket), 0);
  });

  it("aborts a read mid-body and counts it as aborted", async () => {
    faulty.proxy.addRule({
      match: { method: "GET" },
      fault: { kind: FaultKind.Throttle, bytesPerSecond: 100_000 },
    });
    const observer = new RecordingObserver();
    const origin = testOrigin(faulty.client, observer);
    const controller = new AbortController();
    const range = await origin.readRange(
      bucket,
      "media/big.bin",
      0,
      big.length,
      undefined,
      controller.signal,
    );
    setTimeout(() => controller.abort(), 50);
    const { data, error } = await collectUntilError(range);
    assert.ok(error instanceof ShieldError && error.code === ShieldErrorCode.Aborted, String(error));
    assert.ok(data.length < big.length);
    assert.deepEqual(observer.summary(Get), { aborted: 1 });
    assert.equal(origin.inFlight(bucket), 0);
  });
});

describe("createS3Client and S3ClientPool", () => {
  let faulty: FaultyS3;

  before(async () => {
    faulty = await startFaultyS3(bucket);
    // A public-read prefix, as a bucket policy grants it: the embedded S3 refuses anonymous requests otherwise.
    faulty.s3.s3.allowAnonymousRead(bucket, "public/");
    await faulty.s3.s3.putObject(bucket, "public/file.txt", Buffer.from("public bytes"));
  });

  after(async () => {
    await faulty?.close();
  });

  it("sends unsigned requests when anonymous, signed ones with keys", async () => {
    const anonymous = createS3Client({
      endpoint: faulty.proxy.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      anonymous: true,
    });
    try {
      const out = await anonymous.send(new GetObjectCommand({ Bucket: bucket, Key: "public/file.txt" }));
      assert.equal(await out.Body?.transformToString(), "public bytes");
      const seen = faulty.proxy.requests.at(-1);
      assert.equal(seen?.headers.authorization, undefined, "no Authorization header");
      assert.equal(seen?.headers["x-amz-security-token"], undefined);
    } finally {
      anonymous.destroy();
    }
    await faulty.client.send(new HeadObjectCommand({ Bucket: bucket, Key: "public/file.txt" }));
    assert.match(
      String(faulty.proxy.requests.at(-1)?.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=S3RVER\//,
    );
    assert.throws(
      () =>
        createS3Client({
          region: "us-east-1",
          forcePathStyle: true,
          anonymous: true,
          ...embeddedS3Credentials,
        }),
      /exclude each other/,
    );
  });

  it("builds one client per target and shares it", () => {
    const pool = new S3ClientPool(embeddedS3Credentials);
    try {
      const a = pool.client({ endpoint: faulty.proxy.endpoint, region: "us-east-1", forcePathStyle: true });
      const again = pool.client({
        endpoint: faulty.proxy.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
      });
      const otherRegion = pool.client({
        endpoint: faulty.proxy.endpoint,
        region: "eu-west-1",
        forcePathStyle: true,
      });
      const publicOne = pool.client({ region: "us-east-1", forcePathStyle: false, anonymous: true });
      assert.equal(a, again);
      assert.notEqual(a, otherRegion);
      assert.notEqual(a, publicOne);
      assert.equal(pool.size, 3);
    } finally {
      pool.destroy();
    }
    assert.equal(pool.size, 0);
  });
});
