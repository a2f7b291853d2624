import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, test } from "node:test";
import { fromRepoRoot, repoRoot } from "../../lib/testing/paths.js";

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

const out = mkdtempSync(join(tmpdir(), "streamfront-proto-"));
after(() => rmSync(out, { recursive: true, force: true }));

test("the committed proto/gen is what `npm run proto` generates from proto/", () => {
  // The same generator and options as `npm run proto`, written elsewhere.
  const result = spawnSync(
    join(repoRoot, "node_modules", ".bin", "buf"),
    ["generate", "proto", "--template", "proto/buf.gen.yaml", "-o", out],
    { cwd: repoRoot, encoding: "utf8" },
  );
  assert.equal(result.status, 0, `buf generate failed: ${result.stderr}`);
  const committedDir = fromRepoRoot("proto", "gen");
  const freshDir = join(out, "proto", "gen");
  const committed = listFiles(committedDir);
  const fresh = listFiles(freshDir);
  assert.ok(fresh.length >= 2, "the generator produced the shield and controller modules");
  assert.deepEqual(
    committed,
    fresh,
    "proto/gen has the same files as a fresh generation (run npm run proto)",
  );
  for (const file of fresh) {
    assert.equal(
      readFileSync(join(committedDir, file), "utf8"),
      readFileSync(join(freshDir, file), "utf8"),
      `proto/gen/${file} is stale: run npm run proto and commit the result`,
    );
  }
});
