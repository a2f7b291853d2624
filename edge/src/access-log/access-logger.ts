import type { Logger } from "../../../lib/log.js";
import type { Distribution } from "../../../proto/gen/streamfront/controller/v1/controller.js";
import type { EdgeMetrics } from "../metrics.js";
import type { Scheduler } from "../session/scheduler.js";
import { type LogDelivery, LogShipper } from "./log-shipper.js";
import { AccessLogSpool } from "./spool.js";
import { type AccessLogRecord, formatAccessLogLine } from "./w3c-line.js";

export interface AccessLoggerOptions {
  readonly dir: string;
  readonly nodeId: string;
  readonly maxBytes: number;
  readonly maxFileBytes: number;
  readonly intervalMs: number;
  readonly retryMaxMs: number;
  readonly deliver: LogDelivery;
  /** Whether the distribution still logs by this edge's config (see LogShipperOptions.isLogging). */
  isLogging(distributionId: string): boolean;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
}

/**
 * The edge's access log: sessions' events become W3C lines in the spool,
 * and the shipper delivers the spool's files through the shield.
 */
export class AccessLogger {
  readonly spool: AccessLogSpool;
  readonly shipper: LogShipper;
  readonly #metrics: EdgeMetrics;

  constructor(options: AccessLoggerOptions) {
    const { metrics } = options;
    this.#metrics = metrics;
    this.spool = new AccessLogSpool({
      dir: options.dir,
      nodeId: options.nodeId,
      maxBytes: options.maxBytes,
      maxFileBytes: options.maxFileBytes,
      logger: options.logger,
      onDropped: (lines) => metrics.accessLogDropped.inc({ reason: "spool_full" }, lines),
    });
    metrics.observeAccessLogSpool(this.spool);
    this.shipper = new LogShipper({
      spool: this.spool,
      deliver: options.deliver,
      scheduler: options.scheduler,
      logger: options.logger,
      intervalMs: options.intervalMs,
      retryMinMs: Math.min(1_000, options.intervalMs),
      retryMaxMs: options.retryMaxMs,
      isLogging: (id) => options.isLogging(id),
      observer: {
        delivered: () => metrics.accessLogDelivered.inc(),
        failed: (code) => metrics.accessLogDeliveryFailures.inc({ code }),
        abandoned: (lines) => metrics.accessLogDropped.inc({ reason: "logging_disabled" }, lines),
      },
    });
  }

  start(): void {
    this.shipper.start();
  }

  /** One event: its line is on disk (write(2)) when this returns, or it was dropped and counted. */
  record(distribution: Distribution, record: AccessLogRecord): void {
    if (this.spool.append(distribution.id, record.timeMs, formatAccessLogLine(record)))
      this.#metrics.accessLogLines.inc();
  }

  /**
   * Shutdown: seals the open files (fsync) and delivers what it can within
   * deadlineMs, then stops; what is left stays spooled for the next start.
   */
  async close(deadlineMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.shipper.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.shipper.stop();
    this.spool.close();
  }
}
