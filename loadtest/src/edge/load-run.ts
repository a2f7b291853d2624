import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchLifecycle, settle } from "../harness/lifecycle.js";
import {
  isAlive,
  processCpuSeconds,
  selfCpuSeconds,
  statCpuSeconds,
  systemBusySeconds,
} from "../harness/proc-cpu.js";
import { fixed, median, percentile } from "../harness/stats.js";
import type { GeneratorMessage, LoadPlan, LoadResult, ParentMessage } from "../rtmp-load/protocol.js";
import { BENCH_MEDIA_FILE, type BenchMedia } from "./bench-media.js";
import type { ModeName, ServerName } from "./options.js";
import { APP, pinTo, type ServerUnderTest } from "./servers.js";

/**
 * One measured load against one server, whatever the measurement: the
 * viewers run in a fresh load-generator process (rtmp-load/generator.ts),
 * and the CPU of the server, its helpers, this process and the rest of the
 * machine is read around the run. Also the per-run record, its one-line
 * description, and the medians over runs that the report shows.
 */

const generatorEntry = join(dirname(fileURLToPath(import.meta.url)), "..", "rtmp-load", "generator.js");

/** What every plan against `server` shares; the measurement adds mode, viewers, buffer and deadline. */
export function basePlan(server: ServerUnderTest, media: BenchMedia) {
  return {
    host: "127.0.0.1",
    port: server.port,
    app: APP,
    tcUrlHost: server.tcUrlHost,
    streamName: basename(BENCH_MEDIA_FILE, ".flv"),
    expectedDurationMs: media.durationMs,
  } as const;
}

export interface RunRecord {
  readonly run: number;
  readonly server: ServerName;
  readonly mode: ModeName;
  readonly viewers: number;
  readonly wallS: number;
  readonly bytes: number;
  readonly throughputMBps: number;
  readonly serverCpuS: number;
  readonly serverStatCpuS: number;
  readonly serverCoreShare: number;
  readonly cpuSPerGB: number;
  readonly streamSeconds: number;
  readonly cpuMsPerStreamSecond: number;
  readonly helperCpuS: Readonly<Record<string, number>>;
  readonly benchProcessCpuS: number;
  readonly otherCpuS: number;
  readonly generatorCpuS: number;
  readonly generatorCoreShare: number;
  readonly worstStallMs: number;
  readonly minAheadMs: number;
  readonly startupP50Ms: number;
  readonly startupMaxMs: number;
  readonly leadP50Ms: number;
  readonly leadMaxMs: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
}

function waitMessage(
  child: ChildProcess,
  type: GeneratorMessage["type"],
  timeoutMs: number,
): Promise<GeneratorMessage> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      cleanupListeners();
      reject(new Error(`load generator gave no "${type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (raw: unknown): void => {
      const message = raw as GeneratorMessage;
      if (message.type === type || message.type === "failed") {
        cleanupListeners();
        if (message.type === "failed") reject(new Error(`load generator failed: ${message.error}`));
        else resolvePromise(message);
      }
    };
    const onExit = (code: number | null): void => {
      cleanupListeners();
      reject(new Error(`load generator exited (code ${code}) before "${type}"`));
    };
    const cleanupListeners = (): void => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

export interface Measured {
  readonly result: LoadResult;
  /** Server CPU from schedstat (ns resolution); serverStatCpuS is the /proc/<pid>/stat cross-check. */
  readonly serverCpuS: number;
  readonly serverStatCpuS: number;
  readonly helperCpuS: Record<string, number>;
  readonly benchCpuS: number;
  /** Machine busy time not accounted to any process of the benchmark: other load that may skew a run. */
  readonly otherCpuS: number;
}

/** Runs one plan in a fresh generator process and measures the servers' CPU around it. */
export async function measure(
  lifecycle: BenchLifecycle,
  server: ServerUnderTest,
  plan: LoadPlan,
  pin: boolean,
): Promise<Measured> {
  const child = fork(generatorEntry, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const forget = lifecycle.own({
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
    livePids: () => (child.exitCode === null && child.pid ? [child.pid] : []),
  });
  try {
    await waitMessage(child, "ready", 15_000);
    if (pin && child.pid) pinTo(1, child.pid);
    const helpersBefore = server.helpers.map((h) => processCpuSeconds(h.pid));
    const benchBefore = selfCpuSeconds();
    const busyBefore = systemBusySeconds();
    const statBefore = statCpuSeconds(server.pid);
    const before = processCpuSeconds(server.pid);
    const done = waitMessage(child, "result", plan.deadlineMs + 20_000);
    const start: ParentMessage = { type: "start", plan };
    child.send(start);
    const message = await done;
    await settle();
    const serverCpuS = processCpuSeconds(server.pid) - before;
    const serverStatCpuS = statCpuSeconds(server.pid) - statBefore;
    const busyS = systemBusySeconds() - busyBefore;
    const benchCpuS = selfCpuSeconds() - benchBefore;
    const helperCpuS: Record<string, number> = {};
    server.helpers.forEach((h, i) => {
      helperCpuS[h.name] = processCpuSeconds(h.pid) - helpersBefore[i]!;
    });
    if (message.type !== "result") throw new Error("unexpected generator message");
    if (!isAlive(server.pid)) throw new Error(`${server.name} (pid ${server.pid}) died during the run`);
    const ours =
      serverCpuS +
      benchCpuS +
      message.result.generatorCpuMs / 1000 +
      Object.values(helperCpuS).reduce((sum, v) => sum + v, 0);
    return {
      result: message.result,
      serverCpuS,
      serverStatCpuS,
      helperCpuS,
      benchCpuS,
      otherCpuS: Math.max(0, busyS - ours),
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
    }
    forget();
  }
}

export function record(run: number, server: ServerUnderTest, mode: ModeName, m: Measured): RunRecord {
  const { result } = m;
  const streams = result.streams;
  const wallS = result.wallMs / 1000;
  const bytes = streams.reduce((sum, s) => sum + s.bytes, 0);
  const streamSeconds = streams.reduce((sum, s) => sum + s.playWallMs, 0) / 1000;
  const failed = streams.filter((s) => !s.ok);
  const minAhead = streams.length ? Math.min(...streams.map((s) => s.minAheadMs)) : 0;
  const startups = streams.filter((s) => s.startupMs >= 0).map((s) => s.startupMs);
  const leads = streams.map((s) => s.maxLeadMs);
  const samples = new Map<string, number>();
  for (const s of failed) samples.set(s.error ?? "?", (samples.get(s.error ?? "?") ?? 0) + 1);
  return {
    run,
    server: server.name,
    mode,
    viewers: result.plan.viewers,
    wallS,
    bytes,
    throughputMBps: bytes / 1e6 / wallS,
    serverCpuS: m.serverCpuS,
    serverStatCpuS: m.serverStatCpuS,
    serverCoreShare: m.serverCpuS / wallS,
    cpuSPerGB: m.serverCpuS / (bytes / 1e9),
    streamSeconds,
    cpuMsPerStreamSecond: (m.serverCpuS * 1000) / streamSeconds,
    helperCpuS: m.helperCpuS,
    benchProcessCpuS: m.benchCpuS,
    otherCpuS: m.otherCpuS,
    generatorCpuS: result.generatorCpuMs / 1000,
    generatorCoreShare: result.generatorCpuMs / 1000 / wallS,
    worstStallMs: mode === "realtime" ? Math.max(0, -minAhead) : 0,
    minAheadMs: minAhead,
    startupP50Ms: percentile(startups, 50),
    startupMaxMs: startups.length ? Math.max(...startups) : Number.NaN,
    leadP50Ms: percentile(leads, 50),
    leadMaxMs: leads.length ? Math.max(...leads) : Number.NaN,
    errors: failed.length + (streams.length < result.plan.viewers ? result.plan.viewers - streams.length : 0),
    errorSamples: [...samples].slice(0, 5).map(([error, count]) => `${count}× ${error}`),
  };
}

export function describeRun(r: RunRecord): string {
  const base = `bench: run ${r.run} ${r.mode.padEnd(8)} ${r.server.padEnd(5)} ${r.viewers} viewers, ${fixed(r.wallS, 1)} s, ${fixed(r.throughputMBps, 1)} MB/s, server CPU ${fixed(r.serverCpuS, 2)} s`;
  const detail =
    r.mode === "full"
      ? `${fixed(r.cpuSPerGB, 2)} CPU s/GB`
      : `${fixed(r.cpuMsPerStreamSecond, 3)} CPU ms per stream-s, worst stall ${fixed(r.worstStallMs, 0)} ms`;
  const helpers = Object.entries(r.helperCpuS)
    .map(([name, cpu]) => `${name} ${fixed(cpu, 2)} s`)
    .join(", ");
  const errors = r.errors ? `, ${r.errors} ERRORS (${r.errorSamples.join("; ")})` : "";
  const other =
    r.otherCpuS / r.wallS > 0.1 ? `, OTHER LOAD ${fixed((r.otherCpuS / r.wallS) * 100, 0)}% of a core` : "";
  return `${base}, ${detail}${helpers ? ` (+ ${helpers})` : ""}, generator ${fixed(r.generatorCoreShare * 100, 0)}% of a core${other}${errors}\n`;
}

export interface Summary {
  readonly server: ServerName;
  readonly mode: ModeName;
  readonly runs: number;
  readonly throughputMBps: number;
  readonly serverCpuS: number;
  readonly serverCoreShare: number;
  readonly cpuSPerGB: number;
  readonly cpuMsPerStreamSecond: number;
  readonly helperCpuS: Readonly<Record<string, number>>;
  readonly benchProcessCpuS: number;
  readonly generatorCoreShare: number;
  /** Highest share of a core used by processes outside the benchmark during any run. */
  readonly otherCoreShareMax: number;
  readonly worstStallMs: number;
  readonly startupP50Ms: number;
  readonly leadP50Ms: number;
  readonly errors: number;
}

export function summarise(records: readonly RunRecord[], server: ServerName, mode: ModeName): Summary | null {
  const rs = records.filter((r) => r.server === server && r.mode === mode);
  if (rs.length === 0) return null;
  const helperNames = [...new Set(rs.flatMap((r) => Object.keys(r.helperCpuS)))];
  return {
    server,
    mode,
    runs: rs.length,
    throughputMBps: median(rs.map((r) => r.throughputMBps)),
    serverCpuS: median(rs.map((r) => r.serverCpuS)),
    serverCoreShare: median(rs.map((r) => r.serverCoreShare)),
    cpuSPerGB: median(rs.map((r) => r.cpuSPerGB)),
    cpuMsPerStreamSecond: median(rs.map((r) => r.cpuMsPerStreamSecond)),
    helperCpuS: Object.fromEntries(helperNames.map((n) => [n, median(rs.map((r) => r.helperCpuS[n] ?? 0))])),
    benchProcessCpuS: median(rs.map((r) => r.benchProcessCpuS)),
    generatorCoreShare: median(rs.map((r) => r.generatorCoreShare)),
    otherCoreShareMax: Math.max(...rs.map((r) => r.otherCpuS / r.wallS)),
    // Worst over all runs, not the median: every real-time stream must be smooth.
    worstStallMs: Math.max(...rs.map((r) => r.worstStallMs)),
    startupP50Ms: median(rs.map((r) => r.startupP50Ms)),
    leadP50Ms: median(rs.map((r) => r.leadP50Ms)),
    errors: rs.reduce((sum, r) => sum + r.errors, 0),
  };
}

/** The CPU of a server's helpers for the report ('s3' = the embedded S3 in the benchmark process). */
export function helperText(s: Summary): string {
  return (
    [
      ...Object.entries(s.helperCpuS).map(([n, v]) => `${n} ${fixed(v, 2)}`),
      ...(s.server === "edge" ? [`s3 ${fixed(s.benchProcessCpuS, 2)}`] : []),
    ].join(" ") || "-"
  );
}
