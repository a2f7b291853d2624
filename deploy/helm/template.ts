import { fromRepoRoot } from "../../lib/testing/paths.js";
import { RenderError, RendererBuildError, runRenderer } from "./renderer.js";
import { hasChartArgument } from "./template-args.js";

/**
 * `npm run helm:template -- [-f FILE]... [--set k=v]... [CHART_DIR]`: the
 * offline renderer's YAML stream, as `helm template` prints it. The flags
 * pass through unchanged (the renderer's --help lists them); the chart is
 * deploy/helm/streamfront unless a directory is given.
 */

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const chart = hasChartArgument(args) ? [] : [fromRepoRoot("deploy", "helm", "streamfront")];
  process.stdout.write(await runRenderer([...args, ...chart]));
}

main().catch((error: unknown) => {
  if (error instanceof RenderError && error.stderr !== "") {
    process.stderr.write(`${error.stderr}\n`);
  } else {
    const prefix = error instanceof RendererBuildError ? "Error: " : "";
    process.stderr.write(`${prefix}${(error as Error).message}\n`);
  }
  process.exit(1);
});
