import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Something a benchmark started: how to stop it, and the pids to SIGKILL if the process exits first. */
export interface Owned {
  stop(): Promise<void>;
  /** Pids of its processes still running. */
  livePids(): readonly number[];
}

/**
 * Everything a benchmark run starts — processes, servers, temporary
 * directories — so any exit path ends it: the run's own finally, a signal,
 * the wall-clock cap, or (SIGKILL by pid) a synchronous exit. Things are
 * stopped newest first (load generators before the servers they load),
 * temporary directories removed last.
 */
export class BenchLifecycle {
  readonly #owned: Owned[] = [];
  readonly #tempDirs: string[] = [];
  #cleaning: Promise<void> | null = null;

  /** Registers `owned`; returns the function that forgets it (once it has stopped by itself). */
  own(owned: Owned): () => void {
    this.#owned.push(owned);
    return () => {
      const i = this.#owned.indexOf(owned);
      if (i >= 0) this.#owned.splice(i, 1);
    };
  }

  /** A fresh directory under the system's temporary directory, removed at cleanup. */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.#tempDirs.push(dir);
    return dir;
  }

  cleanup(): Promise<void> {
    this.#cleaning ??= (async () => {
      for (const owned of [...this.#owned].reverse()) await owned.stop().catch(() => {});
      this.#removeTempDirs();
    })();
    return this.#cleaning;
  }

  /**
   * Signals and the wall-clock cap clean up and exit (130, 124); a
   * synchronous exit SIGKILLs whatever is still running. The returned timer
   * is the cap: clear it when the run ends.
   */
  installExitHandlers(capMinutes: number): NodeJS.Timeout {
    process.once("exit", () => this.#killLeftovers());
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.once(signal, () => {
        process.stderr.write(`bench: ${signal}, stopping\n`);
        void this.cleanup().finally(() => process.exit(130));
      });
    }
    const cap = setTimeout(() => {
      process.stderr.write(`bench: wall-clock cap of ${capMinutes} min reached, stopping\n`);
      void this.cleanup().finally(() => process.exit(124));
    }, capMinutes * 60_000);
    cap.unref();
    return cap;
  }

  /**
   * Runs a benchmark's main: exits with its code, or on a failure reports it
   * (`bench: ` and the message, or the stack with `stack`), cleans up and
   * exits 1.
   */
  run(main: () => Promise<number>, options: { stack?: boolean } = {}): void {
    main().then(
      (code) => process.exit(code),
      (error: unknown) => {
        const text =
          error instanceof Error
            ? options.stack
              ? (error.stack ?? error.message)
              : error.message
            : String(error);
        process.stderr.write(`bench: ${text}\n`);
        void this.cleanup().finally(() => process.exit(1));
      },
    );
  }

  #killLeftovers(): void {
    for (const pid of this.#owned.flatMap((owned) => owned.livePids())) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.#removeTempDirs();
  }

  #removeTempDirs(): void {
    for (const dir of this.#tempDirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** Pid of a child process that is still running, as a list (empty once it exited). */
export function livePid(
  child: { pid?: number | undefined; exitCode: number | null; signalCode: string | null } | undefined,
): number[] {
  return child?.pid !== undefined && child.exitCode === null && child.signalCode === null ? [child.pid] : [];
}

/** Lets counters and in-flight work settle after a measured run before they are read. */
export function settle(ms = 200): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
