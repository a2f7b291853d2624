import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { test } from "node:test";
import { ControllerErrorCode } from "../../controller/src/errors.js";
import { LocalErrorCode } from "../../deploy/local/state-dir.js";
import { EdgeErrorCode } from "../../edge/src/errors.js";
import { ConfigErrorCode } from "../config/settings.js";
import { TlsErrorCode } from "../grpc/peer-role.js";
import { ListenErrorCode } from "../net/listen.js";
import { ProcessErrorCode } from "../process/launcher.js";
import { ShieldErrorCode } from "../shield-error-code.js";
import { fromRepoRoot, repoRoot } from "../testing/paths.js";

/**
 * One error language: every code of every registry is documented in the
 * README's "Error codes" table and raised somewhere in shipped source, and
 * no shipped source spells a code as a string outside its registry (where
 * it would escape both checks).
 */

/** Each registry by the name source code reaches it by, with the file that defines it. */
const registries: readonly { name: string; file: string; codes: Readonly<Record<string, string>> }[] = [
  { name: "EdgeErrorCode", file: "edge/src/errors.ts", codes: EdgeErrorCode },
  { name: "ShieldErrorCode", file: "lib/shield-error-code.ts", codes: ShieldErrorCode },
  { name: "ControllerErrorCode", file: "controller/src/errors.ts", codes: ControllerErrorCode },
  { name: "ConfigErrorCode", file: "lib/config/settings.ts", codes: ConfigErrorCode },
  { name: "ListenErrorCode", file: "lib/net/listen.ts", codes: ListenErrorCode },
  { name: "ProcessErrorCode", file: "lib/process/launcher.ts", codes: ProcessErrorCode },
  { name: "LocalErrorCode", file: "deploy/local/state-dir.ts", codes: LocalErrorCode },
  { name: "TlsErrorCode", file: "lib/grpc/peer-role.ts", codes: TlsErrorCode },
];

/** The shipped source folders: each component's src, lib outside its tests, npm start's system. */
const sourceRoots = ["edge/src", "shield/src", "controller/src", "lib", "deploy/local"];

function sourceFiles(): { path: string; text: string }[] {
  const files: { path: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const path = relative(repoRoot, full).split(sep).join("/");
      if (entry.isDirectory()) {
        if (path === "lib/test" || path === "lib/testing") continue;
        walk(full);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        files.push({ path, text: readFileSync(full, "utf8") });
      }
    }
  };
  for (const root of sourceRoots) walk(fromRepoRoot(...root.split("/")));
  return files;
}

/** Source without comments, so a code named in a comment does not count as raised. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

const files = sourceFiles();
const code = files.map((f) => ({ path: f.path, text: withoutComments(f.text) }));
const readme = readFileSync(fromRepoRoot("README.md"), "utf8");
const section = /^## Error codes\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? "";
/** The codes in the first column of the README's table. */
const documented = new Set([...section.matchAll(/^\| `([A-Z]+_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));

test("the registries do not share a code, and every code is PREFIX_ERR_NAME", () => {
  const seen = new Map<string, string>();
  for (const registry of registries) {
    for (const value of Object.values(registry.codes)) {
      assert.match(value, /^[A-Z]+_ERR_[A-Z0-9_]+$/, `${registry.name}: ${value}`);
      assert.equal(seen.get(value), undefined, `${value} is in ${seen.get(value)} and ${registry.name}`);
      seen.set(value, registry.name);
    }
  }
  assert.ok(seen.size >= 60, `only ${seen.size} codes found: a registry is missing from this test`);
});

test("README's Error codes table documents every registered code, and only those", () => {
  assert.ok(section.length > 0, "README has no '## Error codes' section");
  const registered = new Set(registries.flatMap((r) => Object.values(r.codes)));
  for (const value of registered) assert.ok(documented.has(value), `README's table lacks ${value}`);
  for (const value of documented)
    assert.ok(registered.has(value), `README documents ${value}, which no registry has`);
});

test("every registered code is raised somewhere in shipped source", () => {
  for (const registry of registries) {
    for (const key of Object.keys(registry.codes)) {
      // Registry.Key anywhere but a comment: a use (the definition itself is `Key: "…"`).
      const use = new RegExp(`\\b${registry.name}\\.${key}\\b`);
      const users = code.filter((f) => use.test(f.text)).map((f) => f.path);
      assert.ok(users.length > 0, `${registry.name}.${key} (${registry.codes[key]}) is never used`);
    }
  }
});

test("no shipped source spells an error code as a string outside its registry", () => {
  const registryFiles = new Set(registries.map((r) => r.file));
  const offenders: string[] = [];
  for (const file of code) {
    if (registryFiles.has(file.path)) continue;
    for (const match of file.text.matchAll(/["'`]([A-Z]+_ERR_[A-Z0-9_]+)["'`]/g)) {
      offenders.push(`${file.path}: ${match[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test("the edge's status table has a row for every edge code (status-for-error.ts)", async () => {
  const { viewerStatusByCode } = await import("../../edge/src/session/status-for-error.js");
  assert.deepEqual(Object.keys(viewerStatusByCode).sort(), Object.values(EdgeErrorCode).sort());
});
