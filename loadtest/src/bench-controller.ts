import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  CloudFrontClient,
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
  UpdateStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { generateDevelopmentKeyPair } from "../../controller/src/api/auth/access-keys.js";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createLogger } from "../../lib/log.js";
import { type LaunchedComponent, launchComponent } from "../../lib/process/launcher.js";
import { RedisServer } from "../../lib/testing/redis-server.js";
import { testTls, testTlsEnv } from "../../lib/testing/tls.js";
import { integerOption } from "./bench/options.js";
import { processCpuSeconds } from "./bench/proc-cpu.js";
import { fixed, median, percentile, table } from "./bench/stats.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * `npm run bench:controller`: the controller process (on a real Redis by
 * default, else its embedded store) with many simulated edges — real
 * ConfigWatcher gRPC streams in this process that apply and acknowledge every
 * version — measured through the official CloudFront client:
 * - Create → Deployed: time from sending CreateStreamingDistribution until
 *   GetStreamingDistribution says Deployed (every live edge applied it),
 *   polled every 5 ms; p50 and p99 over --creates distributions;
 * - API throughput of GetStreamingDistribution and of Create/Update mixed,
 *   with --concurrency requests in flight for --seconds each.
 * Loopback only; bounded in count and time.
 */
const usage = `usage: node dist/loadtest/src/bench-controller.js [options]
  --edges N          simulated edge watchers (default 100)
  --creates N        distributions timed from Create to Deployed (default 100)
  --concurrency N    API requests in flight in the throughput runs (default 16)
  --seconds S        length of each throughput run (default 5)
  --store redis|memory  the controller's store (default redis: a redis-server started for the run)
  --out FILE         also write the results as JSON`;

const Target = { createToDeployedP99Ms: 1000 } as const;

interface Options {
  edges: number;
  creates: number;
  concurrency: number;
  seconds: number;
  store: "redis" | "memory";
  out: string | null;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      edges: { type: "string" },
      creates: { type: "string" },
      concurrency: { type: "string" },
      seconds: { type: "string" },
      store: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const count = (name: string, text: string | undefined, fallback: number, max: number) =>
    integerOption(name, text, fallback, 1, max);
  const store = values.store ?? "redis";
  if (store !== "redis" && store !== "memory") throw new Error("--store must be redis or memory");
  return {
    edges: count("edges", values.edges, 100, 2000),
    creates: count("creates", values.creates, 100, 10_000),
    concurrency: count("concurrency", values.concurrency, 16, 512),
    seconds: count("seconds", values.seconds, 5, 120),
    store,
    out: values.out ?? null,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const keys = generateDevelopmentKeyPair();
  const redis = options.store === "redis" ? await RedisServer.start() : null;
  let controller: LaunchedComponent | null = null;
  const watchers: ConfigWatcher[] = [];
  try {
    controller = await launchComponent(
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
    const grpc = controller.addresses.grpc!;
    const client = new CloudFrontClient({
      endpoint: `http://${controller.addresses.api}`,
      region: "us-east-1",
      credentials: keys,
      maxAttempts: 1,
    });
    const logger = createLogger({ component: "bench", level: "error" });
    // One edge certificate for every simulated edge: the controller checks the role, not which edge.
    const edgeTls = testTls(PeerRole.Edge);
    for (let i = 0; i < options.edges; i++) {
      const watcher = new ConfigWatcher({
        address: grpc,
        nodeId: `bench-edge-${i}`,
        role: "edge",
        tls: edgeTls,
        logger,
      });
      watchers.push(watcher);
      watcher.start();
    }
    const syncedBy = Date.now() + 30_000;
    while (!watchers.every((w) => w.isSynced())) {
      if (Date.now() > syncedBy) throw new Error("the simulated edges did not sync within 30 s");
      await sleep(20);
    }
    log(`${options.edges} simulated edges watching ${grpc} (store: ${options.store})`);

    // Warm-up: JIT, connections, scripts loaded in Redis.
    for (let i = 0; i < 10; i++) await createAndWait(client, `warmup-${i}`);

    const cpuBefore = processCpuSeconds(controller.child.pid!);
    const deployMs: number[] = [];
    for (let i = 0; i < options.creates; i++) deployMs.push(await createAndWait(client, `timed-${i}`));
    const deployCpuS = processCpuSeconds(controller.child.pid!) - cpuBefore;
    log(
      `create → deployed: p50 ${fixed(percentile(deployMs, 50), 1)} ms, p99 ${fixed(percentile(deployMs, 99), 1)} ms`,
    );

    const ids = await Promise.all(
      Array.from({ length: options.concurrency }, (_, i) => create(client, `throughput-${i}`)),
    );
    const gets = await throughput(options, async (worker) => {
      await client.send(new GetStreamingDistributionCommand({ Id: ids[worker]!.id }));
    });
    log(`GetStreamingDistribution: ${fixed(gets.perSecond, 0)} req/s, p99 ${fixed(gets.p99Ms, 1)} ms`);
    const etags = ids.map((d) => d.etag);
    let creates = 0;
    const writes = await throughput(options, async (worker, n) => {
      if (n % 2 === 0) {
        await create(client, `write-${worker}-${n}-${creates++}`);
        return;
      }
      const out = await client.send(
        new UpdateStreamingDistributionCommand({
          Id: ids[worker]!.id,
          IfMatch: etags[worker]!,
          StreamingDistributionConfig: config(`throughput-${worker}`, `update ${n}`),
        }),
      );
      etags[worker] = out.ETag!;
    });
    log(`Create/Update (half each): ${fixed(writes.perSecond, 0)} req/s, p99 ${fixed(writes.p99Ms, 1)} ms`);

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
    if (options.out) writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const w of watchers) w.stop();
    await controller?.stop();
    await redis?.dispose();
  }
}

function config(reference: string, comment: string) {
  return {
    CallerReference: reference,
    S3Origin: { DomainName: "bench-media.s3.amazonaws.com", OriginAccessIdentity: "" },
    Comment: comment,
    TrustedSigners: { Enabled: false, Quantity: 0 },
    Enabled: true,
  };
}

async function create(client: CloudFrontClient, reference: string): Promise<{ id: string; etag: string }> {
  const out = await client.send(
    new CreateStreamingDistributionCommand({ StreamingDistributionConfig: config(reference, "bench") }),
  );
  return { id: out.StreamingDistribution!.Id!, etag: out.ETag! };
}

/** ms from sending Create until Get reports Deployed. */
async function createAndWait(client: CloudFrontClient, reference: string): Promise<number> {
  const started = performance.now();
  const { id } = await create(client, reference);
  const deadline = started + 30_000;
  for (;;) {
    const got = await client.send(new GetStreamingDistributionCommand({ Id: id }));
    if (got.StreamingDistribution?.Status === "Deployed") return performance.now() - started;
    if (performance.now() > deadline) throw new Error(`${id} not Deployed within 30 s`);
    await sleep(5);
  }
}

async function throughput(
  options: Options,
  request: (worker: number, n: number) => Promise<void>,
): Promise<{ perSecond: number; p50Ms: number; p99Ms: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + options.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      for (let n = 0; performance.now() < until; n++) {
        const t0 = performance.now();
        try {
          await request(worker, n);
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (errors > 0) log(`${errors} requests failed`);
  return {
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:controller failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
