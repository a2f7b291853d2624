import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { test } from "node:test";
import { listFiles } from "../testing/import-graph.js";
import { repoRoot } from "../testing/paths.js";

/**
 * The test files' two promises, read from their sources: nothing is skipped
 * (a missing tool fails loudly; ensure-system-tools installs it), and a file
 * named `<name>.test.ts` (`npm run test:unit`) starts no process and uses no
 * Redis or S3: what does is `<name>.system.test.ts` (`npm run test:system`).
 */
const testFiles = ["lib", "edge", "shield", "controller", "deploy", "loadtest", "proto"]
  .flatMap((dir) => listFiles(`${repoRoot}/${dir}`, [".ts"]))
  .filter((file) => file.endsWith(".test.ts"))
  // This file spells the patterns it looks for.
  .filter((file) => relative(repoRoot, file) !== "lib/test/test-files.test.ts")
  .map((file) => ({ path: relative(repoRoot, file), source: readFileSync(file, "utf8") }));

/** What makes a test a system test, as the tests spell it (helpers included). */
const systemMarkers: ReadonlyArray<[RegExp, string]> = [
  [/\bfrom "node:child_process"/, "child_process"],
  [/\blaunchComponent\b/, "a component process"],
  [/\bProcessCluster\b/, "a process cluster"],
  [/\bstartTestS3\b|\bnew EmbeddedS3\b|\bstartFaultyS3\b|\bstartShieldBehindProxy\b/, "s3rver"],
  [/\bRedisServer\b|\bRedisSentinel\b/, "redis-server"],
  [
    /\bstartEdgeHarness\b|\bstartMediaBackend\b|\bstartEdgeProcess\b|\bstartShieldProcess\b/,
    "S3 or processes",
  ],
  [/\bprobePackets\(|\bprobeStreams\(|\brtmpdump\(|\brunTool\(/, "an external tool"],
];

test("the suite has test files of both kinds", () => {
  assert.ok(testFiles.some((f) => f.path.endsWith(".system.test.ts")));
  assert.ok(testFiles.some((f) => !f.path.endsWith(".system.test.ts")));
});

test("no test file skips a test or leaves one to do", () => {
  const skipping = testFiles.filter(({ source }) =>
    /\b(?:skip|todo)\s*:|\b(?:it|test|describe|suite|t)\.(?:skip|todo)\(/.test(source),
  );
  assert.deepEqual(
    skipping.map((f) => f.path),
    [],
    "a test runs or fails; a missing tool is installed by ensure-system-tools or fails loudly",
  );
});

test("a unit test file (<name>.test.ts) starts no process and uses no S3 or Redis", () => {
  const misnamed = testFiles
    .filter((f) => !f.path.endsWith(".system.test.ts"))
    .flatMap(({ path, source }) =>
      systemMarkers.filter(([pattern]) => pattern.test(source)).map(([, what]) => `${path}: ${what}`),
    );
  assert.deepEqual(misnamed, [], "rename these to <name>.system.test.ts");
});
