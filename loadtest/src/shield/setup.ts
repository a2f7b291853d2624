import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { type EmbeddedS3, embeddedS3Credentials } from "../../../deploy/local/embedded-s3.js";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../../../lib/process/launcher.js";
import { testTlsEnv } from "../../../lib/testing/tls.js";
import { type BenchLifecycle, livePid } from "../harness/lifecycle.js";
import type { ShieldBenchOptions } from "./options.js";
import { startWorker, type WorkerProcess } from "./worker-process.js";
import type { GrpcTarget, WorkerResult, WorkerTask } from "./worker-protocol.js";

/**
 * What every measurement of bench:shield works with: the shield process
 * over the embedded S3, the big object the throughput runs read, and
 * worker processes (worker.ts) that do the reading, each owned by the
 * benchmark's lifecycle so any exit path ends it.
 */

export const BUCKET = "streamfront-bench";

const workerEntry = fileURLToPath(new URL("./worker.js", import.meta.url));
const shieldEntry = fileURLToPath(new URL("../../../shield/src/main.js", import.meta.url));

export interface Setup {
  readonly lifecycle: BenchLifecycle;
  readonly o: ShieldBenchOptions;
  readonly s3: EmbeddedS3;
  readonly shieldPid: number;
  readonly admin: string;
  readonly target: GrpcTarget;
  readonly objectKey: string;
  readonly object: Buffer;
}

/** A started worker, owned by the lifecycle until `forget` (after it left). */
export async function ownedWorker(
  lifecycle: BenchLifecycle,
): Promise<{ worker: WorkerProcess; forget: () => void }> {
  let forget = (): void => {};
  const worker = await startWorker(workerEntry, (w) => {
    forget = lifecycle.own({ stop: async () => w.kill(), livePids: () => livePid(w.child) });
  });
  return { worker, forget };
}

/**
 * Starts a worker, runs one task in it, and waits for it to leave.
 * `atResult` runs as the result arrives, before the worker's exit (CPU
 * counters are read there).
 */
export async function runTask<R extends WorkerResult>(
  setup: Pick<Setup, "lifecycle">,
  task: WorkerTask,
  kind: R["kind"],
  atResult?: () => void,
): Promise<R> {
  const { worker, forget } = await ownedWorker(setup.lifecycle);
  try {
    worker.start(task);
    const result = await worker.result(task);
    atResult?.();
    if (result.kind !== kind) throw new Error(`worker answered ${result.kind}, expected ${kind}`);
    return result as R;
  } finally {
    await worker.stop();
    forget();
  }
}

/**
 * The shield as its own process (the build's shield/src/main.js, launched
 * like a pod) over the embedded S3, its cache memory sized by the caller.
 * Other STREAMFRONT_SHIELD_* variables in the environment reach it, except
 * the ones set here. Returns it with the environment it got (for the results).
 */
export async function startShield(
  lifecycle: BenchLifecycle,
  s3: EmbeddedS3,
  o: ShieldBenchOptions,
  cacheMemoryBytes: number,
  internalTls: "mtls" | "plaintext" = "mtls",
): Promise<{ shield: LaunchedComponent; env: Readonly<Record<string, string>> }> {
  const shieldEnv = {
    // Mutual TLS as deployed (the test PKI's shield certificate; readers hold an edge's), or the opt-out.
    ...(internalTls === "mtls"
      ? testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield)
      : { STREAMFRONT_SHIELD_INTERNAL_TLS: "plaintext" }),
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
  lifecycle.own({ stop: () => stopShield(shield), livePids: () => livePid(shield.child) });
  forward(shield.child.stdout, "bench: shield: ");
  forward(shield.child.stderr, "bench: shield: ");
  return { shield, env: shieldEnv };
}

async function stopShield(shield: LaunchedComponent): Promise<void> {
  const child = shield.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill("SIGKILL"), 6_000);
  await shield.stop();
  clearTimeout(timer);
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

/**
 * Bytes for an object of `size`: cut from the big object (same bytes under a
 * new key are new slices to the cache), or random bytes when it is smaller.
 */
export function bodyOf(setup: Setup, size: number): Buffer {
  if (size <= setup.object.length) return setup.object.subarray(0, size);
  let body = extraBodies.get(size);
  if (!body) {
    body = randomBytes(size);
    extraBodies.set(size, body);
  }
  return body;
}
const extraBodies = new Map<number, Buffer>();
