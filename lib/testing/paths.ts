import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root, found from this file's place in the build output
 * (dist/lib/testing/paths.js) or in the sources (lib/testing/paths.ts).
 * Tests run on the built output and read fixtures from the source tree.
 */
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot: string = here.includes(`${join("dist", "lib")}`)
  ? join(here, "..", "..", "..")
  : join(here, "..", "..");

export function fromRepoRoot(...parts: string[]): string {
  return join(repoRoot, ...parts);
}
