import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative } from "node:path";
import { repoRoot } from "./paths.js";

/**
 * Runs one kind of the built tests with `node --test`: `unit` (every
 * `*.test.js` that is not `*.system.test.js`: pure and in-process code,
 * loopback sockets allowed) or `system` (`*.system.test.js`: they start
 * processes, drive real clients such as ffmpeg, rtmpdump and GStreamer, or
 * use Redis or S3). Every test binds port 0 and owns its own temp folders,
 * so files run in parallel. Unit files are CPU-bound and short, so they get
 * every core; system files each start several processes and players, so
 * they run two at a time, which a loaded 2-core machine still runs without
 * starving a timing-sensitive player (`STREAMFRONT_TEST_CONCURRENCY`
 * overrides either). Finding no file of the kind is a failure, never a
 * silent pass.
 */
const TestKind = { Unit: "unit", System: "system" } as const;
type TestKind = (typeof TestKind)[keyof typeof TestKind];

const systemSuffix = ".system.test.js";

function kindOf(file: string): TestKind | null {
  if (file.endsWith(systemSuffix)) return TestKind.System;
  if (file.endsWith(".test.js")) return TestKind.Unit;
  return null;
}

function findTests(dir: string, kind: TestKind, out: string[]): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findTests(path, kind, out);
    else if (kindOf(entry.name) === kind) out.push(path);
  }
  return out;
}

function concurrencyFor(kind: TestKind): number {
  const override = process.env.STREAMFRONT_TEST_CONCURRENCY;
  if (override !== undefined && override !== "") {
    const n = Number(override);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`STREAMFRONT_TEST_CONCURRENCY must be a positive integer, got ${override}`);
    }
    return n;
  }
  return kind === TestKind.Unit ? availableParallelism() : 2;
}

function main(argv: readonly string[]): number {
  const kind = argv[0];
  if (kind !== TestKind.Unit && kind !== TestKind.System) {
    throw new Error(`usage: run-tests.js unit|system [file filter], got ${argv.join(" ") || "nothing"}`);
  }
  const filter = argv[1];
  const dist = join(repoRoot, "dist");
  const files = findTests(dist, kind, [])
    .filter((file) => filter === undefined || relative(dist, file).includes(filter))
    .sort();
  if (files.length === 0) {
    throw new Error(
      `no ${kind} test files under ${dist}${filter === undefined ? "" : ` matching ${filter}`}`,
    );
  }
  const concurrency = concurrencyFor(kind);
  process.stdout.write(`run-tests: ${files.length} ${kind} test files, ${concurrency} at a time\n`);
  const started = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    [
      "--enable-source-maps",
      "--test",
      `--test-concurrency=${concurrency}`,
      // A hang guard only: no test's correctness rests on it. System tests
      // (hundreds of players, 320 MiB through a cache) get more room, for a
      // loaded 2-core machine running two files at once.
      `--test-timeout=${kind === TestKind.Unit ? 180_000 : 600_000}`,
      ...files,
    ],
    { stdio: "inherit" },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`run-tests: ${kind} tests took ${seconds.toFixed(1)} s\n`);
  if (result.error !== undefined) throw result.error;
  return result.status ?? 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`run-tests: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
