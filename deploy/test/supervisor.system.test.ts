import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { after, describe, test } from "node:test";
import { probePackets } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { type ClusterEvent, type ComponentName, LocalCluster } from "../local/cluster.js";
import { RestartPolicy } from "../local/restart-policy.js";

/**
 * Issue 9 item 7: `npm start` restarts a component that dies, says so,
 * backs off, and gives up on one that keeps dying. The schedule is pure and
 * tested on numbers; the restarts are tested on real processes killed with
 * SIGKILL, played through with ffprobe before and after.
 */
describe("RestartPolicy", () => {
  test("backs off exponentially from baseDelayMs, capped at maxDelayMs", () => {
    const policy = new RestartPolicy({
      baseDelayMs: 500,
      maxDelayMs: 3000,
      maxRestarts: 10,
      windowMs: 60_000,
    });
    const delays = [0, 1, 2, 3, 4].map((i) => {
      const d = policy.died(i * 10);
      assert.equal(d.action, "restart");
      return d.action === "restart" ? [d.delayMs, d.attempt] : [];
    });
    assert.deepEqual(delays, [
      [500, 1],
      [1000, 2],
      [2000, 3],
      [3000, 4],
      [3000, 5],
    ]);
  });

  test("gives up after more than maxRestarts deaths within the window", () => {
    const policy = new RestartPolicy({ baseDelayMs: 1, maxRestarts: 2, windowMs: 1000 });
    assert.equal(policy.died(0).action, "restart");
    assert.equal(policy.died(100).action, "restart");
    assert.deepEqual(policy.died(200), { action: "give-up", deaths: 3, windowMs: 1000 });
  });

  test("deaths older than the window are forgotten: a component that dies once a day is always restarted", () => {
    const policy = new RestartPolicy({ baseDelayMs: 100, maxRestarts: 1, windowMs: 1000 });
    for (let day = 0; day < 5; day++) {
      const decision = policy.died(day * 86_400_000);
      assert.deepEqual(decision, { action: "restart", delayMs: 100, attempt: 1 });
    }
  });
});

const clusters: LocalCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.stop();
});

function startCluster(restart: { baseDelayMs: number; maxRestarts: number }) {
  const events: ClusterEvent[] = [];
  const waiters: { match: (e: ClusterEvent) => boolean; resolve: (e: ClusterEvent) => void }[] = [];
  const cluster = new LocalCluster({
    mediaDir: fromRepoRoot("deploy", "local", "media"),
    host: "localhost",
    rtmpPort: 0,
    httpPort: -1,
    apiPort: 0,
    bucket: "supervised",
    logLevel: "silent",
    stdio: "ignore",
    restart: { ...restart, windowMs: 600_000 },
    onEvent: (event) => {
      events.push(event);
      for (const w of waiters.splice(0)) {
        if (w.match(event)) w.resolve(event);
        else waiters.push(w);
      }
    },
  });
  clusters.push(cluster);
  const next = (type: ClusterEvent["type"], component: ComponentName) =>
    new Promise<ClusterEvent>((resolve) =>
      waiters.push({ match: (e) => e.type === type && e.component === component, resolve }),
    );
  return { cluster, events, next };
}

test("a component killed with SIGKILL is restarted on its ports, with a line saying so, and plays go on", async () => {
  const { cluster, events, next } = startCluster({ baseDelayMs: 50, maxRestarts: 5 });
  await cluster.start();
  const url = cluster.objects.find((o) => o.key === "videos/sample.flv")!.url;
  const reference = await probePackets(url);
  assert.ok(reference.length > 100, "the sample plays before any kill");

  for (const component of ["edge", "shield", "controller"] as const) {
    const before = cluster[component].child.pid;
    const restarted = next("restarted", component);
    cluster[component].child.kill("SIGKILL");
    const event = await restarted;
    assert.equal(event.type, "restarted");
    assert.notEqual(cluster[component].child.pid, before, `${component}: a new process`);
    const exited = events.find((e) => e.type === "exited" && e.component === component);
    assert.deepEqual(exited, {
      type: "exited",
      component,
      code: null,
      signal: "SIGKILL",
      restartInMs: 50,
      attempt: 1,
    });
    // The same URL (the edge's port was pinned) plays the same packets: the edge found the
    // restarted shield at its old address, and the restarted controller's config.
    const after = await waitForPlay(url, reference.length);
    assert.deepEqual(after, reference, `${component}: the play after the restart`);
  }
  assert.equal(events.filter((e) => e.type === "gave-up").length, 0);
});

test("a component that cannot come back (its port taken meanwhile) is retried with backoff, then given up on", async () => {
  const { cluster, events, next } = startCluster({ baseDelayMs: 200, maxRestarts: 2 });
  await cluster.start();
  const port = cluster.rtmpPort;
  const squatter = createServer();
  const exited = next("exited", "edge");
  const gaveUp = next("gave-up", "edge");
  cluster.edge.child.kill("SIGKILL");
  await exited;
  // The edge's port is free between its death and its restart (200 ms later): another program takes it.
  squatter.listen(port, "127.0.0.1");
  await once(squatter, "listening");
  try {
    const event = await gaveUp;
    assert.deepEqual(event, { type: "gave-up", component: "edge", deaths: 3, windowMs: 600_000 });
    const failures = events.filter((e) => e.type === "restart-failed");
    assert.equal(failures.length, 2, JSON.stringify(events));
    for (const failure of failures) {
      assert.ok(failure.type === "restart-failed");
      assert.match(failure.message, new RegExp(`edge: port ${port} is already in use`));
      assert.match(failure.message, /--rtmp-port, STREAMFRONT_EDGE_RTMP_PORT/);
    }
    assert.deepEqual(
      events.filter((e) => e.type === "exited").map((e) => (e.type === "exited" ? e.restartInMs : 0)),
      [200, 400],
      "each retry waits twice as long",
    );
  } finally {
    squatter.close();
  }
});

/** ffprobe of the URL, retried while the restarted component finds its peers (each try is a real play). */
async function waitForPlay(url: string, expected: number) {
  let last: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const packets = await probePackets(url, 30_000);
      if (packets.length >= expected) return packets;
      last = new Error(`${packets.length} packets of ${expected}`);
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw last;
}
