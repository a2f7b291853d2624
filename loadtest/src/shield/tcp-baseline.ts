import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { TcpReadTask, TcpServeTask, ThroughputResult } from "./worker-protocol.js";

/**
 * The raw loopback TCP baseline of `bench:shield`: what Node moves over
 * 127.0.0.1 with nothing on top — no HTTP/2, no protobuf, no cache. The
 * sender writes one pre-filled buffer again and again (socket.write,
 * waiting for 'drain' when the kernel's buffer is full, as the shield waits
 * for HTTP/2 flow control); the receiver only counts bytes. Each side runs
 * in its own process, like the shield and its reader.
 */

/** Bytes of connection `index` when `total` is split over `connections`. */
function shareOf(total: number, connections: number, index: number): number {
  const base = Math.floor(total / connections);
  return base + (index < total % connections ? 1 : 0);
}

function cpuMsSince(start?: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Resolves on 'drain'; rejects when the socket closes or fails first. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      socket.off("drain", onDrain);
      socket.off("close", onClose);
      socket.off("error", onError);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error("socket closed while writing"));
    const onError = (error: Error): void => done(error);
    socket.on("drain", onDrain);
    socket.on("close", onClose);
    socket.on("error", onError);
  });
}

async function sendShare(socket: Socket, bytes: number, buffer: Buffer): Promise<void> {
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, buffer.length);
    left -= n;
    if (!socket.write(n === buffer.length ? buffer : buffer.subarray(0, n))) await drained(socket);
  }
  socket.end();
  await once(socket, "finish");
}

/**
 * Listens on 127.0.0.1 (port via `onListening`), serves exactly
 * `connections` connections their share of `totalBytes`, then closes.
 */
export async function serveTcp(
  task: TcpServeTask,
  onListening: (port: number) => void,
): Promise<ThroughputResult> {
  const buffer = Buffer.alloc(task.writeBytes);
  // Random-looking bytes, as the object the shield serves; the kernel does not care, but no page is shared.
  for (let i = 0; i < buffer.length; i += 4) buffer.writeUInt32LE((i * 2654435761) >>> 0, i);
  const errors: string[] = [];
  const server = createServer();
  const sockets = new Set<Socket>();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("no TCP address");
  let startedAt = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let accepted = 0;
  let sent = 0;
  const allDone = new Promise<void>((resolve) => {
    let finished = 0;
    server.on("connection", (socket: Socket) => {
      const index = accepted++;
      if (index >= task.connections) {
        socket.destroy();
        return;
      }
      if (index === 0) {
        startedAt = performance.now();
        cpuStart = process.cpuUsage();
      }
      sockets.add(socket);
      socket.on("error", () => {});
      const share = shareOf(task.totalBytes, task.connections, index);
      sendShare(socket, share, buffer)
        .then(
          () => {
            sent += share;
          },
          (error: unknown) => {
            errors.push(`connection ${index}: ${String(error)}`);
          },
        )
        .finally(() => {
          if (++finished === task.connections) resolve();
        });
    });
  });
  onListening(address.port);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      errors.push(`deadline of ${task.deadlineMs} ms passed with ${accepted} connection(s) accepted`);
      resolve();
    }, task.deadlineMs);
  });
  await Promise.race([allDone, deadline]);
  clearTimeout(timer);
  const wallMs = startedAt > 0 ? performance.now() - startedAt : 0;
  const cpuMs = cpuStart ? cpuMsSince(cpuStart) : 0;
  for (const socket of sockets) socket.destroy();
  server.close();
  return {
    kind: "throughput",
    bytes: sent,
    wallMs,
    cpuMs,
    processCpuMs: cpuMsSince(),
    calls: accepted,
    errors,
    hashes: [],
  };
}

/** Opens `connections` sockets to the sender and counts what arrives until every one ended. */
export async function readTcp(task: TcpReadTask): Promise<ThroughputResult> {
  const errors: string[] = [];
  const sockets: Socket[] = [];
  let bytes = 0;
  const startedAt = performance.now();
  const cpuStart = process.cpuUsage();
  const ends = Array.from(
    { length: task.connections },
    (_, index) =>
      new Promise<void>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port: task.port });
        sockets.push(socket);
        let own = 0;
        socket.on("data", (chunk: Buffer) => {
          own += chunk.length;
        });
        socket.on("error", (error) => errors.push(`connection ${index}: ${error.message}`));
        socket.on("close", () => {
          bytes += own;
          const want = shareOf(task.totalBytes, task.connections, index);
          if (own !== want) errors.push(`connection ${index}: ${own} of ${want} bytes`);
          resolve();
        });
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      errors.push(`deadline of ${task.deadlineMs} ms passed`);
      for (const socket of sockets) socket.destroy();
      resolve();
    }, task.deadlineMs);
  });
  await Promise.race([Promise.all(ends), deadline]);
  clearTimeout(timer);
  const wallMs = performance.now() - startedAt;
  const cpuMs = cpuMsSince(cpuStart);
  return {
    kind: "throughput",
    bytes,
    wallMs,
    cpuMs,
    processCpuMs: cpuMsSince(),
    calls: task.connections,
    errors,
    hashes: [],
  };
}
