import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** edge, shield or controller: every line carries it. */
  readonly component: string;
  readonly level: string;
  /** Where lines go; stdout when absent. Tests pass their own. */
  readonly destination?: DestinationStream;
  /** Extra fields on every line, e.g. the node id. */
  readonly base?: Readonly<Record<string, string>>;
}

/**
 * One JSON line per event, with an ISO time, the component and the level as
 * a word. Each process makes one logger at start-up and hands children to
 * whatever it builds; nothing logs through a global.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { component: options.component, pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
