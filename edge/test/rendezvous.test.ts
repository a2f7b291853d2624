import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { murmur3, rankReplicas, rendezvousScore } from "../src/shield-client/rendezvous.js";

const replicas = ["10.0.0.11:7002", "10.0.0.12:7002", "10.0.0.13:7002", "10.0.0.14:7002", "10.0.0.15:7002"];
const keys = Array.from({ length: 20_000 }, (_, i) => `media/videos/show-${i}/episode-${i % 97}.flv`);

describe("murmur3", () => {
  test("matches the reference MurmurHash3_x86_32 vectors", () => {
    const vectors: [string, number, number][] = [
      ["", 0, 0],
      ["", 1, 0x514e28b7],
      ["", 0xffffffff, 0x81f16f39],
      ["\u0000\u0000\u0000\u0000", 0, 0x2362f9de],
      ["aaaa", 0x9747b28c, 0x5a97808a],
      ["abc", 0, 0xb3dd93fa],
      ["Hello, world!", 0x9747b28c, 0x24884cba],
      ["The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd],
    ];
    for (const [text, seed, expected] of vectors) {
      assert.equal(
        murmur3(Buffer.from(text, "utf8"), seed),
        expected,
        `${JSON.stringify(text)} seed ${seed}`,
      );
    }
  });
});

describe("rankReplicas", () => {
  test("is a permutation of the replicas, the same whatever their input order", () => {
    for (const key of keys.slice(0, 500)) {
      const ranked = rankReplicas(key, replicas);
      assert.deepEqual([...ranked].sort(), [...replicas].sort());
      assert.deepEqual(rankReplicas(key, [...replicas].reverse()), ranked);
    }
    assert.deepEqual(rankReplicas("k", []), []);
    assert.deepEqual(rankReplicas("k", ["a:1"]), ["a:1"]);
  });

  test("orders by falling score, so every process agrees", () => {
    const key = "media/videos/sample.flv";
    const ranked = rankReplicas(key, replicas);
    const scores = ranked.map((r) => rendezvousScore(key, r));
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1]! >= scores[i]!);
  });

  test("removing a replica moves only the keys it ranked first, each to its runner-up", () => {
    const removed = replicas[2]!;
    const rest = replicas.filter((r) => r !== removed);
    let moved = 0;
    for (const key of keys) {
      const before = rankReplicas(key, replicas);
      const after = rankReplicas(key, rest);
      // The survivors keep their relative order: the ranking minus the removed replica.
      assert.deepEqual(
        after,
        before.filter((r) => r !== removed),
        key,
      );
      if (before[0] === removed) moved++;
    }
    // About a fifth of the keys lived on the removed replica; only they moved.
    assert.ok(Math.abs(moved / keys.length - 1 / 5) < 0.02, `moved ${moved} of ${keys.length}`);
  });

  test("adding a replica takes about 1/n of the keys, all from the others' first places", () => {
    const added = "10.0.0.16:7002";
    let taken = 0;
    for (const key of keys) {
      const before = rankReplicas(key, replicas)[0];
      const after = rankReplicas(key, [...replicas, added])[0];
      if (after !== before) {
        assert.equal(after, added);
        taken++;
      }
    }
    assert.ok(Math.abs(taken / keys.length - 1 / 6) < 0.02, `took ${taken} of ${keys.length}`);
  });

  test("spreads first and second choices evenly", () => {
    const first = new Map<string, number>();
    const pairs = new Map<string, number>();
    for (const key of keys) {
      const [a, b] = rankReplicas(key, replicas);
      first.set(a!, (first.get(a!) ?? 0) + 1);
      pairs.set(`${a}>${b}`, (pairs.get(`${a}>${b}`) ?? 0) + 1);
    }
    const share = keys.length / replicas.length;
    for (const replica of replicas) {
      const count = first.get(replica) ?? 0;
      // 20 000 keys over 5 replicas: 4000 each, σ ≈ 57; allow ±5 %.
      assert.ok(Math.abs(count - share) < share * 0.05, `${replica} first for ${count} keys`);
    }
    // Each replica's keys fail over evenly to the other four (20 ordered pairs, 1000 each).
    assert.equal(pairs.size, replicas.length * (replicas.length - 1));
    const pairShare = keys.length / pairs.size;
    for (const [pair, count] of pairs) {
      assert.ok(Math.abs(count - pairShare) < pairShare * 0.15, `${pair}: ${count}`);
    }
  });

  test("spreads similar keys and loopback replicas with different ports too", () => {
    const local = ["127.0.0.1:41001", "127.0.0.1:41002"];
    let firstIsA = 0;
    for (let i = 0; i < 10_000; i++) if (rankReplicas(`b/k${i}`, local)[0] === local[0]) firstIsA++;
    assert.ok(Math.abs(firstIsA - 5_000) < 250, `${firstIsA} of 10000`);
  });
});
