import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { dirname } from "node:path";
import { repoRoot } from "../../../lib/testing/paths.js";

/** The machine a benchmark ran on, for its JSON results. */
export function machineInfo(): { cpus: number; model: string; kernel: string; node: string } {
  return { cpus: cpus().length, model: cpus()[0]?.model ?? "", kernel: release(), node: process.version };
}

/** The commit the benchmark was built from; "" outside a git checkout. */
export function gitCommit(): string {
  try {
    return execFileSync("git", ["-C", repoRoot, "rev-parse", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "";
  }
}

/** Writes results as indented JSON to `path`, creating its directory. */
export function writeResults(path: string, results: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** A progress line of a benchmark, on stderr. */
export function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}
