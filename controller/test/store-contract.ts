import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { delay, eventually } from "../../lib/testing/wait.js";
import {
  type Distribution,
  type DistributionInput,
  type DistributionPatch,
  newDistribution,
} from "../src/distribution.js";
import { ControllerError, ControllerErrorCode } from "../src/errors.js";
import type { RandomBytes } from "../src/ids.js";
import type { DistributionChange, DistributionStore } from "../src/store/distribution-store.js";
import { etagPattern } from "../src/store/store-rules.js";

/**
 * The DistributionStore contract (distribution-store.ts) as tests, run
 * against every store: MemoryStore in memory-store.test.ts, RedisStore in
 * redis-store.system.test.ts. Everything a store promises to its callers belongs
 * here; what only one store can show (races between replicas, outages)
 * stays in that store's own file.
 */

export interface ContractStoreOptions {
  /** Changes kept for changesSince (MemoryStore historyLimit, RedisStore changeLogLimit). */
  readonly historyLimit?: number;
  /** For lastModifiedMs. */
  readonly clock?: () => number;
  /** For ETags. */
  readonly random?: RandomBytes;
  readonly onListenerError?: (error: unknown) => void;
}

export interface StoreHarness {
  /** A new, empty store that shares no data with the ones made before. */
  makeStore(options?: ContractStoreOptions): Promise<DistributionStore>;
  /** The TTL the watcher tests use. */
  readonly watcherTtlMs: number;
  /** Now, as the store's watcher expiry sees it. */
  now(): number;
  /** Lets ms pass for watcher expiry (a fake clock moves; a real one is waited for). */
  elapse(ms: number): Promise<void>;
  /** How far expiresAtMs may stray from now() + ttl (a real clock moves during the call). */
  readonly expiryToleranceMs: number;
  /** Closes every store made and whatever backs them. */
  close(): Promise<void>;
}

let references = 0;

/** A valid new distribution; each gets its own caller reference unless one is given. */
export function makeDistribution(input: Partial<DistributionInput> = {}): Distribution {
  references += 1;
  return newDistribution(
    { originBucket: "media-bucket", callerReference: `contract-ref-${references}`, ...input },
    { baseDomain: "streamfront.local", now: 1000 },
  );
}

export function hasCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ControllerError, `expected a ControllerError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** Records every change a listener hears. */
export function record(store: DistributionStore): { changes: DistributionChange[]; unsubscribe: () => void } {
  const changes: DistributionChange[] = [];
  const unsubscribe = store.subscribe((change) => changes.push(change));
  return { changes, unsubscribe };
}

/** What changes hold, compactly: [version, upserted ids with comment, removed ids]. */
function summary(changes: readonly DistributionChange[]) {
  return changes.map((c) => [c.version, c.upserts.map((d) => `${d.id}:${d.comment}`), [...c.removedIds]]);
}

export function describeStoreContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`${name} (store contract)`, () => {
    let harness: StoreHarness;
    before(async () => {
      harness = await makeHarness();
    });
    after(async () => {
      await harness?.close();
    });

    it("creates, gets, lists, updates and deletes", async () => {
      let now = 5000;
      const store = await harness.makeStore({ clock: () => now });
      const a = await store.create(makeDistribution({ cnames: ["Video.Example.com"], comment: "first" }));
      const b = await store.create(makeDistribution({ originBucket: "other-bucket" }));
      assert.deepEqual(a.cnames, ["video.example.com"], "CNAMEs are stored lower-case");
      assert.equal(a.lastModifiedMs, 5000, "the store sets lastModifiedMs on create");
      assert.deepEqual(await store.get(a.id), a);
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
      assert.deepEqual(await store.get(a.id), updated);
      assert.ok(Object.isFrozen(updated) && Object.isFrozen(updated.cnames) && Object.isFrozen(updated.tags));
      assert.equal(a.enabled, true, "the earlier object is unchanged");

      await store.delete(b.id);
      assert.equal(await store.get(b.id), undefined);
      assert.deepEqual(
        (await store.list()).map((d) => d.id),
        [a.id],
      );
      await assert.rejects(store.delete(b.id), hasCode(ControllerErrorCode.DistributionNotFound));
      await assert.rejects(
        store.update(b.id, { enabled: true }),
        hasCode(ControllerErrorCode.DistributionNotFound),
      );
      await assert.rejects(
        store.changeTags(b.id, { set: [{ key: "k", value: "v" }] }, 50),
        hasCode(ControllerErrorCode.DistributionNotFound),
      );
    });

    it("stamps a new ETag, the configVersion and the time on every config change", async () => {
      const store = await harness.makeStore();
      const given = makeDistribution();
      const a = await store.create({ ...given, etag: "ECALLERSETTHIS", configVersion: 3 });
      assert.match(a.etag, etagPattern);
      assert.notEqual(a.etag, "ECALLERSETTHIS", "the caller cannot choose the ETag");
      assert.equal(a.configVersion, await store.version());
      const b = await store.create(makeDistribution());
      assert.equal(b.configVersion, a.configVersion + 1);
      assert.notEqual(b.etag, a.etag);

      const a2 = await store.update(a.id, { comment: "x" });
      assert.match(a2.etag, etagPattern);
      assert.notEqual(a2.etag, a.etag, "an update changes the ETag");
      assert.equal(a2.configVersion, b.configVersion + 1);
      const a3 = await store.update(a.id, {});
      assert.notEqual(a3.etag, a2.etag, "even an update that changes nothing gets a new ETag");
      assert.equal(a3.configVersion, a2.configVersion + 1);
      assert.equal(
        (await store.get(b.id))?.configVersion,
        b.configVersion,
        "others keep their configVersion",
      );

      const fixed = await harness.makeStore({ random: (size) => Buffer.alloc(size) });
      assert.equal(
        (await fixed.create(makeDistribution())).etag,
        "EAAAAAAAAAAAAA",
        "ETags use the random source",
      );
    });

    it("bumps the version by exactly one per change, and not for refusals or tags", async () => {
      const store = await harness.makeStore();
      const start = await store.version();
      const a = await store.create(makeDistribution({ cnames: ["one.example.com"] }));
      assert.equal(await store.version(), start + 1);
      await assert.rejects(store.create(makeDistribution({ cnames: ["one.example.com"] })));
      await assert.rejects(store.update(a.id, { cnames: ["not a host"] }));
      await assert.rejects(store.update(a.id, { comment: "x" }, { ifMatch: "EWRONGWRONGWRO" }));
      await assert.rejects(store.delete(a.id, { requireDisabled: true }));
      await store.changeTags(a.id, { set: [{ key: "team", value: "video" }] }, 50);
      assert.equal(await store.version(), start + 1, "refusals and tag changes leave the version");
      await store.update(a.id, { comment: "y" });
      assert.equal(await store.version(), start + 2);
      await store.delete(a.id);
      assert.equal(await store.version(), start + 3);
    });

    it("notifies subscribers of each change in version order", async () => {
      const store = await harness.makeStore();
      const start = await store.version();
      const first = record(store);
      const second = record(store);
      const a = await store.create(makeDistribution());
      await store.update(a.id, { comment: "changed" });
      await assert.rejects(store.update(a.id, { cnames: ["bad host"] }));
      await store.changeTags(a.id, { set: [{ key: "k", value: "v" }] }, 50);
      await store.delete(a.id);
      const expected = [
        [start + 1, [`${a.id}:`], []],
        [start + 2, [`${a.id}:changed`], []],
        [start + 3, [], [a.id]],
      ];
      await eventually(() => first.changes.length >= 3 && second.changes.length >= 3, 5000, "three changes");
      assert.deepEqual(summary(first.changes), expected);
      assert.deepEqual(summary(second.changes), expected);
      assert.equal(first.changes[0]?.upserts[0]?.configVersion, start + 1);
      assert.ok(Object.isFrozen(first.changes[0]) && Object.isFrozen(first.changes[0]?.upserts));

      first.unsubscribe();
      await store.create(makeDistribution());
      await eventually(() => second.changes.length === 4, 5000, "the fourth change");
      await delay(50);
      assert.equal(first.changes.length, 3, "an unsubscribed listener hears nothing more");
    });

    it("keeps notifying when a listener throws", async () => {
      const errors: unknown[] = [];
      const store = await harness.makeStore({ onListenerError: (error) => errors.push(error) });
      store.subscribe(() => {
        throw new Error("listener failure");
      });
      const other = record(store);
      const a = await store.create(makeDistribution());
      assert.equal(a.configVersion, await store.version(), "the mutation still succeeds");
      await eventually(
        () => other.changes.length === 1 && errors.length === 1,
        5000,
        "both listeners called",
      );
      assert.match(String(errors[0]), /listener failure/);
    });

    it("merges changes since a version, and says when it no longer knows it", async () => {
      const store = await harness.makeStore({ historyLimit: 3 });
      const v0 = await store.version();
      const a = await store.create(makeDistribution()); // v0+1
      const b = await store.create(makeDistribution()); // v0+2
      await store.update(a.id, { comment: "a2" }); // v0+3
      await store.delete(b.id); // v0+4
      const c = await store.create(makeDistribution()); // v0+5
      assert.deepEqual(await store.changesSince(v0 + 5), {
        version: v0 + 5,
        upserts: [],
        removedIds: [],
        publicKeyUpserts: [],
        removedPublicKeyIds: [],
      });
      const since2 = await store.changesSince(v0 + 2);
      assert.equal(since2?.version, v0 + 5);
      assert.deepEqual(
        since2?.upserts.map((d) => d.id),
        [a.id, c.id].sort(),
      );
      assert.equal(since2?.upserts.find((d) => d.id === a.id)?.comment, "a2");
      assert.deepEqual(since2?.removedIds, [b.id]);
      const since4 = await store.changesSince(v0 + 4);
      assert.deepEqual(since4?.upserts, [c]);
      assert.deepEqual(since4?.removedIds, []);
      assert.equal(await store.changesSince(v0 + 1), undefined, "version v0+2 fell out of the history");
      assert.equal(await store.changesSince(v0 + 99), undefined, "a version from the future (another run)");

      // Merged changes carry the newest form, tags included.
      await store.changeTags(a.id, { set: [{ key: "k", value: "v" }] }, 50);
      const withTags = await store.changesSince(v0 + 2);
      assert.deepEqual(withTags?.upserts.find((d) => d.id === a.id)?.tags, [{ key: "k", value: "v" }]);
    });

    it("keeps CNAMEs and domain names unique across distributions", async () => {
      const store = await harness.makeStore();
      const a = await store.create(makeDistribution({ cnames: ["live.example.com", "vod.example.com"] }));
      await assert.rejects(
        store.create(makeDistribution({ cnames: ["VOD.example.com"] })),
        hasCode(ControllerErrorCode.CnameInUse),
      );
      const b = await store.create(makeDistribution({ cnames: ["other.example.com"] }));
      await assert.rejects(
        store.update(b.id, { cnames: ["live.example.com"] }),
        hasCode(ControllerErrorCode.CnameInUse),
      );
      await assert.rejects(
        store.create(makeDistribution({ cnames: [a.domainName] })),
        hasCode(ControllerErrorCode.CnameInUse),
        "another distribution's domain name is taken too",
      );
      await assert.rejects(
        store.update(b.id, { cnames: [a.domainName.toUpperCase()] }),
        hasCode(ControllerErrorCode.CnameInUse),
      );
      await assert.rejects(
        store.create({ ...makeDistribution(), domainName: "other.example.com" }),
        hasCode(ControllerErrorCode.DistributionExists),
        "a new domain name may not be someone's CNAME",
      );
      // A distribution may keep its own CNAMEs, and freed ones can be reused.
      await store.update(a.id, { cnames: ["live.example.com"] });
      await store.update(b.id, { cnames: ["other.example.com", "vod.example.com"] });
      await store.delete(a.id);
      const c = await store.create(makeDistribution({ cnames: ["live.example.com"] }));
      assert.deepEqual(c.cnames, ["live.example.com"]);
      await assert.rejects(
        store.update(c.id, { cnames: ["vod.example.com"] }),
        hasCode(ControllerErrorCode.CnameInUse),
      );
      // A refused update changed nothing: c still holds its CNAME.
      await assert.rejects(
        store.create(makeDistribution({ cnames: ["live.example.com"] })),
        hasCode(ControllerErrorCode.CnameInUse),
      );
    });

    it("rejects malformed distributions and patches without a trace", async () => {
      const store = await harness.makeStore();
      const invalid = hasCode(ControllerErrorCode.InvalidDistribution);
      const d = await store.create(makeDistribution());
      const version = await store.version();
      // The store checks again: an API in front of it may hand it anything.
      await assert.rejects(store.create({ ...makeDistribution(), originBucket: "Bad_Bucket" }), invalid);
      await assert.rejects(store.update(d.id, { cnames: ["not a host"] }), invalid);
      await assert.rejects(store.update(d.id, { comment: "x".repeat(129) }), invalid);
      await assert.rejects(store.create(d), hasCode(ControllerErrorCode.DistributionExists));
      assert.equal(await store.version(), version);
      assert.deepEqual(await store.list(), [d]);
    });

    it("applies only the patchable fields of an update", async () => {
      const store = await harness.makeStore();
      const d = await store.create(makeDistribution({ tags: [{ key: "a", value: "1" }] }));
      // A patch built in plain JS may carry anything; only patchable keys count.
      const sneaky = {
        comment: "ok",
        id: "EHIJACKEDHIJAC",
        domainName: "evil.example.com",
        originBucket: "evil-bucket",
        callerReference: "evil",
        tags: [],
        enabled: undefined,
      } as unknown as DistributionPatch;
      const u = await store.update(d.id, sneaky);
      assert.equal(u.comment, "ok");
      assert.equal(u.id, d.id);
      assert.equal(u.domainName, d.domainName);
      assert.equal(u.originBucket, d.originBucket);
      assert.equal(u.callerReference, d.callerReference);
      assert.equal(u.enabled, true, "an undefined value does not erase a field");
      assert.deepEqual(u.tags, [{ key: "a", value: "1" }]);
    });

    it("finds distributions by caller reference and refuses a second one", async () => {
      const store = await harness.makeStore();
      const a = await store.create(makeDistribution({ callerReference: "order-42" }));
      assert.deepEqual(await store.getByCallerReference("order-42"), a);
      assert.equal(await store.getByCallerReference("order-43"), undefined);
      await assert.rejects(
        store.create(makeDistribution({ callerReference: "order-42" })),
        hasCode(ControllerErrorCode.CallerReferenceInUse),
      );
      const updated = await store.update(a.id, { comment: "later" });
      assert.deepEqual(
        await store.getByCallerReference("order-42"),
        updated,
        "the lookup finds the newest form",
      );
      await store.delete(a.id);
      assert.equal(await store.getByCallerReference("order-42"), undefined);
      const again = await store.create(makeDistribution({ callerReference: "order-42" }));
      assert.equal((await store.getByCallerReference("order-42"))?.id, again.id, "a deleted one frees it");
    });

    it("refuses creates beyond the quota", async () => {
      const store = await harness.makeStore();
      const a = await store.create(makeDistribution(), { maxDistributions: 2 });
      await store.create(makeDistribution(), { maxDistributions: 2 });
      await assert.rejects(
        store.create(makeDistribution(), { maxDistributions: 2 }),
        hasCode(ControllerErrorCode.TooManyDistributions),
      );
      await store.create(makeDistribution(), { maxDistributions: 3 });
      await store.delete(a.id);
      await store.create(makeDistribution(), { maxDistributions: 3 });
      await assert.rejects(
        store.create(makeDistribution(), { maxDistributions: 0 }),
        hasCode(ControllerErrorCode.TooManyDistributions),
      );
      assert.equal((await store.list()).length, 3);
    });

    it("honours If-Match on update and delete", async () => {
      const store = await harness.makeStore();
      const a = await store.create(makeDistribution());
      const failed = hasCode(ControllerErrorCode.PreconditionFailed);
      await assert.rejects(store.update(a.id, { comment: "x" }, { ifMatch: "ENOTTHEETAGXXX" }), failed);
      const u = await store.update(a.id, { comment: "x" }, { ifMatch: a.etag });
      await assert.rejects(
        store.update(a.id, { comment: "y" }, { ifMatch: a.etag }),
        failed,
        "the old ETag is stale",
      );
      // Tags do not change the ETag, so If-Match still holds after a tag change.
      const tagged = await store.changeTags(a.id, { set: [{ key: "k", value: "v" }] }, 50);
      assert.equal(tagged.etag, u.etag);
      await assert.rejects(store.delete(a.id, { ifMatch: a.etag }), failed);
      await assert.rejects(store.delete(a.id, { ifMatch: "" }), failed, "an empty If-Match matches nothing");
      assert.ok(await store.get(a.id));
      await store.delete(a.id, { ifMatch: u.etag });
      assert.equal(await store.get(a.id), undefined);
    });

    it("refuses to delete an enabled distribution when asked to", async () => {
      const store = await harness.makeStore();
      const a = await store.create(makeDistribution({ enabled: true }));
      await assert.rejects(
        store.delete(a.id, { requireDisabled: true }),
        hasCode(ControllerErrorCode.NotDisabled),
      );
      await assert.rejects(
        store.delete(a.id, { requireDisabled: true, ifMatch: "ENOTTHEETAGXXX" }),
        hasCode(ControllerErrorCode.PreconditionFailed),
        "If-Match is checked before the enabled flag",
      );
      const u = await store.update(a.id, { enabled: false });
      await store.delete(a.id, { requireDisabled: true, ifMatch: u.etag });
      assert.equal(await store.get(a.id), undefined);
      const b = await store.create(makeDistribution({ enabled: true }));
      await store.delete(b.id, { requireDisabled: false });
    });

    it("never reuses an id or a domain name, even after a delete", async () => {
      const store = await harness.makeStore();
      const a = await store.create(makeDistribution({ cnames: ["kept.example.com"] }));
      await store.delete(a.id);
      const exists = hasCode(ControllerErrorCode.DistributionExists);
      await assert.rejects(store.create({ ...makeDistribution(), id: a.id }), exists, "same id");
      await assert.rejects(
        store.create({ ...makeDistribution(), domainName: a.domainName }),
        exists,
        "same domain",
      );
      await assert.rejects(
        store.create({ ...a, callerReference: "fresh-ref" }),
        exists,
        "the whole distribution",
      );
      // A refused create does not burn its id: the same id may be created once fixed.
      const fresh = makeDistribution({ cnames: ["taken.example.com"] });
      await store.create(makeDistribution({ cnames: ["taken.example.com"] }));
      await assert.rejects(store.create(fresh), hasCode(ControllerErrorCode.CnameInUse));
      const created = await store.create({ ...fresh, cnames: ["free.example.com"] });
      assert.equal(created.id, fresh.id);
    });

    it("sets and removes tags within a limit, without touching the config", async () => {
      const store = await harness.makeStore();
      const heard = record(store);
      const a = await store.create(makeDistribution({ tags: [{ key: "env", value: "prod" }] }));
      await eventually(() => heard.changes.length === 1, 5000, "the create");
      const version = await store.version();
      const t1 = await store.changeTags(
        a.id,
        {
          set: [
            { key: "team", value: "video" },
            { key: "env", value: "staging" },
          ],
        },
        3,
      );
      assert.deepEqual(t1.tags, [
        { key: "env", value: "staging" },
        { key: "team", value: "video" },
      ]);
      assert.equal(t1.etag, a.etag, "tags keep the ETag");
      assert.equal(t1.configVersion, a.configVersion, "tags keep the configVersion");
      assert.ok(Object.isFrozen(t1.tags));
      assert.deepEqual(await store.get(a.id), t1);
      await assert.rejects(
        store.changeTags(
          a.id,
          {
            set: [
              { key: "a", value: "1" },
              { key: "b", value: "2" },
            ],
          },
          3,
        ),
        hasCode(ControllerErrorCode.TooManyTags),
      );
      assert.deepEqual((await store.get(a.id))?.tags, t1.tags, "a refused change leaves the tags");
      // Removing makes room in the same change; unknown keys are ignored.
      const t2 = await store.changeTags(
        a.id,
        {
          set: [
            { key: "a", value: "1" },
            { key: "b", value: "2" },
          ],
          removeKeys: ["team", "nope"],
        },
        3,
      );
      assert.deepEqual(
        t2.tags.map((t) => t.key),
        ["env", "a", "b"],
      );
      const t3 = await store.changeTags(a.id, { removeKeys: ["env", "a", "b"] }, 0);
      assert.deepEqual(t3.tags, []);
      assert.equal(await store.version(), version);
      const u = await store.update(a.id, { comment: "after tags" });
      assert.deepEqual(u.tags, [], "an update keeps the current tags");
      await delay(50);
      assert.equal(heard.changes.length, 2, "tag changes notify nobody");
    });

    it("tracks watchers by heartbeat until they expire or are dropped", async () => {
      const store = await harness.makeStore();
      const ttl = harness.watcherTtlMs;
      const before = harness.now();
      await store.heartbeat("edge-b", "edge", 10, ttl);
      await store.heartbeat("edge-a", "edge", 11, ttl * 3);
      await store.heartbeat("shield-1", "shield", 9, ttl * 3);
      const after = harness.now();
      const live = await store.liveWatchers();
      assert.deepEqual(
        live.map((w) => [w.nodeId, w.role, w.appliedVersion]),
        [
          ["edge-a", "edge", 11],
          ["edge-b", "edge", 10],
          ["shield-1", "shield", 9],
        ],
      );
      const edgeB = live[1]!;
      const slack = harness.expiryToleranceMs;
      assert.ok(
        edgeB.expiresAtMs >= before + ttl - slack && edgeB.expiresAtMs <= after + ttl + slack,
        `expiresAtMs ${edgeB.expiresAtMs} is now + ttl (${before + ttl}..${after + ttl})`,
      );
      assert.ok(Object.isFrozen(edgeB));

      await harness.elapse(ttl * 2);
      assert.deepEqual(
        (await store.liveWatchers()).map((w) => w.nodeId),
        ["edge-a", "shield-1"],
        "edge-b expired",
      );
      await store.heartbeat("edge-a", "edge", 12, ttl * 3);
      await store.dropWatcher("shield-1");
      await store.dropWatcher("never-seen");
      assert.deepEqual(
        (await store.liveWatchers()).map((w) => [w.nodeId, w.appliedVersion]),
        [["edge-a", 12]],
      );
      await harness.elapse(ttl * 4);
      assert.deepEqual(await store.liveWatchers(), []);
      // An expired watcher comes back with its next heartbeat.
      await store.heartbeat("edge-b", "edge", 13, ttl);
      assert.deepEqual(
        (await store.liveWatchers()).map((w) => w.nodeId),
        ["edge-b"],
      );
    });

    it("takes snapshots consistent with the version and the list", async () => {
      const store = await harness.makeStore();
      const a = await store.create(makeDistribution());
      const b = await store.create(makeDistribution());
      await store.update(a.id, { comment: "x" });
      const snapshot = await store.snapshot();
      assert.equal(snapshot.version, await store.version());
      assert.deepEqual(snapshot.distributions, await store.list());
      assert.deepEqual(
        snapshot.distributions.map((d) => d.id),
        [a.id, b.id].sort(),
      );
      assert.equal(snapshot.version, Math.max(...snapshot.distributions.map((d) => d.configVersion)));
    });

    it("refuses every call once closed and stops notifying", async () => {
      const store = await harness.makeStore();
      const heard = record(store);
      const a = await store.create(makeDistribution());
      await eventually(() => heard.changes.length === 1, 5000, "the create");
      await store.close();
      await store.close();
      const unavailable = hasCode(ControllerErrorCode.StoreUnavailable);
      await assert.rejects(store.get(a.id), unavailable);
      await assert.rejects(store.list(), unavailable);
      await assert.rejects(store.create(makeDistribution()), unavailable);
      await assert.rejects(store.update(a.id, { comment: "x" }), unavailable);
      await assert.rejects(store.delete(a.id), unavailable);
      await assert.rejects(store.version(), unavailable);
      await assert.rejects(store.snapshot(), unavailable);
      await assert.rejects(store.changesSince(0), unavailable);
      await assert.rejects(store.heartbeat("edge-1", "edge", 1, 1000), unavailable);
      await assert.rejects(store.liveWatchers(), unavailable);
      const unsubscribe = store.subscribe(() => assert.fail("a closed store notifies nobody"));
      unsubscribe();
      assert.equal(heard.changes.length, 1);
    });
  });
}
