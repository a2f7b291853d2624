import type { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { processCpuSeconds } from "../harness/proc-cpu.js";
import { create, isDeployed, sleep } from "./distributions.js";

/**
 * Create → Deployed: the time from sending CreateStreamingDistribution
 * until GetStreamingDistribution says Deployed (every live edge applied
 * it), polled every 5 ms, one distribution at a time after ten untimed
 * (JIT, connections, scripts loaded in Redis); and the controller's CPU
 * over the timed ones.
 */
export async function measureCreateToDeployed(
  client: CloudFrontClient,
  controllerPid: number,
  creates: number,
): Promise<{ deployMs: number[]; cpuS: number }> {
  for (let i = 0; i < 10; i++) await createAndWait(client, `warmup-${i}`);
  const cpuBefore = processCpuSeconds(controllerPid);
  const deployMs: number[] = [];
  for (let i = 0; i < creates; i++) deployMs.push(await createAndWait(client, `timed-${i}`));
  return { deployMs, cpuS: processCpuSeconds(controllerPid) - cpuBefore };
}

/** ms from sending Create until Get reports Deployed. */
async function createAndWait(client: CloudFrontClient, reference: string): Promise<number> {
  const started = performance.now();
  const { id } = await create(client, reference);
  const deadline = started + 30_000;
  for (;;) {
    if (await isDeployed(client, id)) return performance.now() - started;
    if (performance.now() > deadline) throw new Error(`${id} not Deployed within 30 s`);
    await sleep(5);
  }
}
