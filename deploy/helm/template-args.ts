/**
 * Reading `npm run helm:template`'s arguments without parsing them all: the
 * renderer parses its own flags; the CLI only needs to know whether a chart
 * directory was given.
 */

/** The renderer's flags that take a value, so their values are not taken for the chart. */
const flagsWithValue = new Set([
  "-f",
  "--values",
  "--set",
  "--set-string",
  "-n",
  "--namespace",
  "--release-name",
  "--kube-version",
  "-a",
  "--api-versions",
  "-o",
  "--output",
]);

/** Whether args name a chart directory (a word that is neither a flag nor a flag's value). */
export function hasChartArgument(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-")) return true;
    if (flagsWithValue.has(arg)) i++;
  }
  return false;
}
