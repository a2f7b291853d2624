import { performance } from "node:perf_hooks";
import type { GeneratorMessage, LoadPlan, LoadResult, ParentMessage, StreamResult } from "./protocol.js";
import { Viewer } from "./viewer.js";

/**
 * The load generator as its own process (forked by the benchmark, so its
 * CPU is never counted against a server): it waits for a plan over IPC,
 * opens the viewers at once, and reports one result. It exits by itself when
 * the plan's deadline passes or its parent goes away.
 */

const now = (): number => performance.now();

function runPlan(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve) => {
    const started = now();
    const cpuStart = process.cpuUsage();
    const results: StreamResult[] = [];
    const viewers: Viewer[] = [];
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearInterval(ticker);
      clearTimeout(deadline);
      if (windowTimer) clearTimeout(windowTimer);
      const cpu = process.cpuUsage(cpuStart);
      resolve({
        plan,
        wallMs: now() - started,
        generatorCpuMs: (cpu.user + cpu.system) / 1000,
        streams: results,
      });
    };
    const onFinished = (result: StreamResult): void => {
      results.push(result);
      if (results.length === plan.viewers) finish();
    };
    const ticker = setInterval(() => {
      const t = now();
      for (const viewer of viewers) viewer.tick(t);
    }, 100);
    const deadline = setTimeout(() => {
      for (const viewer of viewers) if (!viewer.done) viewer.leave();
    }, plan.deadlineMs);
    let windowTimer: NodeJS.Timeout | null = null;
    if (plan.mode === "realtime") {
      windowTimer = setTimeout(() => {
        for (const viewer of viewers) viewer.leave();
      }, plan.seconds * 1000);
    }
    for (let i = 0; i < plan.viewers; i++) {
      const viewer = new Viewer(plan, now, onFinished);
      viewers.push(viewer);
      viewer.start();
    }
  });
}

function send(message: GeneratorMessage): void {
  process.send?.(message);
}

if (process.send) {
  // Orphaned (the benchmark died): stop at once.
  process.once("disconnect", () => process.exit(3));
  process.on("message", (raw: unknown) => {
    const message = raw as ParentMessage;
    if (message?.type !== "start") return;
    runPlan(message.plan).then(
      (result) => {
        send({ type: "result", result });
        // Leave once the result is out.
        process.disconnect?.();
        setTimeout(() => process.exit(0), 100).unref();
      },
      (error: unknown) => {
        send({ type: "failed", error: String(error) });
        process.exit(1);
      },
    );
  });
  send({ type: "ready" });
}
