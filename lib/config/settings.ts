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
  /**
   * The value is (or may hold) a secret: true never shows it (--check-config
   * prints REDACTED, a refused value is not quoted); a function shows what it
   * returns for the setting's text instead, e.g. a URL without its password.
   */
  readonly secret?: boolean | ((text: string) => string);
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
  const given = readGiven(settings, sources);
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings)) {
    const text = given[name];
    if (text === undefined) {
      out[name] = setting.default;
      continue;
    }
    const source = text.origin === "flag" ? `--${setting.flag}` : setting.env;
    const parsed = setting.schema.safeParse(text.raw);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((issue) => issue.message).join("; ");
      throw new ConfigError(
        `invalid setting ${name} (${source}): ${quoteGiven(setting, text.raw)}: ${reason}`,
      );
    }
    out[name] = parsed.data;
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** Where a setting's value came from: its flag, its environment variable, or neither (the default). */
export type SettingOrigin = "flag" | "environment" | "default";

interface GivenText {
  readonly raw: string;
  readonly origin: "flag" | "environment";
}

/**
 * The text each setting was given, by name, with where from (a flag wins
 * over a non-empty environment variable); absent when neither gave one.
 * An unknown flag is a ConfigError listing the known ones.
 */
function readGiven(settings: Settings, sources: ConfigSources): Record<string, GivenText | undefined> {
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
  const out: Record<string, GivenText | undefined> = {};
  for (const [name, setting] of Object.entries(settings)) {
    const flagValue = flags[setting.flag];
    const envValue = env[setting.env];
    if (typeof flagValue === "string") out[name] = { raw: flagValue, origin: "flag" };
    else if (envValue !== undefined && envValue !== "") out[name] = { raw: envValue, origin: "environment" };
  }
  return out;
}

/** A refused value as an error quotes it: a secret's never, a partly secret one's as its redaction shows it. */
function quoteGiven(setting: Setting<unknown>, raw: string): string {
  if (setting.secret === true) return redactedValue;
  if (typeof setting.secret === "function") return JSON.stringify(setting.secret(raw));
  return JSON.stringify(raw);
}

/** What --check-config shows for a secret setting that has a value. */
export const redactedValue = "REDACTED";

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

/** The flag that validates the configuration, prints it and starts nothing (what `nginx -t` is to nginx). */
export const checkConfigFlag = "--check-config";

/** True when argv asks for a configuration check instead of a run. */
export function wantsCheckConfig(argv: readonly string[]): boolean {
  return argv.includes(checkConfigFlag);
}

/** argv without --check-config: what the settings are read from in a check. */
export function withoutCheckConfig(argv: readonly string[]): string[] {
  return argv.filter((arg) => arg !== checkConfigFlag);
}

/** One row of --check-config's listing: a setting's effective value and where it came from. */
export interface EffectiveSetting {
  readonly name: string;
  readonly flag: string;
  readonly env: string;
  /** As printed: secrets REDACTED (an unset secret shows as ""), arrays comma-joined, strings quoted. */
  readonly value: string;
  readonly origin: SettingOrigin;
}

/**
 * Every setting's effective value in a loaded config, with where it came
 * from (read again from the same sources the config was loaded from), in
 * declaration order. A secret's value never appears, only REDACTED — or, for
 * a redacting function, what it shows of the given text.
 */
export function effectiveSettings(
  settings: Settings,
  config: Readonly<Record<string, unknown>>,
  sources: ConfigSources = {},
): EffectiveSetting[] {
  const given = readGiven(settings, sources);
  return Object.entries(settings).map(([name, s]) => {
    const text = given[name];
    const value = config[name];
    let shown: string;
    if (s.secret === undefined || s.secret === false || isEmpty(value)) shown = formatValue(value);
    else if (s.secret === true) shown = redactedValue;
    // The redaction works on the text given (the default when none was): a parsed value may be no string.
    else shown = JSON.stringify(s.secret(text?.raw ?? String(s.default)));
    return { name, flag: s.flag, env: s.env, value: shown, origin: text?.origin ?? "default" };
  });
}

/** --check-config's output: a header line, then one aligned line per setting. */
export function formatEffectiveConfig(header: string, rows: readonly EffectiveSetting[]): string {
  const width = (pick: (row: EffectiveSetting) => string) =>
    Math.max(0, ...rows.map((row) => pick(row).length));
  const nameWidth = width((r) => r.name);
  const flagWidth = width((r) => `--${r.flag}`);
  const envWidth = width((r) => r.env);
  const valueWidth = width((r) => r.value);
  const lines = [header, ""];
  for (const r of rows) {
    lines.push(
      `  ${r.name.padEnd(nameWidth)}  ${`--${r.flag}`.padEnd(flagWidth)}  ${r.env.padEnd(envWidth)}  ` +
        `${r.value.padEnd(valueWidth)}  (${r.origin})`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
}

function formatValue(value: unknown): string {
  if (Array.isArray(value)) return JSON.stringify(value.join(","));
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}
