import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { BENCH_MEDIA_FILE, ensureBenchMedia } from "./edge/bench-media.js";
import { fullSpeed } from "./edge/full-speed.js";
import { describeRun, measure, type RunRecord, record, summarise } from "./edge/load-run.js";
import { parseEdgeBenchOptions } from "./edge/options.js";
import { ensureBenchTools } from "./edge/peer-tools.js";
import { realtime } from "./edge/realtime.js";
import { report } from "./edge/report.js";
import { pinTo, type ServerUnderTest, startEdge, startNginx } from "./edge/servers.js";
import { measureSignedUrlCost, reportSignedUrlCost } from "./edge/signed-url-cost.js";
import { BenchLifecycle } from "./harness/lifecycle.js";
import { gitCommit, machineInfo, writeResults } from "./harness/results.js";
import { fixed } from "./harness/stats.js";

/**
 * `npm run bench:edge`: the streamfront edge against nginx-rtmp serving the
 * same FLV in the same run, many concurrent viewers, full speed (large
 * client buffer, edge/full-speed.ts) and real time (small buffer,
 * edge/realtime.ts). Reports the edge's server CPU per GB delivered and per
 * stream-second as ratios to nginx-rtmp with one worker (the peer of one
 * Node process). Loopback only; every load is bounded in viewers and time,
 * and the whole run has a wall-clock cap.
 */

const lifecycle = new BenchLifecycle();

function commandOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
}

async function main(): Promise<number> {
  const o = parseEdgeBenchOptions(process.argv.slice(2));
  const cap = lifecycle.installExitHandlers(o.maxMinutes);
  const began = Date.now();
  try {
    ensureBenchTools();
    const media = ensureBenchMedia(o.mediaCache);
    process.stdout.write(
      `bench: media ${media.path}: ${fixed(media.bytes / 1e6, 1)} MB, ${fixed(media.bitsPerSecond / 1e6, 2)} Mbps\n`,
    );
    // In this process, before any server starts: the play gate's cost, apart from the load runs.
    const signedUrlCost = o.signedUrls > 0 ? measureSignedUrlCost(o.signedUrls, o.runs) : null;
    if (signedUrlCost) process.stdout.write(`${reportSignedUrlCost(signedUrlCost).join("\n")}\n\n`);
    const work = lifecycle.tempDir("streamfront-bench-");
    const mediaDir = join(work, "media");
    mkdirSync(mediaDir);
    copyFileSync(media.path, join(mediaDir, BENCH_MEDIA_FILE));

    const maxViewers = Math.max(o.fullViewers, o.rtViewers, o.warmupViewers);
    const measurementsInOrder = o.modes.map((mode) => (mode === "full" ? fullSpeed : realtime));
    const servers: ServerUnderTest[] = [];
    if (o.servers.includes("edge")) servers.push(await startEdge(lifecycle, mediaDir, maxViewers, o.pin));
    if (o.servers.includes("nginx"))
      servers.push(await startNginx(lifecycle, work, mediaDir, maxViewers, o.pin));
    if (o.pin) pinTo(1, process.pid);

    for (const server of servers) {
      if (o.warmupViewers === 0) break;
      const m = await measure(lifecycle, server, fullSpeed.plan(server, o, media, o.warmupViewers), o.pin);
      const r = record(0, server, "full", m);
      process.stdout.write(`bench: warm-up ${server.name}: ${describeRun(r).replace(/^bench: run 0 /, "")}`);
      if (r.errors > 0)
        throw new Error(`warm-up against ${server.name} failed: ${r.errorSamples.join("; ")}`);
    }

    const records: RunRecord[] = [];
    for (let run = 1; run <= o.runs; run++) {
      for (const measurement of measurementsInOrder) {
        const order = run % 2 === 1 ? servers : [...servers].reverse();
        for (const server of order) {
          const viewers = measurement.viewers(o);
          const m = await measure(lifecycle, server, measurement.plan(server, o, media, viewers), o.pin);
          const r = record(run, server, measurement.mode, m);
          records.push(r);
          process.stdout.write(describeRun(r));
        }
      }
    }

    const { text, ratios } = report(o, [fullSpeed, realtime], records, servers, media);
    process.stdout.write(`${text}\n`);
    if (signedUrlCost) process.stdout.write(`${reportSignedUrlCost(signedUrlCost).join("\n")}\n`);
    const errors = records.reduce((sum, r) => sum + r.errors, 0);
    if (o.out) {
      writeResults(o.out, {
        benchmark: "bench:edge",
        startedAt: new Date(began).toISOString(),
        wallSeconds: (Date.now() - began) / 1000,
        machine: machineInfo(),
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
        signedUrls: signedUrlCost,
        runs: records,
        errors,
      });
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
    await lifecycle.cleanup();
  }
}

lifecycle.run(main);
