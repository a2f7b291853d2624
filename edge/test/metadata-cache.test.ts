import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MetadataCache, type ObjectMetadata } from "../src/edge-cache/metadata-cache.js";
import { LookupBudget } from "../src/session/lookup-budget.js";

/** Pure state machines on a fake clock; the real-process attacks are in upstream-resilience.system.test.ts. */

function object(cacheControl = ""): ObjectMetadata {
  return { size: 1000, etag: '"abc"', lastModifiedMs: 0, contentType: "video/x-flv", cacheControl };
}

function cache(now: { ms: number }, fields: Partial<ConstructorParameters<typeof MetadataCache>[0]> = {}) {
  return new MetadataCache({
    maxEntries: 3,
    defaultTtlMs: 60_000,
    maxNegativeEntries: 2,
    negativeTtlMs: 10_000,
    now: () => now.ms,
    ...fields,
  });
}

describe("MetadataCache", () => {
  test("found metadata serves a fallback for the TTL Cache-Control gives, else the default", () => {
    const now = { ms: 0 };
    const c = cache(now);
    c.rememberFound("b", "plain", object());
    c.rememberFound("b", "short", object("public, max-age=5"));
    c.rememberFound("b", "shared", object("max-age=5, s-maxage=100"));
    now.ms = 5_000;
    assert.equal(c.fallback("b", "short"), null, "max-age=5 is over");
    assert.equal(c.fallback("b", "plain")?.etag, '"abc"');
    now.ms = 61_000;
    assert.equal(c.fallback("b", "plain"), null, "the default TTL is over");
    assert.ok(c.fallback("b", "shared"), "s-maxage wins over max-age");
    assert.deepEqual(c.stats, { negativeHits: 0, fallbacks: 2, fallbackMisses: 2 });
  });

  test("no-cache, no-store and private objects are not kept", () => {
    const c = cache({ ms: 0 });
    for (const directive of ["no-cache", "no-store", "private, max-age=60"]) {
      c.rememberFound("b", directive, object(directive));
      assert.equal(c.fallback("b", directive), null, directive);
    }
  });

  test("NOT_FOUND answers are used for the negative TTL; found metadata replaces them", () => {
    const now = { ms: 0 };
    const c = cache(now);
    c.rememberMissing("b", "gone");
    assert.equal(c.isKnownMissing("b", "gone"), true);
    now.ms = 10_000;
    assert.equal(c.isKnownMissing("b", "gone"), false, "expired");
    c.rememberMissing("b", "later");
    c.rememberFound("b", "later", object());
    assert.equal(c.isKnownMissing("b", "later"), false);
    assert.equal(c.stats.negativeHits, 1);
  });

  test("both maps are bounded, least recently used out first, and a flood of missing names never evicts found ones", () => {
    const c = cache({ ms: 0 });
    for (const key of ["a", "b", "c"]) c.rememberFound("bk", key, object());
    assert.ok(c.fallback("bk", "a"), "a is now the most recent");
    c.rememberFound("bk", "d", object());
    assert.deepEqual(c.size, { found: 3, missing: 0 });
    assert.equal(c.fallback("bk", "b"), null, "b was the least recently used");
    for (let i = 0; i < 1000; i++) c.rememberMissing("bk", `random-${i}`);
    assert.deepEqual(c.size, { found: 3, missing: 2 });
    assert.ok(c.fallback("bk", "a") && c.fallback("bk", "c") && c.fallback("bk", "d"));
    assert.equal(c.isKnownMissing("bk", "random-999"), true);
    assert.equal(c.isKnownMissing("bk", "random-0"), false);
  });

  test("zero sizes and TTLs turn each map off; bad options are refused by name", () => {
    const c = cache({ ms: 0 }, { maxEntries: 0, negativeTtlMs: 0 });
    c.rememberFound("b", "k", object());
    c.rememberMissing("b", "m");
    assert.deepEqual(c.size, { found: 0, missing: 0 });
    assert.throws(() => cache({ ms: 0 }, { maxEntries: -1 }), /maxEntries/);
    assert.throws(() => cache({ ms: 0 }, { negativeTtlMs: 1.5 }), /negativeTtlMs/);
  });
});

describe("LookupBudget", () => {
  test("a burst, then one lookup per refill interval; charges never go below empty", () => {
    const now = { ms: 0 };
    const budget = new LookupBudget({ burst: 3, perSecond: 2, now: () => now.ms });
    assert.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [true, true, true, false]);
    assert.equal(budget.available(), false);
    now.ms = 499;
    assert.equal(budget.take(), false);
    now.ms = 500;
    assert.equal(budget.take(), true, "half a second refills one at 2/s");
    for (let i = 0; i < 10; i++) budget.charge();
    now.ms = 1000;
    assert.equal(budget.available(), true, "charges stop at empty, so the refill is not owed back");
    now.ms = 100_000;
    assert.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [true, true, true, false]);
    assert.throws(() => new LookupBudget({ burst: 0, perSecond: 1, now: () => 0 }), /burst/);
  });
});
