import { readCollapsed, readWhole, timeFirstBytes } from "./grpc-range-reader.js";
import { readTcp, serveTcp } from "./tcp-baseline.js";
import type { ParentMessage, WorkerMessage, WorkerResult, WorkerTask } from "./worker-protocol.js";

/**
 * A worker process of `bench:shield` (forked by it, so the bytes it moves
 * cost its own CPU, never the benchmark's): it says "ready", takes one task
 * over IPC, answers with one result and exits. It also exits at once when
 * the benchmark goes away, and by itself shortly after the task's deadline.
 */

function send(message: WorkerMessage, then?: () => void): void {
  process.send?.(message, undefined, {}, () => then?.());
}

function run(task: WorkerTask): Promise<WorkerResult> {
  switch (task.kind) {
    case "grpc-read":
      return readWhole(task);
    case "collapse":
      return readCollapsed(task);
    case "ttfb":
      return timeFirstBytes(task);
    case "tcp-serve":
      return serveTcp(task, (port) => send({ type: "listening", port }));
    case "tcp-read":
      return readTcp(task);
  }
}

if (process.send) {
  const orphaned = (): never => process.exit(3);
  process.once("disconnect", orphaned);
  process.once("message", (raw: unknown) => {
    const message = raw as ParentMessage;
    if (message?.type !== "start") {
      send({ type: "failed", error: "expected a start message" });
      process.exit(1);
    }
    // A backstop: the task bounds itself by its deadline; this ends a worker that hangs anyway.
    setTimeout(() => {
      send({ type: "failed", error: `no result ${message.task.deadlineMs + 10_000} ms after start` });
      process.exit(1);
    }, message.task.deadlineMs + 10_000).unref();
    run(message.task).then(
      (result) => {
        send({ type: "result", result }, () => {
          process.off("disconnect", orphaned);
          process.disconnect?.();
        });
        setTimeout(() => process.exit(0), 1000).unref();
      },
      (error: unknown) => {
        send({ type: "failed", error: error instanceof Error ? error.message : String(error) }, () =>
          process.exit(1),
        );
      },
    );
  });
  send({ type: "ready" });
} else {
  process.stderr.write("shield-worker: run by bench-shield (needs an IPC channel)\n");
  process.exitCode = 2;
}
