import { gzipSync } from "node:zlib";
import { errorCode, errorMessage } from "../../../lib/errors.js";
import type { Logger } from "../../../lib/log.js";
import { EdgeErrorCode } from "../errors.js";
import type { Scheduler, TimerHandle } from "../session/scheduler.js";
import type { AccessLogSpool, SealedLogFile } from "./spool.js";
import { accessLogHeader } from "./w3c-line.js";

/** One sealed file on its way to S3. */
export interface LogFileDelivery {
  readonly distributionId: string;
  readonly hour: string;
  readonly unique: string;
  readonly gzipped: Buffer;
}

/** Puts one file in the distribution's logging bucket; resolves once it is stored, throws otherwise. */
export type LogDelivery = (file: LogFileDelivery) => Promise<void>;

export interface LogShipperObserver {
  delivered(lines: number): void;
  failed(code: string): void;
  /** Lines of files given up on because their distribution no longer logs. */
  abandoned(lines: number): void;
}

export interface LogShipperOptions {
  readonly spool: AccessLogSpool;
  readonly deliver: LogDelivery;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  /** Open files are sealed and delivered this often. */
  readonly intervalMs: number;
  /** First retry after a failed delivery; doubles up to retryMaxMs. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /**
   * Whether the distribution logs, by this edge's config. A file of one
   * that does not (Logging turned off, or deleted) is given up on rather
   * than retried for ever; false while the config is not synced must not
   * be answered, so it is asked only once the edge has a config.
   */
  isLogging(distributionId: string): boolean;
  readonly observer?: LogShipperObserver;
}

/**
 * Seals the spool's files every interval and delivers the sealed ones,
 * oldest first, one at a time. A file is deleted only after the delivery
 * resolved (the shield confirmed the PUT); a failure leaves it where it is
 * and tries again with backoff. Its bytes and key are fixed, so a retry
 * after a lost answer, or after a restart, overwrites the same object with
 * the same bytes.
 */
export class LogShipper {
  readonly #options: LogShipperOptions;
  #interval: TimerHandle | null = null;
  #retry: TimerHandle | null = null;
  #retryMs: number;
  #running = false;
  #stopped = false;
  /** Resolves whoever waits for the current pass (flush). */
  #passDone: Promise<void> = Promise.resolve();

  constructor(options: LogShipperOptions) {
    this.#options = options;
    this.#retryMs = options.retryMinMs;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
    this.#kick();
  }

  /** Seals the open files and runs a delivery pass now; resolves when the pass ends. */
  async flush(): Promise<void> {
    this.#options.spool.sealAll();
    this.#kick();
    await this.#passDone;
  }

  stop(): void {
    this.#stopped = true;
    this.#interval?.cancel();
    this.#retry?.cancel();
    this.#interval = null;
    this.#retry = null;
  }

  #schedule(): void {
    this.#interval = this.#options.scheduler.setTimer(this.#options.intervalMs, () => {
      if (this.#stopped) return;
      this.#options.spool.sealAll();
      this.#kick();
      this.#schedule();
    });
  }

  #kick(): void {
    if (this.#running || this.#stopped) return;
    this.#retry?.cancel();
    this.#retry = null;
    this.#running = true;
    this.#passDone = this.#pass().finally(() => {
      this.#running = false;
    });
  }

  async #pass(): Promise<void> {
    const { spool, logger } = this.#options;
    for (const file of spool.sealed()) {
      if (this.#stopped) return;
      const text = spool.read(file);
      const lines = countLines(text);
      if (lines === 0 && text.length <= Buffer.byteLength(accessLogHeader)) {
        // Only a header (killed between the header and its first line): an hour with no line has no file.
        spool.remove(file);
        continue;
      }
      if (!this.#options.isLogging(file.distributionId)) {
        logger.warn(
          { distribution: file.distributionId, hour: file.hour, lines },
          "distribution no longer logs: dropping its spooled access-log file",
        );
        this.#options.observer?.abandoned(lines);
        spool.remove(file);
        continue;
      }
      try {
        await this.#options.deliver(delivery(file, text));
      } catch (error) {
        this.#failed(file, error);
        return;
      }
      spool.remove(file);
      this.#retryMs = this.#options.retryMinMs;
      this.#options.observer?.delivered(lines);
      logger.debug({ distribution: file.distributionId, hour: file.hour, lines }, "access log delivered");
    }
  }

  #failed(file: SealedLogFile, error: unknown): void {
    const code = errorCode(error) ?? EdgeErrorCode.Internal;
    this.#options.observer?.failed(code);
    this.#options.logger.warn(
      {
        code,
        err: errorMessage(error),
        distribution: file.distributionId,
        hour: file.hour,
        retryMs: this.#retryMs,
      },
      "access-log delivery failed; the file stays spooled",
    );
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#options.retryMaxMs, this.#retryMs * 2);
    if (this.#stopped) return;
    this.#retry = this.#options.scheduler.setTimer(wait, () => {
      this.#retry = null;
      this.#kick();
    });
  }
}

function delivery(file: SealedLogFile, text: Buffer): LogFileDelivery {
  // gzip is deterministic for the same bytes: a redelivery stores the same object.
  return {
    distributionId: file.distributionId,
    hour: file.hour,
    unique: file.unique,
    gzipped: gzipSync(text),
  };
}

/** Record lines (not # directives) of a W3C file. */
export function countLines(text: Buffer): number {
  let lines = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start);
    if (end < 0) end = text.length;
    if (end > start && text[start] !== 0x23) lines++;
    start = end + 1;
  }
  return lines;
}
