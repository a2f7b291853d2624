import { execFileSync } from "node:child_process";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, getPriority, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EmbeddedS3, embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../../lib/process/launcher.js";
import { repoRoot } from "../../lib/testing/paths.js";
import { testPki, testTlsEnv } from "../../lib/testing/tls.js";
import { integerOption } from "./bench/options.js";
import { isAlive, processCpuSeconds, selfCpuSeconds, systemBusySeconds } from "./bench/proc-cpu.js";
import {
  counterDelta,
  type S3Seen,
  type ShieldCounters,
  s3Seen,
  scrapeCounters,
} from "./bench/shield-metrics.js";
import type {
  CollapseResult,
  GrpcTarget,
  ThroughputResult,
  TtfbResult,
  TtfbSample,
  WorkerResult,
  WorkerTask,
} from "./bench/shield-worker-protocol.js";
import { fixed, median, percentile, table } from "./bench/stats.js";
import { startWorker, type WorkerProcess } from "./bench/worker-process.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * `npm run bench:shield`: the origin shield as its own process (the build's
 * shield/src/main.js, launched like a pod by launchComponent) in front of the
 * embedded S3 (s3rver, in this process), read by ShieldServiceClient from
 * worker processes (bench/shield-worker.js) so no reader shares a process
 * with the benchmark or the shield. Per run, alternating the order of the
 * first two:
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

const usage = `usage: node dist/loadtest/src/bench-shield.js [options]
  --runs N              measured runs; medians are reported with per-run values (default 5)
  --object-mib M        object read whole by the throughput runs (default 256)
  --concurrency N       ReadRange calls in flight / TCP connections in the throughput runs (default 4)
  --range-mib M         length of each ReadRange of the throughput runs (default 4)
  --channels N          gRPC connections of the throughput reader (default 1, as an edge per shield)
  --grpc-window-kib K   reader's HTTP/2 flow-control window (grpc-node.flow_control_window);
                        0 = grpc-js's default, as the edge (default 0)
  --tcp-write-kib K     size of each socket.write of the TCP baseline (default: --piece-kib)
  --readers C           concurrent readers of the collapse runs (default 32)
  --collapse-mib M      object of the collapse runs, a fresh key per run (default 64)
  --block-kib K         ReadRange length of the collapse readers, the edge's block (default 256)
  --ttfb-samples N      cold and warm samples per run (default 50)
  --ttfb-kib K          length of each timed ReadRange (default 64)
  --slice-kib K         the shield's cache-slice-bytes (default 1024)
  --piece-kib K         the shield's max-piece-bytes (default 256)
  --out FILE            also write the results as JSON
  --max-minutes M       wall-clock cap for the whole benchmark (default 10)`;

const KiB = 1024;
const MiB = 1024 * 1024;
const BUCKET = "streamfront-bench";
const SETTLE_MS = 200;

interface Options {
  runs: number;
  objectBytes: number;
  concurrency: number;
  rangeBytes: number;
  channels: number;
  grpcWindowBytes: number;
  tcpWriteBytes: number;
  readers: number;
  collapseBytes: number;
  blockBytes: number;
  ttfbSamples: number;
  ttfbBytes: number;
  sliceBytes: number;
  pieceBytes: number;
  out: string | null;
  maxMinutes: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: "string" },
      "object-mib": { type: "string" },
      concurrency: { type: "string" },
      "range-mib": { type: "string" },
      channels: { type: "string" },
      "grpc-window-kib": { type: "string" },
      "tcp-write-kib": { type: "string" },
      readers: { type: "string" },
      "collapse-mib": { type: "string" },
      "block-kib": { type: "string" },
      "ttfb-samples": { type: "string" },
      "ttfb-kib": { type: "string" },
      "slice-kib": { type: "string" },
      "piece-kib": { type: "string" },
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
  const sliceBytes = integerOption("slice-kib", values["slice-kib"], 1024, 64, 16 * 1024) * KiB;
  const pieceBytes = integerOption("piece-kib", values["piece-kib"], 256, 16, 4 * 1024) * KiB;
  const ttfbBytes = integerOption("ttfb-kib", values["ttfb-kib"], 64, 1, 16 * 1024) * KiB;
  if (ttfbBytes > sliceBytes)
    throw new Error("--ttfb-kib must not exceed --slice-kib (one slice per sample)");
  return {
    runs: integerOption("runs", values.runs, 5, 1, 20),
    objectBytes: integerOption("object-mib", values["object-mib"], 256, 1, 4096) * MiB,
    concurrency: integerOption("concurrency", values.concurrency, 4, 1, 256),
    rangeBytes: integerOption("range-mib", values["range-mib"], 4, 1, 64) * MiB,
    channels: integerOption("channels", values.channels, 1, 1, 64),
    grpcWindowBytes: integerOption("grpc-window-kib", values["grpc-window-kib"], 0, 0, 1024 * 1024) * KiB,
    tcpWriteBytes:
      integerOption("tcp-write-kib", values["tcp-write-kib"], pieceBytes / KiB, 1, 64 * 1024) * KiB,
    readers: integerOption("readers", values.readers, 32, 1, 1000),
    collapseBytes: integerOption("collapse-mib", values["collapse-mib"], 64, 1, 4096) * MiB,
    blockBytes: integerOption("block-kib", values["block-kib"], 256, 4, 64 * 1024) * KiB,
    ttfbSamples: integerOption("ttfb-samples", values["ttfb-samples"], 50, 1, 1000),
    ttfbBytes,
    sliceBytes,
    pieceBytes,
    out: values.out ? resolve(values.out) : null,
    maxMinutes: integerOption("max-minutes", values["max-minutes"], 10, 1, 240),
  };
}

// ---------------------------------------------------------------------------
// Everything this process starts, so any exit path can end it (by pid).

const workerEntry = fileURLToPath(new URL("./bench/shield-worker.js", import.meta.url));
const shieldEntry = fileURLToPath(new URL("../../shield/src/main.js", import.meta.url));
const state = {
  shield: null as LaunchedComponent | null,
  /** The same shield with internal-tls=plaintext, for the TLS cost comparison. */
  plaintextShield: null as LaunchedComponent | null,
  s3: null as EmbeddedS3 | null,
  workers: new Set<WorkerProcess>(),
  tempDirs: [] as string[],
  cleaning: null as Promise<void> | null,
};

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function stopShield(shield: LaunchedComponent): Promise<void> {
  const child = shield.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill("SIGKILL"), 6_000);
  await shield.stop();
  clearTimeout(timer);
}

async function cleanup(): Promise<void> {
  if (state.cleaning) return state.cleaning;
  state.cleaning = (async () => {
    for (const worker of state.workers) worker.kill();
    if (state.shield) await stopShield(state.shield).catch(() => {});
    if (state.plaintextShield) await stopShield(state.plaintextShield).catch(() => {});
    await state.s3?.close().catch(() => {});
    for (const dir of state.tempDirs) rmSync(dir, { recursive: true, force: true });
  })();
  return state.cleaning;
}

/** Last resort on a synchronous exit: SIGKILL by pid whatever is still ours. */
function killLeftovers(): void {
  const children = [
    ...[...state.workers].map((w) => w.child),
    ...(state.shield ? [state.shield.child] : []),
    ...(state.plaintextShield ? [state.plaintextShield.child] : []),
  ];
  for (const child of children) {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  for (const dir of state.tempDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHandlers(capMinutes: number): NodeJS.Timeout {
  process.once("exit", killLeftovers);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      log(`${signal}, stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const cap = setTimeout(() => {
    log(`wall-clock cap of ${capMinutes} min reached, stopping`);
    void cleanup().finally(() => process.exit(124));
  }, capMinutes * 60_000);
  cap.unref();
  return cap;
}

/**
 * Starts a worker, runs one task in it, and waits for it to leave.
 * `atResult` runs as the result arrives, before the worker's exit (CPU
 * counters are read there).
 */
async function runTask<R extends WorkerResult>(
  task: WorkerTask,
  kind: R["kind"],
  atResult?: () => void,
): Promise<R> {
  const worker = await startWorker(workerEntry, (w) => state.workers.add(w));
  try {
    worker.start(task);
    const result = await worker.result(task);
    atResult?.();
    if (result.kind !== kind) throw new Error(`worker answered ${result.kind}, expected ${kind}`);
    return result as R;
  } finally {
    await worker.stop();
    state.workers.delete(worker);
  }
}

/** Lines of a piped child stream, to stderr with a prefix. */
function forward(stream: Readable | null, prefix: string): void {
  if (!stream) return;
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) process.stderr.write(`${prefix}${line}\n`);
  });
}

// ---------------------------------------------------------------------------
// Measurements

interface Setup {
  readonly o: Options;
  readonly s3: EmbeddedS3;
  readonly shieldPid: number;
  readonly admin: string;
  readonly target: GrpcTarget;
  readonly objectKey: string;
  readonly object: Buffer;
}

interface TcpRecord {
  readonly bytes: number;
  readonly wallS: number;
  readonly MBps: number;
  readonly senderCpuS: number;
  readonly receiverCpuS: number;
  readonly otherCpuS: number;
  readonly errors: readonly string[];
}

interface GrpcRecord {
  readonly bytes: number;
  readonly wallS: number;
  readonly MBps: number;
  readonly shieldCpuS: number;
  readonly shieldCpuSPerGB: number;
  readonly shieldCoreShare: number;
  readonly readerCpuS: number;
  readonly readerCoreShare: number;
  readonly otherCpuS: number;
  readonly calls: number;
  readonly shield: ShieldCounters;
  readonly errors: readonly string[];
}

interface CollapseRecord {
  readonly key: string;
  readonly readers: number;
  readonly objectBytes: number;
  readonly slices: number;
  readonly receivedBytes: number;
  readonly wallS: number;
  readonly MBps: number;
  readonly slowestReaderS: number;
  readonly s3Bytes: number;
  readonly ratio: number;
  readonly getsPerSlice: number;
  readonly s3: S3Seen;
  readonly shield: ShieldCounters;
  readonly shieldCpuS: number;
  readonly calls: number;
  readonly errors: readonly string[];
}

interface TtfbRecord {
  readonly key: string;
  readonly offsets: readonly number[];
  readonly coldMs: readonly number[];
  readonly warmMs: readonly number[];
  readonly coldP50Ms: number;
  readonly coldP90Ms: number;
  readonly warmP50Ms: number;
  readonly warmP90Ms: number;
  readonly coldTotalP50Ms: number;
  readonly warmTotalP50Ms: number;
  /** What the cold pass asked of S3 (ideal: one GET per sample). */
  readonly coldS3: S3Seen;
  /** Slice fetches the cache abandoned during the cold pass. */
  readonly coldAbandoned: number;
  /** Slices of cold samples not in the cache after the cold pass (the fill pass fetched them again). */
  readonly uncachedAfterCold: number;
  /** Must be 0: the warm samples are memory hits. */
  readonly warmS3Gets: number;
  readonly evictions: number;
  readonly errors: readonly string[];
}

interface RunRecord {
  readonly run: number;
  readonly order: "tcp-first" | "grpc-first";
  readonly tcp: TcpRecord;
  readonly grpc: GrpcRecord;
  /** gRPC MB/s ÷ TCP MB/s of this run. */
  readonly fraction: number;
  readonly collapse: CollapseRecord;
  readonly ttfb: TtfbRecord;
}

async function measureTcp(setup: Setup, deadlineMs: number): Promise<TcpRecord> {
  const { o } = setup;
  const busyBefore = systemBusySeconds();
  const selfBefore = selfCpuSeconds();
  const shieldBefore = processCpuSeconds(setup.shieldPid);
  const sender = await startWorker(workerEntry, (w) => state.workers.add(w));
  try {
    const serve: WorkerTask = {
      kind: "tcp-serve",
      connections: o.concurrency,
      totalBytes: o.objectBytes,
      writeBytes: o.tcpWriteBytes,
      deadlineMs,
    };
    sender.start(serve);
    const { port } = await sender.waitFor("listening", 10_000);
    // The sender answers once its last socket finished, the receiver once its last one closed: by then both are in.
    let busyS = 0;
    let selfS = 0;
    let shieldS = 0;
    const received = await runTask<ThroughputResult>(
      { kind: "tcp-read", port, connections: o.concurrency, totalBytes: o.objectBytes, deadlineMs },
      "throughput",
      () => {
        busyS = systemBusySeconds() - busyBefore;
        selfS = selfCpuSeconds() - selfBefore;
        shieldS = processCpuSeconds(setup.shieldPid) - shieldBefore;
      },
    );
    const sent = (await sender.result(serve)) as ThroughputResult;
    // Everything of ours on the machine in the window, the workers' start-up included.
    const ours = (received.processCpuMs + sent.processCpuMs) / 1000 + selfS + shieldS;
    const wallS = received.wallMs / 1000;
    return {
      bytes: received.bytes,
      wallS,
      MBps: received.bytes / 1e6 / wallS,
      senderCpuS: sent.cpuMs / 1000,
      receiverCpuS: received.cpuMs / 1000,
      otherCpuS: Math.max(0, busyS - ours),
      errors: [...sent.errors, ...received.errors],
    };
  } finally {
    await sender.stop();
    state.workers.delete(sender);
  }
}

async function measureGrpc(setup: Setup, verify: boolean, deadlineMs: number): Promise<GrpcRecord> {
  const { o } = setup;
  const before = await scrapeCounters(setup.admin);
  const busyBefore = systemBusySeconds();
  const selfBefore = selfCpuSeconds();
  const cpuBefore = processCpuSeconds(setup.shieldPid);
  let shieldCpuS = 0;
  let busyS = 0;
  let selfS = 0;
  const result = await runTask<ThroughputResult>(
    {
      kind: "grpc-read",
      target: setup.target,
      key: setup.objectKey,
      objectSize: o.objectBytes,
      concurrency: o.concurrency,
      rangeBytes: o.rangeBytes,
      verify,
      deadlineMs,
    },
    "throughput",
    () => {
      shieldCpuS = processCpuSeconds(setup.shieldPid) - cpuBefore;
      busyS = systemBusySeconds() - busyBefore;
      selfS = selfCpuSeconds() - selfBefore;
    },
  );
  const otherCpuS = Math.max(0, busyS - shieldCpuS - result.processCpuMs / 1000 - selfS);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const shield = counterDelta(before, await scrapeCounters(setup.admin));
  if (!isAlive(setup.shieldPid)) throw new Error(`the shield (pid ${setup.shieldPid}) died`);
  const errors = [...result.errors];
  if (verify) {
    const count = Math.ceil(o.objectBytes / o.rangeBytes);
    let bad = 0;
    for (let i = 0; i < count; i++) {
      const part = setup.object.subarray(i * o.rangeBytes, Math.min(o.objectBytes, (i + 1) * o.rangeBytes));
      if (createHash("sha256").update(part).digest("hex") !== result.hashes[i]) bad++;
    }
    if (bad > 0) errors.push(`${bad} of ${count} ranges differ from the object uploaded`);
  }
  const wallS = result.wallMs / 1000;
  return {
    bytes: result.bytes,
    wallS,
    MBps: result.bytes / 1e6 / wallS,
    shieldCpuS,
    shieldCpuSPerGB: shieldCpuS / (result.bytes / 1e9),
    shieldCoreShare: shieldCpuS / wallS,
    readerCpuS: result.cpuMs / 1000,
    readerCoreShare: result.cpuMs / 1000 / wallS,
    otherCpuS,
    calls: result.calls,
    shield,
    errors,
  };
}

async function measureCollapse(setup: Setup, run: number, deadlineMs: number): Promise<CollapseRecord> {
  const { o, s3 } = setup;
  const key = `bench/collapse-run${run}.bin`;
  await s3.putObject(BUCKET, key, bodyOf(setup, o.collapseBytes));
  s3.clearRequests();
  const before = await scrapeCounters(setup.admin);
  const cpuBefore = processCpuSeconds(setup.shieldPid);
  let shieldCpuS = 0;
  const result = await runTask<CollapseResult>(
    {
      kind: "collapse",
      target: setup.target,
      key,
      objectSize: o.collapseBytes,
      readers: o.readers,
      blockBytes: o.blockBytes,
      deadlineMs,
    },
    "collapse",
    () => {
      shieldCpuS = processCpuSeconds(setup.shieldPid) - cpuBefore;
    },
  );
  // Let fetches still settling (read-ahead, abandoned GETs) show in the counters.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const shield = counterDelta(before, await scrapeCounters(setup.admin));
  const seen = s3Seen(s3.requests, key, o.collapseBytes);
  const receivedBytes = result.readerBytes.reduce((sum, b) => sum + b, 0);
  const slices = Math.ceil(o.collapseBytes / o.sliceBytes);
  const errors = [...result.errors];
  const short = result.readerBytes.filter((b) => b !== o.collapseBytes).length;
  if (short > 0) errors.push(`${short} reader(s) received less than the whole object`);
  const wallS = result.wallMs / 1000;
  return {
    key,
    readers: o.readers,
    objectBytes: o.collapseBytes,
    slices,
    receivedBytes,
    wallS,
    MBps: receivedBytes / 1e6 / wallS,
    slowestReaderS: Math.max(...result.readerMs) / 1000,
    s3Bytes: shield.originBytes,
    ratio: receivedBytes / shield.originBytes,
    getsPerSlice: seen.gets / slices,
    s3: seen,
    shield,
    shieldCpuS,
    calls: result.calls,
    errors,
  };
}

/**
 * Bytes for an object of `size`: cut from the big object (same bytes under a
 * new key are new slices to the cache), or random bytes when it is smaller.
 */
function bodyOf(setup: Setup, size: number): Buffer {
  if (size <= setup.object.length) return setup.object.subarray(0, size);
  let body = extraBodies.get(size);
  if (!body) {
    body = randomBytes(size);
    extraBodies.set(size, body);
  }
  return body;
}
const extraBodies = new Map<number, Buffer>();

interface TtfbPass {
  readonly timings: TtfbResult["timings"];
  readonly s3: S3Seen;
  readonly shield: ShieldCounters;
  readonly errors: readonly string[];
}

/** One worker reading `samples` one at a time, with the S3 requests and shield counters of just that pass. */
async function ttfbPass(
  setup: Setup,
  key: string,
  objectSize: number,
  samples: TtfbSample[],
  deadlineMs: number,
) {
  const { o } = setup;
  // Untimed first: cached ranges of the big object (JIT on both sides, the connection).
  const warmup: TtfbSample[] = Array.from({ length: 20 }, (_, i) => ({
    label: "warmup",
    key: setup.objectKey,
    offset: (i % Math.max(1, Math.floor(o.objectBytes / o.ttfbBytes))) * o.ttfbBytes,
    length: Math.min(o.ttfbBytes, o.objectBytes),
  }));
  setup.s3.clearRequests();
  const before = await scrapeCounters(setup.admin);
  const result = await runTask<TtfbResult>(
    { kind: "ttfb", target: setup.target, warmup, samples, deadlineMs },
    "ttfb",
  );
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const pass: TtfbPass = {
    timings: result.timings,
    s3: s3Seen(setup.s3.requests, key, objectSize),
    shield: counterDelta(before, await scrapeCounters(setup.admin)),
    errors: result.errors,
  };
  return pass;
}

/**
 * Cold: each sample in a slice never read. Then an untimed pass reads each
 * of those slices whole (a short read of a cold slice may leave it uncached:
 * the cache abandons a fetch whose last reader left before finishFraction of
 * it arrived; counted here). Warm: the same ranges again, every slice now
 * in memory (checked: no S3 GET).
 */
async function measureTtfb(setup: Setup, run: number, deadlineMs: number): Promise<TtfbRecord> {
  const { o, s3 } = setup;
  const key = `bench/ttfb-run${run}.bin`;
  const objectSize = o.ttfbSamples * o.sliceBytes;
  await s3.putObject(BUCKET, key, bodyOf(setup, objectSize));
  const slices = Math.ceil(objectSize / o.sliceBytes);
  // A distinct slice per sample, in random order, at a random offset aligned to the sample length.
  const order = Array.from({ length: slices }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const ranges = order.slice(0, o.ttfbSamples).map((slice) => {
    const base = slice * o.sliceBytes;
    const sliceLength = Math.min(o.sliceBytes, objectSize - base);
    const positions = Math.max(1, Math.floor(sliceLength / o.ttfbBytes));
    const offset = base + randomInt(positions) * o.ttfbBytes;
    return { key, offset, length: Math.min(o.ttfbBytes, objectSize - offset), slice, sliceLength };
  });
  const cold = await ttfbPass(
    setup,
    key,
    objectSize,
    ranges.map((r) => ({ label: "cold", key, offset: r.offset, length: r.length })),
    deadlineMs,
  );
  const fill = await ttfbPass(
    setup,
    key,
    objectSize,
    ranges.map((r) => ({ label: "fill", key, offset: r.slice * o.sliceBytes, length: r.sliceLength })),
    deadlineMs,
  );
  const warm = await ttfbPass(
    setup,
    key,
    objectSize,
    ranges.map((r) => ({ label: "warm", key, offset: r.offset, length: r.length })),
    deadlineMs,
  );
  const ok = (pass: TtfbPass) => pass.timings.filter((t) => t.firstMs >= 0);
  const coldMs = ok(cold).map((t) => t.firstMs);
  const warmMs = ok(warm).map((t) => t.firstMs);
  return {
    key,
    offsets: ranges.map((r) => r.offset),
    coldMs,
    warmMs,
    coldP50Ms: median(coldMs),
    coldP90Ms: percentile(coldMs, 90),
    warmP50Ms: median(warmMs),
    warmP90Ms: percentile(warmMs, 90),
    coldTotalP50Ms: median(ok(cold).map((t) => t.totalMs)),
    warmTotalP50Ms: median(ok(warm).map((t) => t.totalMs)),
    coldS3: cold.s3,
    coldAbandoned: cold.shield.abandoned,
    uncachedAfterCold: fill.s3.gets,
    warmS3Gets: warm.s3.gets,
    evictions: cold.shield.evictions + fill.shield.evictions + warm.shield.evictions,
    errors: [...cold.errors, ...fill.errors, ...warm.errors],
  };
}

// ---------------------------------------------------------------------------
// Report

const MB = (bytes: number): string => fixed(bytes / 1e6, 1);
const perRun = (values: readonly number[], digits: number): string =>
  values.map((v) => fixed(v, digits)).join(", ");

function row(label: string, values: readonly number[], digits: number): string[] {
  return [label, fixed(median(values), digits), perRun(values, digits)];
}

interface Summary {
  readonly tcpMBps: number;
  readonly grpcMBps: number;
  readonly fraction: number;
  readonly shieldCpuSPerGB: number;
  readonly shieldCoreShare: number;
  readonly readerCoreShare: number;
  readonly collapseRatio: number;
  readonly collapseIdeal: number;
  readonly getsPerSlice: number;
  readonly ttfbColdP50Ms: number;
  readonly ttfbColdP90Ms: number;
  readonly ttfbWarmP50Ms: number;
  readonly ttfbWarmP90Ms: number;
  /** Over every sample of every run. */
  readonly ttfbPooled: { coldP50Ms: number; coldP90Ms: number; warmP50Ms: number; warmP90Ms: number };
}

function summarise(o: Options, runs: readonly RunRecord[]): Summary {
  const cold = runs.flatMap((r) => r.ttfb.coldMs);
  const warm = runs.flatMap((r) => r.ttfb.warmMs);
  return {
    tcpMBps: median(runs.map((r) => r.tcp.MBps)),
    grpcMBps: median(runs.map((r) => r.grpc.MBps)),
    fraction: median(runs.map((r) => r.fraction)),
    shieldCpuSPerGB: median(runs.map((r) => r.grpc.shieldCpuSPerGB)),
    shieldCoreShare: median(runs.map((r) => r.grpc.shieldCoreShare)),
    readerCoreShare: median(runs.map((r) => r.grpc.readerCoreShare)),
    collapseRatio: median(runs.map((r) => r.collapse.ratio)),
    collapseIdeal: o.readers,
    getsPerSlice: median(runs.map((r) => r.collapse.getsPerSlice)),
    ttfbColdP50Ms: median(runs.map((r) => r.ttfb.coldP50Ms)),
    ttfbColdP90Ms: median(runs.map((r) => r.ttfb.coldP90Ms)),
    ttfbWarmP50Ms: median(runs.map((r) => r.ttfb.warmP50Ms)),
    ttfbWarmP90Ms: median(runs.map((r) => r.ttfb.warmP90Ms)),
    ttfbPooled: {
      coldP50Ms: median(cold),
      coldP90Ms: percentile(cold, 90),
      warmP50Ms: median(warm),
      warmP90Ms: percentile(warm, 90),
    },
  };
}

/** One run's cached gRPC read through the mutual-TLS shield and its plaintext twin. */
interface TlsRecord {
  readonly run: number;
  readonly mtls: GrpcRecord;
  readonly plaintext: GrpcRecord;
}

/** What mutual TLS costs on the shield path: throughput and shield CPU per GB, each mode's median and per run. */
function tlsReport(runs: readonly TlsRecord[]): string {
  const cols = (values: number[], digits: number) => [
    fixed(median(values), digits),
    ...values.map((v) => fixed(v, digits)),
  ];
  const mt = runs.map((r) => r.mtls.MBps);
  const pt = runs.map((r) => r.plaintext.MBps);
  const rows = [
    ["gRPC MB/s, mutual TLS", ...cols(mt, 0)],
    ["gRPC MB/s, plaintext", ...cols(pt, 0)],
    [
      "TLS / plaintext throughput",
      ...cols(
        runs.map((r) => r.mtls.MBps / r.plaintext.MBps),
        3,
      ),
    ],
    [
      "shield CPU s/GB, mutual TLS",
      ...cols(
        runs.map((r) => r.mtls.shieldCpuSPerGB),
        2,
      ),
    ],
    [
      "shield CPU s/GB, plaintext",
      ...cols(
        runs.map((r) => r.plaintext.shieldCpuSPerGB),
        2,
      ),
    ],
    [
      "reader CPU s, mutual TLS",
      ...cols(
        runs.map((r) => r.mtls.readerCpuS),
        2,
      ),
    ],
    [
      "reader CPU s, plaintext",
      ...cols(
        runs.map((r) => r.plaintext.readerCpuS),
        2,
      ),
    ],
  ];
  return [
    "",
    "Internal TLS: the same cached reads through a shield with mutual TLS (as deployed) and a twin with internal-tls=plaintext",
    table(["", "median", ...runs.map((r) => `run ${r.run}`)], rows),
  ].join("\n");
}

function report(o: Options, runs: readonly RunRecord[], s: Summary, cacheMemoryBytes: number): string {
  const lines: string[] = [];
  const m = (label: string, metric: (r: RunRecord) => number, digits: number) =>
    row(label, runs.map(metric), digits);
  const slicesPerCollapse = Math.ceil(o.collapseBytes / o.sliceBytes);
  lines.push(
    "",
    `streamfront shield — slice ${o.sliceBytes / KiB} KiB, piece ${o.pieceBytes / KiB} KiB, cache memory ` +
      `${fixed(cacheMemoryBytes / MiB, 0)} MiB; medians of ${o.runs} run(s), per run after; MB = 1e6 bytes, GB = 1e9`,
    "",
    `Cached range reads, shield → reader over gRPC vs raw loopback TCP: ${o.objectBytes / MiB} MiB per run, ` +
      `${o.concurrency} streams (gRPC: ReadRange of ${o.rangeBytes / MiB} MiB over ${o.channels} connection(s), ` +
      `window ${o.grpcWindowBytes ? `${o.grpcWindowBytes / KiB} KiB` : "grpc-js default"}; ` +
      `TCP: ${o.concurrency} connections, writes of ${o.tcpWriteBytes / KiB} KiB)`,
    table(
      ["measure", "median", "per run"],
      [
        m("raw TCP MB/s", (r) => r.tcp.MBps, 0),
        m("gRPC cached MB/s", (r) => r.grpc.MBps, 0),
        m("gRPC / TCP", (r) => r.fraction, 3),
        m("shield CPU s per GB served", (r) => r.grpc.shieldCpuSPerGB, 2),
        m("shield core share %", (r) => r.grpc.shieldCoreShare * 100, 0),
        m("gRPC reader core share %", (r) => r.grpc.readerCoreShare * 100, 0),
        m("TCP sender core share %", (r) => (r.tcp.senderCpuS / r.tcp.wallS) * 100, 0),
        m("TCP receiver core share %", (r) => (r.tcp.receiverCpuS / r.tcp.wallS) * 100, 0),
        m("S3 GETs during gRPC run", (r) => r.grpc.shield.originGets, 0),
      ],
    ),
    "",
    `Collapse under load: ${o.readers} readers start together on a cold ${o.collapseBytes / MiB} MiB object ` +
      `(${slicesPerCollapse} slices, fresh key per run), StatObject then ReadRange of ${o.blockBytes / KiB} KiB each`,
    table(
      ["measure", "median", "per run"],
      [
        m(`collapse ratio (ideal ${o.readers})`, (r) => r.collapse.ratio, 2),
        m("S3 GETs per slice (ideal 1.00)", (r) => r.collapse.getsPerSlice, 2),
        m("S3 GETs", (r) => r.collapse.s3.gets, 0),
        m("  of which aborted by the shield", (r) => r.collapse.s3.getsAborted, 0),
        m("S3 HEADs", (r) => r.collapse.s3.heads, 0),
        m("MB read from S3", (r) => r.collapse.s3Bytes / 1e6, 1),
        m("MB received by readers", (r) => r.collapse.receivedBytes / 1e6, 1),
        m("readers' MB/s together", (r) => r.collapse.MBps, 0),
        m("slice misses (started a GET)", (r) => r.collapse.shield.misses, 0),
        m("slice joins of a fetch in flight", (r) => r.collapse.shield.collapsed, 0),
        m("slice memory hits", (r) => r.collapse.shield.memoryHits, 0),
        m("read-ahead fetches", (r) => r.collapse.shield.readAhead, 0),
        m("fetches abandoned", (r) => r.collapse.shield.abandoned, 0),
      ],
    ),
    "",
    `Time to first byte: ReadRange of ${o.ttfbBytes / KiB} KiB at a random aligned offset, one call at a time, ` +
      `${o.ttfbSamples} cold + ${o.ttfbSamples} warm samples per run`,
    table(
      ["measure", "median", "per run"],
      [
        m("cold p50 ms", (r) => r.ttfb.coldP50Ms, 2),
        m("cold p90 ms", (r) => r.ttfb.coldP90Ms, 2),
        m("warm p50 ms", (r) => r.ttfb.warmP50Ms, 2),
        m("warm p90 ms", (r) => r.ttfb.warmP90Ms, 2),
        m("cold whole call p50 ms", (r) => r.ttfb.coldTotalP50Ms, 2),
        m("warm whole call p50 ms", (r) => r.ttfb.warmTotalP50Ms, 2),
        m(`S3 GETs of the cold pass (ideal ${o.ttfbSamples})`, (r) => r.ttfb.coldS3.gets, 0),
        m("cold fetches abandoned by the cache", (r) => r.ttfb.coldAbandoned, 0),
        m("cold slices left uncached", (r) => r.ttfb.uncachedAfterCold, 0),
        m("S3 GETs of the warm pass (ideal 0)", (r) => r.ttfb.warmS3Gets, 0),
      ],
    ),
    `  all samples pooled: cold p50 ${fixed(s.ttfbPooled.coldP50Ms, 2)} ms, p90 ${fixed(s.ttfbPooled.coldP90Ms, 2)} ms; ` +
      `warm p50 ${fixed(s.ttfbPooled.warmP50Ms, 2)} ms, p90 ${fixed(s.ttfbPooled.warmP90Ms, 2)} ms`,
    "",
    "Summary:",
    `  cached gRPC throughput = ${fixed(s.fraction * 100, 1)}% of raw loopback TCP ` +
      `(${fixed(s.grpcMBps, 0)} of ${fixed(s.tcpMBps, 0)} MB/s); shield ${fixed(s.shieldCpuSPerGB, 2)} CPU s per GB served`,
    `  collapse ratio ${fixed(s.collapseRatio, 2)} (ideal ${o.readers}), ${fixed(s.getsPerSlice, 2)} S3 GETs per slice (ideal 1.00)`,
    `  time to first byte: cold p50 ${fixed(s.ttfbColdP50Ms, 2)} ms (p90 ${fixed(s.ttfbColdP90Ms, 2)}), ` +
      `warm p50 ${fixed(s.ttfbWarmP50Ms, 2)} ms (p90 ${fixed(s.ttfbWarmP90Ms, 2)})`,
  );
  const warnings: string[] = [];
  for (const r of runs) {
    const errors = [...r.tcp.errors, ...r.grpc.errors, ...r.collapse.errors, ...r.ttfb.errors];
    if (errors.length > 0) warnings.push(`  ! run ${r.run}: ${errors.length} error(s), e.g. ${errors[0]}`);
    if (r.grpc.shield.originGets > 0)
      warnings.push(`  ! run ${r.run}: the "cached" gRPC run made ${r.grpc.shield.originGets} S3 GETs`);
    if (r.grpc.shield.evictions > 0 || r.collapse.shield.evictions > 0 || r.ttfb.evictions > 0)
      warnings.push(
        `  ! run ${r.run}: the shield evicted slices; the cache was smaller than the benchmark assumed`,
      );
    if (r.ttfb.warmS3Gets > 0)
      warnings.push(`  ! run ${r.run}: ${r.ttfb.warmS3Gets} warm TTFB sample(s) went to S3: not all warm`);
  }
  const other = runs.map((r) => Math.max(r.tcp.otherCpuS / r.tcp.wallS, r.grpc.otherCpuS / r.grpc.wallS));
  if (other.some((v) => v > 0.1))
    warnings.push(
      `  ! other processes on the machine used up to ${perRun(
        other.map((v) => v * 100),
        0,
      )}% of a core (per run) during the throughput runs; those runs are skewed`,
    );
  const extraGets = runs.map((r) => r.collapse.s3.gets - r.collapse.slices);
  if (extraGets.some((n) => n > 0))
    warnings.push(
      `  ! collapse: S3 GETs beyond one per slice, per run: ${perRun(extraGets, 0)} ` +
        `(fetches abandoned: ${perRun(
          runs.map((r) => r.collapse.shield.abandoned),
          0,
        )}; GETs aborted: ${perRun(
          runs.map((r) => r.collapse.s3.getsAborted),
          0,
        )})`,
    );
  const uncached = runs.map((r) => r.ttfb.uncachedAfterCold);
  if (uncached.some((n) => n > 0))
    warnings.push(
      `  ! TTFB: of ${o.ttfbSamples} slices fetched by a cold ${o.ttfbBytes / KiB} KiB read, ${perRun(uncached, 0)} ` +
        "(per run) were not cached after it: the cache abandoned the fetch when the call ended before " +
        "finishFraction of the slice had arrived. The warm pass read them after an untimed whole-slice read.",
    );
  if (warnings.length > 0) lines.push("", "Warnings:", ...warnings);
  lines.push(
    "",
    "Notes:",
    "  - Shield CPU = every thread of the shield process (/proc/<pid>/task/*/schedstat) over the gRPC run;",
    "    the reader and the TCP baseline's two ends are worker processes of their own (their CPU: process.cpuUsage).",
    "    Core share = CPU time ÷ wall time; above 100% a process's other threads (V8's GC helpers) worked too.",
    `  - ${cpus().length} CPU(s): the server side and the reading side each take about a core; a side near 100%`,
    "    is the bottleneck of its run. The embedded S3 runs in the benchmark process (idle in the throughput runs).",
    "  - TCP spreads its streams over as many connections; gRPC multiplexes its calls over --channels connections.",
    "  - TTFB = call to the first ReadRange message; a range up to max-piece-bytes is one message, so it is also",
    "    (nearly) the whole call. Cold includes the shield's S3 GET of the slice (the object was stat'ed first).",
    "  - Collapse ratio = bytes the readers received ÷ body bytes the shield read from S3",
    "    (streamfront_shield_origin_bytes_total); GETs are counted by the embedded S3 for that run's key.",
    `  - Every process of the benchmark ran at nice ${getPriority()}.`,
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------------------

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

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const cap = installExitHandlers(o.maxMinutes);
  const began = Date.now();
  try {
    const work = mkdtempSync(join(tmpdir(), "streamfront-bench-shield-"));
    state.tempDirs.push(work);
    const s3 = new EmbeddedS3({
      directory: join(work, "s3"),
      host: "127.0.0.1",
      port: 0,
      maxRequestLog: 1_000_000,
    });
    state.s3 = s3;
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
    // Mutual TLS as in production: the test PKI's shield certificate, the reader an edge's.
    const pki = testPki();
    const shieldEnv = {
      ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
      STREAMFRONT_SHIELD_HOST: "127.0.0.1",
      STREAMFRONT_SHIELD_GRPC_PORT: "0",
      STREAMFRONT_SHIELD_ADMIN_HOST: "127.0.0.1",
      STREAMFRONT_SHIELD_ADMIN_PORT: "0",
      STREAMFRONT_SHIELD_S3_ENDPOINT: s3.endpoint,
      STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
      STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: embeddedS3Credentials.accessKeyId,
      STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: embeddedS3Credentials.secretAccessKey,
      STREAMFRONT_SHIELD_ALLOWED_BUCKETS: BUCKET,
      STREAMFRONT_SHIELD_CONTROLLER: "",
      STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: String(cacheMemoryBytes),
      STREAMFRONT_SHIELD_CACHE_DISK_DIR: "",
      STREAMFRONT_SHIELD_CACHE_SLICE_BYTES: String(o.sliceBytes),
      STREAMFRONT_SHIELD_MAX_PIECE_BYTES: String(o.pieceBytes),
      STREAMFRONT_SHIELD_LOG_LEVEL: process.env.STREAMFRONT_SHIELD_LOG_LEVEL ?? "warn",
    };
    const shield = await launchComponent(shieldEntry, { env: shieldEnv, stdio: "pipe" });
    state.shield = shield;
    forward(shield.child.stdout, "bench: shield: ");
    forward(shield.child.stderr, "bench: shield: ");
    const shieldPid = shield.child.pid!;
    const admin = shield.addresses.admin ?? "";
    const address = shield.addresses.grpc ?? "";
    log(`shield pid ${shieldPid} on ${address} (admin ${admin}), cache memory ${cacheMemoryBytes / MiB} MiB`);
    const setup: Setup = {
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
    // What TLS costs on the shield path: a twin shield on the same S3 with internal-tls=plaintext, read the same way.
    const plaintextShield = await launchComponent(shieldEntry, {
      env: { ...shieldEnv, STREAMFRONT_SHIELD_INTERNAL_TLS: "plaintext" },
      stdio: "pipe",
    });
    state.plaintextShield = plaintextShield;
    forward(plaintextShield.child.stderr, "bench: plaintext shield: ");
    const plaintextSetup: Setup = {
      ...setup,
      shieldPid: plaintextShield.child.pid!,
      admin: plaintextShield.addresses.admin ?? "",
      target: { ...setup.target, address: plaintextShield.addresses.grpc ?? "", tls: null },
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
        `${MB(fill.shield.originBytes)} MB from S3, in ${fixed((performance.now() - t) / 1000, 1)} s`,
    );
    const plaintextFill = await measureGrpc(plaintextSetup, true, readDeadlineMs);
    if (plaintextFill.errors.length > 0)
      throw new Error(
        `the plaintext shield's verifying read failed: ${plaintextFill.errors.slice(0, 3).join("; ")}`,
      );
    const warmTcp = await measureTcp(setup, readDeadlineMs);
    const warmGrpc = await measureGrpc(setup, false, readDeadlineMs);
    await measureGrpc(plaintextSetup, false, readDeadlineMs);
    log(`warm-up: TCP ${fixed(warmTcp.MBps, 0)} MB/s, gRPC ${fixed(warmGrpc.MBps, 0)} MB/s`);

    const runs: RunRecord[] = [];
    const tlsRuns: TlsRecord[] = [];
    for (let run = 1; run <= o.runs; run++) {
      const tcpFirst = run % 2 === 1;
      // The plaintext twin's read first on even runs, last on odd ones: neither mode always meets a warmer machine.
      let plaintext: GrpcRecord | undefined = tcpFirst
        ? undefined
        : await measureGrpc(plaintextSetup, false, readDeadlineMs);
      let tcp: TcpRecord;
      let grpc: GrpcRecord;
      if (tcpFirst) {
        tcp = await measureTcp(setup, readDeadlineMs);
        grpc = await measureGrpc(setup, false, readDeadlineMs);
      } else {
        grpc = await measureGrpc(setup, false, readDeadlineMs);
        tcp = await measureTcp(setup, readDeadlineMs);
      }
      plaintext ??= await measureGrpc(plaintextSetup, false, readDeadlineMs);
      tlsRuns.push({ run, mtls: grpc, plaintext });
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

    const summary = summarise(o, runs);
    process.stdout.write(`${report(o, runs, summary, cacheMemoryBytes)}\n`);
    process.stdout.write(`${tlsReport(tlsRuns)}\n`);
    const errors = runs.reduce(
      (sum, r) =>
        sum + r.tcp.errors.length + r.grpc.errors.length + r.collapse.errors.length + r.ttfb.errors.length,
      tlsRuns.reduce((n, r) => n + r.plaintext.errors.length, 0),
    );
    if (o.out) {
      mkdirSync(dirname(o.out), { recursive: true });
      const json = {
        benchmark: "bench:shield",
        startedAt: new Date(began).toISOString(),
        wallSeconds: (Date.now() - began) / 1000,
        machine: {
          cpus: cpus().length,
          model: cpus()[0]?.model ?? "",
          kernel: release(),
          node: process.version,
        },
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
        internalTls: tlsRuns.map((r) => ({ run: r.run, mtls: r.mtls, plaintext: r.plaintext })),
        errors,
      };
      writeFileSync(o.out, `${JSON.stringify(json, null, 2)}\n`);
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
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    void cleanup().finally(() => process.exit(1));
  },
);
