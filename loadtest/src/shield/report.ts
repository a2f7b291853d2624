import { cpus, getPriority } from "node:os";
import { fixed, median, percentile, table } from "../harness/stats.js";
import type { CollapseRecord } from "./collapse.js";
import { KiB, MiB, type ShieldBenchOptions } from "./options.js";
import type { GrpcRecord, TcpRecord } from "./throughput.js";
import type { TtfbRecord } from "./ttfb.js";

/** One run of every measurement, their medians over the runs, and the text report of bench:shield. */

export interface RunRecord {
  readonly run: number;
  readonly order: "tcp-first" | "grpc-first";
  readonly tcp: TcpRecord;
  readonly grpc: GrpcRecord;
  /** gRPC MB/s ÷ TCP MB/s of this run. */
  readonly fraction: number;
  readonly collapse: CollapseRecord;
  readonly ttfb: TtfbRecord;
}

const perRun = (values: readonly number[], digits: number): string =>
  values.map((v) => fixed(v, digits)).join(", ");

function row(label: string, values: readonly number[], digits: number): string[] {
  return [label, fixed(median(values), digits), perRun(values, digits)];
}

export interface Summary {
  readonly tcpMBps: number;
  readonly grpcMBps: number;
  readonly fraction: number;
  readonly shieldCpuSPerGB: number;
  readonly shieldCoreShare: number;
  readonly readerCoreShare: number;
  readonly collapseRatio: number;
  readonly collapseIdeal: number;
  readonly getsPerSlice: number;
  readonly ttfbColdP50Ms: number;
  readonly ttfbColdP90Ms: number;
  readonly ttfbWarmP50Ms: number;
  readonly ttfbWarmP90Ms: number;
  /** Over every sample of every run. */
  readonly ttfbPooled: { coldP50Ms: number; coldP90Ms: number; warmP50Ms: number; warmP90Ms: number };
}

export function summarise(o: ShieldBenchOptions, runs: readonly RunRecord[]): Summary {
  const cold = runs.flatMap((r) => r.ttfb.coldMs);
  const warm = runs.flatMap((r) => r.ttfb.warmMs);
  return {
    tcpMBps: median(runs.map((r) => r.tcp.MBps)),
    grpcMBps: median(runs.map((r) => r.grpc.MBps)),
    fraction: median(runs.map((r) => r.fraction)),
    shieldCpuSPerGB: median(runs.map((r) => r.grpc.shieldCpuSPerGB)),
    shieldCoreShare: median(runs.map((r) => r.grpc.shieldCoreShare)),
    readerCoreShare: median(runs.map((r) => r.grpc.readerCoreShare)),
    collapseRatio: median(runs.map((r) => r.collapse.ratio)),
    collapseIdeal: o.readers,
    getsPerSlice: median(runs.map((r) => r.collapse.getsPerSlice)),
    ttfbColdP50Ms: median(runs.map((r) => r.ttfb.coldP50Ms)),
    ttfbColdP90Ms: median(runs.map((r) => r.ttfb.coldP90Ms)),
    ttfbWarmP50Ms: median(runs.map((r) => r.ttfb.warmP50Ms)),
    ttfbWarmP90Ms: median(runs.map((r) => r.ttfb.warmP90Ms)),
    ttfbPooled: {
      coldP50Ms: median(cold),
      coldP90Ms: percentile(cold, 90),
      warmP50Ms: median(warm),
      warmP90Ms: percentile(warm, 90),
    },
  };
}

export function report(
  o: ShieldBenchOptions,
  runs: readonly RunRecord[],
  s: Summary,
  cacheMemoryBytes: number,
): string {
  const lines: string[] = [];
  const m = (label: string, metric: (r: RunRecord) => number, digits: number) =>
    row(label, runs.map(metric), digits);
  const slicesPerCollapse = Math.ceil(o.collapseBytes / o.sliceBytes);
  lines.push(
    "",
    `streamfront shield — slice ${o.sliceBytes / KiB} KiB, piece ${o.pieceBytes / KiB} KiB, cache memory ` +
      `${fixed(cacheMemoryBytes / MiB, 0)} MiB; medians of ${o.runs} run(s), per run after; MB = 1e6 bytes, GB = 1e9`,
    "",
    `Cached range reads, shield → reader over gRPC vs raw loopback TCP: ${o.objectBytes / MiB} MiB per run, ` +
      `${o.concurrency} streams (gRPC: ReadRange of ${o.rangeBytes / MiB} MiB over ${o.channels} connection(s), ` +
      `window ${o.grpcWindowBytes ? `${o.grpcWindowBytes / KiB} KiB` : "grpc-js default"}; ` +
      `TCP: ${o.concurrency} connections, writes of ${o.tcpWriteBytes / KiB} KiB)`,
    table(
      ["measure", "median", "per run"],
      [
        m("raw TCP MB/s", (r) => r.tcp.MBps, 0),
        m("gRPC cached MB/s", (r) => r.grpc.MBps, 0),
        m("gRPC / TCP", (r) => r.fraction, 3),
        m("shield CPU s per GB served", (r) => r.grpc.shieldCpuSPerGB, 2),
        m("shield core share %", (r) => r.grpc.shieldCoreShare * 100, 0),
        m("gRPC reader core share %", (r) => r.grpc.readerCoreShare * 100, 0),
        m("TCP sender core share %", (r) => (r.tcp.senderCpuS / r.tcp.wallS) * 100, 0),
        m("TCP receiver core share %", (r) => (r.tcp.receiverCpuS / r.tcp.wallS) * 100, 0),
        m("S3 GETs during gRPC run", (r) => r.grpc.shield.originGets, 0),
      ],
    ),
    "",
    `Collapse under load: ${o.readers} readers start together on a cold ${o.collapseBytes / MiB} MiB object ` +
      `(${slicesPerCollapse} slices, fresh key per run), StatObject then ReadRange of ${o.blockBytes / KiB} KiB each`,
    table(
      ["measure", "median", "per run"],
      [
        m(`collapse ratio (ideal ${o.readers})`, (r) => r.collapse.ratio, 2),
        m("S3 GETs per slice (ideal 1.00)", (r) => r.collapse.getsPerSlice, 2),
        m("S3 GETs", (r) => r.collapse.s3.gets, 0),
        m("  of which aborted by the shield", (r) => r.collapse.s3.getsAborted, 0),
        m("S3 HEADs", (r) => r.collapse.s3.heads, 0),
        m("MB read from S3", (r) => r.collapse.s3Bytes / 1e6, 1),
        m("MB received by readers", (r) => r.collapse.receivedBytes / 1e6, 1),
        m("readers' MB/s together", (r) => r.collapse.MBps, 0),
        m("slice misses (started a GET)", (r) => r.collapse.shield.misses, 0),
        m("slice joins of a fetch in flight", (r) => r.collapse.shield.collapsed, 0),
        m("slice memory hits", (r) => r.collapse.shield.memoryHits, 0),
        m("read-ahead fetches", (r) => r.collapse.shield.readAhead, 0),
        m("fetches abandoned", (r) => r.collapse.shield.abandoned, 0),
      ],
    ),
    "",
    `Time to first byte: ReadRange of ${o.ttfbBytes / KiB} KiB at a random aligned offset, one call at a time, ` +
      `${o.ttfbSamples} cold + ${o.ttfbSamples} warm samples per run`,
    table(
      ["measure", "median", "per run"],
      [
        m("cold p50 ms", (r) => r.ttfb.coldP50Ms, 2),
        m("cold p90 ms", (r) => r.ttfb.coldP90Ms, 2),
        m("warm p50 ms", (r) => r.ttfb.warmP50Ms, 2),
        m("warm p90 ms", (r) => r.ttfb.warmP90Ms, 2),
        m("cold whole call p50 ms", (r) => r.ttfb.coldTotalP50Ms, 2),
        m("warm whole call p50 ms", (r) => r.ttfb.warmTotalP50Ms, 2),
        m(`S3 GETs of the cold pass (ideal ${o.ttfbSamples})`, (r) => r.ttfb.coldS3.gets, 0),
        m("cold fetches abandoned by the cache", (r) => r.ttfb.coldAbandoned, 0),
        m("cold slices left uncached", (r) => r.ttfb.uncachedAfterCold, 0),
        m("S3 GETs of the warm pass (ideal 0)", (r) => r.ttfb.warmS3Gets, 0),
      ],
    ),
    `  all samples pooled: cold p50 ${fixed(s.ttfbPooled.coldP50Ms, 2)} ms, p90 ${fixed(s.ttfbPooled.coldP90Ms, 2)} ms; ` +
      `warm p50 ${fixed(s.ttfbPooled.warmP50Ms, 2)} ms, p90 ${fixed(s.ttfbPooled.warmP90Ms, 2)} ms`,
    "",
    "Summary:",
    `  cached gRPC throughput = ${fixed(s.fraction * 100, 1)}% of raw loopback TCP ` +
      `(${fixed(s.grpcMBps, 0)} of ${fixed(s.tcpMBps, 0)} MB/s); shield ${fixed(s.shieldCpuSPerGB, 2)} CPU s per GB served`,
    `  collapse ratio ${fixed(s.collapseRatio, 2)} (ideal ${o.readers}), ${fixed(s.getsPerSlice, 2)} S3 GETs per slice (ideal 1.00)`,
    `  time to first byte: cold p50 ${fixed(s.ttfbColdP50Ms, 2)} ms (p90 ${fixed(s.ttfbColdP90Ms, 2)}), ` +
      `warm p50 ${fixed(s.ttfbWarmP50Ms, 2)} ms (p90 ${fixed(s.ttfbWarmP90Ms, 2)})`,
  );
  const warnings: string[] = [];
  for (const r of runs) {
    const errors = [...r.tcp.errors, ...r.grpc.errors, ...r.collapse.errors, ...r.ttfb.errors];
    if (errors.length > 0) warnings.push(`  ! run ${r.run}: ${errors.length} error(s), e.g. ${errors[0]}`);
    if (r.grpc.shield.originGets > 0)
      warnings.push(`  ! run ${r.run}: the "cached" gRPC run made ${r.grpc.shield.originGets} S3 GETs`);
    if (r.grpc.shield.evictions > 0 || r.collapse.shield.evictions > 0 || r.ttfb.evictions > 0)
      warnings.push(
        `  ! run ${r.run}: the shield evicted slices; the cache was smaller than the benchmark assumed`,
      );
    if (r.ttfb.warmS3Gets > 0)
      warnings.push(`  ! run ${r.run}: ${r.ttfb.warmS3Gets} warm TTFB sample(s) went to S3: not all warm`);
  }
  const other = runs.map((r) => Math.max(r.tcp.otherCpuS / r.tcp.wallS, r.grpc.otherCpuS / r.grpc.wallS));
  if (other.some((v) => v > 0.1))
    warnings.push(
      `  ! other processes on the machine used up to ${perRun(
        other.map((v) => v * 100),
        0,
      )}% of a core (per run) during the throughput runs; those runs are skewed`,
    );
  const extraGets = runs.map((r) => r.collapse.s3.gets - r.collapse.slices);
  if (extraGets.some((n) => n > 0))
    warnings.push(
      `  ! collapse: S3 GETs beyond one per slice, per run: ${perRun(extraGets, 0)} ` +
        `(fetches abandoned: ${perRun(
          runs.map((r) => r.collapse.shield.abandoned),
          0,
        )}; GETs aborted: ${perRun(
          runs.map((r) => r.collapse.s3.getsAborted),
          0,
        )})`,
    );
  const uncached = runs.map((r) => r.ttfb.uncachedAfterCold);
  if (uncached.some((n) => n > 0))
    warnings.push(
      `  ! TTFB: of ${o.ttfbSamples} slices fetched by a cold ${o.ttfbBytes / KiB} KiB read, ${perRun(uncached, 0)} ` +
        "(per run) were not cached after it: the cache abandoned the fetch when the call ended before " +
        "finishFraction of the slice had arrived. The warm pass read them after an untimed whole-slice read.",
    );
  if (warnings.length > 0) lines.push("", "Warnings:", ...warnings);
  lines.push(
    "",
    "Notes:",
    "  - Shield CPU = every thread of the shield process (/proc/<pid>/task/*/schedstat) over the gRPC run;",
    "    the reader and the TCP baseline's two ends are worker processes of their own (their CPU: process.cpuUsage).",
    "    Core share = CPU time ÷ wall time; above 100% a process's other threads (V8's GC helpers) worked too.",
    `  - ${cpus().length} CPU(s): the server side and the reading side each take about a core; a side near 100%`,
    "    is the bottleneck of its run. The embedded S3 runs in the benchmark process (idle in the throughput runs).",
    "  - TCP spreads its streams over as many connections; gRPC multiplexes its calls over --channels connections.",
    "  - TTFB = call to the first ReadRange message; a range up to max-piece-bytes is one message, so it is also",
    "    (nearly) the whole call. Cold includes the shield's S3 GET of the slice (the object was stat'ed first).",
    "  - Collapse ratio = bytes the readers received ÷ body bytes the shield read from S3",
    "    (streamfront_shield_origin_bytes_total); GETs are counted by the embedded S3 for that run's key.",
    `  - Every process of the benchmark ran at nice ${getPriority()}.`,
  );
  return lines.join("\n");
}
