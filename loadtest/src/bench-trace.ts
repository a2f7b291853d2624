import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { integerOption, parseBenchArgs } from "./harness/options.js";
import { gitCommit, machineInfo, writeResults } from "./harness/results.js";
import { fixed, median, table } from "./harness/stats.js";
import { type PairedFigures, TraceMode } from "./trace/cache-read-loop.js";
import { stripPublishers } from "./trace/strip-publishers.js";

/**
 * `npm run bench:trace`: what the trace publishers cost on the edge's hot
 * path. The loop (trace/cache-read-loop.ts) reads a cached object through
 * the edge's slice cache, where edge:cache:lookup is published. Each
 * round is a fresh process that loads the real module and a copy of it
 * with the publishers removed from the compiled code
 * (trace/strip-publishers.ts), and measures them in alternating batches:
 * with nobody subscribed (tracing off), with a counting subscriber, and
 * with the built-in trace log. The report gives ns per read and the
 * real/stripped ratio per mode — medians over the rounds of each round's
 * median batch ratio — with the spread over rounds.
 */

const usage = `usage: npm run bench:trace -- [--rounds N] [--ops N] [--batches N] [--out results.json]

  --rounds N   processes, each measuring every mode (default 7, at least 5)
  --ops N      reads per batch (default 200000)
  --batches N  batches of each module per mode and round (default 10)
  --out FILE   also write the figures as JSON`;

const values = parseBenchArgs(process.argv.slice(2), usage, {
  rounds: { type: "string" },
  ops: { type: "string" },
  batches: { type: "string" },
  out: { type: "string" },
});
const rounds = integerOption("rounds", values.rounds, 7, 5, 101);
const ops = integerOption("ops", values.ops, 200_000, 1000, 100_000_000);
const batches = integerOption("batches", values.batches, 10, 2, 1000);

const cacheModule = fileURLToPath(new URL("../../edge/src/edge-cache/slice-cache.js", import.meta.url));
const loopModule = fileURLToPath(new URL("./trace/cache-read-loop.js", import.meta.url));
// Next to the real module, so its relative imports resolve the same.
const strippedModule = cacheModule.replace(/\.js$/, ".untraced.js");
const work = mkdtempSync(join(tmpdir(), "streamfront-bench-trace-"));
const modes: readonly TraceMode[] = [TraceMode.Off, TraceMode.Subscriber, TraceMode.TraceLog];

try {
  const stripped = stripPublishers(readFileSync(cacheModule, "utf8"));
  if (stripped.removed === 0) throw new Error(`no publisher found in ${cacheModule}`);
  writeFileSync(strippedModule, stripped.code);
  const entry = join(work, "round.mjs");
  const url = (file: string) => JSON.stringify(pathToFileURL(file).href);
  writeFileSync(
    entry,
    [
      `import { SliceCache as Stripped } from ${url(strippedModule)};`,
      `import { SliceCache as Real } from ${url(cacheModule)};`,
      `import { pairedCacheReads } from ${url(loopModule)};`,
      `const figures = await pairedCacheReads(Stripped, Real, ${ops}, ${batches});`,
      "process.stdout.write(JSON.stringify(figures));",
      "",
    ].join("\n"),
  );
  process.stderr.write(
    `bench:trace: ${stripped.removed} publishers stripped from slice-cache.js; ${rounds} rounds × ${modes.length} modes × ${batches} batch pairs × ${ops} reads\n`,
  );
  const perRound: PairedFigures[] = [];
  for (let round = 0; round < rounds; round++) {
    const result = spawnSync(process.execPath, [entry], { encoding: "utf8", timeout: 600_000 });
    if (result.status !== 0) throw new Error(`round ${round + 1} failed: ${result.stderr}`);
    perRound.push(JSON.parse(result.stdout) as PairedFigures);
    process.stderr.write(`  round ${round + 1}/${rounds} done\n`);
  }
  const summary = modes.map((mode) => {
    const ratios = perRound.map((f) => median(f[mode].real.map((ns, i) => ns / f[mode].stripped[i]!)));
    return {
      mode,
      strippedNs: median(perRound.map((f) => median(f[mode].stripped))),
      realNs: median(perRound.map((f) => median(f[mode].real))),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
    };
  });
  const rows = summary.map((s) => [
    s.mode,
    fixed(s.strippedNs, 1),
    fixed(s.realNs, 1),
    fixed(s.realNs - s.strippedNs, 1),
    fixed(s.ratio, 3),
    `${fixed(s.ratioMin, 3)}–${fixed(s.ratioMax, 3)}`,
  ]);
  process.stdout.write(
    `${table(["mode", "stripped ns/read", "real ns/read", "difference ns", "ratio (median)", "ratio range over rounds"], rows)}\n`,
  );
  const off = summary[0]!;
  // The noise floor: the same stripped module against itself, batch to batch, within a round.
  const selfSpread = median(
    perRound.map((f) => {
      const s = f[TraceMode.Off].stripped;
      return Math.max(...s) / Math.min(...s) - 1;
    }),
  );
  process.stdout.write(
    `\ntracing off vs publishers removed: ${fixed(off.ratio, 3)}× (rounds ${fixed(off.ratioMin, 3)}–${fixed(off.ratioMax, 3)}); ` +
      `the stripped module's own batch-to-batch spread within a round: ${fixed(selfSpread * 100, 1)}% (median over rounds). ` +
      "A ratio whose range over rounds holds 1.000 is no measurable cost.\n",
  );
  if (values.out) {
    writeResults(values.out, {
      commit: gitCommit(),
      machine: machineInfo(),
      rounds,
      opsPerBatch: ops,
      batches,
      publishersStripped: stripped.removed,
      summary,
      strippedSelfSpread: selfSpread,
      perRound,
    });
  }
} finally {
  rmSync(strippedModule, { force: true });
  rmSync(work, { recursive: true, force: true });
}
