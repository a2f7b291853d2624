import {
  type CloudFrontClient,
  GetStreamingDistributionCommand,
  UpdateStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { log } from "../harness/results.js";
import { fixed, percentile } from "../harness/stats.js";
import { config, create } from "./distributions.js";

/**
 * API throughput: GetStreamingDistribution, then Create and Update mixed
 * half and half, each with `concurrency` requests in flight (one
 * distribution per in-flight worker) for `seconds`.
 */

export interface Throughput {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

export async function measureApiThroughput(
  client: CloudFrontClient,
  concurrency: number,
  seconds: number,
): Promise<{ get: Throughput; createUpdate: Throughput }> {
  const ids = await Promise.all(
    Array.from({ length: concurrency }, (_, i) => create(client, `throughput-${i}`)),
  );
  const get = await throughput(concurrency, seconds, async (worker) => {
    await client.send(new GetStreamingDistributionCommand({ Id: ids[worker]!.id }));
  });
  log(`GetStreamingDistribution: ${fixed(get.perSecond, 0)} req/s, p99 ${fixed(get.p99Ms, 1)} ms`);
  const etags = ids.map((d) => d.etag);
  let creates = 0;
  const createUpdate = await throughput(concurrency, seconds, async (worker, n) => {
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
  log(
    `Create/Update (half each): ${fixed(createUpdate.perSecond, 0)} req/s, p99 ${fixed(createUpdate.p99Ms, 1)} ms`,
  );
  return { get, createUpdate };
}

async function throughput(
  concurrency: number,
  seconds: number,
  request: (worker: number, n: number) => Promise<void>,
): Promise<Throughput> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
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
  const elapsedS = (performance.now() - started) / 1000;
  if (errors > 0) log(`${errors} requests failed`);
  return {
    perSecond: latencies.length / elapsedS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
  };
}
