import { hostname } from "node:os";
import { AdminServer } from "../../lib/admin-server.js";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { createLogger } from "../../lib/log.js";
import { createRegistry } from "../../lib/metrics/registry.js";
import { formatAddress } from "../../lib/net/listen.js";
import { runComponent } from "../../lib/process/run-component.js";
import { loadEdgeConfig } from "./config.js";
import { EdgeServer } from "./edge-server.js";
import { ShieldOrigin } from "./origin/shield-origin.js";
import { SliceCache } from "./origin/slice-cache.js";

/** Runs one edge pod: viewers in on RTMP, objects from the shield, config from the controller. */
await runComponent("edge", async () => {
  const config = loadEdgeConfig(process.env, process.argv.slice(2));
  const logger = createLogger({ component: "edge", level: config.logLevel });
  const registry = createRegistry("edge");
  const nodeId = config.nodeId || hostname();
  const watcher = new ConfigWatcher({ address: config.controller, nodeId, role: "edge", logger });
  const cache =
    config.cacheBytes > 0
      ? new SliceCache({
          sliceBytes: config.cacheSliceBytes,
          maxBytes: Math.max(config.cacheBytes, config.cacheSliceBytes),
        })
      : undefined;
  const origin = new ShieldOrigin({ address: config.shield, logger, ...(cache ? { cache } : {}) });
  const edge = new EdgeServer({
    config,
    logger,
    registry,
    distributions: watcher,
    origin,
    ...(cache ? { cache } : {}),
  });
  const admin = new AdminServer({
    host: config.adminHost,
    port: config.adminPort,
    registry,
    logger,
    isReady: () => watcher.isSynced(),
  });
  watcher.start();
  const addresses = await edge.start();
  const adminAddress = await admin.listen();
  addresses.admin = formatAddress(adminAddress.address, adminAddress.port);
  logger.info({ addresses, nodeId }, "listening");
  return {
    addresses,
    async close() {
      await edge.close();
      watcher.stop();
      origin.close();
      await admin.close();
      logger.info("stopped");
      logger.flush();
    },
  };
});
