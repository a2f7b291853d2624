import { createHash, type Hash } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  type ChannelCredentials,
  type ChannelOptions,
  type ClientReadableStream,
  credentials,
  Metadata,
} from "@grpc/grpc-js";
import { InternalTls } from "../../../lib/grpc/internal-tls.js";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import { createLogger } from "../../../lib/log.js";
import {
  type ReadRangeResponse,
  ShieldServiceClient,
  type StatObjectResponse,
} from "../../../proto/gen/streamfront/shield/v1/shield.js";
import type {
  CollapseResult,
  CollapseTask,
  GrpcReadTask,
  GrpcTarget,
  ThroughputResult,
  TtfbResult,
  TtfbTask,
  TtfbTiming,
} from "./worker-protocol.js";

/**
 * The shield's reader for `bench:shield`: ShieldServiceClient with the
 * edge's channel options (edge/src/shield-client/shield-pool.ts), reading the way an
 * edge does — StatObject, then ReadRange calls pinned to the ETag, pieces
 * checked to be contiguous. Runs in a worker process of its own.
 */

/** A call that ended with every byte it asked for (or failed: `error`). */
interface CallOutcome {
  readonly bytes: number;
  /** ms from the call to its first piece; -1 without one. */
  readonly firstMs: number;
  readonly totalMs: number;
  readonly error: string | null;
}

interface Channels {
  readonly clients: readonly ShieldServiceClient[];
  pick(n: number): ShieldServiceClient;
  close(): void;
}

/** The edge's options (shield-pool.ts), each channel on its own connection. */
function channelOptions(target: GrpcTarget): ChannelOptions {
  return {
    "grpc.max_receive_message_length": 5 * 1024 * 1024,
    "grpc.keepalive_time_ms": 20_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 2_000,
    // Without it grpc-js would share one subchannel (one TCP connection) between equal channels.
    "grpc.use_local_subchannel_pool": 1,
    ...(target.flowControlWindow > 0 ? { "grpc-node.flow_control_window": target.flowControlWindow } : {}),
  };
}

/** The edge's credentials for a shield: mutual TLS from the target's files, or plaintext. */
function channelOf(target: GrpcTarget): { credentials: ChannelCredentials; options: ChannelOptions } {
  if (!target.tls) return { credentials: credentials.createInsecure(), options: {} };
  const tls = InternalTls.fromFiles(
    PeerRole.Edge,
    createLogger({ component: "bench", level: "silent" }),
    target.tls,
  );
  return {
    credentials: tls.channelCredentials(PeerRole.Shield),
    options: tls.channelOptions(PeerRole.Shield),
  };
}

async function openChannels(target: GrpcTarget, deadlineMs: number): Promise<Channels> {
  const channel = channelOf(target);
  const clients = Array.from(
    { length: Math.max(1, target.channels) },
    () =>
      new ShieldServiceClient(target.address, channel.credentials, {
        ...channel.options,
        ...channelOptions(target),
      }),
  );
  const close = (): void => {
    for (const client of clients) client.close();
  };
  try {
    await Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve, reject) => {
            client.waitForReady(new Date(Date.now() + Math.min(deadlineMs, 10_000)), (error) =>
              error ? reject(error) : resolve(),
            );
          }),
      ),
    );
  } catch (error) {
    close();
    throw error;
  }
  return { clients, pick: (n) => clients[n % clients.length]!, close };
}

function stat(
  client: ShieldServiceClient,
  bucket: string,
  key: string,
  deadline: Date,
): Promise<StatObjectResponse> {
  return new Promise((resolve, reject) => {
    client.statObject({ bucket, key }, new Metadata(), { deadline }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/**
 * One ReadRange call, start to end. `onPiece` sees every piece in order.
 * Never rejects: a failure is in `error` (with the bytes that came before it).
 */
function readRange(
  client: ShieldServiceClient,
  request: { bucket: string; key: string; etag: string; offset: number; length: number },
  deadline: Date,
  onPiece?: (data: Buffer) => void,
): Promise<CallOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let firstMs = -1;
    let next = request.offset;
    const end = request.offset + request.length;
    let settled = false;
    const stream: ClientReadableStream<ReadRangeResponse> = client.readRange(request, { deadline });
    const finish = (error: string | null): void => {
      if (settled) return;
      settled = true;
      if (error !== null) stream.cancel();
      resolve({ bytes: next - request.offset, firstMs, totalMs: performance.now() - started, error });
    };
    stream.on("data", (piece: ReadRangeResponse) => {
      if (settled) return;
      if (firstMs < 0) firstMs = performance.now() - started;
      if (piece.offset !== next || next + piece.data.length > end) {
        finish(`${request.key}: piece at ${piece.offset} (+${piece.data.length}), expected ${next}`);
        return;
      }
      next += piece.data.length;
      onPiece?.(piece.data);
    });
    stream.on("error", (error: Error) => finish(`${request.key} @${request.offset}: ${error.message}`));
    stream.on("end", () => {
      finish(
        next === end ? null : `${request.key} @${request.offset}: ended after ${next - request.offset} bytes`,
      );
    });
  });
}

function cpuMsSince(start?: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Runs `workers` loops that each take the next index below `count` until none is left. */
async function pool(count: number, workers: number, body: (index: number, worker: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, count) }, async (_, worker) => {
      while (next < count) await body(next++, worker);
    }),
  );
}

/** The whole object, `concurrency` ranges in flight: the cached throughput run (and the verifying warm-up). */
export async function readWhole(task: GrpcReadTask): Promise<ThroughputResult> {
  const deadlineAt = Date.now() + task.deadlineMs;
  const channels = await openChannels(task.target, task.deadlineMs);
  try {
    const { bucket } = task.target;
    const info = await stat(channels.pick(0), bucket, task.key, new Date(deadlineAt));
    if (info.size !== task.objectSize)
      throw new Error(`${task.key} has ${info.size} bytes, expected ${task.objectSize}`);
    const count = Math.ceil(task.objectSize / task.rangeBytes);
    const hashes: string[] = new Array<string>(task.verify ? count : 0).fill("");
    const errors: string[] = [];
    let bytes = 0;
    const deadline = new Date(deadlineAt);
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    await pool(count, task.concurrency, async (index, worker) => {
      const offset = index * task.rangeBytes;
      const length = Math.min(task.rangeBytes, task.objectSize - offset);
      const hash: Hash | undefined = task.verify ? createHash("sha256") : undefined;
      const outcome = await readRange(
        channels.pick(worker),
        { bucket, key: task.key, etag: info.etag, offset, length },
        deadline,
        hash ? (data) => hash.update(data) : undefined,
      );
      bytes += outcome.bytes;
      if (outcome.error !== null) errors.push(outcome.error);
      if (hash) hashes[index] = hash.digest("hex");
    });
    const wallMs = performance.now() - started;
    const cpuMs = cpuMsSince(cpuStart);
    return {
      kind: "throughput",
      bytes,
      wallMs,
      cpuMs,
      processCpuMs: cpuMsSince(),
      calls: count,
      errors,
      hashes,
    };
  } finally {
    channels.close();
  }
}

/** `readers` edge-like readers of one cold object, started together. */
export async function readCollapsed(task: CollapseTask): Promise<CollapseResult> {
  const deadlineAt = Date.now() + task.deadlineMs;
  const channels = await openChannels(task.target, task.deadlineMs);
  try {
    const { bucket } = task.target;
    const deadline = new Date(deadlineAt);
    const readerBytes = new Array<number>(task.readers).fill(0);
    const readerMs = new Array<number>(task.readers).fill(0);
    const errors: string[] = [];
    let calls = 0;
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    await Promise.all(
      Array.from({ length: task.readers }, async (_, reader) => {
        const client = channels.pick(reader);
        try {
          const info = await stat(client, bucket, task.key, deadline);
          for (let offset = 0; offset < info.size; offset += task.blockBytes) {
            const length = Math.min(task.blockBytes, info.size - offset);
            calls++;
            const outcome = await readRange(
              client,
              { bucket, key: task.key, etag: info.etag, offset, length },
              deadline,
            );
            readerBytes[reader]! += outcome.bytes;
            if (outcome.error !== null) {
              errors.push(`reader ${reader}: ${outcome.error}`);
              break;
            }
          }
        } catch (error) {
          errors.push(`reader ${reader}: ${error instanceof Error ? error.message : String(error)}`);
        }
        readerMs[reader] = performance.now() - started;
      }),
    );
    const wallMs = performance.now() - started;
    return { kind: "collapse", readerBytes, readerMs, wallMs, cpuMs: cpuMsSince(cpuStart), calls, errors };
  } finally {
    channels.close();
  }
}

/** One call at a time: time to first piece and to the end, per sample. */
export async function timeFirstBytes(task: TtfbTask): Promise<TtfbResult> {
  const deadlineAt = Date.now() + task.deadlineMs;
  // One connection: the samples are sequential, and a sample must not pay for a second channel's setup.
  const channels = await openChannels({ ...task.target, channels: 1 }, task.deadlineMs);
  try {
    const client = channels.pick(0);
    const { bucket } = task.target;
    const deadline = new Date(deadlineAt);
    const etags = new Map<string, string>();
    for (const sample of [...task.warmup, ...task.samples]) {
      if (!etags.has(sample.key))
        etags.set(sample.key, (await stat(client, bucket, sample.key, deadline)).etag);
    }
    const errors: string[] = [];
    const run = async (sample: (typeof task.samples)[number]): Promise<TtfbTiming> => {
      const etag = etags.get(sample.key) ?? "";
      const outcome = await readRange(client, { bucket, etag, ...sample }, deadline);
      if (outcome.error !== null) errors.push(`${sample.label}: ${outcome.error}`);
      return {
        label: sample.label,
        firstMs: outcome.error === null ? outcome.firstMs : -1,
        totalMs: outcome.totalMs,
        bytes: outcome.bytes,
      };
    };
    for (const sample of task.warmup) await run(sample);
    errors.length = 0;
    const timings: TtfbTiming[] = [];
    for (const sample of task.samples) {
      if (Date.now() > deadlineAt) {
        errors.push(`deadline of ${task.deadlineMs} ms passed after ${timings.length} samples`);
        break;
      }
      timings.push(await run(sample));
    }
    return { kind: "ttfb", timings, errors };
  } finally {
    channels.close();
  }
}
