import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { type IncomingHttpHeaders, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, beforeEach, describe, it } from "node:test";
import { EmbeddedS3 } from "../../deploy/local/embedded-s3.js";
import { FaultKind, FaultProxy, S3ErrorCode, seededRandom } from "../testing/fault-proxy.js";
import { eventually } from "../testing/wait.js";

const bucket = "fault-bucket";
const key = "media/object.bin";
const path = `/${bucket}/${key}`;

interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Milliseconds until the response headers arrived. */
  readonly headersMs: number;
  /** Set when the connection failed after the headers (the body is what arrived before). */
  readonly bodyError: NodeJS.ErrnoException | undefined;
}

/**
 * One request on its own connection (no keep-alive), so a reset or hang
 * affects only it. s3rver serves unsigned requests, which keeps this test
 * about the proxy rather than SigV4.
 */
function raw(
  endpoint: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}${options.path ?? path}`, {
      method: options.method ?? "GET",
      headers: options.headers ?? {},
      agent: false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const headersMs = performance.now() - started;
      const chunks: Buffer[] = [];
      let settled = false;
      const done = (bodyError: NodeJS.ErrnoException | undefined) => {
        if (settled) return;
        settled = true;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          headersMs,
          bodyError,
        });
      };
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => done(undefined));
      res.on("error", (error: NodeJS.ErrnoException) => done(error));
      res.on("close", () => {
        if (!res.complete)
          done(Object.assign(new Error("connection closed mid-body"), { code: "ECONNRESET" }));
      });
    });
    req.end();
  });
}

describe("FaultProxy in front of s3rver", () => {
  let directory: string;
  let s3: EmbeddedS3;
  let proxy: FaultProxy;
  let object: Buffer;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "streamfront-fault-proxy-"));
    s3 = new EmbeddedS3({ directory, host: "127.0.0.1", port: 0 });
    await s3.start();
    await s3.ensureBucket(bucket);
    // The raw requests below are unsigned: let them read, as a public-read bucket policy would.
    s3.allowAnonymousRead(bucket);
    object = randomBytes(256 * 1024);
    await s3.putObject(bucket, key, object);
    proxy = new FaultProxy({ upstream: s3.endpoint });
    await proxy.start();
  });

  after(async () => {
    await proxy?.close();
    await s3?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    proxy.clearRules();
    proxy.onRequest(undefined);
    proxy.resetStats();
    s3.clearRequests();
  });

  it("passes requests through unchanged and counts them", async () => {
    const whole = await raw(proxy.endpoint);
    assert.equal(whole.status, 200);
    assert.ok(whole.body.equals(object));
    const part = await raw(proxy.endpoint, { headers: { range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers["content-range"], `bytes 100-199/${object.length}`);
    assert.ok(part.body.equals(object.subarray(100, 200)));
    const head = await raw(proxy.endpoint, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], String(object.length));
    const stats = proxy.stats;
    assert.equal(stats.requests, 3);
    assert.equal(stats.bytesForwarded, object.length + 100);
    assert.deepEqual(stats.faults, { error: 0, delay: 0, throttle: 0, reset: 0, hang: 0 });
    assert.equal(s3.requests.length, 3, "every request reached the real S3");
    assert.deepEqual(
      proxy.requests.map((r) => [r.method, r.status]),
      [
        ["GET", 200],
        ["GET", 206],
        ["HEAD", 200],
      ],
    );
  });

  it("answers S3 errors with S3's XML body and status, without asking the upstream", async () => {
    for (const [code, status] of [
      [S3ErrorCode.SlowDown, 503],
      [S3ErrorCode.InternalError, 500],
      [S3ErrorCode.ServiceUnavailable, 503],
    ] as const) {
      const rule = proxy.addRule({ fault: { kind: FaultKind.Error, code } });
      const res = await raw(proxy.endpoint);
      rule.remove();
      assert.equal(res.status, status, code);
      assert.equal(res.headers["content-type"], "application/xml");
      assert.match(String(res.headers["x-amz-request-id"]), /^FAULTPROXY\d+$/);
      const xml = res.body.toString("utf8");
      assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<Error>/);
      assert.match(xml, new RegExp(`<Code>${code}</Code><Message>[^<]+</Message>`));
      assert.match(xml, new RegExp(`<Resource>${path}</Resource>`));
    }
    proxy.addRule({ fault: { kind: FaultKind.Error, code: S3ErrorCode.InternalError, status: 502 } });
    const head = await raw(proxy.endpoint, { method: "HEAD" });
    assert.equal(head.status, 502, "status override");
    assert.equal(head.body.length, 0, "HEAD errors have no body");
    assert.equal(proxy.stats.faults.error, 4);
    assert.equal(s3.requests.length, 0);
  });

  it("matches on method, path and the presence of a Range header", async () => {
    const onHead = proxy.addRule({
      match: { method: "head" },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.InternalError },
    });
    const onOther = proxy.addRule({
      match: { path: /\/other\.bin$/ },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.InternalError },
    });
    const onRanged = proxy.addRule({
      match: { method: "GET", hasRange: true },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.SlowDown },
    });
    assert.equal((await raw(proxy.endpoint, { method: "HEAD" })).status, 500);
    assert.equal((await raw(proxy.endpoint)).status, 200);
    assert.equal((await raw(proxy.endpoint, { path: `/${bucket}/other.bin` })).status, 500);
    assert.equal((await raw(proxy.endpoint, { headers: { range: "bytes=0-9" } })).status, 503);
    assert.deepEqual(
      [onHead.matched, onOther.matched, onRanged.matched],
      [1, 1, 1],
      "each rule saw only its requests",
    );
  });

  it("fires on the n-th matching requests and on the first K", async () => {
    const nth = proxy.addRule({
      match: { method: "GET" },
      schedule: { kind: "nth", n: [2, 4] },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.InternalError },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await raw(proxy.endpoint)).status);
    assert.deepEqual(statuses, [200, 500, 200, 500, 200]);
    assert.deepEqual([nth.matched, nth.fired], [5, 2]);
    nth.remove();

    proxy.addRule({
      schedule: { kind: "first", count: 3 },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.SlowDown },
    });
    statuses.length = 0;
    for (let i = 0; i < 5; i++) statuses.push((await raw(proxy.endpoint, { method: "HEAD" })).status);
    assert.deepEqual(statuses, [503, 503, 503, 200, 200]);
  });

  it("fails a seeded fraction of requests, the same ones on every run", async () => {
    const seed = 20;
    const n = 200;
    // What the proxy must decide: the k-th draw of the seeded PRNG.
    const random = seededRandom(seed);
    const expected = Array.from({ length: n }, () => random() < 0.2);
    const rule = proxy.addRule({
      match: { method: "HEAD" },
      schedule: { kind: "fraction", fraction: 0.2, seed },
      fault: { kind: FaultKind.Error, code: S3ErrorCode.ServiceUnavailable },
    });
    const failed: boolean[] = [];
    for (let i = 0; i < n; i++) failed.push((await raw(proxy.endpoint, { method: "HEAD" })).status === 503);
    assert.deepEqual(failed, expected);
    const count = failed.filter(Boolean).length;
    assert.equal(rule.fired, count);
    assert.ok(count > 20 && count < 60, `about 20% of ${n} failed (${count})`);
    assert.equal(proxy.stats.faults.error, count);
  });

  it("delays the response headers", async () => {
    proxy.addRule({ fault: { kind: FaultKind.Delay, ms: 250 } });
    const res = await raw(proxy.endpoint, { headers: { range: "bytes=0-99" } });
    assert.equal(res.status, 206);
    assert.ok(res.body.equals(object.subarray(0, 100)));
    assert.ok(res.headersMs >= 240, `headers after ${res.headersMs.toFixed(0)} ms`);
    assert.equal(proxy.stats.faults.delay, 1);
  });

  it("throttles the body to the configured rate, bytes intact", async () => {
    proxy.addRule({ fault: { kind: FaultKind.Throttle, bytesPerSecond: 200 * 1024 } });
    const started = performance.now();
    const res = await raw(proxy.endpoint, { headers: { range: "bytes=0-65535" } });
    const ms = performance.now() - started;
    assert.ok(res.body.equals(object.subarray(0, 65_536)));
    // 64 KiB at 200 KiB/s is 320 ms; the first slice leaves at once.
    assert.ok(ms >= 280, `64 KiB took ${ms.toFixed(0)} ms`);
    // The lower bound shows the throttle; this one only guards a hang, loose for a loaded machine.
    assert.ok(ms < 10_000, `and did not hang (${ms.toFixed(0)} ms)`);
    assert.equal(proxy.stats.faults.throttle, 1);
  });

  it("resets the connection after N body bytes", async () => {
    proxy.addRule({
      schedule: { kind: "first", count: 1 },
      fault: { kind: FaultKind.Reset, afterBytes: 10_000 },
    });
    const cut = await raw(proxy.endpoint);
    assert.equal(cut.status, 200, "the headers went out");
    assert.ok(cut.bodyError, "the body failed");
    assert.equal(cut.bodyError.code, "ECONNRESET");
    assert.ok(cut.body.length <= 10_000, `at most N bytes arrived (${cut.body.length})`);
    assert.ok(cut.body.equals(object.subarray(0, cut.body.length)), "and they are the object's first bytes");
    assert.equal(proxy.stats.bytesForwarded, 10_000);
    assert.equal(proxy.stats.faults.reset, 1);
    assert.equal(proxy.requests[0]?.bytes, 10_000);
    const next = await raw(proxy.endpoint);
    assert.ok(next.body.equals(object), "only the first request was cut");
  });

  it("resets right after the headers with afterBytes 0", async () => {
    proxy.addRule({ fault: { kind: FaultKind.Reset, afterBytes: 0 } });
    const cut = await raw(proxy.endpoint);
    assert.equal(cut.status, 200);
    assert.equal(cut.body.length, 0);
    assert.equal(cut.bodyError?.code, "ECONNRESET");
  });

  it("hangs before the headers until the client gives up", async () => {
    proxy.addRule({ fault: { kind: FaultKind.Hang } });
    const started = performance.now();
    await assert.rejects(raw(proxy.endpoint, { signal: AbortSignal.timeout(300) }), { name: "AbortError" });
    assert.ok(performance.now() - started >= 290);
    assert.equal(proxy.stats.faults.hang, 1);
    assert.equal(s3.requests.length, 0, "a hung request never reaches S3");
    await eventually(() => proxy.stats.inFlight === 0, 3_000, "the hung request to be released");
  });

  it("hangs after N body bytes, keeping the connection open", async () => {
    proxy.addRule({ fault: { kind: FaultKind.Hang, afterBytes: 4_096 } });
    const seen: Buffer[] = [];
    const aborted = new AbortController();
    const req = request(`${proxy.endpoint}${path}`, { agent: false, signal: aborted.signal });
    const gotResponse = new Promise<void>((resolve) => {
      req.on("response", (res) => {
        res.on("data", (chunk: Buffer) => seen.push(chunk));
        res.on("error", () => {});
        resolve();
      });
    });
    req.on("error", () => {});
    req.end();
    await gotResponse;
    await eventually(() => Buffer.concat(seen).length === 4_096, 3_000, "the first 4096 bytes");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(Buffer.concat(seen).length, 4_096, "nothing more arrived");
    assert.equal(proxy.stats.inFlight, 1, "the response is still open");
    assert.equal(proxy.stats.faults.hang, 1);
    aborted.abort();
    await eventually(() => proxy.stats.inFlight === 0, 3_000, "the hung response to close");
  });

  it("combines faults of several rules on one request", async () => {
    proxy.addRule({ fault: { kind: FaultKind.Delay, ms: 100 } });
    proxy.addRule({ fault: { kind: FaultKind.Error, code: S3ErrorCode.SlowDown } });
    const res = await raw(proxy.endpoint);
    assert.equal(res.status, 503);
    assert.ok(res.headersMs >= 90);
    assert.deepEqual(proxy.requests[0]?.faults, [FaultKind.Delay, FaultKind.Error]);
  });

  it("awaits the onRequest hook before forwarding, so a test can change the real S3 first", async () => {
    const replacement = randomBytes(1_000);
    const seen: number[] = [];
    proxy.onRequest(async (r) => {
      seen.push(r.index);
      if (r.index === 2) await s3.putObject(bucket, "replaced.bin", replacement);
    });
    await s3.putObject(bucket, "replaced.bin", Buffer.from("original"));
    const first = await raw(proxy.endpoint, { path: `/${bucket}/replaced.bin` });
    const second = await raw(proxy.endpoint, { path: `/${bucket}/replaced.bin` });
    assert.equal(first.body.toString(), "original");
    assert.ok(second.body.equals(replacement));
    assert.deepEqual(seen, [1, 2]);
  });

  it("tracks requests in flight and the peak", async () => {
    proxy.addRule({ fault: { kind: FaultKind.Delay, ms: 200 } });
    await Promise.all([raw(proxy.endpoint), raw(proxy.endpoint), raw(proxy.endpoint)]);
    assert.equal(proxy.stats.peakInFlight, 3);
    assert.equal(proxy.stats.inFlight, 0);
  });

  it("refuses nonsense rules", () => {
    assert.throws(
      () => proxy.addRule({ fault: { kind: FaultKind.Throttle, bytesPerSecond: 0 } }),
      /bytesPerSecond/,
    );
    assert.throws(
      () =>
        proxy.addRule({
          schedule: { kind: "fraction", fraction: 1.5, seed: 1 },
          fault: { kind: FaultKind.Hang },
        }),
      /fraction/,
    );
  });
});

describe("FaultProxy.close", () => {
  it("tears down hung connections and resolves promptly", async () => {
    const directory = await mkdtemp(join(tmpdir(), "streamfront-fault-proxy-"));
    const s3 = new EmbeddedS3({ directory, host: "127.0.0.1", port: 0 });
    await s3.start();
    const proxy = new FaultProxy({ upstream: s3.endpoint });
    try {
      await proxy.start();
      proxy.addRule({ fault: { kind: FaultKind.Hang } });
      const pending = raw(proxy.endpoint);
      await eventually(() => proxy.stats.inFlight === 1, 3_000, "the request to arrive");
      const started = performance.now();
      await proxy.close();
      // The hung request never ends by itself: any bound separates; 5 s is loose for load.
      assert.ok(performance.now() - started < 5_000);
      await assert.rejects(pending, (error: NodeJS.ErrnoException) => error.code === "ECONNRESET");
    } finally {
      await proxy.close();
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
