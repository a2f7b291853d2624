import { ConfigWatcher } from "../../../lib/config-watcher.js";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import { createLogger } from "../../../lib/log.js";
import { testTls } from "../../../lib/testing/tls.js";
import { sleep } from "./distributions.js";

/**
 * `count` simulated edges: real ConfigWatcher gRPC streams in this process
 * that apply and acknowledge every version, so a distribution is Deployed
 * only once all of them have it. Resolves once every one is in sync.
 */
export async function startSimulatedEdges(address: string, count: number): Promise<ConfigWatcher[]> {
  const logger = createLogger({ component: "bench", level: "error" });
  const watchers: ConfigWatcher[] = [];
  // One edge certificate for every simulated edge: the controller checks the role, not which edge.
  const tls = testTls(PeerRole.Edge);
  for (let i = 0; i < count; i++) {
    const watcher = new ConfigWatcher({ address, nodeId: `bench-edge-${i}`, role: "edge", tls, logger });
    watchers.push(watcher);
    watcher.start();
  }
  const syncedBy = Date.now() + 30_000;
  while (!watchers.every((w) => w.isSynced())) {
    if (Date.now() > syncedBy) {
      for (const w of watchers) w.stop();
      throw new Error("the simulated edges did not sync within 30 s");
    }
    await sleep(20);
  }
  return watchers;
}
