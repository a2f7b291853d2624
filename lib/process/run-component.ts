import { ConfigError } from "../config/settings.js";
import { errorMessage } from "../errors.js";

/** What a started component tells its launcher: where each listener is. */
export interface ListeningReport {
  readonly type: "listening";
  readonly component: string;
  /** e.g. { rtmp: "127.0.0.1:1935", admin: "127.0.0.1:9101" } */
  readonly addresses: Readonly<Record<string, string>>;
}

export interface RunningComponent {
  readonly addresses: Readonly<Record<string, string>>;
  /** Stops accepting work, ends what is open, and resolves when all is closed. */
  close(): Promise<void>;
}

/**
 * The shared shape of every component's entry point: start it, report where
 * it listens (on stdout as a log line by the component itself, and to a
 * parent process over IPC when there is one), and on SIGINT/SIGTERM close it
 * and exit 0. A bad setting exits 2 with a one-line message naming it; any
 * other start-up failure exits 1.
 */
export async function runComponent(name: string, start: () => Promise<RunningComponent>): Promise<void> {
  let running: RunningComponent;
  try {
    running = await start();
  } catch (error) {
    process.stderr.write(`streamfront ${name}: ${errorMessage(error)}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
    return;
  }
  const report: ListeningReport = { type: "listening", component: name, addresses: running.addresses };
  if (process.send) process.send(report);
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    // A second signal, or a close that hangs, must not keep the pod around.
    const timer = setTimeout(() => {
      process.stderr.write(`streamfront ${name}: shutdown after ${signal} took too long, exiting\n`);
      process.exit(1);
    }, 4000);
    timer.unref();
    running.close().then(
      () => {
        process.disconnect?.();
        process.exitCode = 0;
      },
      (error: unknown) => {
        process.stderr.write(`streamfront ${name}: shutdown failed: ${errorMessage(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  // Launched as a child: when the parent goes away, go with it.
  process.once("disconnect", () => shutdown("SIGTERM"));
}
