import { parseArgs } from "node:util";
import { formatFailure, formatReport, runCampaign } from "./campaign.js";
import { DEFAULT_CASE_TIMEOUT_MS, timeSeed } from "./fuzz-harness.js";
import { formatServerReport, runServerCampaign } from "./server-target.js";
import { findTarget, TARGETS } from "./targets/index.js";

/**
 * The fuzz campaign: every target (or the --target ones) for --cases cases
 * each, in worker threads under a watchdog. Exits 1 on any failure.
 *
 *   npm run fuzz                                   # 100 000 cases per target, time-derived seed
 *   npm run fuzz -- --target demux --cases 5000 --seed 42
 *   npm run fuzz -- --target chunk --seed 42 --case 1234   # replay one case, printing its input
 *   npm run fuzz -- --target server --cases 100000 --seed 42  # a live edge process over TCP (server-target.ts)
 *
 * The server target is not in the default list (it starts processes and
 * takes minutes): name it with --target.
 */

const HELP = `usage: run-fuzz [options]
  --cases N          cases per target (default 100000)
  --seed S           campaign seed (default: derived from the clock, printed)
  --target NAME      run only this target; repeatable (default: all)
  --case N           run only case N (with --seed and --target), printing its input and outcome
  --first N          index of the first case (default 0)
  --timeout-ms MS    per-case time bound (default ${DEFAULT_CASE_TIMEOUT_MS})
  --rss-limit-mb MB  process RSS bound (default 1536)
  --max-failures N   stop a target after N failures (default 10)
  --jobs N           targets run in parallel (default 1)
  --no-minimize      do not shrink failing inputs
  --show-outcomes    list the distinct rejections each target reached
  --list             list the targets
  --concurrency N    server target: connections at once (default 32)
targets: ${TARGETS.map((t) => t.name).join(", ")}, server (a live edge process; only when named) (and selftest, which checks the harness)`;

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cases: { type: "string" },
      seed: { type: "string" },
      target: { type: "string", multiple: true },
      case: { type: "string" },
      first: { type: "string" },
      "timeout-ms": { type: "string" },
      "rss-limit-mb": { type: "string" },
      "max-failures": { type: "string" },
      jobs: { type: "string" },
      concurrency: { type: "string" },
      "no-minimize": { type: "boolean" },
      "show-outcomes": { type: "boolean" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.list) {
    for (const target of TARGETS) console.log(`${target.name.padEnd(10)} ${target.summary}`);
    return 0;
  }
  const named = values.target ?? TARGETS.map((t) => t.name);
  const server = named.includes("server");
  const targets = named.filter((name) => name !== "server");
  for (const name of targets) {
    if (!findTarget(name)) throw new Error(`unknown target ${JSON.stringify(name)}\n${HELP}`);
  }
  const seedGiven = values.seed !== undefined;
  const seed = integer(values.seed, "seed", timeSeed());
  const single = values.case !== undefined ? integer(values.case, "case", 0) : null;
  const cases = single !== null ? 1 : integer(values.cases, "cases", 100_000);
  const firstCase = single ?? integer(values.first, "first", 0);

  console.log(
    `fuzz: ${targets.join(", ")} × ${cases} case(s) from #${firstCase}, seed ${seed}${seedGiven ? "" : " (from the clock; pass --seed to replay)"}`,
  );
  let failures = 0;
  if (server) {
    const report = await runServerCampaign({
      seed,
      cases,
      firstCase,
      concurrency: integer(values.concurrency, "concurrency", 32),
      log: (message) => console.log(message),
    });
    console.log(formatServerReport(report));
    failures += report.failures.length;
  }
  const reports =
    targets.length === 0
      ? []
      : await runCampaign({
          targets,
          seed,
          cases,
          firstCase,
          timeoutMs: integer(values["timeout-ms"], "timeout-ms", DEFAULT_CASE_TIMEOUT_MS),
          rssLimitBytes: integer(values["rss-limit-mb"], "rss-limit-mb", 1536) * 1024 * 1024,
          maxFailures: integer(values["max-failures"], "max-failures", 10),
          jobs: integer(values.jobs, "jobs", 1),
          minimize: !values["no-minimize"],
          verbose: single !== null,
        });
  for (const report of reports) {
    console.log(formatReport(report));
    if (values["show-outcomes"])
      for (const outcome of report.outcomes) console.log(`             ${outcome}`);
    failures += report.failures.length;
  }
  for (const report of reports) {
    for (const failure of report.failures) console.log(`\n${formatFailure(failure)}`);
  }
  console.log(failures === 0 ? "\nfuzz: no failures" : `\nfuzz: ${failures} failure(s) (seed ${seed})`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  },
);
