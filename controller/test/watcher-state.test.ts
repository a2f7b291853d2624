import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigWatcher, parseState } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTls } from "../../lib/testing/tls.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { eventually, silentLogger, startTestController } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "streamfront-watcher-state-"));
const watchers: ConfigWatcher[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const w of watchers) w.stop();
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

describe("ConfigWatcher state file and heartbeats", () => {
  it("keeps the applied config in its state file, and a restarted watcher serves it with the controller down", async () => {
    const store = new MemoryStore({ initialVersion: 0 });
    const controller = await startTestController({ store });
    closers.push(() => controller.server.close(200));
    const a = await controller.server.createDistribution({
      originBucket: "media-bucket",
      cnames: ["a.example.com"],
    });
    const file = join(dir, "edge-1.json");
    const first = new ConfigWatcher({
      address: controller.address,
      nodeId: "edge-1",
      role: "edge",
      tls: testTls(PeerRole.Edge),
      logger: silentLogger(),
      stateFile: file,
    });
    watchers.push(first);
    first.start();
    await eventually(() => first.isSynced() && first.current().has(a.id));
    await first.flushState();
    const saved = parseState(readFileSync(file, "utf8"));
    assert.equal(saved?.version, first.version);
    assert.deepEqual(saved?.distributions.get(a.id)?.cnames, ["a.example.com"]);
    first.stop();
    await controller.server.close(200);

    // A new process on the same file, and no controller to answer (port 1 refuses).
    const restarted = new ConfigWatcher({
      address: "127.0.0.1:1",
      nodeId: "edge-1",
      role: "edge",
      tls: testTls(PeerRole.Edge),
      logger: silentLogger(),
      stateFile: file,
      initialBackoffMs: 50,
      maxBackoffMs: 100,
    });
    watchers.push(restarted);
    const seen: number[] = [];
    restarted.onChange((table) => seen.push(table.distributions.size));
    restarted.start();
    assert.equal(restarted.isSynced(), true, "synced from the file at once");
    assert.ok(restarted.current().has(a.id), "serves the last applied config");
    assert.equal(restarted.version, saved?.version);
    assert.deepEqual(seen, [1], "listeners hear of the loaded table");
  });

  it("ignores a malformed or foreign state file and starts empty", () => {
    for (const [name, text] of [
      ["garbage.json", "{not json"],
      ["foreign.json", JSON.stringify({ format: "other", version: 3, distributions: [] })],
      [
        "bad-entry.json",
        JSON.stringify({ format: "streamfront-config/1", version: 3, distributions: [{ id: 7 }] }),
      ],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const watcher = new ConfigWatcher({
        address: "127.0.0.1:1",
        nodeId: "edge-2",
        role: "edge",
        tls: testTls(PeerRole.Edge),
        logger: silentLogger(),
        stateFile: file,
      });
      watchers.push(watcher);
      watcher.start();
      assert.equal(watcher.isSynced(), false, name);
      assert.equal(watcher.current().size, 0, name);
      watcher.stop();
    }
  });

  it("re-acknowledges its version every heartbeatMs, which keeps it live in the store", async () => {
    const store = new MemoryStore({ initialVersion: 0 });
    const controller = await startTestController({
      store,
      env: { STREAMFRONT_CONTROLLER_WATCHER_TTL_MS: "1000" },
    });
    closers.push(() => controller.server.close(200));
    await controller.server.createDistribution({ originBucket: "media-bucket" });
    const watcher = new ConfigWatcher({
      address: controller.address,
      nodeId: "edge-hb",
      role: "edge",
      tls: testTls(PeerRole.Edge),
      logger: silentLogger(),
      heartbeatMs: 100,
    });
    watchers.push(watcher);
    watcher.start();
    await eventually(async () => (await store.liveWatchers()).some((w) => w.nodeId === "edge-hb"));
    const firstExpiry = (await store.liveWatchers()).find((w) => w.nodeId === "edge-hb")!.expiresAtMs;
    await eventually(
      async () =>
        ((await store.liveWatchers()).find((w) => w.nodeId === "edge-hb")?.expiresAtMs ?? 0) > firstExpiry,
      3_000,
      "a later heartbeat to push the expiry out",
    );
    const live = (await store.liveWatchers()).find((w) => w.nodeId === "edge-hb")!;
    assert.equal(live.role, "edge");
    assert.equal(live.appliedVersion, await store.version());
    watcher.stop();
    // The stream closed cleanly: the controller drops the node at once.
    await eventually(async () => !(await store.liveWatchers()).some((w) => w.nodeId === "edge-hb"), 3_000);
  });
});
