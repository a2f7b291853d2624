import { type ParseArgsConfig, parseArgs } from "node:util";

type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;
type Values<T extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true }>
>["values"];

/**
 * The command line of a benchmark, strict (an unknown flag is an error),
 * with -h/--help printing `usage` and exiting.
 */
export function parseBenchArgs<const T extends OptionSpecs>(
  argv: readonly string[],
  usage: string,
  options: T,
): Values<T> {
  const { values }: { values: Record<string, unknown> } = parseArgs({
    args: [...argv],
    options: { ...options, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values as Values<T>;
}

/**
 * A whole-number command-line option of a benchmark: `fallback` when not
 * given, else the value, refused (naming the flag) outside [min, max].
 */
export function integerOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer in [${min}, ${max}]`);
  }
  return n;
}

/** A comma-separated list option: every item one of `allowed`; all of them when not given. */
export function listOption<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
): T[] {
  if (raw === undefined) return [...allowed];
  const items = raw.split(",").map((s) => s.trim());
  for (const item of items)
    if (!allowed.includes(item as T))
      throw new Error(`--${name}: ${item} is not one of ${allowed.join(", ")}`);
  return items as T[];
}
