import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { applyUpdate, ConfigWatcher, emptyConfigTable, parseState } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTls } from "../../lib/testing/tls.js";
import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";
import type { ControllerServer } from "../src/controller-server.js";
import { newDistribution } from "../src/distribution.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { delay, eventually, silentLogger, startTestController } from "./helpers.js";

function wire(id: string, bucket = "media-bucket"): Distribution {
  return {
    id,
    domainName: `${id.toLowerCase()}.test`,
    cnames: [],
    originBucket: bucket,
    enabled: true,
    kind: 1,
    trustedSigners: undefined,
    logging: undefined,
  };
}

describe("applyUpdate", () => {
  it("replaces the table with a snapshot", () => {
    const t1 = applyUpdate(emptyConfigTable, {
      version: 5,
      snapshot: true,
      upserts: [wire("EA"), wire("EB")],
      publicKeyUpserts: [],
      removedPublicKeyIds: [],
      removedIds: [],
    });
    assert.equal(t1.version, 5);
    assert.deepEqual([...t1.distributions.keys()], ["EA", "EB"]);
    const t2 = applyUpdate(t1, {
      version: 3,
      snapshot: true,
      upserts: [wire("EC")],
      publicKeyUpserts: [],
      removedPublicKeyIds: [],
      removedIds: [],
    });
    assert.equal(t2.version, 3, "a snapshot wins even at a lower version (a new controller run)");
    assert.deepEqual([...t2.distributions.keys()], ["EC"]);
  });

  it("applies upserts and removals of an incremental update without touching the input", () => {
    const t1 = applyUpdate(emptyConfigTable, {
      version: 1,
      snapshot: true,
      upserts: [wire("EA"), wire("EB")],
      publicKeyUpserts: [],
      removedPublicKeyIds: [],
      removedIds: [],
    });
    const t2 = applyUpdate(t1, {
      version: 2,
      snapshot: false,
      upserts: [wire("EA", "new-bucket"), wire("EC")],
      publicKeyUpserts: [],
      removedPublicKeyIds: [],
      removedIds: ["EB"],
    });
    assert.equal(t2.version, 2);
    assert.deepEqual([...t2.distributions.keys()].sort(), ["EA", "EC"]);
    assert.equal(t2.distributions.get("EA")?.originBucket, "new-bucket");
    assert.equal(t1.distributions.get("EA")?.originBucket, "media-bucket");
    assert.ok(t1.distributions.has("EB"));
    assert.ok(Object.isFrozen(t2.distributions.get("EA")));
  });

  it("ignores a stale incremental update", () => {
    const t1 = applyUpdate(emptyConfigTable, {
      version: 7,
      snapshot: true,
      upserts: [wire("EA")],
      publicKeyUpserts: [],
      removedPublicKeyIds: [],
      removedIds: [],
    });
    assert.equal(
      applyUpdate(t1, {
        version: 7,
        snapshot: false,
        upserts: [],
        publicKeyUpserts: [],
        removedPublicKeyIds: [],
        removedIds: ["EA"],
      }),
      t1,
    );
    assert.equal(
      applyUpdate(t1, {
        version: 6,
        snapshot: false,
        upserts: [wire("EZ")],
        publicKeyUpserts: [],
        removedPublicKeyIds: [],
        removedIds: [],
      }),
      t1,
    );
  });
});

describe("applyUpdate: public keys and a distribution's signers and logging", () => {
  const key = (id: string, account = "123456789012") => ({
    id,
    accountId: account,
    encodedKey: `PEM of ${id}`,
  });

  it("a snapshot replaces the keys; an incremental update upserts and removes them", () => {
    const t1 = applyUpdate(emptyConfigTable, {
      version: 1,
      snapshot: true,
      upserts: [],
      removedIds: [],
      publicKeyUpserts: [key("KA"), key("KB")],
      removedPublicKeyIds: [],
    });
    assert.deepEqual([...t1.publicKeys.keys()], ["KA", "KB"]);
    const t2 = applyUpdate(t1, {
      version: 2,
      snapshot: false,
      upserts: [],
      removedIds: [],
      publicKeyUpserts: [key("KC", "210987654321")],
      removedPublicKeyIds: ["KA"],
    });
    assert.deepEqual([...t2.publicKeys.keys()].sort(), ["KB", "KC"]);
    assert.equal(t2.publicKeys.get("KC")?.accountId, "210987654321");
    assert.ok(t1.publicKeys.has("KA"), "the previous table is untouched");
    const t3 = applyUpdate(t2, {
      version: 3,
      snapshot: true,
      upserts: [],
      removedIds: [],
      publicKeyUpserts: [key("KD")],
      removedPublicKeyIds: [],
    });
    assert.deepEqual([...t3.publicKeys.keys()], ["KD"], "keys not in a snapshot are dropped");
  });

  it("a distribution without TrustedSigners or Logging is public and unlogged; given ones are kept frozen", () => {
    const t = applyUpdate(emptyConfigTable, {
      version: 1,
      snapshot: true,
      upserts: [
        wire("EA"),
        {
          ...wire("EB"),
          trustedSigners: { enabled: true, accountIds: ["123456789012"] },
          logging: { enabled: true, bucket: "logs.s3.amazonaws.com", prefix: "rtmp/" },
        },
      ],
      removedIds: [],
      publicKeyUpserts: [],
      removedPublicKeyIds: [],
    });
    assert.deepEqual(t.distributions.get("EA")?.trustedSigners, { enabled: false, accountIds: [] });
    assert.deepEqual(t.distributions.get("EA")?.logging, { enabled: false, bucket: "", prefix: "" });
    const b = t.distributions.get("EB");
    assert.deepEqual(b?.trustedSigners, { enabled: true, accountIds: ["123456789012"] });
    assert.equal(b?.logging?.prefix, "rtmp/");
    assert.ok(Object.isFrozen(b?.trustedSigners) && Object.isFrozen(b?.trustedSigners?.accountIds));
  });

  it("the state file keeps keys, signers and logging; a file from before keys existed still loads", () => {
    const table = applyUpdate(emptyConfigTable, {
      version: 4,
      snapshot: true,
      upserts: [
        {
          ...wire("EB"),
          trustedSigners: { enabled: true, accountIds: ["123456789012"] },
          logging: undefined,
        },
      ],
      removedIds: [],
      publicKeyUpserts: [key("KA")],
      removedPublicKeyIds: [],
    });
    const text = JSON.stringify({
      format: "streamfront-config/1",
      version: table.version,
      distributions: [...table.distributions.values()],
      publicKeys: [...table.publicKeys.values()],
    });
    const loaded = parseState(text);
    assert.deepEqual(loaded?.publicKeys.get("KA"), key("KA"));
    assert.deepEqual(loaded?.distributions.get("EB")?.trustedSigners, {
      enabled: true,
      accountIds: ["123456789012"],
    });
    const old = parseState(
      JSON.stringify({ format: "streamfront-config/1", version: 2, distributions: [wire("EA")] }),
    );
    assert.equal(old?.publicKeys.size, 0);
    assert.equal(old?.distributions.get("EA")?.trustedSigners?.enabled, false);
    const bad = JSON.stringify({
      format: "streamfront-config/1",
      version: 2,
      distributions: [],
      publicKeys: [{ id: 1 }],
    });
    assert.equal(parseState(bad), null);
  });
});

describe("ConfigWatcher against a real controller", () => {
  const servers: ControllerServer[] = [];
  const watchers: ConfigWatcher[] = [];
  after(async () => {
    for (const w of watchers) w.stop();
    for (const s of servers) await s.close(500);
  });

  it("syncs, follows changes, acknowledges them", async () => {
    const { server, address } = await startTestController();
    servers.push(server);
    const a = await server.createDistribution({ originBucket: "media-bucket", cnames: ["live.example.com"] });
    const watcher = new ConfigWatcher({
      address,
      nodeId: "edge-a",
      role: "edge",
      tls: testTls(PeerRole.Edge),
      logger: silentLogger(),
    });
    watchers.push(watcher);
    const changes: number[] = [];
    watcher.onChange((table) => changes.push(table.version));
    assert.equal(watcher.isSynced(), false);
    watcher.start();
    await eventually(() => watcher.isSynced(), 5_000, "the first snapshot");
    assert.deepEqual(watcher.current().get(a.id)?.cnames, ["live.example.com"]);

    await server.store.update(a.id, { enabled: false });
    const b = await server.createDistribution({ originBucket: "other-bucket" });
    const version = await server.store.version();
    await eventually(() => watcher.version === version, 5_000, "the changes");
    assert.equal(watcher.current().get(a.id)?.enabled, false);
    assert.ok(watcher.current().has(b.id));
    assert.equal(changes.length, 3);
    await eventually(
      () => server.configService.node("edge-a")?.lastAckedVersion === version,
      5_000,
      "the acks",
    );
  });

  it("keeps its config while the controller is down and resumes when it is back", async () => {
    const store = new MemoryStore({ initialVersion: 0 });
    const first = await startTestController({ store });
    const port = Number(first.address.split(":").at(-1));
    const a = await first.server.createDistribution({ originBucket: "media-bucket" });
    const watcher = new ConfigWatcher({
      address: first.address,
      nodeId: "shield-a",
      role: "shield",
      tls: testTls(PeerRole.Shield),
      logger: silentLogger(),
      initialBackoffMs: 20,
      maxBackoffMs: 200,
    });
    watchers.push(watcher);
    const updates: Array<[number, boolean]> = [];
    watcher.onChange((table, update) => updates.push([table.version, update.snapshot]));
    watcher.start();
    await eventually(() => watcher.isSynced());

    await first.server.close(200);
    await eventually(() => !watcher.isConnected(), 5_000, "the watcher to notice");
    assert.ok(watcher.current().has(a.id), "still serving the last config");
    assert.equal(watcher.isSynced(), true);

    // Changes made while the watcher is away, then the controller returns
    // on the same address with the same store.
    const b = await store.create(
      newDistribution({ originBucket: "media-bucket" }, { baseDomain: "streamfront.local", now: Date.now() }),
    );
    await delay(50);
    const second = await startTestController({ store, port });
    servers.push(second.server);
    await eventually(() => watcher.version === 2, 10_000, "the resume");
    assert.ok(watcher.current().has(b.id));
    assert.deepEqual(updates, [
      [1, true],
      [2, false],
    ]);
    await eventually(
      () => second.server.configService.node("shield-a")?.lastAckedVersion === 2,
      5_000,
      "the ack",
    );
  });
});
