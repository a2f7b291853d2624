import { hostname } from "node:os";
import { AdminServer } from "../../lib/admin-server.js";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { checkInternalTls, InternalTls } from "../../lib/grpc/internal-tls.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createLogger } from "../../lib/log.js";
import { createRegistry } from "../../lib/metrics/registry.js";
import { formatAddress } from "../../lib/net/listen.js";
import { runComponent } from "../../lib/process/run-component.js";
import { startTraceLog } from "../../lib/trace/trace-log.js";
import { shieldLogDelivery } from "./access-log/shield-delivery.js";
import { edgeSettings, loadEdgeConfig } from "./config.js";
import { metadataCacheOf } from "./edge-cache/metadata-cache.js";
import { SliceCache } from "./edge-cache/slice-cache.js";
import { EdgeServer } from "./edge-server.js";
import { realScheduler } from "./session/scheduler.js";
import { ShieldObjectOpener } from "./shield-client/object-opener.js";
import { ShieldPool } from "./shield-client/shield-pool.js";

/** Runs one edge pod: viewers in on RTMP, objects from the shield, config from the controller. */
await runComponent(
  "edge",
  async () => {
    const config = loadEdgeConfig(process.env, process.argv.slice(2));
    const logger = createLogger({ component: "edge", level: config.logLevel });
    // STREAMFRONT_*_TRACE: the named tracers' events as log lines; none subscribed otherwise.
    const stopTraceLog = startTraceLog(logger, config.trace);
    const registry = createRegistry("edge");
    const nodeId = config.nodeId || hostname();
    // Before anything connects: no tls-* files (and no plaintext opt-out) stops the start here.
    const tls = InternalTls.fromConfig(config, PeerRole.Edge, logger.child({ module: "internal-tls" }));
    const watcher = new ConfigWatcher({
      address: config.controller,
      nodeId,
      role: "edge",
      tls,
      logger,
      heartbeatMs: config.controllerHeartbeatMs,
      stateFile: config.configStateFile,
    });
    const cache =
      config.cacheBytes > 0
        ? new SliceCache({
            sliceBytes: config.cacheSliceBytes,
            maxBytes: Math.max(config.cacheBytes, config.cacheSliceBytes),
          })
        : undefined;
    const metadata = metadataCacheOf(config);
    const shieldPool = new ShieldPool({
      targets: config.shield,
      logger,
      tls,
      penaltyMs: config.shieldPenaltyMs,
      dnsRefreshMs: config.shieldDnsRefreshMs,
    });
    const objects = new ShieldObjectOpener({
      pool: shieldPool,
      logger,
      idleTimeoutMs: config.shieldIdleTimeoutMs,
      ...(cache ? { cache } : {}),
      ...(metadata ? { metadata } : {}),
    });
    const edge = new EdgeServer({
      config,
      logger,
      registry,
      distributions: watcher,
      objects,
      shieldPool,
      scheduler: realScheduler,
      // Edges hold no S3 credentials: access-log files reach the logging bucket through a shield (README: Access logs).
      accessLogDelivery: {
        deliver: shieldLogDelivery(shieldPool, 60_000),
        // Until the config is in, no file is given up on: the shield decides.
        isLogging: (id) => !watcher.isSynced() || watcher.current().get(id)?.logging?.enabled === true,
        nodeId,
      },
      ...(cache ? { cache } : {}),
      ...(metadata ? { metadata } : {}),
    });
    const admin = new AdminServer({
      host: config.adminHost,
      port: config.adminPort,
      portSetting: edgeSettings.adminPort,
      registry,
      logger,
      // Not ready until the controller's config is in and at least one shield replica is known (dns: names resolved).
      // Draining (after SIGTERM): not ready at once, so the load balancer sends new viewers elsewhere.
      isReady: () => !edge.draining && watcher.isSynced() && shieldPool.replicas.length > 0,
    });
    watcher.start();
    const addresses = await edge.start();
    const adminAddress = await admin.listen();
    addresses.admin = formatAddress(adminAddress.address, adminAddress.port);
    logger.info({ addresses, nodeId }, "listening");
    return {
      addresses,
      drainMs: config.drainTimeoutMs,
      drain: () => edge.drain(config.drainTimeoutMs),
      async close() {
        await edge.close();
        watcher.stop();
        objects.close();
        shieldPool.close();
        await admin.close();
        logger.info("stopped");
        stopTraceLog();
        logger.flush();
      },
    };
  },
  edgeSettings,
  // --check-config: the settings and the internal TLS files, as the start above reads them.
  ({ env, argv }) => {
    const config = loadEdgeConfig(env, argv);
    checkInternalTls(config, PeerRole.Edge);
    return config;
  },
);
