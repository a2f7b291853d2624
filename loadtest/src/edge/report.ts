import { getPriority } from "node:os";
import { fixed } from "../harness/stats.js";
import type { BenchMedia } from "./bench-media.js";
import { type RunRecord, summarise } from "./load-run.js";
import type { EdgeMeasurement } from "./measurement.js";
import type { EdgeBenchOptions, ModeName } from "./options.js";
import type { ServerUnderTest } from "./servers.js";

/**
 * The report of bench:edge: each measurement's table, then the edge/nginx
 * ratios against the targets, how each server paced, warnings about a
 * saturated server or other load, and notes on what was measured.
 */

const Target = { cpuPerGbRatio: 0.8, cpuPerStreamSecondRatio: 1.0 } as const;

export function report(
  o: EdgeBenchOptions,
  measurements: readonly EdgeMeasurement[],
  records: readonly RunRecord[],
  servers: readonly ServerUnderTest[],
  media: BenchMedia,
): { text: string; ratios: Record<string, unknown> } {
  const lines: string[] = [];
  lines.push(
    "",
    `streamfront edge vs nginx-rtmp — ${fixed(media.bitsPerSecond / 1e6, 2)} Mbps FLV, ${media.durationMs / 1000} s, ${fixed(media.bytes / 1e6, 1)} MB; medians of ${o.runs} run(s); GB = 1e9 bytes on the wire`,
  );
  for (const measurement of measurements) {
    if (o.modes.includes(measurement.mode)) lines.push(...measurement.report(o, records));
  }
  const ratios: Record<string, unknown> = {};
  const edgeFull = summarise(records, "edge", "full");
  const nginxFull = summarise(records, "nginx", "full");
  const edgeRt = summarise(records, "edge", "realtime");
  const nginxRt = summarise(records, "nginx", "realtime");
  const verdict = (ratio: number, target: number): string =>
    Number.isFinite(ratio) ? (ratio <= target ? "met" : "NOT met") : "n/a";
  if ((edgeFull && nginxFull) || (edgeRt && nginxRt)) lines.push("", "Edge / nginx-rtmp (one worker):");
  if (edgeFull && nginxFull) {
    const ratio = edgeFull.cpuSPerGB / nginxFull.cpuSPerGB;
    const perRun = pairedRatios(records, "full", (r) => r.cpuSPerGB);
    ratios.cpuPerGB = { ratio, target: Target.cpuPerGbRatio, met: ratio <= Target.cpuPerGbRatio, perRun };
    lines.push(
      `  CPU s per GB (full speed):        ${fixed(ratio, 2)}×  (target ≤ ${Target.cpuPerGbRatio}×: ${verdict(ratio, Target.cpuPerGbRatio)}; per run ${perRun.map((r) => fixed(r, 2)).join(", ")})`,
    );
  }
  if (edgeRt && nginxRt) {
    const ratio = edgeRt.cpuMsPerStreamSecond / nginxRt.cpuMsPerStreamSecond;
    const perRun = pairedRatios(records, "realtime", (r) => r.cpuMsPerStreamSecond);
    ratios.cpuPerStreamSecond = {
      ratio,
      target: Target.cpuPerStreamSecondRatio,
      met: ratio <= Target.cpuPerStreamSecondRatio,
      perRun,
    };
    lines.push(
      `  CPU per stream-second (real time): ${fixed(ratio, 2)}×  (target ≤ ${Target.cpuPerStreamSecondRatio.toFixed(1)}×: ${verdict(ratio, Target.cpuPerStreamSecondRatio)}; per run ${perRun.map((r) => fixed(r, 2)).join(", ")})`,
    );
    const smooth = edgeRt.errors === 0 && nginxRt.errors === 0;
    ratios.realtimeSmooth = { edge: edgeRt.errors === 0, nginx: nginxRt.errors === 0 };
    lines.push(`  every real-time stream smooth:    ${smooth ? "yes" : "NO"}`);
  }
  lines.push("", "How each server paced (lead = most media time a viewer held ahead of wall-clock time):");
  for (const server of servers) {
    const rt = summarise(records, server.name, "realtime");
    const full = summarise(records, server.name, "full");
    const seen = [
      full ? `full speed lead p50 ${fixed(full.leadP50Ms / 1000, 1)} s` : "",
      rt ? `real time lead p50 ${fixed(rt.leadP50Ms / 1000, 1)} s` : "",
    ]
      .filter(Boolean)
      .join(", ");
    lines.push(`  ${server.name}: ${server.pacing}${seen ? ` Observed: ${seen}.` : ""}`);
  }
  const all = o.servers.flatMap((name) =>
    o.modes.flatMap((mode) => {
      const s = summarise(records, name, mode);
      return s ? [s] : [];
    }),
  );
  const warnings: string[] = [];
  for (const s of all) {
    if (s.mode === "realtime" && s.serverCoreShare > 0.85)
      warnings.push(
        `  ! ${s.server} used ${fixed(s.serverCoreShare * 100, 0)}% of a core in real time: saturated, so its CPU per stream-second is a lower bound (use fewer --rt-viewers).`,
      );
    if (s.otherCoreShareMax > 0.1)
      warnings.push(
        `  ! other processes on the machine used up to ${fixed(s.otherCoreShareMax * 100, 0)}% of a core during ${s.server} ${s.mode} runs; figures may be skewed.`,
      );
  }
  if (warnings.length > 0) lines.push("", "Warnings:", ...warnings);
  lines.push(
    "",
    "Notes:",
    "  - Server CPU = time on CPU of every thread of the edge process / of nginx's only process (master_process off),",
    "    from /proc/<pid>/task/*/schedstat (the JSON also has the /proc/<pid>/stat utime+stime cross-check).",
    "  - Real time: CPU per stream-second counts wall time from play to leave for every viewer; CPU s/GB there shows",
    "    whether a server delivered less than real time (a saturated server looks cheaper per stream-second).",
    `  - ${edgeCacheNote(records)}`,
    "    'Warm' = measured after a warm-up play of every server (JIT, page cache, edge cache, connections).",
    "    The shield's CPU is shown apart, not in the ratio; the embedded S3 (s3rver) runs in the benchmark process",
    "    ('s3' = that process's CPU).",
    "  - nginx-rtmp reads the same file from a local directory (page cache).",
    "  - Both send with 4096-byte chunks; all traffic is on 127.0.0.1; the generator runs in its own process.",
    "  - The edge's per-IP connection limit is raised for the run (every viewer comes from 127.0.0.1).",
    `  - Every process of the benchmark ran at nice ${getPriority()}${getPriority() < 0 ? " (ahead of other load on the machine)" : ""}.`,
  );
  return { text: lines.join("\n"), ratios };
}

/**
 * Whether the edge's reads still reached the shield during the measured
 * runs: the shield's CPU next to the edge's tells (an edge serving from its
 * own cache leaves the shield idle).
 */
function edgeCacheNote(records: readonly RunRecord[]): string {
  const edge = records.filter((r) => r.server === "edge");
  if (edge.length === 0) return "The edge was not measured.";
  const shield = edge.reduce((sum, r) => sum + (r.helperCpuS.shield ?? 0), 0);
  const own = edge.reduce((sum, r) => sum + r.serverCpuS, 0);
  const share = shield / own;
  return share < 0.05
    ? `Edge reads were served from the edge's own cache: the shield used ${fixed(share * 100, 1)}% of the edge's CPU.`
    : `Edge reads still went through the shield (gRPC) to the embedded S3: the shield used ${fixed(share * 100, 0)}% of the edge's CPU.`;
}

/** edge/nginx per run index, for runs where both were measured. */
function pairedRatios(
  records: readonly RunRecord[],
  mode: ModeName,
  metric: (r: RunRecord) => number,
): number[] {
  const out: number[] = [];
  for (const edge of records.filter((r) => r.server === "edge" && r.mode === mode)) {
    const nginx = records.find((r) => r.server === "nginx" && r.mode === mode && r.run === edge.run);
    if (nginx) out.push(metric(edge) / metric(nginx));
  }
  return out;
}
