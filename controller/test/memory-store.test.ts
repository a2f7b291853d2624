import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DistributionInput, newDistribution } from "../src/distribution.js";
import { ControllerError, ControllerErrorCode } from "../src/errors.js";
import type { DistributionChange } from "../src/store/distribution-store.js";
import { MemoryStore } from "../src/store/memory-store.js";

function make(input: Partial<DistributionInput> = {}) {
  return newDistribution(
    { originBucket: "media-bucket", ...input },
    { baseDomain: "streamfront.local", now: 1000 },
  );
}

function hasCode(code: string) {
  return (error: unknown) => error instanceof ControllerError && error.code === code;
}

describe("MemoryStore", () => {
  it("creates, gets, lists, updates and deletes", async () => {
    let now = 5000;
    const store = new MemoryStore({ initialVersion: 0, clock: () => now });
    const a = await store.create(make({ cnames: ["Video.Example.com"], comment: "first" }));
    const b = await store.create(make({ originBucket: "other-bucket" }));
    assert.deepEqual(a.cnames, ["video.example.com"], "CNAMEs are stored lower-case");
    assert.equal((await store.get(a.id))?.comment, "first");
    assert.equal(await store.get("ENOSUCHDISTRIB"), undefined);
    assert.deepEqual(
      (await store.list()).map((d) => d.id),
      [a.id, b.id].sort(),
    );

    now = 6000;
    const updated = await store.update(a.id, { enabled: false, comment: "second" });
    assert.equal(updated.enabled, false);
    assert.equal(updated.comment, "second");
    assert.equal(updated.domainName, a.domainName);
    assert.deepEqual(updated.cnames, a.cnames);
    assert.equal(updated.lastModifiedMs, 6000);
    assert.ok(Object.isFrozen(updated) && Object.isFrozen(updated.cnames));
    assert.equal(a.enabled, true, "the earlier object is unchanged");

    await store.delete(b.id);
    assert.equal(await store.get(b.id), undefined);
    await assert.rejects(store.delete(b.id), hasCode(ControllerErrorCode.DistributionNotFound));
    await assert.rejects(
      store.update(b.id, { enabled: true }),
      hasCode(ControllerErrorCode.DistributionNotFound),
    );
  });

  it("keeps CNAMEs unique across distributions", async () => {
    const store = new MemoryStore();
    const a = await store.create(make({ cnames: ["live.example.com", "vod.example.com"] }));
    await assert.rejects(
      store.create(make({ cnames: ["VOD.example.com"] })),
      hasCode(ControllerErrorCode.CnameInUse),
    );
    const b = await store.create(make({ cnames: ["other.example.com"] }));
    await assert.rejects(
      store.update(b.id, { cnames: ["live.example.com"] }),
      hasCode(ControllerErrorCode.CnameInUse),
    );
    await assert.rejects(
      store.create(make({ cnames: [a.domainName] })),
      hasCode(ControllerErrorCode.CnameInUse),
    );
    // A distribution may keep its own CNAMEs, and freed ones can be reused.
    await store.update(a.id, { cnames: ["live.example.com"] });
    await store.update(b.id, { cnames: ["other.example.com", "vod.example.com"] });
    await store.delete(a.id);
    await store.create(make({ cnames: ["live.example.com"] }));
  });

  it("rejects malformed distributions", async () => {
    const store = new MemoryStore();
    const invalid = hasCode(ControllerErrorCode.InvalidDistribution);
    assert.throws(() => make({ originBucket: "Bad_Bucket" }), invalid);
    assert.throws(() => make({ cnames: ["not a host"] }), invalid);
    assert.throws(() => make({ comment: "x".repeat(129) }), invalid);
    // The store checks again: a Redis-backed API may hand it anything.
    const d = await store.create(make());
    await assert.rejects(store.create({ ...d, id: "EOTHERIDXXXXXX", originBucket: "Bad_Bucket" }), invalid);
    await assert.rejects(store.create(d), hasCode(ControllerErrorCode.DistributionExists));
    assert.equal((await store.list()).length, 1);
  });

  it("bumps the version once per mutation and notifies subscribers in order", async () => {
    const store = new MemoryStore({ initialVersion: 100 });
    const seen: DistributionChange[] = [];
    const unsubscribe = store.subscribe((c) => seen.push(c));
    const a = await store.create(make());
    await store.update(a.id, { comment: "changed" });
    await assert.rejects(store.update(a.id, { cnames: ["bad host"] }));
    await store.delete(a.id);
    unsubscribe();
    await store.create(make());
    assert.equal(await store.version(), 104);
    assert.deepEqual(
      seen.map((c) => [c.version, c.upserts.map((d) => d.comment), c.removedIds]),
      [
        [101, [""], []],
        [102, ["changed"], []],
        [103, [], [a.id]],
      ],
    );
  });

  it("merges changes since a version, and says when it no longer knows it", async () => {
    const store = new MemoryStore({ initialVersion: 0, historyLimit: 3 });
    const a = await store.create(make()); // 1
    const b = await store.create(make()); // 2
    await store.update(a.id, { comment: "a2" }); // 3
    await store.delete(b.id); // 4
    const c = await store.create(make()); // 5
    assert.deepEqual(await store.changesSince(5), { version: 5, upserts: [], removedIds: [] });
    const since2 = await store.changesSince(2);
    assert.equal(since2?.version, 5);
    assert.deepEqual(since2?.upserts.map((d) => d.id).sort(), [a.id, c.id].sort());
    assert.equal(since2?.upserts.find((d) => d.id === a.id)?.comment, "a2");
    assert.deepEqual(since2?.removedIds, [b.id]);
    assert.equal(await store.changesSince(1), undefined, "version 2 fell out of the history");
    assert.equal(await store.changesSince(99), undefined, "a version from the future (another run)");
    const snapshot = await store.snapshot();
    assert.equal(snapshot.version, 5);
    assert.equal(snapshot.distributions.length, 2);
  });

  it("starts versions at the clock so they grow across restarts", async () => {
    const before = Date.now();
    assert.ok((await new MemoryStore().version()) >= before);
  });
});
