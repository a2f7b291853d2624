import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  buildGraph,
  findCycles,
  type ImportGraph,
  unresolvableDynamicImports,
} from "../testing/import-graph.js";
import { repoRoot } from "../testing/paths.js";

/**
 * The layering rules, checked over the TypeScript sources (type-only imports
 * count: a type is coupling too). Every file belongs to one *area* and is of
 * one *kind*:
 *
 * - areas: the components `edge`, `shield`, `controller`; `lib` (shared code);
 *   `proto` (generated contracts, `proto/gen`); `deploy` (npm start and the
 *   system tests); `loadtest` (benchmarks).
 * - kinds: `src` (edge/src, shield/src, controller/src, lib/ outside lib/test
 *   and lib/testing, proto/gen, deploy/local, loadtest/src), `testing` (lib/testing,
 *   the shared test helpers) and `test` (every other folder named test: tests
 *   and the helpers only their own area uses).
 *
 * Rules:
 * 1. A component's src imports only its own src, lib src and proto. lib src
 *    imports only lib src and proto; proto imports only proto. So components
 *    talk to each other only through proto/ contracts and lib/.
 * 2. deploy/local (npm start's single-machine system: embedded S3, cluster,
 *    play names) and loadtest/src assemble the whole system and are never
 *    shipped as a component: they may import any component's src, lib src,
 *    proto and lib/testing, and loadtest/src may import deploy/local; neither
 *    imports a test folder, and deploy/local does not import loadtest.
 * 3. Test code (test, testing) may import its own area's files, lib src,
 *    lib/testing, proto and deploy/local (the local system is a fixture any
 *    test may start). Tests of deploy/, loadtest/ and lib/ (lib/test holds the
 *    repository-wide checks: README, ports, layering) and lib/testing may also
 *    import any component's src, since they start or read the real components;
 *    a component's own tests reach another component only through lib/testing
 *    or deploy/local. No file imports another area's test folder: a helper
 *    two areas need lives in lib/testing.
 * 4. No other src file imports a test folder or lib/testing.
 * 5. No import cycles among src files.
 * 6. No dynamic `import()` without a string literal (it could not be checked).
 */

type Area = "edge" | "shield" | "controller" | "lib" | "proto" | "deploy" | "loadtest";
type Kind = "src" | "test" | "testing";
interface Place {
  readonly area: Area;
  readonly kind: Kind;
}

const components: ReadonlySet<Area> = new Set(["edge", "shield", "controller"]);
const folders: readonly Area[] = ["edge", "shield", "controller", "lib", "proto", "deploy", "loadtest"];

export function placeOf(file: string): Place {
  const [top, second] = file.split("/");
  const area = folders.find((a) => a === top);
  if (area === undefined) throw new Error(`${file} is in no known area`);
  if (area === "lib") {
    if (second === "testing") return { area, kind: "testing" };
    return { area, kind: second === "test" ? "test" : "src" };
  }
  if (area === "proto") return { area, kind: second === "gen" ? "src" : "test" };
  if (area === "deploy") return { area, kind: second === "local" ? "src" : "test" };
  if (second === "src") return { area, kind: "src" };
  if (second === "test") return { area, kind: "test" };
  throw new Error(`${file} is neither under ${area}/src nor ${area}/test`);
}

/** Why `from` may not import `to`, or null when it may. */
export function violation(from: Place, to: Place): string | null {
  const sameArea = from.area === to.area;
  const sharedSrc = to.kind === "src" && (to.area === "lib" || to.area === "proto");
  const assembler = from.area === "deploy" || from.area === "loadtest";
  if (from.kind === "src") {
    if (to.kind !== "src") {
      if (assembler && to.kind === "testing") return null;
      return "production code imports test code";
    }
    if (sameArea || to.area === "proto") return null;
    if (from.area === "proto") return "proto/gen imports outside proto";
    if (to.area === "lib") return null;
    if (from.area === "lib") return "lib imports a component";
    if (components.has(from.area)) return "a component imports another component (use proto/ or lib/)";
    if (from.area === "loadtest" || (from.area === "deploy" && to.area !== "loadtest")) return null;
    return `${from.area} src imports ${to.area} src`;
  }
  // Test code.
  if (sameArea || sharedSrc || to.kind === "testing") return null;
  if (to.kind === "test") return "imports another area's test folder (shared helpers belong in lib/testing)";
  if (to.area === "deploy") return null;
  const systemTest = from.kind === "testing" || assembler || from.area === "lib";
  if (systemTest && components.has(to.area)) return null;
  return `a ${from.area} test imports ${to.area} src`;
}

const tsGraph: ImportGraph = buildGraph(repoRoot, folders, [".ts"]);

test("the layering rules hold over every import of every source file", () => {
  assert.ok(tsGraph.size > 100, `only ${tsGraph.size} files found under ${repoRoot}`);
  const problems: string[] = [];
  for (const [file, edges] of tsGraph) {
    const from = placeOf(file);
    for (const edge of edges) {
      if (edge.file === undefined) continue;
      const reason = violation(from, placeOf(edge.file));
      if (reason !== null) problems.push(`${file} -> ${edge.file}: ${reason}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("no import cycles among production sources", () => {
  const srcOnly = new Map([...tsGraph].filter(([file]) => placeOf(file).kind === "src"));
  const cycles = findCycles(srcOnly).map((cycle) => cycle.join(" -> "));
  assert.deepEqual(cycles, []);
});

test("every dynamic import names its module with a string literal", () => {
  const opaque = [...tsGraph.keys()].filter(
    (file) => unresolvableDynamicImports(readFileSync(join(repoRoot, file), "utf8")) > 0,
  );
  assert.deepEqual(opaque, []);
});

test("the rules themselves: a few imports they must allow and refuse", () => {
  const p = (file: string) => placeOf(file);
  assert.equal(violation(p("edge/src/a.ts"), p("lib/log.ts")), null);
  assert.equal(violation(p("edge/src/a.ts"), p("proto/gen/x.ts")), null);
  assert.notEqual(violation(p("edge/src/a.ts"), p("shield/src/config.ts")), null);
  assert.notEqual(violation(p("lib/log.ts"), p("edge/src/config.ts")), null);
  assert.notEqual(violation(p("proto/gen/x.ts"), p("lib/log.ts")), null);
  assert.notEqual(violation(p("edge/src/a.ts"), p("lib/testing/wait.ts")), null);
  assert.notEqual(violation(p("deploy/test/a.test.ts"), p("edge/test/support/x.ts")), null);
  assert.equal(violation(p("deploy/test/a.test.ts"), p("controller/src/config.ts")), null);
  assert.equal(violation(p("deploy/local/start.ts"), p("edge/src/main.ts")), null);
  assert.notEqual(violation(p("deploy/local/start.ts"), p("deploy/test/support/x.ts")), null);
  assert.notEqual(violation(p("edge/test/a.test.ts"), p("shield/src/main.ts")), null);
  assert.equal(violation(p("shield/test/a.test.ts"), p("deploy/local/embedded-s3.ts")), null);
  assert.equal(violation(p("loadtest/src/a.ts"), p("deploy/local/cluster.ts")), null);
  assert.notEqual(violation(p("deploy/local/a.ts"), p("loadtest/src/a.ts")), null);
  assert.notEqual(violation(p("lib/s3-client.ts"), p("deploy/local/embedded-s3.ts")), null);
  assert.notEqual(violation(p("lib/log.ts"), p("lib/testing/wait.ts")), null);
  assert.equal(violation(p("edge/test/a.test.ts"), p("lib/testing/wait.ts")), null);
});
