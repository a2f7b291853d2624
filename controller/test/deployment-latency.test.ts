import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeploymentTracker } from "../src/deployment.js";
import { DeploymentLatency } from "../src/deployment-latency.js";
import { WatcherRole } from "../src/store/distribution-store.js";
import { MemoryStore } from "../src/store/memory-store.js";

/** A manual clock (milliseconds), so the observed seconds are exact. */
function manualClock() {
  let nowMs = 1_000;
  return { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
}

function setup() {
  const store = new MemoryStore({ initialVersion: 0 });
  const deployment = new DeploymentTracker({ store, cacheMs: 0 });
  const clock = manualClock();
  const observed: number[] = [];
  // pollMs far away: each test drives check() itself instead of waiting for the poll.
  const latency = new DeploymentLatency({
    deployment,
    observe: (s) => observed.push(s),
    now: clock.now,
    pollMs: 3_600_000,
  });
  return { store, latency, clock, observed };
}

describe("DeploymentLatency: InProgress → Deployed, timed once by the replica that stored the change", () => {
  it("observes a change when the last live edge applied its version, not before", async () => {
    const { store, latency, clock, observed } = setup();
    await store.heartbeat("edge-1", WatcherRole.Edge, 4, 60_000);
    await store.heartbeat("edge-2", WatcherRole.Edge, 5, 60_000);
    latency.changed("E1", 5);
    clock.advance(1_500);
    await latency.check();
    assert.deepEqual(observed, [], "edge-1 is still on version 4");
    assert.equal(latency.pending, 1);
    await store.heartbeat("edge-1", WatcherRole.Edge, 5, 60_000);
    clock.advance(500);
    await latency.check();
    assert.deepEqual(observed, [2]);
    assert.equal(latency.pending, 0);
    await latency.check();
    assert.deepEqual(observed, [2], "observed once");
    latency.close();
  });

  it("a change made again while InProgress keeps its first start and waits for the newest version", async () => {
    const { store, latency, clock, observed } = setup();
    await store.heartbeat("edge-1", WatcherRole.Edge, 1, 60_000);
    latency.changed("E1", 2);
    clock.advance(1_000);
    latency.changed("E1", 3);
    await store.heartbeat("edge-1", WatcherRole.Edge, 2, 60_000);
    await latency.check();
    assert.deepEqual(observed, [], "version 3 is not applied yet");
    clock.advance(3_000);
    await store.heartbeat("edge-1", WatcherRole.Edge, 3, 60_000);
    await latency.check();
    assert.deepEqual(observed, [4]);
    latency.close();
  });

  it("forgets a deleted distribution; shields do not hold a deployment back", async () => {
    const { store, latency, clock, observed } = setup();
    await store.heartbeat("edge-1", WatcherRole.Edge, 1, 60_000);
    await store.heartbeat("shield-1", WatcherRole.Shield, 0, 60_000);
    latency.changed("E1", 2);
    latency.changed("E2", 2);
    latency.deleted("E1");
    clock.advance(250);
    await store.heartbeat("edge-1", WatcherRole.Edge, 2, 60_000);
    await latency.check();
    assert.deepEqual(observed, [0.25], "E2 only");
    latency.close();
  });
});
