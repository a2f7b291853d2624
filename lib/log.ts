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

/** What replaces a secret's value in a log line. */
export const redacted = "REDACTED";

/**
 * Query parameters of CloudFront signed URLs (canned and custom policies):
 * anyone holding them can play until the policy expires, so their values
 * never reach a log line.
 */
const signedUrlParameters: readonly string[] = ["Signature", "Policy", "Key-Pair-Id"];

const signedParameter = new Set(signedUrlParameters.map((name) => name.toLowerCase()));

/**
 * A stream name, URL or request path as it may be logged: the values of the
 * signed-URL parameters (or, with `all`, of every query parameter) replaced
 * with REDACTED, names and everything else kept. Parameters are looked for
 * after the first `?`; `&`, `;` and a further `?` separate them. Pure: safe on any string,
 * even one that is not a URL.
 */
export function redactQuery(text: string, options: { readonly all?: boolean } = {}): string {
  const start = text.indexOf("?");
  if (start < 0) return text;
  const query = text.slice(start + 1);
  const redactedQuery = query.replace(/([^&;?=]*)=([^&;]*)/g, (whole, name: string, value: string) => {
    if (value === "") return whole;
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // A malformed escape: compare the name as it is.
    }
    return options.all || signedParameter.has(decoded.trim().toLowerCase()) ? `${name}=${redacted}` : whole;
  });
  return `${text.slice(0, start + 1)}${redactedQuery}`;
}

/**
 * A URL with the password of its user info replaced: redis://user:pass@host
 * → redis://user:REDACTED@host, redis://:pass@host → redis://:REDACTED@host;
 * a sentinelPassword query parameter's value too.
 * Everything up to the last "@" before the path goes, so an unescaped "@" in
 * a password, or a further node's user info in a list
 * (redis-cluster://u:a@h:1,u:b@h:2), is never shown either. Pure, and safe
 * on text that is no URL or holds no password: it is returned as it is.
 */
export function redactUrlPassword(text: string): string {
  return text
    .replace(/(:\/\/[^/@:]*:)[^/]*@/, `$1${redacted}@`)
    .replace(/([?&;]sentinelPassword=)[^&;]+/gi, `$1${redacted}`);
}

/** A level a rate-limited line is written at. */
export type LimitedLevel = "warn" | "info" | "error";

export interface LogRateLimiterOptions {
  /** Lines per key written in one interval; later ones are counted, not written. */
  readonly maxLines: number;
  readonly intervalMs: number;
  /** Milliseconds; Date.now by default, a fake clock in tests. */
  readonly now?: () => number;
  /** Most keys tracked; past it the oldest window is summarized and dropped, so memory stays bounded. */
  readonly maxKeys?: number;
}

interface LimitWindow {
  startedAt: number;
  written: number;
  suppressed: number;
  readonly logger: Logger;
  readonly level: LimitedLevel;
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

/**
 * Rate-limits repeated log lines. A line's key (e.g. its event and error
 * code) may be written `maxLines` times per interval; the rest of that
 * interval only counts, and the first line or flush after the interval
 * writes one summary "suppressed K similar lines". A flood of refused or
 * timed-out connections then costs a few lines per interval, while metrics
 * keep the exact counts.
 */
export class LogRateLimiter {
  readonly #maxLines: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, LimitWindow>();

  constructor(options: LogRateLimiterOptions) {
    this.#maxLines = options.maxLines;
    this.#intervalMs = options.intervalMs;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 1024;
  }

  /** Writes the line unless `key` used up its lines in this interval; returns whether it was written. */
  log(
    logger: Logger,
    level: LimitedLevel,
    key: string,
    fields: Record<string, unknown>,
    msg: string,
  ): boolean {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (window && now - window.startedAt >= this.#intervalMs) {
      this.#summarize(key, window);
      this.#windows.delete(key);
      window = undefined;
    }
    if (!window) {
      if (this.#windows.size >= this.#maxKeys) this.#evictOldest();
      window = { startedAt: now, written: 0, suppressed: 0, logger, level, fields, msg };
      this.#windows.set(key, window);
    }
    if (window.written < this.#maxLines) {
      window.written++;
      logger[level](fields, msg);
      return true;
    }
    window.suppressed++;
    return false;
  }

  warn(logger: Logger, key: string, fields: Record<string, unknown>, msg: string): boolean {
    return this.log(logger, "warn", key, fields, msg);
  }

  /**
   * Writes the summaries of intervals that have ended (call it now and
   * then, e.g. from a timer), or with `all` of every interval (at shutdown).
   */
  flush(all = false): void {
    const now = this.#now();
    for (const [key, window] of [...this.#windows]) {
      if (!all && now - window.startedAt < this.#intervalMs) continue;
      this.#summarize(key, window);
      this.#windows.delete(key);
    }
  }

  /** Lines counted but not written in the current intervals, by key (for tests and metrics). */
  suppressed(key: string): number {
    return this.#windows.get(key)?.suppressed ?? 0;
  }

  #evictOldest(): void {
    const first = this.#windows.entries().next();
    if (first.done) return;
    const [key, window] = first.value;
    this.#summarize(key, window);
    this.#windows.delete(key);
  }

  #summarize(key: string, window: LimitWindow): void {
    if (window.suppressed === 0) return;
    window.logger[window.level](
      { ...window.fields, key, suppressed: window.suppressed, intervalMs: this.#intervalMs },
      `suppressed ${window.suppressed} similar lines: ${window.msg}`,
    );
  }
}
