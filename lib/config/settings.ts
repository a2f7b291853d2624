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

/** Stable codes of configuration refused at start (README: Error codes). */
export const ConfigErrorCode = {
  /** A setting's value (flag, environment variable or file) is malformed or out of range. */
  Invalid: "CONFIG_ERR_INVALID",
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

export class ConfigError extends StreamfrontError {
  declare readonly code: ConfigErrorCode;

  constructor(message: string) {
    super(ConfigErrorCode.Invalid, message);
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
      args: joinNegativeValues(sources.argv ?? [], options),
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
    let source: string;
    if (typeof flagValue === "string") {
      raw = flagValue;
      source = `--${setting.flag}`;
    } else if (envValue !== undefined && envValue !== "") {
      raw = envValue;
      source = setting.env;
    } else {
      out[name] = setting.default;
      continue;
    }
    const parsed = setting.schema.safeParse(raw);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((issue) => issue.message).join("; ");
      throw new ConfigError(`invalid setting ${name} (${source}): ${JSON.stringify(raw)}: ${reason}`);
    }
    out[name] = parsed.data;
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/**
 * `--name -1` as `--name=-1`. parseArgs reads an argument that starts with a
 * dash as an option, so a negative number after a flag that takes a value
 * (`--http-port -1`) would be refused as ambiguous; every setting here takes
 * a value and none has a short form, so a dash followed by a digit after a
 * known flag can only be that flag's value.
 */
function joinNegativeValues(argv: readonly string[], options: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const next = argv[i + 1];
    if (
      arg.startsWith("--") &&
      !arg.includes("=") &&
      Object.hasOwn(options, arg.slice(2)) &&
      next !== undefined &&
      /^-[0-9]/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
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

/** True when argv asks for the settings list instead of a run (`--help`, `-h`). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/**
 * The `--help` text: every setting with its flag, environment variable,
 * default and description, in declaration order.
 */
export function formatHelp(settings: Settings, usage: string): string {
  const lines = [usage, "", "Settings (a flag wins over the environment, which wins over the default):", ""];
  for (const s of Object.values(settings)) {
    lines.push(`  --${s.flag} <value>   ${s.env}   default: ${formatDefault(s.default)}`);
    lines.push(`      ${s.doc}`);
  }
  lines.push("", "Flags take --name value or --name=value.", "");
  return lines.join("\n");
}
