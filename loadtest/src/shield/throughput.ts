import { createHash } from "node:crypto";
import { settle } from "../harness/lifecycle.js";
import { isAlive, processCpuSeconds, selfCpuSeconds, systemBusySeconds } from "../harness/proc-cpu.js";
import { ownedWorker, runTask, type Setup } from "./setup.js";
import { counterDelta, type ShieldCounters, scrapeCounters } from "./shield-metrics.js";
import type { ThroughputResult, WorkerTask } from "./worker-protocol.js";

/**
 * Cached range reads against the ceiling: raw loopback TCP (one worker
 * writes the object's size from a pre-filled buffer over --concurrency
 * connections, another only counts bytes) and the shield's gRPC ReadRange
 * of the whole cached object (--concurrency calls of --range-mib in flight,
 * over the edge's own channel options). Both move exactly the same bytes;
 * the report compares them within each run.
 */

export interface TcpRecord {
  readonly bytes: number;
  readonly wallS: number;
  readonly MBps: number;
  readonly senderCpuS: number;
  readonly receiverCpuS: number;
  readonly otherCpuS: number;
  readonly errors: readonly string[];
}

export interface GrpcRecord {
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

export async function measureTcp(setup: Setup, deadlineMs: number): Promise<TcpRecord> {
  const { o } = setup;
  const busyBefore = systemBusySeconds();
  const selfBefore = selfCpuSeconds();
  const shieldBefore = processCpuSeconds(setup.shieldPid);
  const { worker: sender, forget } = await ownedWorker(setup.lifecycle);
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
      setup,
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
    forget();
  }
}

export async function measureGrpc(setup: Setup, verify: boolean, deadlineMs: number): Promise<GrpcRecord> {
  const { o } = setup;
  const before = await scrapeCounters(setup.admin);
  const busyBefore = systemBusySeconds();
  const selfBefore = selfCpuSeconds();
  const cpuBefore = processCpuSeconds(setup.shieldPid);
  let shieldCpuS = 0;
  let busyS = 0;
  let selfS = 0;
  const result = await runTask<ThroughputResult>(
    setup,
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
  await settle();
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
