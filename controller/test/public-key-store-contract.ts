import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ControllerErrorCode } from "../src/errors.js";
import { newPublicKeyId, type PublicKeyRecord } from "../src/public-key.js";
import {
  type DistributionStore,
  isPublicKeyStore,
  type PublicKeyStore,
} from "../src/store/distribution-store.js";
import { etagPattern } from "../src/store/store-rules.js";
import { hasCode, makeDistribution, record, type StoreHarness } from "./store-contract.js";

/**
 * The PublicKeyStore contract (distribution-store.ts) as tests, for every
 * store that keeps public keys: MemoryStore (memory-store.test.ts) and
 * FileStore (file-store.system.test.ts). Key changes share the config
 * version and the change feed with distribution changes.
 */

const encodedKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .publicKey.export({ type: "spki", format: "pem" })
  .toString();
let references = 0;

/** A valid new key; each gets its own caller reference unless one is given. */
export function makePublicKey(overrides: Partial<PublicKeyRecord> = {}): PublicKeyRecord {
  references += 1;
  return {
    id: newPublicKeyId(),
    callerReference: `key-ref-${references}`,
    name: `key-${references}`,
    encodedKey,
    comment: "",
    createdMs: 0,
    etag: "",
    configVersion: 0,
    ...overrides,
  };
}

async function keyStore(
  harness: StoreHarness,
  clock?: () => number,
): Promise<DistributionStore & PublicKeyStore> {
  const store = await harness.makeStore(clock ? { clock } : {});
  assert.ok(isPublicKeyStore(store), "this store must keep public keys");
  return store;
}

export function describePublicKeyStoreContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`${name} (public-key store contract)`, () => {
    let harness: StoreHarness;
    before(async () => {
      harness = await makeHarness();
    });
    after(async () => {
      await harness?.close();
    });

    it("creates, gets, lists, updates the comment and deletes, stamping etag, version and time", async () => {
      const store = await keyStore(harness, () => 7000);
      const v0 = await store.version();
      const a = await store.createPublicKey(makePublicKey({ comment: "first" }));
      const b = await store.createPublicKey(makePublicKey());
      assert.match(a.etag, etagPattern);
      assert.equal(a.configVersion, v0 + 1);
      assert.equal(b.configVersion, v0 + 2);
      assert.equal(a.createdMs, 7000);
      assert.ok(Object.isFrozen(a));
      assert.deepEqual(await store.getPublicKey(a.id), a);
      assert.equal(await store.getPublicKey("K0000000000000"), undefined);
      assert.deepEqual(await store.getPublicKeyByCallerReference(a.callerReference), a);
      assert.deepEqual(
        (await store.listPublicKeys()).map((k) => k.id),
        [a.id, b.id].sort(),
      );
      const a2 = await store.updatePublicKey(a.id, { comment: "second" }, { ifMatch: a.etag });
      assert.equal(a2.comment, "second");
      assert.notEqual(a2.etag, a.etag);
      assert.equal(a2.configVersion, v0 + 3);
      assert.equal(a2.createdMs, a.createdMs);
      assert.equal(a2.encodedKey, a.encodedKey);
      await store.deletePublicKey(b.id, { ifMatch: b.etag });
      assert.equal(await store.getPublicKey(b.id), undefined);
      assert.equal(await store.getPublicKeyByCallerReference(b.callerReference), undefined);
      assert.equal(await store.version(), v0 + 4);
      // Keys do not show up as distributions, nor the other way round.
      assert.deepEqual(await store.list(), []);
    });

    it("refuses unknown ids, stale If-Match, reused ids and CallerReferences, and keys past the quota", async () => {
      const store = await keyStore(harness);
      const a = await store.createPublicKey(makePublicKey());
      const v = await store.version();
      await assert.rejects(
        store.updatePublicKey("K0000000000000", { comment: "x" }),
        hasCode(ControllerErrorCode.PublicKeyNotFound),
      );
      await assert.rejects(
        store.deletePublicKey("K0000000000000"),
        hasCode(ControllerErrorCode.PublicKeyNotFound),
      );
      await assert.rejects(
        store.updatePublicKey(a.id, { comment: "x" }, { ifMatch: "E0000000000000" }),
        hasCode(ControllerErrorCode.PreconditionFailed),
      );
      await assert.rejects(
        store.deletePublicKey(a.id, { ifMatch: "E0000000000000" }),
        hasCode(ControllerErrorCode.PreconditionFailed),
      );
      await assert.rejects(
        store.createPublicKey(makePublicKey({ id: a.id })),
        hasCode(ControllerErrorCode.PublicKeyExists),
      );
      await assert.rejects(
        store.createPublicKey(makePublicKey({ callerReference: a.callerReference })),
        hasCode(ControllerErrorCode.PublicKeyCallerReferenceInUse),
      );
      await assert.rejects(
        store.createPublicKey(makePublicKey(), { maxPublicKeys: 1 }),
        hasCode(ControllerErrorCode.TooManyPublicKeys),
      );
      await assert.rejects(
        store.createPublicKey(makePublicKey({ name: "no spaces allowed" })),
        hasCode(ControllerErrorCode.InvalidPublicKey),
      );
      await assert.rejects(
        store.updatePublicKey(a.id, { comment: "x".repeat(129) }),
        hasCode(ControllerErrorCode.InvalidPublicKey),
      );
      assert.equal(await store.version(), v, "refusals change nothing");
      // A deleted key's id is never reused; its CallerReference is free again.
      await store.deletePublicKey(a.id);
      await assert.rejects(
        store.createPublicKey(makePublicKey({ id: a.id })),
        hasCode(ControllerErrorCode.PublicKeyExists),
      );
      const again = await store.createPublicKey(makePublicKey({ callerReference: a.callerReference }));
      assert.notEqual(again.id, a.id);
    });

    it("notifies key changes in version order with distribution changes, merges them, and snapshots them", async () => {
      const store = await keyStore(harness);
      const heard = record(store);
      const v0 = await store.version();
      const k = await store.createPublicKey(makePublicKey()); // v0+1
      const d = await store.create(makeDistribution()); // v0+2
      const k2 = await store.updatePublicKey(k.id, { comment: "c" }); // v0+3
      const gone = await store.createPublicKey(makePublicKey()); // v0+4
      await store.deletePublicKey(gone.id); // v0+5
      await waitFor(() => heard.changes.length === 5);
      heard.unsubscribe();
      assert.deepEqual(
        heard.changes.map((c) => [
          c.version,
          c.upserts.map((x) => x.id),
          c.publicKeyUpserts.map((x) => `${x.id}:${x.comment}`),
          [...c.removedPublicKeyIds],
        ]),
        [
          [v0 + 1, [], [`${k.id}:`], []],
          [v0 + 2, [d.id], [], []],
          [v0 + 3, [], [`${k.id}:c`], []],
          [v0 + 4, [], [`${gone.id}:`], []],
          [v0 + 5, [], [], [gone.id]],
        ],
      );
      const since = await store.changesSince(v0 + 1);
      assert.equal(since?.version, v0 + 5);
      assert.deepEqual(since?.upserts, [d]);
      assert.deepEqual(since?.publicKeyUpserts, [k2]);
      assert.deepEqual(since?.removedPublicKeyIds, [gone.id]);
      const snapshot = await store.snapshot();
      assert.equal(snapshot.version, v0 + 5);
      assert.deepEqual(snapshot.publicKeys, [k2]);
      assert.deepEqual(snapshot.distributions, [d]);
    });

    it("refuses key calls once closed", async () => {
      const store = await keyStore(harness);
      const a = await store.createPublicKey(makePublicKey());
      await store.close();
      const unavailable = hasCode(ControllerErrorCode.StoreUnavailable);
      await assert.rejects(store.getPublicKey(a.id), unavailable);
      await assert.rejects(store.listPublicKeys(), unavailable);
      await assert.rejects(store.createPublicKey(makePublicKey()), unavailable);
      await assert.rejects(store.updatePublicKey(a.id, { comment: "x" }), unavailable);
      await assert.rejects(store.deletePublicKey(a.id), unavailable);
    });
  });
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), "the changes were not all heard");
}
