import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { pathTo, reachableFrom, unresolvableDynamicImports } from "../testing/import-graph.js";
import { repoRoot } from "../testing/paths.js";

/**
 * `npm ci --omit=dev` must give a working edge, shield and controller. This
 * walks the import graph of the compiled JavaScript (what production runs, so
 * type-only imports, erased by the compiler, do not count) from each
 * component's entry point and checks that every package it reaches is a
 * production dependency, that it reaches no test code, deploy/ or loadtest/,
 * and that every production dependency is reached by some component.
 */

/** The build folder this test runs from: dist/lib/test/.. /.. */
const buildRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const entryPoints = ["edge/src/main.js", "shield/src/main.js", "controller/src/main.js"] as const;

interface PackageJson {
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}
const packageJson = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as PackageJson;
const dependencies = new Set(Object.keys(packageJson.dependencies ?? {}));

const reached = new Map(entryPoints.map((entry) => [entry, reachableFrom(buildRoot, entry, [".js"])]));

for (const entry of entryPoints) {
  const { files, packages } = reached.get(entry) ?? { files: new Map(), packages: new Map() };

  test(`${entry} imports only production dependencies and node: builtins`, () => {
    assert.ok(files.size > 5, `${entry}: only ${files.size} modules reached`);
    const missing = [...packages]
      .filter(([name]) => !dependencies.has(name))
      .map(([name, by]) => `${name} (imported by ${pathTo(files, by).join(" -> ")})`);
    assert.deepEqual(missing, [], "packages reached that are not in package.json dependencies");
  });

  test(`${entry} reaches no test code, deploy/ or loadtest/`, () => {
    const outside = [...files.keys()]
      .filter((file) => /^(deploy|loadtest)\//.test(file) || /(^|\/)(test|testing)\//.test(file))
      .map((file) => pathTo(files, file).join(" -> "));
    assert.deepEqual(outside, []);
  });

  test(`${entry} has no dynamic import that cannot be followed`, () => {
    const opaque = [...files.keys()].filter(
      (file) => unresolvableDynamicImports(readFileSync(join(buildRoot, file), "utf8")) > 0,
    );
    assert.deepEqual(opaque, []);
  });
}

test("every production dependency is imported by some component", () => {
  const used = new Set([...reached.values()].flatMap(({ packages }) => [...packages.keys()]));
  const dead = [...dependencies].filter((name) => !used.has(name));
  assert.deepEqual(dead, [], "in dependencies but reached by no component: move to devDependencies");
});

test("a package is in at most one of dependencies, devDependencies and optionalDependencies", () => {
  const dev = Object.keys(packageJson.devDependencies ?? {});
  const optional = Object.keys(packageJson.optionalDependencies ?? {});
  assert.deepEqual(
    [...dev, ...optional].filter((name) => dependencies.has(name)),
    [],
  );
});
