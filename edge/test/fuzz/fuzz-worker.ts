import { parentPort, workerData } from "node:worker_threads";
import {
  type CaseOutcome,
  describeError,
  type FailureKind,
  failureSignature,
  hexPreview,
  minimize,
  normalizeMessage,
  type PreparedCase,
  prepareCase,
  runPrepared,
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
 * Runs cases [from, to) of one target inside a worker thread, so the
 * campaign's watchdog can kill a case that never returns (a synchronous
 * infinite loop blocks this thread, not the watchdog's). Before each case
 * it writes the case index, start time and phase into shared memory.
 */

const MINIMIZABLE: ReadonlySet<FailureKind> = new Set(["crash", "unexpected-code", "property"]);

async function main(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  const post = (message: WorkerMessage): void => port.postMessage(message);
  const target = findTarget(job.target);
  if (!target) throw new Error(`unknown fuzz target ${job.target}`);
  const shared = new Float64Array(job.shared);
  const outcomes = new Set<string>();
  const stats: WorkerStats = emptyStats();
  let lastProgress = Date.now();

  for (let index = job.from; index < job.to && stats.failures < job.maxFailures; index++) {
    shared[0] = index;
    shared[1] = Date.now();
    shared[2] = Phase.Running;
    let prepared: PreparedCase | null = null;
    let outcome: CaseOutcome;
    try {
      prepared = prepareCase(target, job.seed, index);
      outcome = await runPrepared(target, prepared, { timeoutMs: job.timeoutMs });
    } catch (error) {
      // The generator itself threw: a harness bug, but it must not pass silently.
      outcome = { status: "failed", kind: "crash", error, ms: 0, memory: 0 };
    }
    shared[2] = Phase.Idle;
    stats.cases++;
    if (outcome.ms > stats.maxCaseMs) {
      stats.maxCaseMs = outcome.ms;
      stats.maxCaseIndex = index;
    }
    stats.maxMemoryBytes = Math.max(stats.maxMemoryBytes, outcome.memory);
    if (outcome.status === "accepted") {
      stats.accepted++;
    } else if (outcome.status === "rejected") {
      stats.rejected++;
      stats.codes[outcome.code] = (stats.codes[outcome.code] ?? 0) + 1;
      if (outcomes.size < 5000) outcomes.add(`${outcome.code}: ${normalizeMessage(outcome.message)}`);
    }
    if (job.verbose) {
      const input = prepared
        ? `${prepared.describe()}\n  input (${prepared.bytes.length} bytes): ${hexPreview(prepared.bytes, 1 << 16)}`
        : "(generation failed)";
      const result =
        outcome.status === "accepted"
          ? "accepted"
          : outcome.status === "rejected"
            ? `rejected ${outcome.code}: ${outcome.message}`
            : `FAILED (${outcome.kind}) ${describeError(outcome.error).stack || describeError(outcome.error).message}`;
      post({ type: "detail", text: `case ${index}: ${input}\n  → ${result} in ${outcome.ms.toFixed(1)} ms` });
    }
    if (outcome.status === "failed") {
      stats.failures++;
      const { message, stack } = describeError(outcome.error);
      const bytes = prepared?.bytes ?? Buffer.alloc(0);
      post({
        type: "failure",
        failure: {
          target: target.name,
          seed: job.seed,
          caseIndex: index,
          kind: outcome.kind,
          message,
          stack,
          inputLength: bytes.length,
          inputHex: hexPreview(bytes),
          details: prepared?.describe() ?? "",
        },
      });
      if (job.minimize && prepared && MINIMIZABLE.has(outcome.kind)) {
        shared[1] = Date.now();
        shared[2] = Phase.Minimizing;
        const signature = failureSignature(outcome.kind, outcome.error);
        const smallest = await minimize(
          target,
          prepared,
          signature,
          {
            maxRuns: 2000,
            maxMs: 5000,
            timeoutMs: job.timeoutMs,
          },
          () => {
            shared[1] = Date.now();
          },
        );
        shared[2] = Phase.Idle;
        if (smallest.length < bytes.length) {
          post({ type: "minimized", caseIndex: index, length: smallest.length, hex: hexPreview(smallest) });
        }
      }
    }
    if (Date.now() - lastProgress > 500) {
      lastProgress = Date.now();
      post({ type: "progress", stats });
    }
  }
  stats.outcomes = [...outcomes];
  post({ type: "done", stats });
}

if (parentPort) await main(workerData as WorkerJob);
