import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DistributionChange } from "../src/store/distribution-store.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { describePublicKeyStoreContract } from "./public-key-store-contract.js";
import { describeStoreContract, makeDistribution, type StoreHarness } from "./store-contract.js";

async function harness(): Promise<StoreHarness> {
  // One fake clock for lastModifiedMs and watcher expiry, unless a test brings its own.
  let now = 1_700_000_000_000;
  return {
    async makeStore(options = {}) {
      return new MemoryStore({
        clock: options.clock ?? (() => now),
        ...(options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit }),
        ...(options.random === undefined ? {} : { random: options.random }),
        ...(options.onListenerError === undefined ? {} : { onListenerError: options.onListenerError }),
      });
    },
    watcherTtlMs: 10_000,
    now: () => now,
    async elapse(ms) {
      now += ms;
    },
    expiryToleranceMs: 0,
    async close() {},
  };
}

describeStoreContract("MemoryStore", harness);
describePublicKeyStoreContract("MemoryStore", harness);

describe("MemoryStore", () => {
  it("starts versions at the clock so they grow across restarts", async () => {
    const before = Date.now();
    assert.ok((await new MemoryStore().version()) >= before);
    assert.equal(await new MemoryStore({ initialVersion: 100 }).version(), 100);
  });

  it("notifies synchronously, before the mutation resolves", async () => {
    const store = new MemoryStore({ initialVersion: 0 });
    const seen: number[] = [];
    store.subscribe((c) => seen.push(c.version));
    const pending = store.create(makeDistribution());
    assert.deepEqual(seen, [1], "already heard of before the promise settles");
    await pending;
  });

  it("keeps version order for every listener when one mutates from inside its callback", async () => {
    const store = new MemoryStore({ initialVersion: 0 });
    const first: DistributionChange[] = [];
    const second: DistributionChange[] = [];
    let reacted = false;
    store.subscribe((change) => {
      first.push(change);
      if (!reacted) {
        reacted = true;
        // Commits version 2 synchronously while version 1 is being delivered.
        void store.update(change.upserts[0]!.id, { comment: "reaction" });
      }
    });
    store.subscribe((change) => second.push(change));
    await store.create(makeDistribution());
    assert.deepEqual(
      first.map((c) => c.version),
      [1, 2],
    );
    assert.deepEqual(
      second.map((c) => c.version),
      [1, 2],
      "the second listener hears 1 before 2",
    );
  });

  it("has every mutation commit at once, so concurrent creates for one CNAME admit one", async () => {
    const store = new MemoryStore({ initialVersion: 0 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => store.create(makeDistribution({ cnames: ["race.example.com"] }))),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.equal(await store.version(), 1);
  });
});
