import {
  ConfigError,
  type ConfigSources,
  effectiveSettings,
  formatEffectiveConfig,
  formatHelp,
  type Settings,
  wantsCheckConfig,
  wantsHelp,
  withoutCheckConfig,
} from "../config/settings.js";
import { errorCode, errorMessage } from "../errors.js";

/** What a started component tells its launcher: where each listener is. */
export interface ListeningReport {
  readonly type: "listening";
  readonly component: string;
  /** e.g. { rtmp: "127.0.0.1:1935", admin: "127.0.0.1:9101" } */
  readonly addresses: Readonly<Record<string, string>>;
}

/** What a component that could not start tells its launcher before it exits. */
export interface FailedReport {
  readonly type: "failed";
  readonly component: string;
  /** The error's stable code (e.g. LISTEN_ERR_ADDRESS_IN_USE), or "" when it has none. */
  readonly code: string;
  /** Why, as the component wrote it to stderr (without its name). */
  readonly message: string;
}

export interface RunningComponent {
  readonly addresses: Readonly<Record<string, string>>;
  /** Stops accepting work, ends what is open, and resolves when all is closed. */
  close(): Promise<void>;
  /**
   * Before close() at a signal: stops taking new work and lets work under
   * way finish (the edge's drain). Resolves within drainMs plus a few
   * seconds; a second signal skips the rest of it.
   */
  drain?(): Promise<void>;
  /** The most drain() takes by its settings: the shutdown watchdog waits that much longer. */
  readonly drainMs?: number;
}

/** What close() may take after the drain before the process gives up on it and exits 1. */
const closeWatchdogMs = 4000;
/** What drain() may take past drainMs (its connections' last bytes, its polling). */
const drainSlackMs = 3000;

/**
 * What --check-config runs: the component's config load with every check a
 * start makes on the config alone before it binds anything (e.g. that the
 * internal TLS files are set, readable and match), returning the config.
 */
export type ConfigCheck = (sources: Required<ConfigSources>) => Readonly<Record<string, unknown>>;

/**
 * --check-config: validate as a start would (the same environment and argv,
 * without the flag itself), print every setting's effective value with its
 * origin (secrets REDACTED) and exit 0; any refusal exits 2 with the message
 * naming the setting. Nothing is bound or started.
 */
export function checkConfig(prefix: string, settings: Settings, check: ConfigCheck): void {
  const sources = { env: process.env, argv: withoutCheckConfig(process.argv.slice(2)) };
  let config: Readonly<Record<string, unknown>>;
  try {
    config = check(sources);
  } catch (error) {
    // Every refusal here is the configuration's (a check loads and reads files, nothing else).
    process.stderr.write(`${prefix}: ${errorMessage(error)}\n`, () => process.exit(2));
    return;
  }
  const header = `${prefix}: configuration OK (a flag wins over the environment, which wins over the default)`;
  process.stdout.write(formatEffectiveConfig(header, effectiveSettings(settings, config, sources)), () =>
    process.exit(0),
  );
}

/**
 * The shared shape of every component's entry point: start it, report where
 * it listens (on stdout as a log line by the component itself, and to a
 * parent process over IPC when there is one), and on SIGINT/SIGTERM drain it
 * (when it drains), close it and exit 0; a second signal ends the drain. A bad setting exits 2 with a one-line message naming it; any
 * other start-up failure exits 1 — at once, with a FailedReport to the
 * parent, so nothing waits on a component that has no listener.
 */
export async function runComponent(
  name: string,
  start: () => Promise<RunningComponent>,
  settings?: Settings,
  check?: ConfigCheck,
): Promise<void> {
  // --help lists the settings and starts nothing (the same text as `npm start -- --help`).
  if (settings && wantsHelp(process.argv.slice(2))) {
    process.stdout.write(formatHelp(settings, `usage: node dist/${name}/src/main.js [--setting value]…`));
    return;
  }
  if (settings && check && wantsCheckConfig(process.argv.slice(2))) {
    checkConfig(`streamfront ${name}`, settings, check);
    return;
  }
  let running: RunningComponent;
  try {
    running = await start();
  } catch (error) {
    const message = errorMessage(error);
    const report: FailedReport = { type: "failed", component: name, code: errorCode(error) ?? "", message };
    if (process.send) process.send(report);
    // Exit now, not when the loop drains: what start() opened before the
    // failure (a controller watch, timers) would keep a process with no
    // listener alive, and a launcher waiting for it.
    process.stderr.write(`streamfront ${name}: ${message}\n`, () =>
      process.exit(error instanceof ConfigError ? 2 : 1),
    );
    return;
  }
  const report: ListeningReport = { type: "listening", component: name, addresses: running.addresses };
  if (process.send) process.send(report);
  let closing = false;
  let forceClose = () => {};
  const forced = new Promise<void>((resolve) => {
    forceClose = resolve;
  });
  const watchdog = (signal: NodeJS.Signals, ms: number) => {
    // A close that hangs must not keep the pod around.
    const timer = setTimeout(() => {
      process.stderr.write(`streamfront ${name}: shutdown after ${signal} took too long, exiting\n`);
      process.exit(1);
    }, ms);
    timer.unref();
    return timer;
  };
  let timer: NodeJS.Timeout | undefined;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      // A second signal: what the drain still waits for is ended now.
      process.stderr.write(`streamfront ${name}: ${signal} again, closing at once\n`);
      clearTimeout(timer);
      timer = watchdog(signal, closeWatchdogMs);
      forceClose();
      return;
    }
    closing = true;
    timer = watchdog(signal, (running.drain ? (running.drainMs ?? 0) + drainSlackMs : 0) + closeWatchdogMs);
    const drained = running.drain ? Promise.race([running.drain(), forced]) : Promise.resolve();
    drained
      .then(() => running.close())
      .then(
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
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  // Launched as a child: when the parent goes away, go with it.
  // A drain under way goes on (its viewers are not the parent's).
  process.once("disconnect", () => {
    if (!closing) shutdown("SIGTERM");
  });
}
