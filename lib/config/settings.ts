import { parseArgs } from "node:util";
import type { z } from "zod";
import { StreamfrontError } from "../errors.js";
import { type LogLevel, logLevels, oneOf } from "./schemas.js";

/**
 * One configurable setting of a component: where it is read from (a flag
 * wins over the environment, which wins over the default), how its text is
 * turned into a value, and the one-line description the README repeats.
 */
export interface Setting<T> {
  /** Environment variable, e.g. STREAMFRONT_EDGE_RTMP_PORT. */
  readonly env: string;
  /** Command-line flag without the leading dashes, e.g. rtmp-port. */
  readonly flag: string;
  readonly doc: string;
  /** Parses the setting's text; failures name what was wrong. */
  readonly schema: z.ZodType<T, string>;
  /** The value used when neither flag nor environment sets it. */
  readonly default: T;
}

export type Settings = Readonly<Record<string, Setting<unknown>>>;

/** Declares one setting; the identity function that lets TypeScript infer T. */
export function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** The log-level setting every component has, under its own variable. */
export function logLevelSetting(envPrefix: string, defaultLevel: LogLevel = "info"): Setting<LogLevel> {
  return {
    env: `${envPrefix}_LOG_LEVEL`,
    flag: "log-level",
    doc: `Log level: ${logLevels.join(", ")}.`,
    schema: oneOf(logLevels),
    default: defaultLevel,
  };
}

export type ConfigOf<S extends Settings> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

export class ConfigError extends StreamfrontError {
  constructor(message: string) {
    super("CONFIG_ERR_INVALID", message);
    this.name = "ConfigError";
  }
}

export interface ConfigSources {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly argv?: readonly string[];
}

/**
 * Reads every setting once from flags and the environment, validates it and
 * returns a frozen object. The first wrong value stops start-up with a
 * message that names the setting, where it came from and the value.
 */
export function loadConfig<S extends Settings>(settings: S, sources: ConfigSources = {}): ConfigOf<S> {
  const env = sources.env ?? {};
  const options: Record<string, { type: "string" }> = {};
  for (const setting of Object.values(settings)) options[setting.flag] = { type: "string" };
  let flags: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    flags = parseArgs({
      args: [...(sources.argv ?? [])],
      options,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    const known = Object.values(settings)
      .map((s) => `--${s.flag}`)
      .join(", ");
    throw new ConfigError(`${(error as Error).message}. Known options: ${known}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings)) {
    const flagValue = flags[setting.flag];
    const envValue = env[setting.env];
    let raw: string | undefined;
    let origin: string;
    if (typeof flagValue === "string") {
      raw = flagValue;
      origin = `--${setting.flag}`;
    } else if (envValue !== undefined && envValue !== "") {
      raw = envValue;
      origin = setting.env;
    } else {
      out[name] = setting.default;
      continue;
    }
    const parsed = setting.schema.safeParse(raw);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((issue) => issue.message).join("; ");
      throw new ConfigError(`invalid setting ${name} (${origin}): ${JSON.stringify(raw)}: ${reason}`);
    }
    out[name] = parsed.data;
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** Markdown rows (| env | flag | default | description |) for the README. */
export function describeSettings(settings: Settings): string[] {
  return Object.values(settings).map(
    (s) => `| \`${s.env}\` | \`--${s.flag}\` | \`${formatDefault(s.default)}\` | ${s.doc} |`,
  );
}

function formatDefault(value: unknown): string {
  if (value === undefined || value === "") return "(none)";
  if (Array.isArray(value)) return value.length === 0 ? "(none)" : value.join(",");
  return String(value);
}
