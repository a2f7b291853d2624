import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CachedSlice, MemoryTier } from "../src/cache/memory-tier.js";

const unit = 1024;

function slice(bytes = unit): CachedSlice {
  return { data: Buffer.alloc(bytes), objectSize: 1 << 30 };
}

/** A tier of `slices` unit-sized slices, ghost list as large as the tier. */
function tier(slices: number): MemoryTier {
  return new MemoryTier({ maxBytes: slices * unit, ghostEntries: slices });
}

describe("MemoryTier (S3-FIFO)", () => {
  it("never holds more than maxBytes, counting evictions", () => {
    const t = tier(10);
    for (let i = 0; i < 100; i++) {
      assert.ok(t.insert(`s${i}`, slice()));
      assert.ok(t.bytes <= 10 * unit, `after ${i}: ${t.bytes}`);
    }
    assert.equal(t.bytes, 10 * unit);
    assert.equal(t.size, 10);
    assert.equal(t.evictions, 90);
  });

  it("keeps a re-used working set through a one-pass scan ten times its size (LRU would not)", () => {
    const t = tier(100);
    for (let i = 0; i < 20; i++) t.insert(`hot${i}`, slice());
    for (let i = 0; i < 20; i++) assert.ok(t.get(`hot${i}`));
    // One viewer playing through a long file: each slice read once.
    for (let i = 0; i < 1000; i++) {
      t.insert(`scan${i}`, slice());
      assert.ok(t.bytes <= 100 * unit);
    }
    for (let i = 0; i < 20; i++) assert.ok(t.has(`hot${i}`), `hot${i} survived the scan`);
    for (let i = 0; i < 20; i++) assert.equal(t.queueOf(`hot${i}`), "main");
    // The scan churned only the probation queue (10%) and whatever main had spare.
    assert.ok(t.smallBytes <= 100 * unit);
    assert.ok(!t.has("scan0"));
  });

  it("a slice read once after insertion is a re-use; a prefetched slice's first read is not", () => {
    const t = tier(10);
    t.insert("used", slice());
    t.insert("prefetched", slice(), { prefetched: true });
    t.get("used");
    t.get("prefetched");
    for (let i = 0; i < 9; i++) t.insert(`fill${i}`, slice());
    // Both left probation: the used one to main, the prefetched one out.
    assert.equal(t.queueOf("used"), "main");
    assert.notEqual(t.queueOf("prefetched"), "small");
    assert.ok(!t.has("prefetched"));
  });

  it("a prefetched slice read twice is a re-use", () => {
    const t = tier(10);
    t.insert("p", slice(), { prefetched: true });
    t.get("p");
    t.get("p");
    for (let i = 0; i < 10; i++) t.insert(`fill${i}`, slice());
    assert.equal(t.queueOf("p"), "main");
  });

  it("collapsed joins count as re-use: a slice many readers waited for goes to main", () => {
    const t = tier(10);
    t.insert("popular", slice(), { extraAccesses: 49 });
    for (let i = 0; i < 10; i++) t.insert(`fill${i}`, slice());
    assert.equal(t.queueOf("popular"), "main");
  });

  it("a slice asked for again soon after eviction skips probation (ghost)", () => {
    const t = tier(10);
    t.insert("once", slice());
    for (let i = 0; i < 10; i++) t.insert(`fill${i}`, slice());
    assert.equal(t.queueOf("once"), "ghost");
    t.insert("once", slice());
    assert.equal(t.queueOf("once"), "main");
  });

  it("the ghost list is bounded", () => {
    const t = new MemoryTier({ maxBytes: 10 * unit, ghostEntries: 5 });
    for (let i = 0; i < 50; i++) t.insert(`s${i}`, slice());
    let ghosts = 0;
    for (let i = 0; i < 50; i++) if (t.queueOf(`s${i}`) === "ghost") ghosts++;
    assert.equal(ghosts, 5);
  });

  it("main gives re-used slices a second chance and evicts the unused", () => {
    const t = tier(10);
    for (let i = 0; i < 9; i++) t.insert(`m${i}`, slice(), { extraAccesses: 1 });
    t.insert("x0", slice());
    // Probation overflows: the nine re-used slices move to main, x0 leaves.
    t.insert("x1", slice());
    for (let i = 0; i < 9; i++) assert.equal(t.queueOf(`m${i}`), "main", `m${i}`);
    assert.equal(t.queueOf("x0"), "ghost");
    t.get("m3");
    t.get("m7");
    // Each further re-used arrival promotes the previous one, so main must
    // give up a slice per insert: the unused ones go, m3 and m7 are spared.
    for (let i = 0; i < 8; i++) t.insert(`y${i}`, slice(), { extraAccesses: 1 });
    assert.ok(t.has("m3") && t.has("m7"), "re-used slices survived");
    for (const gone of ["m0", "m1", "m2", "m4", "m5", "m6", "m8"]) assert.ok(!t.has(gone), gone);
    assert.equal(t.bytes, 10 * unit);
  });

  it("refuses a slice larger than the tier, and a zero tier keeps nothing", () => {
    const t = tier(2);
    assert.equal(t.insert("big", slice(3 * unit)), false);
    assert.equal(t.bytes, 0);
    const zero = new MemoryTier({ maxBytes: 0, ghostEntries: 0 });
    assert.equal(zero.insert("a", slice()), false);
    assert.equal(zero.insert("empty", slice(0)), true);
    assert.equal(zero.bytes, 0);
  });

  it("keeps exact byte accounting under random slices, hits and deletes", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const t = new MemoryTier({ maxBytes: 64 * unit, ghostEntries: 64 });
    const sizes = new Map<string, number>();
    for (let step = 0; step < 20_000; step++) {
      const id = `k${Math.floor(random() * 300)}`;
      const op = random();
      if (op < 0.5) {
        const bytes = 1 + Math.floor(random() * 4 * unit);
        if (!t.has(id) && t.insert(id, slice(bytes))) sizes.set(id, bytes);
      } else if (op < 0.95) {
        t.get(id);
      } else {
        t.delete(id);
      }
      assert.ok(t.bytes <= 64 * unit);
    }
    let sum = 0;
    for (const [id, bytes] of sizes) if (t.has(id)) sum += bytes;
    assert.equal(t.bytes, sum);
    assert.equal(t.bytes, t.smallBytes + t.mainBytes);
  });
});
