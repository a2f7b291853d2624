import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { StreamfrontError } from "../errors.js";
import type { FailedReport, ListeningReport } from "./run-component.js";

export interface LaunchedComponent {
  readonly child: ChildProcess;
  readonly addresses: Readonly<Record<string, string>>;
  /** SIGTERM, then waits for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * A component that exited before it listened. Its code is the component's own
 * (carried over IPC, e.g. LISTEN_ERR_ADDRESS_IN_USE) when it reported one, so
 * the error keeps its meaning across the process boundary.
 */
export class ComponentStartError extends StreamfrontError {
  readonly exitCode: number | null;

  constructor(message: string, componentCode: string, exitCode: number | null) {
    super(componentCode || ProcessErrorCode.ExitedBeforeListening, message);
    this.name = "ComponentStartError";
    this.exitCode = exitCode;
  }
}

/** Stable codes of a component process that did not start (README: Error codes). */
export const ProcessErrorCode = {
  /** The component exited before it reported listening, without a code of its own. */
  ExitedBeforeListening: "PROCESS_ERR_EXITED_BEFORE_LISTENING",
  /** The component did not report listening within startTimeoutMs (it was killed). */
  StartTimeout: "PROCESS_ERR_START_TIMEOUT",
} as const;
export type ProcessErrorCode = (typeof ProcessErrorCode)[keyof typeof ProcessErrorCode];

export interface LaunchOptions {
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** stdio of the child's stdout/stderr; "inherit" by default. */
  readonly stdio?: "inherit" | "pipe" | "ignore";
  readonly startTimeoutMs?: number;
  /** Run the child as this user and group (as a container's USER does); this process's own by default. */
  readonly uid?: number;
  readonly gid?: number;
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
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const report = await new Promise<ListeningReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new ComponentStartError(
          `${entry} did not report listening within ${options.startTimeoutMs ?? 20_000} ms`,
          ProcessErrorCode.StartTimeout,
          null,
        ),
      );
    }, options.startTimeoutMs ?? 20_000);
    let failure: FailedReport | undefined;
    child.on("message", (message: unknown) => {
      const m = message as Partial<ListeningReport | FailedReport>;
      if (m?.type === "listening") {
        clearTimeout(timer);
        resolve(m as ListeningReport);
      } else if (m?.type === "failed") {
        failure = m as FailedReport;
      }
    });
    exited.then(([code, signal]) => {
      clearTimeout(timer);
      reject(
        failure
          ? new ComponentStartError(`${failure.component}: ${failure.message}`, failure.code, code)
          : new ComponentStartError(
              `${entry} exited before listening (code ${code}, signal ${signal})`,
              "",
              code,
            ),
      );
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
