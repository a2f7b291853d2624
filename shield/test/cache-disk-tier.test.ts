import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { silentLogger } from "../../lib/testing/shield.js";
import { newCacheStats } from "../src/cache/cache-stats.js";
import { DiskTier } from "../src/cache/disk-tier.js";
import type { CachedSlice } from "../src/cache/memory-tier.js";
import { encodeSliceHeader, sliceHeaderFixedBytes, verifySliceFile } from "../src/cache/slice-file.js";

const sliceBytes = 64 * 1024;

function slice(seed: number, bytes = sliceBytes): CachedSlice {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4096) data.fill(seed + i / 4096, i, Math.min(bytes, i + 4096));
  return { data, objectSize: 10 * sliceBytes + seed };
}

function pathOf(dir: string, id: string): string {
  const name = createHash("sha256").update(id).digest("hex");
  return join(dir, name.slice(0, 2), `${name}.slice`);
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(dir)) for (const f of await readdir(join(dir, sub))) out.push(join(sub, f));
  return out;
}

describe("slice file format", () => {
  it("round-trips and refuses any changed byte, a wrong id or a wrong length", () => {
    const data = randomBytes(1000);
    const header = encodeSliceHeader("slice-id", data, 123_456_789_012);
    const file = Buffer.concat([header, data]);
    const ok = verifySliceFile(file, "slice-id", sliceBytes);
    assert.ok(typeof ok !== "string");
    assert.ok(ok.data.equals(data));
    assert.equal(ok.objectSize, 123_456_789_012);
    assert.equal(verifySliceFile(file, "other-id", sliceBytes), "holds another slice (id differs)");
    for (const at of [8, 20, 24, sliceHeaderFixedBytes, file.length - 1]) {
      const bad = Buffer.from(file);
      bad[at] = (bad[at] ?? 0) ^ 0x40;
      assert.equal(typeof verifySliceFile(bad, "slice-id", sliceBytes), "string", `byte ${at}`);
    }
    assert.match(
      String(verifySliceFile(file.subarray(0, file.length - 1), "slice-id", sliceBytes)),
      /partial/,
    );
    assert.match(String(verifySliceFile(file, "slice-id", 999)), /out of bounds/);
  });
});

describe("DiskTier", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "streamfront-disk-tier-"));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function tier(maxBytes = 100 * sliceBytes, stats = newCacheStats()): DiskTier {
    return new DiskTier({
      directory: dir,
      maxBytes,
      maxSliceBytes: sliceBytes,
      logger: silentLogger(),
      stats,
    });
  }

  it("keeps slices across a new instance on the same directory", async () => {
    const first = tier();
    await first.open();
    for (let i = 0; i < 5; i++) assert.ok(first.write(`id-${i}`, slice(i)));
    await first.flush();
    assert.equal(first.size, 5);
    await first.close();

    const second = tier();
    await second.open();
    assert.equal(second.size, 5);
    assert.equal(second.bytes, first.bytes);
    for (let i = 0; i < 5; i++) {
      assert.ok(second.has(`id-${i}`));
      const got = await second.read(`id-${i}`);
      assert.ok(got, `id-${i}`);
      assert.ok(got.data.equals(slice(i).data));
      assert.equal(got.objectSize, slice(i).objectSize);
    }
    assert.equal(await second.read("never-written"), undefined);
    await second.close();
  });

  it("detects a file whose bytes were changed on disk, deletes it and reads it as a miss", async () => {
    const stats = newCacheStats();
    const t = tier(100 * sliceBytes, stats);
    await t.open();
    t.write("victim", slice(7));
    t.write("bystander", slice(8));
    await t.flush();
    const path = pathOf(dir, "victim");
    // Real corruption: overwrite bytes in the middle of the data.
    const handle = await open(path, "r+");
    await handle.write(Buffer.from("garbage!"), 0, 8, sliceHeaderFixedBytes + 100 + 5000);
    await handle.close();
    assert.equal(await t.read("victim"), undefined);
    assert.equal(stats.diskCorrupt, 1);
    assert.ok(!t.has("victim"));
    await assert.rejects(stat(path), { code: "ENOENT" });
    assert.ok((await t.read("bystander"))?.data.equals(slice(8).data));
    await t.close();
  });

  it("drops truncated and foreign files and crash leftovers when it starts", async () => {
    const first = tier();
    await first.open();
    for (let i = 0; i < 4; i++) first.write(`id-${i}`, slice(i));
    await first.flush();
    await first.close();
    // A torn file (power loss after rename), a file of random bytes with a slice name,
    // and a temp file a crash left behind.
    await truncate(pathOf(dir, "id-1"), 1000);
    await writeFile(pathOf(dir, "id-2"), randomBytes(5000));
    const tmp = `${pathOf(dir, "id-3")}.999.0.tmp`;
    await writeFile(tmp, randomBytes(100));
    const stats = newCacheStats();
    const second = tier(100 * sliceBytes, stats);
    await second.open();
    assert.equal(second.size, 2);
    assert.ok(second.has("id-0") && second.has("id-3"));
    assert.equal(stats.diskCorrupt, 2);
    await assert.rejects(stat(tmp), { code: "ENOENT" });
    assert.deepEqual((await filesUnder(dir)).length, 2);
    await second.close();
  });

  it("stays within its byte bound, evicting the least recently used files", async () => {
    const fileBytes = sliceBytes + sliceHeaderFixedBytes + "id-00".length;
    const t = tier(4 * fileBytes);
    await t.open();
    for (let i = 0; i < 4; i++) t.write(`id-0${i}`, slice(i));
    await t.flush();
    assert.equal(t.bytes, 4 * fileBytes);
    // Reading id-00 makes id-01 the least recently used.
    assert.ok(await t.read("id-00"));
    t.write("id-04", slice(4));
    await t.flush();
    assert.ok(t.bytes <= 4 * fileBytes);
    assert.ok(!t.has("id-01"), "LRU file evicted");
    assert.ok(t.has("id-00"));
    assert.equal(t.evictions, 1);
    await t.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await filesUnder(dir)).length, 4, "the evicted file is deleted");
    await t.close();

    // A smaller bound after a restart trims at once.
    const smaller = tier(2 * fileBytes);
    await smaller.open();
    assert.ok(smaller.bytes <= 2 * fileBytes);
    await smaller.close();
  });

  it("drops writes instead of queueing without bound, and refuses after close", async () => {
    const stats = newCacheStats();
    const t = new DiskTier({
      directory: dir,
      maxBytes: 100 * sliceBytes,
      maxSliceBytes: sliceBytes,
      logger: silentLogger(),
      stats,
      maxQueuedBytes: 2 * sliceBytes,
      writeConcurrency: 1,
    });
    await t.open();
    const queued = Array.from({ length: 6 }, (_, i) => t.write(`id-${i}`, slice(i)));
    assert.deepEqual(queued, [true, true, false, false, false, false]);
    assert.equal(stats.diskWritesDropped, 4);
    assert.ok(t.queuedBytes <= 2 * sliceBytes);
    assert.equal(t.write("id-0", slice(0)), false, "already queued");
    await t.flush();
    assert.equal(stats.diskWrites, 2);
    await t.close();
    assert.equal(t.write("late", slice(9)), false);
  });
});
