import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { reachableFrom } from "../../lib/testing/import-graph.js";
import { repoRoot } from "../../lib/testing/paths.js";

/**
 * What the production image holds, assembled into `out` — the one install
 * both the Dockerfile (its runtime stage copies the result) and the image
 * test (deploy/test/production-image.system.test.ts) perform:
 *
 *   out/package.json, out/package-lock.json   the project's, as they are
 *   out/dist/<file>                            exactly the compiled files the three entry points
 *                                              (edge, shield, controller src/main.js) import, with
 *                                              their source maps — no tests, no deploy/, no loadtest/
 *   out/node_modules                           `npm ci --omit=dev --ignore-scripts`: production
 *                                              dependencies only, from the lockfile
 */
export const imageEntryPoints = ["edge/src/main.js", "shield/src/main.js", "controller/src/main.js"] as const;

export function assembleImage(buildRoot: string, out: string): { files: number } {
  const files = new Set<string>();
  for (const entry of imageEntryPoints) {
    for (const file of reachableFrom(buildRoot, entry, [".js"]).files.keys()) files.add(file);
  }
  mkdirSync(out, { recursive: true });
  for (const file of files) {
    const target = join(out, "dist", file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(buildRoot, file), target);
    if (existsSync(join(buildRoot, `${file}.map`)))
      copyFileSync(join(buildRoot, `${file}.map`), `${target}.map`);
  }
  for (const name of ["package.json", "package-lock.json"])
    copyFileSync(join(repoRoot, name), join(out, name));
  execFileSync("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], {
    cwd: out,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  return { files: files.size };
}

/** Package folders under out/node_modules (scoped ones as @scope/name). */
export function installedPackages(out: string): string[] {
  const root = join(out, "node_modules");
  const names: string[] = [];
  for (const entry of readdirSync(root)) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@"))
      for (const sub of readdirSync(join(root, entry))) names.push(`${entry}/${sub}`);
    else names.push(entry);
  }
  return names.sort();
}

// node dist/deploy/image/assemble.js <out>: run from the build (the Dockerfile's build stage).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write("usage: node dist/deploy/image/assemble.js <out-dir>\n");
    process.exit(2);
  }
  const buildRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const { files } = assembleImage(buildRoot, resolve(out));
  process.stdout.write(`assembled ${files} files and the production dependencies into ${resolve(out)}\n`);
}
