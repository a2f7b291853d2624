import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { EmbeddedS3 } from "../../deploy/local/embedded-s3.js";
import { testPki } from "../../lib/testing/tls.js";
import { BenchLifecycle } from "./harness/lifecycle.js";
import { gitCommit, log, machineInfo, writeResults } from "./harness/results.js";
import { fixed } from "./harness/stats.js";
import { measureCollapse } from "./shield/collapse.js";
import { internalTlsReport, measureInternalTls } from "./shield/internal-tls.js";
import { MiB, parseShieldBenchOptions } from "./shield/options.js";
import { type RunRecord, report, summarise } from "./shield/report.js";
import { BUCKET, type Setup, startShield } from "./shield/setup.js";
import { type GrpcRecord, measureGrpc, measureTcp, type TcpRecord } from "./shield/throughput.js";
import { measureTtfb } from "./shield/ttfb.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * `npm run bench:shield`: the origin shield as its own process (the build's
 * shield/src/main.js, launched like a pod by launchComponent) in front of the
 * embedded S3 (s3rver, in this process), read by ShieldServiceClient from
 * worker processes (shield/worker.ts) so no reader shares a process with
 * the benchmark or the shield. Per run, alternating the order of the first
 * two (shield/throughput.ts, shield/collapse.ts, shield/ttfb.ts):
 *
 * 1. Raw loopback TCP: one worker writes --object-mib from a pre-filled
 *    buffer over --concurrency connections (socket.write, 'drain'), another
 *    only counts bytes. The ceiling for any protocol in Node on this machine.
 * 2. Cached gRPC range reads: a worker reads the whole (cached) object with
 *    --concurrency ReadRange calls of --range-mib in flight, over the edge's
 *    own channel options (one connection by default, as an edge holds one
 *    per shield replica). Reported as MB/s and as a fraction of (1) in the
 *    same run; the shield's CPU seconds per GB served; the S3 GETs (must be
 *    0: "cached" is checked, not assumed).
 * 3. Collapse under load: --readers readers start together on a fresh key
 *    (so a cold cache without restarting the shield: slices are keyed by
 *    bucket, key and ETag), each StatObject then sequential ReadRange calls
 *    of --block-kib pinned to the ETag, as an edge plays a file. Collapse
 *    ratio = bytes the readers received ÷ body bytes the shield read from S3
 *    (its streamfront_shield_origin_bytes_total; ideal = --readers), and S3
 *    GETs per slice (the embedded S3's request log; ideal 1.00).
 * 4. Time to first byte: ReadRange of --ttfb-kib at a random aligned offset,
 *    one call at a time, pinned. Cold = a slice never read (a fresh key per
 *    run, a distinct slice per sample: the shield's S3 GET is in the time;
 *    its HEAD is not, the object was stat'ed first, as an edge opens a file
 *    before reading). Warm = the same ranges again once their slices are in
 *    memory: an untimed pass reads each slice whole first, because a short
 *    cold read may leave its slice uncached (the cache abandons a fetch whose
 *    last reader left before finishFraction of it arrived; counted and
 *    reported). The warm pass is checked to make no S3 GET.
 *
 * Design choices: the throughput runs read the object whole (not for a
 * fixed time) so both sides move exactly the same bytes. TCP uses one
 * connection per stream (the most a raw sender gets); gRPC multiplexes its
 * calls over --channels connections, as grpc-js does for an edge. Both are
 * warm: a verifying read fills the cache and checks every range's SHA-256,
 * then one unmeasured pass of each path warms the JIT. Each measurement runs
 * in fresh worker processes, and its CPU is read from /proc (shield) and
 * from the workers themselves; machine-wide busy time not ours is reported
 * (other load skews a run). The shield's cache memory is sized to hold
 * everything the benchmark reads, so nothing is evicted (checked). The
 * embedded S3 shares this process's CPU; it is idle during (1) and (2).
 * Other STREAMFRONT_SHIELD_* variables in the environment reach the shield,
 * except the ones set here. Loopback only; every load is bounded in bytes
 * and time, and the whole run has a wall-clock cap (--max-minutes).
 */

const lifecycle = new BenchLifecycle();

async function main(): Promise<number> {
  const o = parseShieldBenchOptions(process.argv.slice(2));
  const cap = lifecycle.installExitHandlers(o.maxMinutes);
  const began = Date.now();
  try {
    const work = lifecycle.tempDir("streamfront-bench-shield-");
    const s3 = new EmbeddedS3({
      directory: join(work, "s3"),
      host: "127.0.0.1",
      port: 0,
      maxRequestLog: 1_000_000,
    });
    lifecycle.own({ stop: () => s3.close(), livePids: () => [] });
    await s3.start();
    await s3.ensureBucket(BUCKET);

    const object = randomBytes(o.objectBytes);
    const objectKey = "bench/object.bin";
    let t = performance.now();
    await s3.putObject(BUCKET, objectKey, object);
    log(
      `uploaded ${o.objectBytes / MiB} MiB of random bytes to the embedded S3 in ${fixed((performance.now() - t) / 1000, 1)} s`,
    );

    // Room for everything the benchmark reads, so nothing is evicted: the
    // object, each run's collapse object and cold TTFB slices, and slack.
    const need =
      o.objectBytes + o.runs * (o.collapseBytes + o.ttfbSamples * o.sliceBytes) + 16 * o.sliceBytes;
    const cacheMemoryBytes = Math.ceil((need * 1.25) / MiB) * MiB;
    const pki = testPki();
    const { shield, env: shieldEnv } = await startShield(lifecycle, s3, o, cacheMemoryBytes);
    const shieldPid = shield.child.pid!;
    const admin = shield.addresses.admin ?? "";
    const address = shield.addresses.grpc ?? "";
    log(`shield pid ${shieldPid} on ${address} (admin ${admin}), cache memory ${cacheMemoryBytes / MiB} MiB`);
    const setup: Setup = {
      lifecycle,
      o,
      s3,
      shieldPid,
      admin,
      target: {
        address,
        bucket: BUCKET,
        channels: o.channels,
        flowControlWindow: o.grpcWindowBytes,
        tls: { caFile: pki.ca.caFile, ...pki.roles.edge },
      },
      objectKey,
      object,
    };
    // Generous per-task deadlines: 20 MB/s at worst.
    const readDeadlineMs = 30_000 + o.objectBytes / 20_000;
    const collapseDeadlineMs = 30_000 + (o.readers * o.collapseBytes) / 20_000;
    const ttfbDeadlineMs = 30_000 + o.ttfbSamples * 2 * 1_000;

    // Warm-up: a cold read fills the cache and checks every byte; then one
    // unmeasured pass of each path for the JIT.
    t = performance.now();
    const fill = await measureGrpc(setup, true, readDeadlineMs);
    if (fill.errors.length > 0)
      throw new Error(`the verifying read failed: ${fill.errors.slice(0, 3).join("; ")}`);
    log(
      `cold read through the shield (verified): ${fixed(fill.MBps, 0)} MB/s, ${fill.shield.originGets} S3 GETs, ` +
        `${fixed(fill.shield.originBytes / 1e6, 1)} MB from S3, in ${fixed((performance.now() - t) / 1000, 1)} s`,
    );
    const warmTcp = await measureTcp(setup, readDeadlineMs);
    const warmGrpc = await measureGrpc(setup, false, readDeadlineMs);
    log(`warm-up: TCP ${fixed(warmTcp.MBps, 0)} MB/s, gRPC ${fixed(warmGrpc.MBps, 0)} MB/s`);

    const runs: RunRecord[] = [];
    for (let run = 1; run <= o.runs; run++) {
      const tcpFirst = run % 2 === 1;
      let tcp: TcpRecord;
      let grpc: GrpcRecord;
      if (tcpFirst) {
        tcp = await measureTcp(setup, readDeadlineMs);
        grpc = await measureGrpc(setup, false, readDeadlineMs);
      } else {
        grpc = await measureGrpc(setup, false, readDeadlineMs);
        tcp = await measureTcp(setup, readDeadlineMs);
      }
      const collapse = await measureCollapse(setup, run, collapseDeadlineMs);
      const ttfb = await measureTtfb(setup, run, ttfbDeadlineMs);
      const record: RunRecord = {
        run,
        order: tcpFirst ? "tcp-first" : "grpc-first",
        tcp,
        grpc,
        fraction: grpc.MBps / tcp.MBps,
        collapse,
        ttfb,
      };
      runs.push(record);
      log(
        `run ${run}: TCP ${fixed(tcp.MBps, 0)} MB/s, gRPC ${fixed(grpc.MBps, 0)} MB/s (${fixed(record.fraction, 3)}), ` +
          `shield ${fixed(grpc.shieldCpuSPerGB, 2)} CPU s/GB; collapse ${fixed(collapse.ratio, 2)} ` +
          `(${collapse.s3.gets} GETs for ${collapse.slices} slices, ${collapse.s3.getsAborted} aborted); ` +
          `TTFB cold ${fixed(ttfb.coldP50Ms, 2)} ms, warm ${fixed(ttfb.warmP50Ms, 2)} ms`,
      );
    }

    // What mutual TLS costs on the shield path: a twin shield with internal-tls=plaintext on the same S3.
    const internalTls = await measureInternalTls(lifecycle, setup, s3, cacheMemoryBytes, readDeadlineMs);

    const summary = summarise(o, runs);
    process.stdout.write(`${report(o, runs, summary, cacheMemoryBytes)}\n`);
    process.stdout.write(`${internalTlsReport(internalTls)}\n`);
    const errors = runs.reduce(
      (sum, r) =>
        sum + r.tcp.errors.length + r.grpc.errors.length + r.collapse.errors.length + r.ttfb.errors.length,
      internalTls.reduce((n, r) => n + r.mtls.errors.length + r.plaintext.errors.length, 0),
    );
    if (o.out) {
      writeResults(o.out, {
        benchmark: "bench:shield",
        startedAt: new Date(began).toISOString(),
        wallSeconds: (Date.now() - began) / 1000,
        machine: machineInfo(),
        commit: gitCommit(),
        options: o,
        shield: {
          env: Object.fromEntries(
            Object.entries(shieldEnv).filter(([k]) => !k.includes("SECRET") && !k.includes("ACCESS_KEY")),
          ),
          cacheMemoryBytes,
        },
        warmup: { fill, tcp: warmTcp, grpc: warmGrpc },
        summary,
        runs,
        internalTls,
        errors,
      });
      log(`results written to ${o.out}`);
    }
    log(`finished in ${fixed((Date.now() - began) / 1000, 0)} s`);
    if (errors > 0) {
      log(`${errors} error(s) during the runs`);
      return 1;
    }
    return 0;
  } finally {
    clearTimeout(cap);
    await lifecycle.cleanup();
  }
}

lifecycle.run(main, { stack: true });
