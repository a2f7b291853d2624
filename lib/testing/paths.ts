import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root: the nearest folder above this file that holds the
 * project's package.json. Found by walking up rather than by a fixed depth so
 * the same code works from the sources, from dist/ and from any other build
 * folder inside the checkout. Tests run on the built output and read
 * fixtures from the source tree.
 */
function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "tsconfig.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
}

export const repoRoot: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

export function fromRepoRoot(...parts: string[]): string {
  return join(repoRoot, ...parts);
}
