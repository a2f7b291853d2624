import { AdminServer } from "../../lib/admin-server.js";
import { checkInternalTls } from "../../lib/grpc/internal-tls.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createLogger } from "../../lib/log.js";
import { createRegistry } from "../../lib/metrics/registry.js";
import { runComponent } from "../../lib/process/run-component.js";
import { createS3Client } from "../../lib/s3-client.js";
import { startTraceLog } from "../../lib/trace/trace-log.js";
import { loadShieldConfig, shieldSettings } from "./config.js";
import { ShieldServer } from "./shield-server.js";

await runComponent(
  "shield",
  async () => {
    const config = loadShieldConfig({ env: process.env, argv: process.argv.slice(2) });
    const logger = createLogger({ component: "shield", level: config.logLevel });
    // STREAMFRONT_*_TRACE: the named tracers' events as log lines; none subscribed otherwise.
    const stopTraceLog = startTraceLog(logger, config.trace);
    const registry = createRegistry("shield");
    const s3Client = createS3Client({
      endpoint: config.s3Endpoint,
      region: config.s3Region,
      forcePathStyle: config.s3ForcePathStyle,
      accessKeyId: config.s3AccessKeyId,
      secretAccessKey: config.s3SecretAccessKey,
    });
    const shield = new ShieldServer({ config, logger, registry, s3Client });
    const admin = new AdminServer({
      host: config.adminHost,
      port: config.adminPort,
      portSetting: shieldSettings.adminPort,
      registry,
      logger,
      isReady: () => shield.isReady(),
    });
    const close = async () => {
      await admin.close();
      await shield.close();
      s3Client.destroy();
      stopTraceLog();
      logger.flush();
    };
    try {
      const grpc = await shield.start();
      const adminAddress = await admin.listen();
      const addresses = { grpc, admin: `${adminAddress.address}:${adminAddress.port}` };
      logger.info(
        {
          addresses,
          s3Endpoint: config.s3Endpoint || "aws",
          controller: config.controller || null,
          allowedBuckets: config.allowedBuckets,
          cache: shield.cache
            ? {
                sliceBytes: config.cacheSliceBytes,
                memoryBytes: config.cacheMemoryBytes,
                diskDir: config.cacheDiskDir || null,
                diskBytes: config.cacheDiskDir ? config.cacheDiskBytes : 0,
              }
            : null,
        },
        "listening",
      );
      return { addresses, close };
    } catch (error) {
      await close();
      throw error;
    }
  },
  shieldSettings,
  // --check-config: the settings and the internal TLS files, as ShieldServer reads them at start.
  (sources) => {
    const config = loadShieldConfig(sources);
    checkInternalTls(config, PeerRole.Shield);
    return config;
  },
);
