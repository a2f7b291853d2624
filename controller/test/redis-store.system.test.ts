import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { freeLoopbackPort, RedisSentinel, RedisServer } from "../../lib/testing/redis-server.js";
import { testTls } from "../../lib/testing/tls.js";
import { delay, eventually } from "../../lib/testing/wait.js";
import type { Distribution } from "../src/distribution.js";
import { ControllerError, ControllerErrorCode } from "../src/errors.js";
import type { DistributionChange, DistributionStore } from "../src/store/distribution-store.js";
import {
  parseRedisUrl,
  type RedisConnectionOptions,
  RedisTopology,
  RedisUrlError,
} from "../src/store/redis-connection.js";
import { RedisStore, type RedisStoreOptions, StoreDataError } from "../src/store/redis-store.js";
import { silentLogger, startTestController } from "./helpers.js";
import { describePublicKeyStoreContract } from "./public-key-store-contract.js";
import {
  type ContractStoreOptions,
  describeStoreContract,
  hasCode,
  makeDistribution,
  record,
  type StoreHarness,
} from "./store-contract.js";

let prefixes = 0;
/** Every store group gets its own key prefix, so tests sharing a server do not see each other. */
function freshPrefix(label = "t"): string {
  prefixes += 1;
  return `${label}${prefixes}:`;
}

function single(url: string): RedisConnectionOptions {
  return { topology: RedisTopology.Single, url };
}

type StoreOverrides = Omit<RedisStoreOptions, "connection">;

/** Quick to give up, quick to come back: outage tests wait on these. */
const fast = {
  commandTimeoutMs: 500,
  connectWaitMs: 300,
  connectTimeoutMs: 500,
  reconnectMaxDelayMs: 100,
} as const;

function contractOptions(options: ContractStoreOptions): StoreOverrides {
  return {
    ...(options.historyLimit === undefined ? {} : { changeLogLimit: options.historyLimit }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.onListenerError === undefined ? {} : { onListenerError: options.onListenerError }),
  };
}

/** A contract harness whose stores each get a fresh prefix on one backing Redis. */
function redisHarness(
  start: () => Promise<{ connection: RedisConnectionOptions; dispose: () => Promise<void> }>,
): () => Promise<StoreHarness> {
  return async () => {
    const backing = await start();
    const stores: RedisStore[] = [];
    return {
      async makeStore(options = {}) {
        const store = new RedisStore({
          connection: backing.connection,
          prefix: freshPrefix("contract"),
          ...contractOptions(options),
        });
        stores.push(store);
        return store;
      },
      // Redis expires watchers by its own clock: real time passes.
      watcherTtlMs: 250,
      now: () => Date.now(),
      elapse: (ms) => delay(ms),
      expiryToleranceMs: 50,
      async close() {
        for (const store of stores) await store.close();
        await backing.dispose();
      },
    };
  };
}

describeStoreContract(
  "RedisStore",
  redisHarness(async () => {
    const server = await RedisServer.start();
    return { connection: single(server.url), dispose: () => server.dispose() };
  }),
);

describeStoreContract(
  "RedisStore on a one-node Redis Cluster",
  redisHarness(async () => {
    const server = await RedisServer.start({ cluster: true });
    return {
      connection: {
        topology: RedisTopology.Cluster,
        startupNodes: [{ host: server.host, port: server.port }],
      },
      dispose: () => server.dispose(),
    };
  }),
);

describePublicKeyStoreContract(
  "RedisStore",
  redisHarness(async () => {
    const server = await RedisServer.start();
    return { connection: single(server.url), dispose: () => server.dispose() };
  }),
);

describePublicKeyStoreContract(
  "RedisStore on a one-node Redis Cluster",
  redisHarness(async () => {
    const server = await RedisServer.start({ cluster: true });
    return {
      connection: {
        topology: RedisTopology.Cluster,
        startupNodes: [{ host: server.host, port: server.port }],
      },
      dispose: () => server.dispose(),
    };
  }),
);

/** Retries call until it resolves (Redis coming back), or fails after timeoutMs. */
async function until<T>(call: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(50);
    }
  }
}

/** The config a listener has built from the changes it heard: id → etag. */
function replay(changes: readonly DistributionChange[]): Map<string, string> {
  const table = new Map<string, string>();
  for (const change of changes) {
    for (const d of change.upserts) table.set(d.id, d.etag);
    for (const id of change.removedIds) table.delete(id);
  }
  return table;
}

function table(distributions: readonly Distribution[]): Map<string, string> {
  return new Map(distributions.map((d) => [d.id, d.etag]));
}

function versions(changes: readonly DistributionChange[]): number[] {
  return changes.map((c) => c.version);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const unavailable = hasCode(ControllerErrorCode.StoreUnavailable);

/** A TCP relay to Redis that a test can cut and restore: one replica's network partition. */
class TcpProxy {
  readonly port: number;
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;

  private constructor(port: number, targetPort: number) {
    this.port = port;
    this.#targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freeLoopbackPort(), targetPort);
    await proxy.restore();
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#targetPort, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => socket.destroy());
      }
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("RedisStore", () => {
  let shared: RedisServer;
  let raw: Redis;
  const stores: DistributionStore[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    shared = await RedisServer.start();
    raw = new Redis(shared.url);
  });
  after(async () => {
    for (const store of stores) await store.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
    raw?.disconnect();
    await shared?.dispose();
  });

  function storeAt(url: string, overrides: StoreOverrides = {}): RedisStore {
    const store = new RedisStore({ connection: single(url), ...overrides });
    stores.push(store);
    return store;
  }

  /**
   * Two replicas (A and B) on one prefix of the shared server, ready: their
   * listeners hear every change committed from now on.
   */
  async function replicas(overrides: StoreOverrides = {}): Promise<[RedisStore, RedisStore]> {
    const prefix = freshPrefix("replica");
    const pair: [RedisStore, RedisStore] = [
      storeAt(shared.url, { prefix, ...overrides }),
      storeAt(shared.url, { prefix, ...overrides }),
    ];
    await Promise.all(pair.map((store) => store.ready()));
    return pair;
  }

  async function serverForTest(options: Parameters<typeof RedisServer.start>[0] = {}): Promise<RedisServer> {
    const server = await RedisServer.start(options);
    cleanups.push(() => server.dispose());
    return server;
  }

  describe("between replicas", () => {
    it("lets exactly one of 50 racing creates claim a CNAME", async () => {
      const [a, b] = await replicas();
      const before = await a.version();
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? a : b).create(makeDistribution({ cnames: ["race.example.com"] })),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      assert.equal(won.length, 1);
      for (const r of results) if (r.status === "rejected") hasCode(ControllerErrorCode.CnameInUse)(r.reason);
      assert.equal(await b.version(), before + 1);
      assert.equal((await b.list()).length, 1);
    });

    it("lets exactly one of 50 racing creates use a caller reference", async () => {
      const [a, b] = await replicas();
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? a : b).create(makeDistribution({ callerReference: "same-request" })),
        ),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results)
        if (r.status === "rejected") hasCode(ControllerErrorCode.CallerReferenceInUse)(r.reason);
      assert.equal((await a.list()).length, 1);
    });

    it("holds the quota under racing creates", async () => {
      const [a, b] = await replicas();
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? a : b).create(makeDistribution(), { maxDistributions: 5 }),
        ),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
      for (const r of results)
        if (r.status === "rejected") hasCode(ControllerErrorCode.TooManyDistributions)(r.reason);
      assert.equal((await a.list()).length, 5);
    });

    it("lets exactly one of 20 racing updates with the same If-Match win", async () => {
      const [a, b] = await replicas();
      const d = await a.create(makeDistribution());
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).update(d.id, { comment: `writer ${i}` }, { ifMatch: d.etag }),
        ),
      );
      const won = results.filter((r): r is PromiseFulfilledResult<Distribution> => r.status === "fulfilled");
      assert.equal(won.length, 1);
      for (const r of results)
        if (r.status === "rejected") hasCode(ControllerErrorCode.PreconditionFailed)(r.reason);
      assert.deepEqual(await b.get(d.id), won[0]?.value);
      assert.equal(await a.version(), d.configVersion + 1);
    });

    it("applies each of 30 racing updates without If-Match exactly once", async () => {
      const [a, b] = await replicas();
      const d = await a.create(makeDistribution());
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).update(d.id, { comment: `writer ${i}` })),
      );
      assert.equal(await a.version(), d.configVersion + 30);
      assert.deepEqual(
        results.map((r) => r.configVersion).sort((x, y) => x - y),
        range(d.configVersion + 1, d.configVersion + 30),
        "each update committed at its own version",
      );
      const last = results.find((r) => r.configVersion === d.configVersion + 30);
      assert.deepEqual(await b.get(d.id), last);
    });

    it("loses no tag change to a racing config update, nor the reverse", async () => {
      const [a, b] = await replicas();
      const d = await a.create(makeDistribution());
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        work.push((i % 2 === 0 ? a : b).changeTags(d.id, { set: [{ key: `k${i}`, value: `${i}` }] }, 50));
        work.push((i % 2 === 0 ? b : a).update(d.id, { comment: `c${i}` }));
      }
      await Promise.all(work);
      const final = await a.get(d.id);
      assert.equal(final?.tags.length, 20, "every tag key arrived");
      assert.equal(final?.configVersion, d.configVersion + 20, "every update arrived, tags bumped nothing");
      assert.equal(await b.version(), d.configVersion + 20);
    });

    it("relays a burst of 200 changes to both replicas in order, each version once", async () => {
      const [a, b] = await replicas();
      const heardA = record(a);
      const heardB = record(b);
      const start = await a.version();
      const created = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).create(makeDistribution())),
      );
      const burst: Promise<unknown>[] = [];
      for (let i = 0; i < 160; i++) {
        burst.push((i % 2 === 0 ? b : a).update(created[i % 20]!.id, { comment: `burst ${i}` }));
      }
      for (let i = 20; i < 30; i++) burst.push((i % 2 === 0 ? a : b).delete(created[i]!.id));
      await Promise.all(burst);
      const final = start + 200;
      assert.equal(await a.version(), final);
      await eventually(
        () => heardA.changes.at(-1)?.version === final && heardB.changes.at(-1)?.version === final,
        10_000,
        "both replicas to hear the last change",
      );
      const snapshot = await b.snapshot();
      for (const heard of [heardA, heardB]) {
        assert.deepEqual(versions(heard.changes), range(start + 1, final), "every version once, in order");
        assert.ok(heard.changes.every((c) => c.upserts.length + c.removedIds.length === 1));
        assert.deepEqual(replay(heard.changes), table(snapshot.distributions));
      }
    });

    it("keeps prefixes apart", async () => {
      const [x] = await replicas();
      const [y] = await replicas();
      const heardY = record(y);
      await x.create(makeDistribution({ cnames: ["shared-name.example.com"] }));
      await y.create(makeDistribution({ cnames: ["shared-name.example.com"] }));
      assert.equal((await x.list()).length, 1);
      assert.equal((await y.list()).length, 1);
      await delay(50);
      assert.equal(heardY.changes.length, 1, "y hears only its own change");
    });

    it("lays its keys out under the prefix with one hash tag", async () => {
      const prefix = freshPrefix("layout");
      const store = storeAt(shared.url, { prefix });
      const d = await store.create(makeDistribution({ cnames: ["layout.example.com"] }));
      await store.update(d.id, { comment: "x" });
      await store.heartbeat("edge-1", "edge", 1, 60_000);
      const keys = (await raw.keys(`${prefix}*`)).sort();
      assert.deepEqual(
        keys,
        [
          "callerrefs",
          "dists",
          "hosts",
          "log",
          "used-domains",
          "used-ids",
          "version",
          "watcher-expiry",
          "watchers",
        ].map((name) => `${prefix}{sf}:${name}`),
      );
      assert.equal(await raw.hget(`${prefix}{sf}:hosts`, "layout.example.com"), d.id);
      assert.equal(await raw.zcard(`${prefix}{sf}:log`), 2);
    });
  });

  describe("catching up", () => {
    it("resends the whole config to a replica that missed more than the log holds", async () => {
      const proxy = await TcpProxy.start(shared.port);
      cleanups.push(() => proxy.cut());
      const prefix = freshPrefix("partition");
      const a = storeAt(shared.url, { prefix, changeLogLimit: 3 });
      const b = storeAt(proxy.url, { prefix, changeLogLimit: 3, ...fast, pollIntervalMs: 60_000 });
      const heardB = record(b);
      await b.ready();
      const doomed = await a.create(makeDistribution());
      const kept = await a.create(makeDistribution());
      await eventually(() => heardB.changes.length === 2, 5000, "B to hear the first two");

      await proxy.cut();
      const started = Date.now();
      await assert.rejects(b.create(makeDistribution()), unavailable);
      // commandTimeoutMs is 500 here; the bound only shows the store does not
      // wait on a dead link, loose enough for a loaded machine.
      assert.ok(Date.now() - started < 5_000, "a cut-off replica answers StoreUnavailable quickly");
      await a.delete(doomed.id);
      await a.update(kept.id, { comment: "while B was away" });
      const added = [];
      for (let i = 0; i < 5; i++) added.push(await a.create(makeDistribution()));
      const final = await a.version();

      await proxy.restore();
      await eventually(() => heardB.changes.at(-1)?.version === final, 10_000, "B to catch up");
      const catchUp = heardB.changes[2]!;
      assert.equal(heardB.changes.length, 3, "one merged change covers the 7 missed versions");
      assert.equal(catchUp.version, final);
      assert.deepEqual(catchUp.removedIds, [doomed.id]);
      assert.deepEqual(
        catchUp.upserts.map((d) => d.id),
        [kept.id, ...added.map((d) => d.id)].sort(),
      );
      assert.equal(catchUp.upserts.find((d) => d.id === kept.id)?.comment, "while B was away");
      assert.deepEqual(replay(heardB.changes), table((await a.snapshot()).distributions));
      // And B works again, relaying per version.
      const after = await b.create(makeDistribution());
      await eventually(() => heardB.changes.at(-1)?.version === after.configVersion, 5000, "B's own change");
    });

    it("lets ConfigService serve one controller's watchers what another replica changed, merged or not", async () => {
      const proxy = await TcpProxy.start(shared.port);
      cleanups.push(() => proxy.cut());
      const prefix = freshPrefix("service");
      const writer = storeAt(shared.url, { prefix, changeLogLimit: 3 });
      const served = storeAt(proxy.url, { prefix, changeLogLimit: 3, ...fast, pollIntervalMs: 60_000 });
      const { server, address } = await startTestController({ store: served });
      cleanups.push(() => server.close(500));
      const first = await writer.create(makeDistribution({ cnames: ["first.example.com"] }));
      const watcher = new ConfigWatcher({
        address,
        nodeId: "edge-r",
        role: "edge",
        tls: testTls(PeerRole.Edge),
        logger: silentLogger(),
      });
      cleanups.push(async () => watcher.stop());
      const heard: number[] = [];
      watcher.onChange((t) => heard.push(t.version));
      watcher.start();
      await eventually(() => watcher.isSynced(), 5000, "the snapshot");
      assert.ok(watcher.current().has(first.id));

      // One version at a time while connected.
      const second = await writer.create(makeDistribution());
      await eventually(() => watcher.version === second.configVersion, 5000, "the second create");
      // Then more than the log holds while the serving replica is cut off:
      // ConfigService passes on the store's one merged change.
      await proxy.cut();
      await writer.delete(first.id);
      for (let i = 0; i < 4; i++) await writer.update(second.id, { comment: `edit ${i}` });
      const third = await writer.create(makeDistribution());
      await proxy.restore();
      await eventually(() => watcher.version === third.configVersion, 10_000, "the catch-up");
      const expected = (await writer.list()).map((d) => [d.id, d.enabled]);
      assert.deepEqual([...watcher.current().values()].map((d) => [d.id, d.enabled]).sort(), expected.sort());
      assert.ok(!watcher.current().has(first.id), "the removal arrived in the merged change");
      assert.ok(heard.includes(second.configVersion) && heard.at(-1) === third.configVersion);
    });

    it("catches up version by version after a short disconnection", async () => {
      const proxy = await TcpProxy.start(shared.port);
      cleanups.push(() => proxy.cut());
      const prefix = freshPrefix("blip");
      const a = storeAt(shared.url, { prefix });
      const b = storeAt(proxy.url, { prefix, ...fast, pollIntervalMs: 60_000 });
      const heardB = record(b);
      const start = await b.version();
      await proxy.cut();
      for (let i = 0; i < 5; i++) await a.create(makeDistribution());
      await proxy.restore();
      await eventually(() => heardB.changes.length === 5, 10_000, "B to hear the 5 changes");
      assert.deepEqual(versions(heardB.changes), range(start + 1, start + 5));
    });

    it("replaces an unreadable log entry with the whole config, without crashing", async () => {
      const prefix = freshPrefix("badlog");
      const a = storeAt(shared.url, { prefix });
      const b = storeAt(shared.url, { prefix });
      const heardB = record(b);
      await b.ready();
      const d = await a.create(makeDistribution());
      await eventually(() => heardB.changes.length === 1, 5000, "the create");
      // Another program writes a version whose log entry is garbage.
      const next = d.configVersion + 1;
      await raw.zadd(`${prefix}{sf}:log`, next, "this is not a change");
      await raw.set(`${prefix}{sf}:version`, String(next));
      await raw.publish(`${prefix}{sf}:changes`, String(next));
      await eventually(() => heardB.changes.length === 2, 5000, "the resync");
      assert.equal(heardB.changes[1]?.version, next);
      assert.deepEqual(heardB.changes[1]?.upserts, [d]);
      await assert.rejects(
        b.changesSince(d.configVersion),
        StoreDataError,
        "changesSince names the bad entry",
      );
      const e = await a.create(makeDistribution());
      await eventually(() => heardB.changes.at(-1)?.version === e.configVersion, 5000, "the next change");
    });
  });

  describe("damaged data", () => {
    it("fails the calls that meet a bad entry with StoreDataError, and only those", async () => {
      const prefix = freshPrefix("corrupt");
      const store = storeAt(shared.url, { prefix });
      const good = await store.create(makeDistribution());
      const version = await store.version();
      await raw.hset(`${prefix}{sf}:dists`, "EBROKENBROKEN1", "{not json");
      await raw.hset(`${prefix}{sf}:dists`, "EBADSHAPEBADSH", JSON.stringify({ id: "EBADSHAPEBADSH" }));
      const named = (pattern: RegExp) => (error: unknown) => {
        assert.ok(error instanceof StoreDataError, String(error));
        assert.match(error.message, pattern);
        return true;
      };
      await assert.rejects(
        store.get("EBROKENBROKEN1"),
        named(/EBROKENBROKEN1 in corrupt\d+:\{sf\}:dists is not JSON/),
      );
      await assert.rejects(store.get("EBADSHAPEBADSH"), named(/EBADSHAPEBADSH .* is malformed/));
      await assert.rejects(store.list(), StoreDataError);
      await assert.rejects(store.update("EBROKENBROKEN1", { comment: "x" }), StoreDataError);
      await assert.rejects(store.changeTags("EBROKENBROKEN1", {}, 50), StoreDataError);
      await assert.rejects(store.delete("EBROKENBROKEN1"), named(/does not decode/));
      assert.deepEqual(await store.get(good.id), good, "other entries still read");
      assert.equal(await store.version(), version);
    });

    it("refuses to write over keys of the wrong type instead of half-applying", async () => {
      const prefix = freshPrefix("wrongtype");
      const store = storeAt(shared.url, { prefix });
      const d = await store.create(makeDistribution());
      // The change log key is written last by a mutation; as a string it would fail halfway.
      await raw.del(`${prefix}{sf}:log`);
      await raw.set(`${prefix}{sf}:log`, "not a sorted set");
      const fresh = makeDistribution({ cnames: ["half.example.com"] });
      await assert.rejects(store.create(fresh), /log holds a string/);
      await assert.rejects(store.update(d.id, { comment: "x" }), StoreDataError);
      await assert.rejects(store.delete(d.id), StoreDataError);
      assert.equal(await store.get(fresh.id), undefined, "nothing of the create was written");
      assert.equal(await raw.hget(`${prefix}{sf}:hosts`, "half.example.com"), null);
      assert.equal(await raw.sismember(`${prefix}{sf}:used-ids`, fresh.id), 0);
      assert.equal(await store.version(), d.configVersion);
      await raw.del(`${prefix}{sf}:log`);
      await store.create(fresh);
    });
  });

  describe("outages", () => {
    it("answers StoreUnavailable within a bound while Redis is down, and recovers when it is back", async () => {
      const port = await freeLoopbackPort();
      const store = storeAt(`redis://127.0.0.1:${port}`, fast);
      const heard = record(store);
      for (const call of [
        () => store.version(),
        () => store.create(makeDistribution()),
        () => store.list(),
      ]) {
        const started = Date.now();
        await assert.rejects(call(), unavailable);
        const took = Date.now() - started;
        assert.ok(took < fast.connectWaitMs + 500, `rejected after ${took} ms`);
      }
      const server = await serverForTest({ port });
      assert.equal(server.port, port);
      const d = await until(() => store.create(makeDistribution()));
      await eventually(() => heard.changes.length === 1, 5000, "the change");
      assert.equal(heard.changes[0]?.version, d.configVersion);
    });

    it("when Redis is killed mid-stream, fails calls quickly and applies each mutation whole or not at all", async () => {
      const server = await serverForTest({ appendOnly: true });
      const [a, b] = [
        storeAt(server.url, { ...fast, prefix: "kill:" }),
        storeAt(server.url, { ...fast, prefix: "kill:" }),
      ];
      const heardB = record(b);
      await b.ready();
      const start = await a.version();
      const outcomes: { d: Distribution; ok: boolean }[] = [];
      let failures = 0;
      let killed: Promise<void> | undefined;
      for (let i = 0; failures < 3; i++) {
        const d = makeDistribution({ cnames: [`kill${i}.example.com`] });
        try {
          await a.create(d);
          outcomes.push({ d, ok: true });
        } catch (error) {
          hasCode(ControllerErrorCode.StoreUnavailable)(error);
          outcomes.push({ d, ok: false });
          failures += 1;
        }
        // Kill while the next create is on its way.
        if (i === 10) killed = server.kill();
      }
      await killed;
      for (const call of [() => a.get("EANYANYANYANYA"), () => a.heartbeat("edge-1", "edge", 1, 1000)]) {
        const started = Date.now();
        await assert.rejects(call(), unavailable);
        assert.ok(Date.now() - started < fast.connectWaitMs + fast.commandTimeoutMs + 500);
      }

      await server.restart();
      const final = await until(() => a.version());
      let applied = 0;
      for (const { d, ok } of outcomes) {
        const found = await a.getByCallerReference(d.callerReference);
        if (ok) assert.ok(found, `create ${d.id} succeeded, so it is there`);
        if (!found) {
          assert.equal(await a.get(d.id), undefined);
          continue;
        }
        // Present means present in full: indexed by CNAME and id too.
        applied += 1;
        assert.deepEqual(await a.get(d.id), found);
        await assert.rejects(
          a.create(makeDistribution({ cnames: [d.cnames[0]!] })),
          hasCode(ControllerErrorCode.CnameInUse),
        );
      }
      assert.ok(applied >= 11);
      assert.equal(final, start + applied, "each applied mutation bumped the version once");
      await eventually(() => heardB.changes.at(-1)?.version === final, 10_000, "B to hear every change");
      assert.deepEqual(versions(heardB.changes), range(start + 1, final));
    });

    it("when Redis stalls, times calls out, and a timed-out mutation does not apply once it resumes", async () => {
      const server = await serverForTest();
      const store = storeAt(server.url, { ...fast, prefix: "stall:" });
      const before = await store.create(makeDistribution());
      server.pause();
      const d = makeDistribution({ cnames: ["stalled.example.com"] });
      try {
        const started = Date.now();
        await assert.rejects(store.create(d), unavailable);
        assert.ok(Date.now() - started < fast.commandTimeoutMs + 500);
      } finally {
        server.resume();
      }
      // The create reaches Redis now, past its deadline: Redis refuses it.
      await delay(200);
      assert.equal(await store.getByCallerReference(d.callerReference), undefined);
      assert.equal(await store.version(), before.configVersion);
      const created = await store.create(d);
      assert.equal(created.id, d.id, "the refused create did not burn its id");
    });

    it("recovers by itself when Redis restarts, losing and repeating nothing", async () => {
      const server = await serverForTest({ appendOnly: true });
      const a = storeAt(server.url, { ...fast, prefix: "restart:" });
      const b = storeAt(server.url, { ...fast, prefix: "restart:" });
      const heardB = record(b);
      await b.ready();
      const start = await a.version();
      const outcomes: { d: Distribution; ok: boolean }[] = [];
      let stopping: Promise<void> | undefined;
      let restarted: Promise<void> | undefined;
      for (let i = 0; i < 40; i++) {
        // Stop while the next calls run, and bring Redis back once one of
        // them has met the outage.
        if (i === 10) stopping = server.stop();
        if (stopping && !restarted && outcomes.some((o) => !o.ok))
          restarted = stopping.then(() => server.restart());
        const d = makeDistribution();
        try {
          await a.create(d);
          outcomes.push({ d, ok: true });
        } catch (error) {
          hasCode(ControllerErrorCode.StoreUnavailable)(error);
          outcomes.push({ d, ok: false });
        }
        if (i >= 10) await delay(20);
      }
      assert.ok(restarted, "some calls met the outage");
      await restarted;
      const final = await until(() => a.version());
      const present = [];
      for (const { d, ok } of outcomes) {
        const found = await a.get(d.id);
        if (ok) assert.ok(found, `${d.id} succeeded, so it survived the restart`);
        if (found) present.push(found);
      }
      assert.ok(
        outcomes.slice(-5).every((o) => o.ok),
        "the store came back by itself",
      );
      assert.equal(final, start + present.length, "no mutation lost, none applied twice");
      await eventually(() => heardB.changes.at(-1)?.version === final, 10_000, "B to hear every change");
      assert.deepEqual(
        versions(heardB.changes),
        range(start + 1, final),
        "B heard each version once, in order",
      );
      assert.deepEqual(
        heardB.changes.flatMap((c) => c.upserts.map((d) => d.id)).sort(),
        present.map((d) => d.id).sort(),
      );
    });
  });

  describe("connections", () => {
    it("works through Redis Sentinel", async () => {
      const sentinel = await RedisSentinel.start(shared);
      cleanups.push(() => sentinel.dispose());
      const prefix = freshPrefix("sentinel");
      const viaSentinel = new RedisStore({
        connection: {
          topology: RedisTopology.Sentinel,
          sentinels: [{ host: sentinel.host, port: sentinel.port }],
          masterName: sentinel.masterName,
        },
        prefix,
        // Only PUBLISH can deliver the change in time.
        pollIntervalMs: 60_000,
      });
      stores.push(viaSentinel);
      const direct = storeAt(shared.url, { prefix });
      const heard = record(viaSentinel);
      await viaSentinel.ready();
      const d = await direct.create(makeDistribution());
      assert.deepEqual(await viaSentinel.get(d.id), d);
      await eventually(() => heard.changes.length === 1, 5000, "the change relayed");
      const e = await viaSentinel.create(makeDistribution());
      assert.deepEqual(await direct.get(e.id), e);
    });

    it("relays changes between replicas on a Redis Cluster", async () => {
      const server = await serverForTest({ cluster: true });
      const connection: RedisConnectionOptions = {
        topology: RedisTopology.Cluster,
        startupNodes: [{ host: server.host, port: server.port }],
      };
      // Only PUBLISH can deliver the changes in time.
      const a = new RedisStore({ connection, prefix: "cluster:", pollIntervalMs: 60_000 });
      const b = new RedisStore({ connection, prefix: "cluster:", pollIntervalMs: 60_000 });
      stores.push(a, b);
      const heardB = record(b);
      await Promise.all([a.ready(), b.ready()]);
      const d = await a.create(makeDistribution());
      const u = await a.update(d.id, { comment: "x" });
      await eventually(() => heardB.changes.length === 2, 3000, "B to hear both changes");
      assert.deepEqual(versions(heardB.changes), [d.configVersion, u.configVersion]);
    });

    it("parses Redis locations", () => {
      assert.deepEqual(parseRedisUrl("redis://:secret@10.0.0.5:6380/2"), {
        topology: "single",
        url: "redis://:secret@10.0.0.5:6380/2",
      });
      assert.deepEqual(
        parseRedisUrl("redis-sentinel://user:p%40ss@s1:26379,[::1]:26380/mymaster?db=3&sentinelPassword=sp"),
        {
          topology: "sentinel",
          sentinels: [
            { host: "s1", port: 26379 },
            { host: "::1", port: 26380 },
          ],
          masterName: "mymaster",
          username: "user",
          password: "p@ss",
          db: 3,
          sentinelPassword: "sp",
        },
      );
      assert.deepEqual(parseRedisUrl("redis-cluster://c1:7000,c2:7001?tls=1"), {
        topology: "cluster",
        startupNodes: [
          { host: "c1", port: 7000 },
          { host: "c2", port: 7001 },
        ],
        tls: true,
      });
      for (const bad of [
        "http://x:1",
        "redis-sentinel://s1:26379",
        "redis-sentinel://s1/m",
        "redis-cluster://c1:99999",
        "redis-cluster://c1:7000/path",
        "redis-sentinel://s1:1/m?db=x",
      ]) {
        assert.throws(() => parseRedisUrl(bad), RedisUrlError, bad);
      }
    });

    it("refuses a prefix with braces, which would break the hash tag", () => {
      assert.throws(() => new RedisStore({ connection: single(shared.url), prefix: "a{b}:" }), RangeError);
    });

    it("rejects calls with ControllerError only, never raw ioredis errors", async () => {
      const store = storeAt("redis://127.0.0.1:1", { ...fast, connectWaitMs: 0 });
      const error = await store.version().catch((e: unknown) => e);
      assert.ok(error instanceof ControllerError);
      assert.equal(error.code, ControllerErrorCode.StoreUnavailable);
    });
  });
});
