import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import type { ListeningReport } from "./run-component.js";

export interface LaunchedComponent {
  readonly child: ChildProcess;
  readonly addresses: Readonly<Record<string, string>>;
  /** SIGTERM, then waits for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface LaunchOptions {
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** stdio of the child's stdout/stderr; "inherit" by default. */
  readonly stdio?: "inherit" | "pipe" | "ignore";
  readonly startTimeoutMs?: number;
}

/**
 * Starts a component's entry point as its own process (as it runs in a pod)
 * and waits for its listening report over IPC. Used by `npm start` and by
 * tests that need real processes.
 */
export async function launchComponent(
  entry: string,
  options: LaunchOptions = {},
): Promise<LaunchedComponent> {
  const stdio = options.stdio ?? "inherit";
  const child = fork(entry, [...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: [stdio === "inherit" ? "inherit" : "ignore", stdio, stdio, "ipc"],
    execArgv: ["--enable-source-maps"],
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const report = await new Promise<ListeningReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${entry} did not report listening within ${options.startTimeoutMs ?? 20_000} ms`));
    }, options.startTimeoutMs ?? 20_000);
    child.on("message", (message: unknown) => {
      const m = message as Partial<ListeningReport>;
      if (m && m.type === "listening") {
        clearTimeout(timer);
        resolve(m as ListeningReport);
      }
    });
    exited.then(([code, signal]) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited before listening (code ${code}, signal ${signal})`));
    });
  });
  return {
    child,
    addresses: report.addresses,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const [code] = await exited;
      return code;
    },
  };
}
