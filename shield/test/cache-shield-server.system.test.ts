import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import {
  delay,
  eventually,
  hasCode,
  readAll,
  startTestS3,
  startTestShield,
  stat,
  type TestS3,
  type TestShield,
} from "../../lib/testing/shield.js";
import type { ReadRangeResponse } from "../../proto/gen/streamfront/shield/v1/shield.js";

const bucket = "cached-media";
const mib = 1024 * 1024;

/** Cache on: 1 MiB slices, 64 MiB of memory, read-ahead 2, 64 KiB pieces. */
const cacheEnv = {
  STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket,
  STREAMFRONT_SHIELD_MAX_PIECE_BYTES: String(64 * 1024),
  STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: String(64 * mib),
  STREAMFRONT_SHIELD_CACHE_SLICE_BYTES: String(mib),
  STREAMFRONT_SHIELD_READ_AHEAD_SLICES: "2",
} as const;

/** A series' value, `name{a="b",…}`: summed over the labels it does not name (the S3 metrics' bucket). */
function metric(text: string, series: string): number {
  const [, name, wanted = ""] = /^([^{]+)(?:\{(.*)\})?$/.exec(series) ?? [];
  const pairs = wanted === "" ? [] : wanted.split(",");
  let sum = 0;
  let found = false;
  for (const match of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/gm)) {
    if (match[1] !== name) continue;
    const have = new Set((match[2] ?? "").split(","));
    if (!pairs.every((pair) => have.has(pair))) continue;
    found = true;
    sum += Number(match[3]);
  }
  assert.ok(found, `no ${series} in the metrics`);
  return sum;
}

describe("the shield's slice cache over gRPC", () => {
  let s3: TestS3;
  let shield: TestShield;
  let movie: Buffer;
  let big: Buffer;

  before(async () => {
    s3 = await startTestS3(bucket);
    movie = randomBytes(5 * mib + 12345);
    big = randomBytes(8 * mib);
    await s3.s3.putObject(bucket, "movie.bin", movie);
    await s3.s3.putObject(bucket, "big.bin", big);
    shield = await startTestShield(s3.s3, { env: cacheEnv, maxInFlightPieces: 2 });
  });

  after(async () => {
    await shield?.close();
    await s3?.close();
  });

  const gets = (key: string) => s3.s3.requests.filter((r) => r.key === key && r.method === "GET");

  it("serves a second read of an object from memory, and a stat from the stat cache", async () => {
    assert.ok(shield.server.cache, "the cache is on");
    s3.s3.clearRequests();
    const info = await stat(shield.client, bucket, "movie.bin");
    assert.equal(info.size, movie.length);
    const first = await readAll(shield.client, {
      bucket,
      key: "movie.bin",
      length: movie.length,
      etag: info.etag,
    });
    assert.ok(first.data.equals(movie));
    assert.equal(gets("movie.bin").length, 6, "one GET per 1 MiB slice");
    assert.ok(gets("movie.bin").every((g) => /^bytes=\d+-\d+$/.test(g.range ?? "")));
    s3.s3.clearRequests();
    await stat(shield.client, bucket, "movie.bin");
    const again = await readAll(shield.client, { bucket, key: "movie.bin", offset: 777, length: 3 * mib });
    assert.ok(again.data.equals(movie.subarray(777, 777 + 3 * mib)));
    assert.equal(s3.s3.requests.length, 0, "neither HEAD nor GET");
  });

  it("reads ahead of an edge that plays block by block", async () => {
    const cache = shield.server.cache!;
    await s3.s3.putObject(bucket, "sequential.bin", movie);
    const info = await stat(shield.client, bucket, "sequential.bin");
    const before = cache.stats.readAhead;
    for (let offset = 0; offset < movie.length; offset += mib) {
      const { data } = await readAll(shield.client, {
        bucket,
        key: "sequential.bin",
        offset,
        length: mib,
        etag: info.etag,
      });
      assert.ok(data.equals(movie.subarray(offset, offset + mib)));
    }
    assert.equal(cache.stats.readAhead - before, 4, "slices 2..5 were fetched before they were asked for");
    assert.equal(gets("sequential.bin").length, 6, "still one GET per slice");
  });

  it("answers FAILED_PRECONDITION when a pinned object was replaced, and new stats see the new version", async () => {
    const key = "replaced.bin";
    const v1 = randomBytes(3 * mib);
    const v2 = randomBytes(3 * mib);
    await s3.s3.putObject(bucket, key, v1);
    const info = await stat(shield.client, bucket, key);
    const head = await readAll(shield.client, { bucket, key, length: 100, etag: info.etag });
    assert.ok(head.data.equals(v1.subarray(0, 100)));
    await s3.s3.putObject(bucket, key, v2);
    await assert.rejects(
      readAll(shield.client, { bucket, key, offset: 2 * mib, length: 100, etag: info.etag }),
      hasCode(status.FAILED_PRECONDITION, /SHIELD_ERR_OBJECT_CHANGED/),
    );
    const now = await stat(shield.client, bucket, key);
    assert.notEqual(now.etag, info.etag);
    const fresh = await readAll(shield.client, { bucket, key, offset: 2 * mib, length: 100, etag: now.etag });
    assert.ok(fresh.data.equals(v2.subarray(2 * mib, 2 * mib + 100)));
  });

  it("does not outrun a slow reader: a paused call pins a bounded number of slices", async () => {
    const metrics = shield.server.metrics;
    const cache = shield.server.cache!;
    // Earlier tests' small reads leave their slices finishing (for the next read of a play); this
    // test counts every S3 byte, so it starts once they are in.
    await eventually(() => cache.fetchesInFlight === 0, 15_000, "earlier fetches to settle");
    const originBefore = metrics.originBytes;
    const servedBefore = metrics.servedBytes;
    const stream = shield.client.readRange({
      bucket,
      key: "big.bin",
      offset: 0,
      length: big.length,
      etag: "",
    });
    const pieces: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (piece: ReadRangeResponse) => {
        pieces.push(piece.data);
        if (pieces.length === 1) {
          stream.pause();
          setTimeout(() => stream.resume(), 600);
        }
      });
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    await delay(400);
    const readWhilePaused = metrics.originBytes - originBefore;
    const sentWhilePaused = metrics.servedBytes - servedBefore;
    // HTTP/2 lets the paused client buffer some pieces; past what was sent,
    // the shield holds the rest of the slice being sent and the next one
    // (the reader's window), no more.
    assert.ok(
      readWhilePaused - sentWhilePaused <= 2 * mib,
      `read ${readWhilePaused} bytes from S3, sent ${sentWhilePaused}, while the reader was paused`,
    );
    assert.ok(readWhilePaused < big.length / 2);
    assert.ok(cache.fetchingBytes <= 2 * mib);
    await done;
    assert.ok(Buffer.concat(pieces).equals(big));
  });

  it("releases everything when an edge cancels mid-range", async () => {
    await s3.s3.putObject(bucket, "cancelled.bin", big);
    const stream = shield.client.readRange({
      bucket,
      key: "cancelled.bin",
      offset: 0,
      length: big.length,
      etag: "",
    });
    const cancelled = new Promise<number>((resolve) => {
      stream.on("error", (error: { code: number }) => resolve(error.code));
    });
    stream.once("data", () => {
      stream.pause();
      stream.cancel();
    });
    assert.equal(await cancelled, status.CANCELLED);
    const cache = shield.server.cache!;
    await eventually(() => shield.server.service.activeCalls === 0, 5_000, "the call to end");
    await eventually(
      () => cache.fetchesInFlight === 0 && cache.fetchingBytes === 0,
      5_000,
      "fetches to settle",
    );
    assert.ok(gets("cancelled.bin").length <= 2, "no slices past the reader's window");
  });

  it("publishes the cache metrics", async () => {
    // Its own traffic on objects no other test reads, measured as deltas, so
    // the figures do not depend on which tests ran before or alongside.
    const series = {
      memoryHits: 'streamfront_shield_cache_hits_total{tier="memory"}',
      misses: "streamfront_shield_cache_misses_total",
      readAhead: "streamfront_shield_cache_readahead_total",
      collapsed: "streamfront_shield_cache_collapsed_total",
      statHits: 'streamfront_shield_stat_cache_total{result="hit"}',
      getsOk: 'streamfront_shield_origin_requests_total{operation="get",result="ok"}',
      originBytes: "streamfront_shield_origin_bytes_total",
    } as const;
    const sample = async () => {
      const text = await shield.registry.metrics();
      return Object.fromEntries(Object.entries(series).map(([k, name]) => [k, metric(text, name)])) as Record<
        keyof typeof series,
        number
      >;
    };
    const solo = randomBytes(4 * mib);
    const shared = randomBytes(2 * mib);
    await s3.s3.putObject(bucket, "metrics-solo.bin", solo);
    await s3.s3.putObject(bucket, "metrics-shared.bin", shared);
    const start = await sample();

    const info = await stat(shield.client, bucket, "metrics-solo.bin");
    await stat(shield.client, bucket, "metrics-solo.bin");
    const read = { bucket, key: "metrics-solo.bin", length: solo.length, etag: info.etag };
    assert.ok((await readAll(shield.client, read)).data.equals(solo));
    const afterFirst = await sample();
    assert.equal(afterFirst.statHits - start.statHits, 1, "the second stat came from the stat cache");
    assert.equal(
      afterFirst.misses - start.misses + (afterFirst.readAhead - start.readAhead),
      4,
      "each of the 4 slices fetched once, by the reader or ahead of it",
    );
    assert.equal(afterFirst.getsOk - start.getsOk, 4, "one GET per slice");
    assert.equal(afterFirst.originBytes - start.originBytes, solo.length);
    assert.ok((await readAll(shield.client, read)).data.equals(solo));
    const afterSecond = await sample();
    assert.equal(afterSecond.memoryHits - afterFirst.memoryHits, 4, "the second read: 4 slices from memory");
    assert.equal(afterSecond.getsOk, afterFirst.getsOk, "and no GET");

    // Twenty readers at once on a fresh object: all but the first find its
    // slices in flight (or in memory), and the joins are counted.
    const sharedInfo = await stat(shield.client, bucket, "metrics-shared.bin");
    const reads = await Promise.all(
      Array.from({ length: 20 }, () =>
        readAll(shield.client, {
          bucket,
          key: "metrics-shared.bin",
          length: shared.length,
          etag: sharedInfo.etag,
        }),
      ),
    );
    assert.ok(reads.every((r) => r.data.equals(shared)));
    const afterShared = await sample();
    assert.equal(afterShared.getsOk - afterSecond.getsOk, 2, "two slices, one GET each");
    assert.ok(afterShared.collapsed > afterSecond.collapsed, "concurrent readers joined a fetch");
    assert.equal(
      afterShared.misses -
        afterSecond.misses +
        (afterShared.collapsed - afterSecond.collapsed) +
        (afterShared.memoryHits - afterSecond.memoryHits),
      20 * 2,
      "each reader's slice was a miss, a join or a memory hit",
    );

    const text = await shield.registry.metrics();
    assert.equal(metric(text, 'streamfront_shield_cache_hits_total{tier="disk"}'), 0);
    const memory = metric(text, 'streamfront_shield_cache_bytes{tier="memory"}');
    assert.ok(memory > 0 && memory <= 64 * mib);
    assert.equal(metric(text, 'streamfront_shield_cache_bytes{tier="disk"}'), 0);
    assert.equal(metric(text, 'streamfront_shield_cache_evictions_total{tier="memory"}'), 0);
    assert.equal(
      metric(text, 'streamfront_shield_origin_requests_total{operation="head",result="not_modified"}'),
      0,
    );
    assert.match(
      text,
      /^streamfront_shield_origin_request_duration_seconds_bucket\{le="0.005",bucket="[^"]+",operation="get"\}/m,
    );
    assert.match(text, /^streamfront_shield_cache_fetching_bytes \d+$/m);
  });
});

describe("the disk tier across a shield restart", () => {
  let s3: TestS3;
  let dir: string;

  before(async () => {
    s3 = await startTestS3(bucket);
    dir = await mkdtemp(join(tmpdir(), "streamfront-shield-disk-"));
  });

  after(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a new shield on the same directory serves what the last one fetched, without S3 GETs", async () => {
    const body = randomBytes(3 * mib + 500);
    await s3.s3.putObject(bucket, "kept.bin", body);
    const env = {
      ...cacheEnv,
      STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: String(8 * mib),
      STREAMFRONT_SHIELD_CACHE_DISK_DIR: dir,
      STREAMFRONT_SHIELD_CACHE_DISK_BYTES: String(64 * mib),
    };
    const first = await startTestShield(s3.s3, { env });
    const info = await stat(first.client, bucket, "kept.bin");
    const read1 = await readAll(first.client, {
      bucket,
      key: "kept.bin",
      length: body.length,
      etag: info.etag,
    });
    assert.ok(read1.data.equals(body));
    await first.server.cache?.disk?.flush();
    assert.equal(first.server.cache?.disk?.size, 4);
    await first.close();

    s3.s3.clearRequests();
    const second = await startTestShield(s3.s3, { env });
    try {
      assert.equal(second.server.cache?.disk?.size, 4, "index rebuilt from the directory");
      const read2 = await readAll(second.client, {
        bucket,
        key: "kept.bin",
        length: body.length,
        etag: info.etag,
      });
      assert.ok(read2.data.equals(body));
      assert.equal(s3.s3.requests.length, 0, "all four slices came from disk");
      const text = await second.registry.metrics();
      assert.ok(metric(text, 'streamfront_shield_cache_hits_total{tier="disk"}') >= 4);
      assert.ok(metric(text, 'streamfront_shield_cache_bytes{tier="disk"}') > body.length);
    } finally {
      await second.close();
    }
  });
});
