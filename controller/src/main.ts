import { AdminServer } from "../../lib/admin-server.js";
import { ConfigError } from "../../lib/config/settings.js";
import { checkInternalTls } from "../../lib/grpc/internal-tls.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createLogger, redactUrlPassword } from "../../lib/log.js";
import { createRegistry } from "../../lib/metrics/registry.js";
import { runComponent } from "../../lib/process/run-component.js";
import { resolveAccessKeys } from "./api/auth/access-keys.js";
import { controllerSettings, loadControllerConfig } from "./config.js";
import { ControllerServer } from "./controller-server.js";
import { parseRedisUrl, RedisUrlError } from "./store/redis-connection.js";

await runComponent(
  "controller",
  async () => {
    const config = loadControllerConfig({ env: process.env, argv: process.argv.slice(2) });
    const logger = createLogger({ component: "controller", level: config.logLevel });
    const registry = createRegistry("controller");
    const controller = new ControllerServer({ config, logger, registry });
    const admin = new AdminServer({
      host: config.adminHost,
      port: config.adminPort,
      portSetting: controllerSettings.adminPort,
      registry,
      logger,
      isReady: () => controller.isReady(),
    });
    const close = async () => {
      await admin.close();
      await controller.close();
      logger.flush();
    };
    try {
      const grpc = await controller.start();
      const adminAddress = await admin.listen();
      const addresses = {
        grpc,
        api: controller.apiAddress,
        admin: `${adminAddress.address}:${adminAddress.port}`,
      };
      logger.info({ addresses, baseDomain: config.baseDomain }, "listening");
      const dev = controller.developmentKeys;
      if (dev) {
        // No keys configured: this run's generated pair, shown once so the CLI can be pointed at it.
        logger.warn(
          { accessKeyId: dev.accessKeyId, secretAccessKey: dev.secretAccessKey },
          "no API access keys configured (STREAMFRONT_CONTROLLER_API_ACCESS_KEYS[_FILE]); generated a development pair for this run",
        );
      }
      return { addresses, close };
    } catch (error) {
      await close();
      throw error;
    }
  },
  controllerSettings,
  // --check-config: the settings, the internal TLS files and the API access keys, as ControllerServer reads them at start.
  (sources) => {
    const config = loadControllerConfig(sources);
    checkInternalTls(config, PeerRole.Controller);
    resolveAccessKeys(config);
    if (config.redisUrl !== "") checkRedisUrl(config.redisUrl);
    return config;
  },
);

/**
 * redis-url parsed as the store will parse it at start. RedisUrlError quotes
 * the URL whole, so here it is quoted with its password redacted, under the
 * setting's name.
 */
function checkRedisUrl(text: string): void {
  try {
    parseRedisUrl(text);
  } catch (error) {
    if (!(error instanceof RedisUrlError)) throw error;
    const { redisUrl } = controllerSettings;
    const message = error.message.replaceAll(JSON.stringify(text), JSON.stringify(redactUrlPassword(text)));
    throw new ConfigError(`invalid setting redisUrl (${redisUrl.env}, --${redisUrl.flag}): ${message}`);
  }
}
