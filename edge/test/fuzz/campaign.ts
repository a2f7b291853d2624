import { Worker } from "node:worker_threads";
import {
  DEFAULT_CASE_TIMEOUT_MS,
  describeError,
  type Failure,
  type FailureKind,
  hexPreview,
  type PreparedCase,
  prepareCase,
} from "./fuzz-harness.js";
import { findTarget } from "./targets/index.js";
import {
  emptyStats,
  Phase,
  type WorkerJob,
  type WorkerMessage,
  type WorkerStats,
} from "./worker-protocol.js";

/**
 * Runs targets in worker threads under a watchdog. The watchdog polls the
 * worker's shared [case index, start time, phase] every WATCHDOG_MS and
 * terminates the worker when one case runs past the time bound (a hang) or
 * the process RSS passes its bound; a worker that dies (e.g. V8 heap
 * exhausted) is also a failure. Each of these is recorded against the case
 * that was running, and the campaign resumes with the next case.
 */

export interface CampaignOptions {
  targets: readonly string[];
  seed: number;
  /** Cases per target. */
  cases: number;
  /** Per-target overrides of `cases`. */
  casesPerTarget?: Readonly<Record<string, number>>;
  /** Index of the first case (cases [firstCase, firstCase + cases) run). @default 0 */
  firstCase?: number;
  /** @default DEFAULT_CASE_TIMEOUT_MS */
  timeoutMs?: number;
  /** Kill the worker when the process RSS passes this. @default 1.5 GiB */
  rssLimitBytes?: number;
  /** V8 old-generation limit of each worker. @default 1024 */
  heapLimitMb?: number;
  /** Stop a target after this many failures. @default 10 */
  maxFailures?: number;
  /** Shrink failing inputs. @default true */
  minimize?: boolean;
  /** Report every case's input and outcome (for replaying one case). @default false */
  verbose?: boolean;
  /** Targets run at once, each in its own worker. @default 1 */
  jobs?: number;
  log?: (line: string) => void;
}

export interface TargetReport {
  target: string;
  seed: number;
  firstCase: number;
  cases: number;
  accepted: number;
  rejected: number;
  codes: Record<string, number>;
  distinctOutcomes: number;
  /** The distinct normalized rejections (code: message shape). */
  outcomes: string[];
  failures: Failure[];
  wallMs: number;
  casesPerSecond: number;
  maxCaseMs: number;
  maxCaseIndex: number;
  maxMemoryBytes: number;
  peakRssBytes: number;
}

const WATCHDOG_MS = 100;

interface Segment {
  /** Set when the worker ended abnormally: the case it was on, and why. */
  abnormal: { caseIndex: number; kind: FailureKind; message: string; phase: number } | null;
  stats: WorkerStats | null;
}

async function runTarget(
  name: string,
  options: Required<Omit<CampaignOptions, "targets" | "jobs" | "casesPerTarget">>,
): Promise<TargetReport> {
  const target = findTarget(name);
  if (!target) throw new Error(`unknown fuzz target ${name}`);
  const end = options.firstCase + options.cases;
  const failures: Failure[] = [];
  const totals = emptyStats();
  const outcomes = new Set<string>();
  let peakRss = 0;
  let cases = 0;
  const started = performance.now();

  const merge = (stats: WorkerStats): void => {
    totals.accepted += stats.accepted;
    totals.rejected += stats.rejected;
    for (const [code, count] of Object.entries(stats.codes))
      totals.codes[code] = (totals.codes[code] ?? 0) + count;
    for (const outcome of stats.outcomes) outcomes.add(outcome);
    if (stats.maxCaseMs > totals.maxCaseMs) {
      totals.maxCaseMs = stats.maxCaseMs;
      totals.maxCaseIndex = stats.maxCaseIndex;
    }
    totals.maxMemoryBytes = Math.max(totals.maxMemoryBytes, stats.maxMemoryBytes);
  };

  let from = options.firstCase;
  while (from < end && failures.length < options.maxFailures) {
    const shared = new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT);
    const state = new Float64Array(shared);
    state[0] = from;
    state[1] = Date.now();
    state[2] = Phase.Idle;
    const job: WorkerJob = {
      target: name,
      seed: options.seed,
      from,
      to: end,
      timeoutMs: options.timeoutMs,
      minimize: options.minimize,
      verbose: options.verbose,
      maxFailures: options.maxFailures - failures.length,
      shared,
    };
    const segment = await new Promise<Segment>((resolve) => {
      const result: Segment = { abnormal: null, stats: null };
      const worker = new Worker(new URL("./fuzz-worker.js", import.meta.url), {
        workerData: job,
        resourceLimits: { maxOldGenerationSizeMb: options.heapLimitMb },
      });
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearInterval(watchdog);
        resolve(result);
      };
      const kill = (kind: FailureKind, message: string): void => {
        if (result.abnormal) return;
        result.abnormal = { caseIndex: state[0]!, kind, message, phase: state[2]! };
        void worker.terminate();
      };
      const watchdog = setInterval(() => {
        const rss = process.memoryUsage.rss();
        peakRss = Math.max(peakRss, rss);
        if (state[2] !== Phase.Idle && Date.now() - state[1]! > options.timeoutMs) {
          kill("hang", `case still running after ${options.timeoutMs} ms`);
        } else if (rss > options.rssLimitBytes) {
          kill("memory", `process RSS ${rss} bytes passed the limit of ${options.rssLimitBytes}`);
        }
      }, WATCHDOG_MS);
      worker.on("message", (message: WorkerMessage) => {
        switch (message.type) {
          case "failure":
            failures.push(message.failure);
            break;
          case "minimized": {
            const failure = failures.find((f) => f.caseIndex === message.caseIndex && f.target === name);
            if (failure) {
              failure.minimizedLength = message.length;
              failure.minimizedHex = message.hex;
            }
            break;
          }
          case "detail":
            options.log(message.text);
            break;
          case "progress":
            result.stats = message.stats;
            break;
          case "done":
            result.stats = message.stats;
            break;
        }
      });
      worker.on("error", (error: Error & { code?: string }) => {
        const kind: FailureKind = error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "memory" : "worker-exit";
        kill(kind, `worker failed: ${describeError(error).stack || error.message}`);
      });
      worker.on("exit", (code) => {
        if (!result.abnormal && code !== 0) {
          result.abnormal = {
            caseIndex: state[0]!,
            kind: "worker-exit",
            message: `worker exited with code ${code}`,
            phase: state[2]!,
          };
        }
        finish();
      });
    });

    if (segment.stats) merge(segment.stats);
    const abnormal = segment.abnormal;
    if (abnormal === null) {
      cases += segment.stats?.cases ?? 0;
      break;
    }
    // The cases before the one that was running all completed.
    const index = abnormal.caseIndex;
    cases += index - from + 1;
    failures.push(
      regenerate(
        name,
        options.seed,
        index,
        abnormal.kind,
        abnormal.phase === Phase.Minimizing
          ? `while minimizing this case's failure, a shrunk input: ${abnormal.message}`
          : abnormal.message,
      ),
    );
    from = index + 1;
  }

  const wallMs = performance.now() - started;
  return {
    target: name,
    seed: options.seed,
    firstCase: options.firstCase,
    cases,
    accepted: totals.accepted,
    rejected: totals.rejected,
    codes: totals.codes,
    distinctOutcomes: outcomes.size,
    outcomes: [...outcomes].sort(),
    failures,
    wallMs,
    casesPerSecond: cases / (wallMs / 1000),
    maxCaseMs: totals.maxCaseMs,
    maxCaseIndex: totals.maxCaseIndex,
    maxMemoryBytes: totals.maxMemoryBytes,
    peakRssBytes: peakRss,
  };
}

/** A failure for a case the worker could not report itself, with its input regenerated from the seed. */
function regenerate(
  name: string,
  seed: number,
  caseIndex: number,
  kind: FailureKind,
  message: string,
): Failure {
  let prepared: PreparedCase | null = null;
  try {
    prepared = prepareCase(findTarget(name)!, seed, caseIndex);
  } catch {
    // Reported without the input.
  }
  return {
    target: name,
    seed,
    caseIndex,
    kind,
    message,
    stack: "",
    inputLength: prepared?.bytes.length ?? 0,
    inputHex: prepared ? hexPreview(prepared.bytes) : "",
    details: prepared?.describe() ?? "",
  };
}

export async function runCampaign(options: CampaignOptions): Promise<TargetReport[]> {
  const resolved = {
    seed: options.seed,
    cases: options.cases,
    firstCase: options.firstCase ?? 0,
    timeoutMs: options.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS,
    rssLimitBytes: options.rssLimitBytes ?? 1.5 * 1024 * 1024 * 1024,
    heapLimitMb: options.heapLimitMb ?? 1024,
    maxFailures: options.maxFailures ?? 10,
    minimize: options.minimize ?? true,
    verbose: options.verbose ?? false,
    log: options.log ?? ((line: string) => console.log(line)),
  };
  for (const name of options.targets) {
    if (!findTarget(name)) throw new Error(`unknown fuzz target ${name}`);
  }
  const reports = new Map<string, TargetReport>();
  const queue = [...options.targets];
  const lanes = Array.from({ length: Math.max(1, options.jobs ?? 1) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const cases = options.casesPerTarget?.[name] ?? resolved.cases;
      reports.set(name, await runTarget(name, { ...resolved, cases }));
    }
  });
  await Promise.all(lanes);
  return options.targets.map((name) => reports.get(name)!);
}

/** The command that replays one case. */
export function reproduceCommand(failure: Pick<Failure, "target" | "seed" | "caseIndex">): string {
  return `npm run fuzz -- --target ${failure.target} --seed ${failure.seed} --case ${failure.caseIndex}`;
}

/** A failure as a multi-line report. */
export function formatFailure(failure: Failure): string {
  const lines = [
    `[${failure.target}] case ${failure.caseIndex} (seed ${failure.seed}): ${failure.kind}: ${failure.message}`,
    `  reproduce: ${reproduceCommand(failure)}`,
    `  input: ${failure.details}`,
    `  ${failure.inputLength} bytes: ${failure.inputHex.slice(0, 2048)}${failure.inputHex.length > 2048 ? "…" : ""}`,
  ];
  if (failure.minimizedHex !== undefined)
    lines.push(`  minimized to ${failure.minimizedLength} bytes: ${failure.minimizedHex}`);
  if (failure.stack) lines.push(`  ${failure.stack.split("\n").slice(0, 12).join("\n  ")}`);
  return lines.join("\n");
}

/** One summary line per target. */
export function formatReport(report: TargetReport): string {
  const mb = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  const codes = Object.entries(report.codes)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code.replace("EDGE_ERR_", "")} ${count}`)
    .join(", ");
  return [
    `${report.target.padEnd(10)} cases ${String(report.cases).padStart(7)}  failures ${report.failures.length}  ` +
      `${report.casesPerSecond.toFixed(0).padStart(6)} cases/s  wall ${(report.wallMs / 1000).toFixed(1)} s`,
    `           accepted ${report.accepted}, rejected ${report.rejected} (${codes || "none"}), ${report.distinctOutcomes} distinct rejections`,
    `           slowest case ${report.maxCaseMs.toFixed(1)} ms (#${report.maxCaseIndex}), largest case allocation ${mb(report.maxMemoryBytes)}, peak RSS ${mb(report.peakRssBytes)}`,
  ].join("\n");
}
