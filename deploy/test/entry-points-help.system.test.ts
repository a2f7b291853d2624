import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { controllerSettings } from "../../controller/src/config.js";
import { edgeSettings } from "../../edge/src/config.js";
import type { Settings } from "../../lib/config/settings.js";
import { shieldSettings } from "../../shield/src/config.js";

/** Each component's entry point answers --help with every one of its settings, exits 0 and binds nothing. */
const components: Readonly<Record<string, Settings>> = {
  edge: edgeSettings,
  shield: shieldSettings,
  controller: controllerSettings,
};

for (const [component, settings] of Object.entries(components)) {
  test(`node dist/${component}/src/main.js --help lists its settings and exits 0`, async () => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL(`../../${component}/src/main.js`, import.meta.url)), "--help"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`^usage: node dist/${component}/src/main\\.js`));
    for (const s of Object.values(settings)) {
      assert.ok(stdout.includes(`--${s.flag} <value>   ${s.env}`), `${component} --help names --${s.flag}`);
    }
    assert.doesNotMatch(stdout, /listening/, "nothing was started");
  });
}
