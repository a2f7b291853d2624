import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkFreshnessPolicy, freshnessOf, parseCacheControl } from "../src/cache/freshness.js";
import { loadShieldConfig } from "../src/config.js";

const hour = 3_600_000;
/** The shield's defaults: CloudFront's 24 h default, 1 h minimum, 1 year maximum. */
const policy = { defaultTtlMs: 24 * hour, minTtlMs: hour, maxTtlMs: 365 * 24 * hour };

describe("Cache-Control parsing", () => {
  it("reads max-age, s-maxage and the no-store family, case-insensitively", () => {
    assert.deepEqual(parseCacheControl("public, Max-Age=7200, S-MAXAGE=600"), {
      maxAge: 7200,
      sMaxAge: 600,
      noCache: false,
      noStore: false,
      private: false,
    });
    const d = parseCacheControl("no-cache, NO-STORE,private");
    assert.ok(d.noCache && d.noStore && d.private);
    assert.equal(d.maxAge, undefined);
  });

  it("accepts quoted values and ignores malformed ones", () => {
    assert.equal(parseCacheControl('max-age="120"').maxAge, 120);
    for (const bad of ["max-age=", "max-age=-5", "max-age=1.5", "max-age=abc", "max-age", "max-age=1e3"]) {
      assert.equal(parseCacheControl(bad).maxAge, undefined, bad);
    }
    assert.deepEqual(parseCacheControl(""), {
      maxAge: undefined,
      sMaxAge: undefined,
      noCache: false,
      noStore: false,
      private: false,
    });
  });

  it("takes the smaller of a repeated directive and caps huge values at 2^31", () => {
    assert.equal(parseCacheControl("max-age=600, max-age=60").maxAge, 60);
    assert.equal(parseCacheControl("max-age=99999999999999999999").maxAge, 2 ** 31);
  });

  it("reads only the first 4096 characters of a long header", () => {
    const header = `${"x-filler, ".repeat(500)}max-age=10`;
    assert.equal(parseCacheControl(header).maxAge, undefined);
  });
});

describe("TTLs by CloudFront's rules", () => {
  it("no max-age: the default TTL", () => {
    assert.deepEqual(freshnessOf("", policy), { ttlMs: 24 * hour, storable: true });
    assert.deepEqual(freshnessOf("public", policy), { ttlMs: 24 * hour, storable: true });
  });

  it("max-age within [min, max] as it is, below min → min, above max → max", () => {
    assert.equal(freshnessOf("max-age=7200", policy).ttlMs, 2 * hour);
    assert.equal(freshnessOf("max-age=60", policy).ttlMs, hour);
    assert.equal(freshnessOf("max-age=0", policy).ttlMs, hour);
    assert.equal(freshnessOf("max-age=999999999", policy).ttlMs, 365 * 24 * hour);
  });

  it("s-maxage wins over max-age (the shield is a shared cache), still clamped", () => {
    assert.equal(freshnessOf("max-age=7200, s-maxage=10800", policy).ttlMs, 3 * hour);
    assert.equal(freshnessOf("s-maxage=5, max-age=7200", policy).ttlMs, hour);
  });

  it("no-cache/no-store/private: min TTL when it is above 0", () => {
    for (const header of ["no-cache", "no-store", "private", "no-store, max-age=86400"]) {
      assert.deepEqual(freshnessOf(header, policy), { ttlMs: hour, storable: true }, header);
    }
  });

  it("no-cache/no-store/private with min TTL 0: revalidate every time; no-store and private not stored", () => {
    const zeroMin = { ...policy, minTtlMs: 0 };
    assert.deepEqual(freshnessOf("no-cache", zeroMin), { ttlMs: 0, storable: true });
    assert.deepEqual(freshnessOf("no-store", zeroMin), { ttlMs: 0, storable: false });
    assert.deepEqual(freshnessOf("private, max-age=60", zeroMin), { ttlMs: 0, storable: false });
    assert.equal(freshnessOf("max-age=0", zeroMin).ttlMs, 0);
    assert.equal(freshnessOf("max-age=30", zeroMin).ttlMs, 30_000);
  });

  it("requires min ≤ default ≤ max", () => {
    checkFreshnessPolicy(policy);
    assert.throws(() => checkFreshnessPolicy({ ...policy, minTtlMs: 48 * hour }), RangeError);
    assert.throws(() => checkFreshnessPolicy({ ...policy, maxTtlMs: hour / 2 }), RangeError);
  });
});

describe("shield cache settings", () => {
  it("defaults: 1 MiB slices, 512 MiB memory, no disk, read-ahead 2, TTLs 86400/3600/31536000, 404s 10 s", () => {
    const config = loadShieldConfig({ env: {} });
    assert.equal(config.cacheSliceBytes, 1024 * 1024);
    assert.equal(config.cacheMemoryBytes, 512 * 1024 * 1024);
    assert.equal(config.cacheDiskDir, "");
    assert.equal(config.readAheadSlices, 2);
    assert.equal(config.defaultTtlSeconds, 86_400);
    assert.equal(config.minTtlSeconds, 3_600);
    assert.equal(config.maxTtlSeconds, 31_536_000);
    assert.equal(config.negativeTtlSeconds, 10);
    assert.equal(config.s3MaxAttempts, 4);
    assert.equal(config.s3TimeoutMs, 10_000);
    assert.equal(config.s3MaxConcurrencyPerBucket, 64);
  });

  it("refuses TTLs out of order and tiers smaller than four slices, naming the settings", () => {
    assert.throws(
      () => loadShieldConfig({ env: { STREAMFRONT_SHIELD_MIN_TTL_SECONDS: "100000" } }),
      /STREAMFRONT_SHIELD_MIN_TTL_SECONDS \(100000\) ≤ STREAMFRONT_SHIELD_DEFAULT_TTL_SECONDS \(86400\)/,
    );
    assert.throws(
      () => loadShieldConfig({ argv: ["--cache-memory-bytes", "1048576"] }),
      /STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES \(1048576\) must be 0 or at least 4 slices/,
    );
    assert.throws(
      () =>
        loadShieldConfig({
          env: { STREAMFRONT_SHIELD_CACHE_DISK_DIR: "/tmp/x", STREAMFRONT_SHIELD_CACHE_DISK_BYTES: "5" },
        }),
      /STREAMFRONT_SHIELD_CACHE_DISK_BYTES \(5\) must be at least 4 slices/,
    );
    assert.throws(
      () => loadShieldConfig({ env: { STREAMFRONT_SHIELD_CACHE_SLICE_BYTES: "1000" } }),
      /cacheSliceBytes .*must be at least 65536/,
    );
    const off = loadShieldConfig({ env: { STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: "0" } });
    assert.equal(off.cacheMemoryBytes, 0);
  });
});
