import { fileURLToPath } from "node:url";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { generateDevelopmentKeyPair } from "../../controller/src/api/auth/access-keys.js";
import type { ConfigWatcher } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { launchComponent } from "../../lib/process/launcher.js";
import { RedisServer } from "../../lib/testing/redis-server.js";
import { testTlsEnv } from "../../lib/testing/tls.js";
import { measureApiThroughput } from "./controller/api-throughput.js";
import { measureCreateToDeployed } from "./controller/create-to-deployed.js";
import { parseControllerBenchOptions } from "./controller/options.js";
import { startSimulatedEdges } from "./controller/simulated-edges.js";
import { BenchLifecycle, livePid } from "./harness/lifecycle.js";
import { log, writeResults } from "./harness/results.js";
import { fixed, median, percentile, table } from "./harness/stats.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * `npm run bench:controller`: the controller process (on a real Redis by
 * default, else its embedded store) with many simulated edges
 * (controller/simulated-edges.ts), measured through the official CloudFront
 * client:
 * - Create → Deployed latency, p50 and p99 over --creates distributions
 *   (controller/create-to-deployed.ts);
 * - API throughput of GetStreamingDistribution and of Create/Update mixed,
 *   with --concurrency requests in flight for --seconds each
 *   (controller/api-throughput.ts).
 * Loopback only; bounded in count and time.
 */

const Target = { createToDeployedP99Ms: 1000 } as const;

const lifecycle = new BenchLifecycle();

async function main(): Promise<number> {
  const options = parseControllerBenchOptions(process.argv.slice(2));
  const keys = generateDevelopmentKeyPair();
  const redis = options.store === "redis" ? await RedisServer.start() : null;
  if (redis) lifecycle.own({ stop: () => redis.dispose(), livePids: () => (redis.pid ? [redis.pid] : []) });
  let watchers: ConfigWatcher[] = [];
  try {
    const controller = await launchComponent(
      fileURLToPath(new URL("../../controller/src/main.js", import.meta.url)),
      {
        env: {
          STREAMFRONT_CONTROLLER_HOST: "127.0.0.1",
          ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
          STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
          STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
          STREAMFRONT_CONTROLLER_API_PORT: "0",
          STREAMFRONT_CONTROLLER_API_ACCESS_KEYS: `${keys.accessKeyId}:${keys.secretAccessKey}`,
          STREAMFRONT_CONTROLLER_REDIS_URL: redis?.url ?? "",
          STREAMFRONT_CONTROLLER_MAX_DISTRIBUTIONS: "1000000",
          STREAMFRONT_CONTROLLER_LOG_LEVEL: "warn",
        },
        stdio: "inherit",
      },
    );
    lifecycle.own({
      stop: async () => {
        await controller.stop();
      },
      livePids: () => livePid(controller.child),
    });
    const grpc = controller.addresses.grpc!;
    const client = new CloudFrontClient({
      endpoint: `http://${controller.addresses.api}`,
      region: "us-east-1",
      credentials: keys,
      maxAttempts: 1,
    });
    watchers = await startSimulatedEdges(grpc, options.edges);
    log(`${options.edges} simulated edges watching ${grpc} (store: ${options.store})`);

    const { deployMs, cpuS: deployCpuS } = await measureCreateToDeployed(
      client,
      controller.child.pid!,
      options.creates,
    );
    log(
      `create → deployed: p50 ${fixed(percentile(deployMs, 50), 1)} ms, p99 ${fixed(percentile(deployMs, 99), 1)} ms`,
    );
    const { get: gets, createUpdate: writes } = await measureApiThroughput(
      client,
      options.concurrency,
      options.seconds,
    );

    const p99 = percentile(deployMs, 99);
    const result = {
      options,
      createToDeployedMs: {
        p50: percentile(deployMs, 50),
        p99,
        median: median(deployMs),
        max: Math.max(...deployMs),
      },
      controllerCpuMsPerCreate: (deployCpuS * 1000) / options.creates,
      get: gets,
      createUpdate: writes,
      target: {
        createToDeployedP99Ms: Target.createToDeployedP99Ms,
        met: p99 < Target.createToDeployedP99Ms,
      },
    };
    process.stdout.write(
      `\nstreamfront controller — ${options.edges} simulated edges, store ${options.store}, ` +
        `${options.concurrency} requests in flight\n${table(
          ["measure", "p50", "p99", "rate"],
          [
            ["Create → Deployed (ms)", fixed(result.createToDeployedMs.p50, 1), fixed(p99, 1), "-"],
            [
              "GetStreamingDistribution (ms)",
              fixed(gets.p50Ms, 1),
              fixed(gets.p99Ms, 1),
              `${fixed(gets.perSecond, 0)}/s`,
            ],
            [
              "Create/Update (ms)",
              fixed(writes.p50Ms, 1),
              fixed(writes.p99Ms, 1),
              `${fixed(writes.perSecond, 0)}/s`,
            ],
          ],
        )}\n  Create → Deployed p99 ${fixed(p99, 1)} ms (target < ${Target.createToDeployedP99Ms} ms: ${
          result.target.met ? "met" : "NOT met"
        }); controller CPU ${fixed(result.controllerCpuMsPerCreate, 2)} ms per create with ${options.edges} watchers.\n`,
    );
    if (options.out) writeResults(options.out, result);
    return 0;
  } finally {
    for (const w of watchers) w.stop();
    await lifecycle.cleanup();
  }
}

lifecycle.run(main, { stack: true });
