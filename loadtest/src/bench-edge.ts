import { type ChildProcess, execFileSync, fork, spawnSync } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, getPriority, release, tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LocalCluster } from "../../deploy/local/cluster.js";
import { repoRoot } from "../../lib/testing/paths.js";
import {
  BENCH_MEDIA_FILE,
  type BenchMedia,
  defaultMediaCacheDir,
  ensureBenchMedia,
} from "./bench/bench-media.js";
import { NginxPeer } from "./bench/nginx-peer.js";
import { integerOption } from "./bench/options.js";
import { ensureBenchTools } from "./bench/peer-tools.js";
import {
  isAlive,
  processCpuSeconds,
  selfCpuSeconds,
  statCpuSeconds,
  systemBusySeconds,
} from "./bench/proc-cpu.js";
import { fixed, median, percentile, table } from "./bench/stats.js";
import type { GeneratorMessage, LoadPlan, LoadResult, ParentMessage } from "./rtmp-load/protocol.js";

/**
 * `npm run bench:edge`: the streamfront edge against nginx-rtmp serving the
 * same FLV in the same run, many concurrent viewers, full speed (large
 * client buffer) and real time (small buffer). Reports the edge's server
 * CPU per GB delivered and per stream-second as ratios to nginx-rtmp with
 * one worker (the peer of one Node process). Loopback only; every load is
 * bounded in viewers and time, and the whole run has a wall-clock cap.
 */

const usage = `usage: node dist/loadtest/src/bench-edge.js [options]
  --runs N               measured runs per server and mode; medians are reported (default 3)
  --full-viewers N       concurrent viewers in full-speed mode, each plays the whole file (default 50)
  --full-buffer-ms MS    SetBufferLength in full-speed mode (default 3600000)
  --rt-viewers N         concurrent viewers in real-time mode (default 100)
  --rt-seconds S         length of a real-time run (default 30)
  --rt-buffer-ms MS      SetBufferLength in real-time mode (default 3000)
  --warmup-viewers N     full-speed viewers per server before measuring (default 10)
  --modes LIST           full,realtime (default both)
  --servers LIST         edge,nginx (default both; ratios need both)
  --pin                  pin the server under test to CPU 0 and everything else to CPU 1
  --media-cache DIR      where the generated FLV is kept (default $XDG_CACHE_HOME or ~/.cache/streamfront-bench)
  --out FILE             also write the results as JSON
  --max-minutes M        wall-clock cap for the whole benchmark (default 25)`;

const Target = { cpuPerGbRatio: 0.8, cpuPerStreamSecondRatio: 1.0 } as const;
const APP = "cfx/st";
const SETTLE_MS = 200;

type ServerName = "edge" | "nginx";
type ModeName = "full" | "realtime";

interface Options {
  runs: number;
  fullViewers: number;
  fullBufferMs: number;
  rtViewers: number;
  rtSeconds: number;
  rtBufferMs: number;
  warmupViewers: number;
  modes: ModeName[];
  servers: ServerName[];
  pin: boolean;
  mediaCache: string;
  out: string | null;
  maxMinutes: number;
}

interface ServerUnderTest {
  readonly name: ServerName;
  readonly port: number;
  readonly tcUrlHost: string;
  /** The process whose CPU is the result: the edge, or nginx's only process. */
  readonly pid: number;
  /** Also measured, reported apart (the edge's shield). */
  readonly helpers: readonly { readonly name: string; readonly pid: number }[];
  /** How this server paces VOD, for the report. */
  readonly pacing: string;
}

interface RunRecord {
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

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: "string" },
      "full-viewers": { type: "string" },
      "full-buffer-ms": { type: "string" },
      "rt-viewers": { type: "string" },
      "rt-seconds": { type: "string" },
      "rt-buffer-ms": { type: "string" },
      "warmup-viewers": { type: "string" },
      modes: { type: "string" },
      servers: { type: "string" },
      pin: { type: "boolean" },
      "media-cache": { type: "string" },
      out: { type: "string" },
      "max-minutes": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const list = <T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T[] => {
    if (raw === undefined) return [...allowed];
    const items = raw.split(",").map((s) => s.trim());
    for (const item of items)
      if (!allowed.includes(item as T))
        throw new Error(`--${name}: ${item} is not one of ${allowed.join(", ")}`);
    return items as T[];
  };
  return {
    runs: integerOption("runs", values.runs, 3, 1, 20),
    fullViewers: integerOption("full-viewers", values["full-viewers"], 50, 1, 2000),
    fullBufferMs: integerOption("full-buffer-ms", values["full-buffer-ms"], 3_600_000, 0, 36_000_000),
    rtViewers: integerOption("rt-viewers", values["rt-viewers"], 100, 1, 5000),
    rtSeconds: integerOption("rt-seconds", values["rt-seconds"], 30, 5, 600),
    rtBufferMs: integerOption("rt-buffer-ms", values["rt-buffer-ms"], 3000, 0, 60_000),
    warmupViewers: integerOption("warmup-viewers", values["warmup-viewers"], 10, 0, 500),
    modes: list("modes", values.modes, ["full", "realtime"] as const),
    servers: list("servers", values.servers, ["edge", "nginx"] as const),
    pin: values.pin ?? false,
    mediaCache: values["media-cache"] ?? defaultMediaCacheDir(),
    out: values.out ? resolve(values.out) : null,
    maxMinutes: integerOption("max-minutes", values["max-minutes"], 25, 1, 240),
  };
}

// ---------------------------------------------------------------------------
// Everything this process starts, so any exit path can end it (by pid).

const here = dirname(fileURLToPath(import.meta.url));
const generatorEntry = join(here, "rtmp-load", "generator.js");
const state = {
  cluster: null as LocalCluster | null,
  nginx: null as NginxPeer | null,
  generators: new Set<ChildProcess>(),
  tempDirs: [] as string[],
  cleaning: null as Promise<void> | null,
};

async function cleanup(): Promise<void> {
  if (state.cleaning) return state.cleaning;
  state.cleaning = (async () => {
    for (const child of state.generators) if (child.exitCode === null) child.kill("SIGKILL");
    await state.nginx?.stop().catch(() => {});
    await state.cluster?.stop().catch(() => {});
    for (const dir of state.tempDirs) rmSync(dir, { recursive: true, force: true });
  })();
  return state.cleaning;
}

/** Last resort on a synchronous exit: SIGKILL by pid whatever is still ours. */
function killLeftovers(): void {
  const pids: number[] = [];
  for (const child of state.generators) if (child.exitCode === null && child.pid) pids.push(child.pid);
  const nginxPid = state.nginx?.runningPid;
  if (nginxPid) pids.push(nginxPid);
  const cluster = state.cluster;
  if (cluster) {
    for (const component of [cluster.edge, cluster.shield, cluster.controller]) {
      const child = component?.child;
      if (child?.pid && child.exitCode === null && child.signalCode === null) pids.push(child.pid);
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of state.tempDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHandlers(capMinutes: number): NodeJS.Timeout {
  process.once("exit", killLeftovers);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}, stopping\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const cap = setTimeout(() => {
    process.stderr.write(`bench: wall-clock cap of ${capMinutes} min reached, stopping\n`);
    void cleanup().finally(() => process.exit(124));
  }, capMinutes * 60_000);
  return cap;
}

// ---------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

function pinTo(cpu: number, pid: number): void {
  const result = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
  if (result.status !== 0) throw new Error(`taskset -a -p -c ${cpu} ${pid} failed`);
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

interface Measured {
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
async function measure(server: ServerUnderTest, plan: LoadPlan, pin: boolean): Promise<Measured> {
  const child = fork(generatorEntry, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  state.generators.add(child);
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
    await new Promise((r) => setTimeout(r, SETTLE_MS));
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
    state.generators.delete(child);
  }
}

function planFor(
  server: ServerUnderTest,
  mode: ModeName,
  o: Options,
  media: BenchMedia,
  viewers: number,
): LoadPlan {
  const full = mode === "full";
  return {
    host: "127.0.0.1",
    port: server.port,
    app: APP,
    tcUrlHost: server.tcUrlHost,
    streamName: basename(BENCH_MEDIA_FILE, ".flv"),
    viewers,
    bufferMs: full ? o.fullBufferMs : o.rtBufferMs,
    mode,
    seconds: full ? 0 : o.rtSeconds,
    expectedDurationMs: media.durationMs,
    deadlineMs: full ? 90_000 + viewers * 2000 : o.rtSeconds * 1000 + 30_000,
  };
}

function record(run: number, server: ServerUnderTest, mode: ModeName, m: Measured): RunRecord {
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

function describeRun(r: RunRecord): string {
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

interface Summary {
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

function summarise(records: readonly RunRecord[], server: ServerName, mode: ModeName): Summary | null {
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

function report(
  o: Options,
  records: readonly RunRecord[],
  servers: readonly ServerUnderTest[],
  media: BenchMedia,
): { text: string; ratios: Record<string, unknown> } {
  const lines: string[] = [];
  const helperText = (s: Summary): string =>
    [
      ...Object.entries(s.helperCpuS).map(([n, v]) => `${n} ${fixed(v, 2)}`),
      ...(s.server === "edge" ? [`s3 ${fixed(s.benchProcessCpuS, 2)}`] : []),
    ].join(" ") || "-";
  lines.push(
    "",
    `streamfront edge vs nginx-rtmp — ${fixed(media.bitsPerSecond / 1e6, 2)} Mbps FLV, ${media.durationMs / 1000} s, ${fixed(media.bytes / 1e6, 1)} MB; medians of ${o.runs} run(s); GB = 1e9 bytes on the wire`,
  );
  if (o.modes.includes("full")) {
    lines.push(
      "",
      `Full speed: ${o.fullViewers} concurrent viewers × whole file, SetBufferLength ${o.fullBufferMs} ms`,
    );
    const rows = o.servers.flatMap((name) => {
      const s = summarise(records, name, "full");
      if (!s) return [];
      return [
        [
          name,
          fixed(s.throughputMBps, 1),
          fixed(s.serverCpuS, 2),
          `${fixed(s.serverCoreShare * 100, 0)}%`,
          fixed(s.cpuSPerGB, 2),
          helperText(s),
          `${fixed(s.generatorCoreShare * 100, 0)}%`,
          String(s.errors),
        ],
      ];
    });
    lines.push(
      table(["server", "MB/s", "CPU s", "core", "CPU s/GB", "also (CPU s)", "generator", "errors"], rows),
    );
  }
  if (o.modes.includes("realtime")) {
    lines.push(
      "",
      `Real time: ${o.rtViewers} concurrent viewers × ${o.rtSeconds} s, SetBufferLength ${o.rtBufferMs} ms`,
    );
    const rows = o.servers.flatMap((name) => {
      const s = summarise(records, name, "realtime");
      if (!s) return [];
      return [
        [
          name,
          fixed(s.throughputMBps, 1),
          fixed(s.serverCpuS, 2),
          `${fixed(s.serverCoreShare * 100, 0)}%`,
          fixed(s.cpuMsPerStreamSecond, 3),
          fixed(s.cpuSPerGB, 2),
          fixed(s.worstStallMs, 0),
          fixed(s.startupP50Ms, 0),
          fixed(s.leadP50Ms / 1000, 1),
          helperText(s),
          String(s.errors),
        ],
      ];
    });
    lines.push(
      table(
        [
          "server",
          "MB/s",
          "CPU s",
          "core",
          "CPU ms/stream-s",
          "CPU s/GB",
          "worst stall ms",
          "startup p50 ms",
          "lead s",
          "also (CPU s)",
          "errors",
        ],
        rows,
      ),
    );
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

function commandOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const cap = installExitHandlers(o.maxMinutes);
  const began = Date.now();
  try {
    ensureBenchTools();
    const media = ensureBenchMedia(o.mediaCache);
    process.stdout.write(
      `bench: media ${media.path}: ${fixed(media.bytes / 1e6, 1)} MB, ${fixed(media.bitsPerSecond / 1e6, 2)} Mbps\n`,
    );
    const work = mkdtempSync(join(tmpdir(), "streamfront-bench-"));
    state.tempDirs.push(work);
    const mediaDir = join(work, "media");
    mkdirSync(mediaDir);
    copyFileSync(media.path, join(mediaDir, BENCH_MEDIA_FILE));

    const maxViewers = Math.max(o.fullViewers, o.rtViewers, o.warmupViewers);
    const servers: ServerUnderTest[] = [];
    if (o.servers.includes("edge")) {
      // All viewers come from 127.0.0.1: lift the per-IP cap for this cluster's edge only.
      process.env.STREAMFRONT_EDGE_MAX_CONNECTIONS_PER_IP = String(maxViewers + 16);
      // They also start at once, so none may wait on the pre-play cap either.
      process.env.STREAMFRONT_EDGE_MAX_PRE_PLAY_CONNECTIONS_PER_IP = String(maxViewers + 16);
      process.env.STREAMFRONT_EDGE_MAX_CONNECTIONS = String(Math.max(10_000, maxViewers + 16));
      const cluster = new LocalCluster({
        mediaDir,
        host: "127.0.0.1",
        rtmpPort: 0,
        httpPort: -1,
        apiPort: 0,
        bucket: "streamfront-bench",
        logLevel: "error",
        stdio: "inherit",
      });
      state.cluster = cluster;
      await cluster.start();
      const edgePid = cluster.edge.child.pid!;
      const shieldPid = cluster.shield.child.pid!;
      servers.push({
        name: "edge",
        port: cluster.rtmpPort,
        tcUrlHost: "127.0.0.1",
        pid: edgePid,
        helpers: [{ name: "shield", pid: shieldPid }],
        pacing:
          "paces each viewer to its buffer: sends while media time ≤ elapsed + SetBufferLength + 1000 ms (send-ahead margin), a 1 MiB socket queue bound;",
      });
      if (o.pin) {
        pinTo(0, edgePid);
        pinTo(1, shieldPid);
        for (const c of [cluster.controller.child.pid]) if (c) pinTo(1, c);
      }
    }
    if (o.servers.includes("nginx")) {
      const nginxDir = join(work, "nginx");
      mkdirSync(nginxDir);
      const nginx = new NginxPeer({
        workDir: nginxDir,
        playDir: mediaDir,
        port: await freePort(),
        app: APP,
        chunkSize: 4096,
        maxConnections: maxViewers + 16,
      });
      state.nginx = nginx;
      await nginx.start();
      servers.push({
        name: "nginx",
        port: nginx.options.port,
        tcUrlHost: "127.0.0.1",
        pid: nginx.pid,
        helpers: [],
        pacing:
          "ngx_rtmp_flv_module sends while tag time ≤ elapsed + buflen (SetBufferLength) + 1000 ms, then arms a timer; a full socket waits for writability;",
      });
      if (o.pin) pinTo(0, nginx.pid);
    }
    if (o.pin) pinTo(1, process.pid);

    for (const server of servers) {
      if (o.warmupViewers === 0) break;
      const m = await measure(server, planFor(server, "full", o, media, o.warmupViewers), o.pin);
      const r = record(0, server, "full", m);
      process.stdout.write(`bench: warm-up ${server.name}: ${describeRun(r).replace(/^bench: run 0 /, "")}`);
      if (r.errors > 0)
        throw new Error(`warm-up against ${server.name} failed: ${r.errorSamples.join("; ")}`);
    }

    const records: RunRecord[] = [];
    for (let run = 1; run <= o.runs; run++) {
      for (const mode of o.modes) {
        const order = run % 2 === 1 ? servers : [...servers].reverse();
        for (const server of order) {
          const viewers = mode === "full" ? o.fullViewers : o.rtViewers;
          const m = await measure(server, planFor(server, mode, o, media, viewers), o.pin);
          const r = record(run, server, mode, m);
          records.push(r);
          process.stdout.write(describeRun(r));
        }
      }
    }

    const { text, ratios } = report(o, records, servers, media);
    process.stdout.write(`${text}\n`);
    const errors = records.reduce((sum, r) => sum + r.errors, 0);
    if (o.out) {
      mkdirSync(dirname(o.out), { recursive: true });
      const json = {
        benchmark: "bench:edge",
        startedAt: new Date(began).toISOString(),
        wallSeconds: (Date.now() - began) / 1000,
        machine: {
          cpus: cpus().length,
          model: cpus()[0]?.model ?? "",
          kernel: release(),
          node: process.version,
        },
        peer: {
          nginx: commandOutput("nginx", ["-v"]),
          libnginxModRtmp: commandOutput("dpkg-query", ["-W", `-f=\${Version}`, "libnginx-mod-rtmp"]),
          config:
            "worker_processes 1; master_process off; chunk_size 4096; application cfx/st { play <dir>; }",
        },
        edgeCommit: gitCommit(),
        media: {
          file: BENCH_MEDIA_FILE,
          bytes: media.bytes,
          durationMs: media.durationMs,
          bitsPerSecond: media.bitsPerSecond,
        },
        options: o,
        summary: o.servers.flatMap((server) =>
          o.modes.flatMap((mode) => {
            const s = summarise(records, server, mode);
            return s ? [s] : [];
          }),
        ),
        ratios,
        runs: records,
        errors,
      };
      writeFileSync(o.out, `${JSON.stringify(json, null, 2)}\n`);
      process.stdout.write(`bench: results written to ${o.out}\n`);
    }
    process.stdout.write(`bench: finished in ${fixed((Date.now() - began) / 1000, 0)} s\n`);
    if (errors > 0) {
      process.stderr.write(`bench: ${errors} stream(s) failed or were not smooth\n`);
      return 1;
    }
    return 0;
  } finally {
    clearTimeout(cap);
    await cleanup();
  }
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["-C", repoRoot, "rev-parse", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "";
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    void cleanup().finally(() => process.exit(1));
  },
);
