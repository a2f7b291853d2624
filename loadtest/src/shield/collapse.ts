import { settle } from "../harness/lifecycle.js";
import { processCpuSeconds } from "../harness/proc-cpu.js";
import { BUCKET, bodyOf, runTask, type Setup } from "./setup.js";
import { counterDelta, type S3Seen, type ShieldCounters, s3Seen, scrapeCounters } from "./shield-metrics.js";
import type { CollapseResult } from "./worker-protocol.js";

/**
 * Collapse under load: --readers readers start together on a fresh key (a
 * cold cache without restarting the shield: slices are keyed by bucket, key
 * and ETag), each StatObject then sequential ReadRange calls of --block-kib
 * pinned to the ETag, as an edge plays a file. Collapse ratio = bytes the
 * readers received ÷ body bytes the shield read from S3 (ideal: --readers);
 * S3 GETs per slice from the embedded S3's request log (ideal 1.00).
 */

export interface CollapseRecord {
  readonly key: string;
  readonly readers: number;
  readonly objectBytes: number;
  readonly slices: number;
  readonly receivedBytes: number;
  readonly wallS: number;
  readonly MBps: number;
  readonly slowestReaderS: number;
  readonly s3Bytes: number;
  readonly ratio: number;
  readonly getsPerSlice: number;
  readonly s3: S3Seen;
  readonly shield: ShieldCounters;
  readonly shieldCpuS: number;
  readonly calls: number;
  readonly errors: readonly string[];
}

export async function measureCollapse(
  setup: Setup,
  run: number,
  deadlineMs: number,
): Promise<CollapseRecord> {
  const { o, s3 } = setup;
  const key = `bench/collapse-run${run}.bin`;
  await s3.putObject(BUCKET, key, bodyOf(setup, o.collapseBytes));
  s3.clearRequests();
  const before = await scrapeCounters(setup.admin);
  const cpuBefore = processCpuSeconds(setup.shieldPid);
  let shieldCpuS = 0;
  const result = await runTask<CollapseResult>(
    setup,
    {
      kind: "collapse",
      target: setup.target,
      key,
      objectSize: o.collapseBytes,
      readers: o.readers,
      blockBytes: o.blockBytes,
      deadlineMs,
    },
    "collapse",
    () => {
      shieldCpuS = processCpuSeconds(setup.shieldPid) - cpuBefore;
    },
  );
  // Let fetches still settling (read-ahead, abandoned GETs) show in the counters.
  await settle();
  const shield = counterDelta(before, await scrapeCounters(setup.admin));
  const seen = s3Seen(s3.requests, key, o.collapseBytes);
  const receivedBytes = result.readerBytes.reduce((sum, b) => sum + b, 0);
  const slices = Math.ceil(o.collapseBytes / o.sliceBytes);
  const errors = [...result.errors];
  const short = result.readerBytes.filter((b) => b !== o.collapseBytes).length;
  if (short > 0) errors.push(`${short} reader(s) received less than the whole object`);
  const wallS = result.wallMs / 1000;
  return {
    key,
    readers: o.readers,
    objectBytes: o.collapseBytes,
    slices,
    receivedBytes,
    wallS,
    MBps: receivedBytes / 1e6 / wallS,
    slowestReaderS: Math.max(...result.readerMs) / 1000,
    s3Bytes: shield.originBytes,
    ratio: receivedBytes / shield.originBytes,
    getsPerSlice: seen.gets / slices,
    s3: seen,
    shield,
    shieldCpuS,
    calls: result.calls,
    errors,
  };
}
