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
