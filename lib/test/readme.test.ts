import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { controllerSettings } from "../../controller/src/config.js";
import { localSettings } from "../../deploy/local/settings.js";
import { signUrlSettings } from "../../deploy/local/sign-url.js";
import { edgeSettings } from "../../edge/src/config.js";
import { shieldSettings } from "../../shield/src/config.js";
import { describeSettings } from "../config/settings.js";
import { fromRepoRoot } from "../testing/paths.js";

const readme = readFileSync(fromRepoRoot("README.md"), "utf8");
/** Table cells compared without the padding a formatter adds to align columns. */
const squeeze = (text: string) => text.replace(/ *\| */g, "|");
const readmeCells = squeeze(readme);

test("README opens with the two commands a newcomer runs", () => {
  const opening = readme.slice(0, 400);
  assert.match(opening, /npm ci && npm start/);
  assert.match(opening, /npm ci && npm test/);
});

test("README's configuration reference lists every setting of every component as it is", () => {
  for (const [name, settings] of Object.entries({
    localSettings,
    signUrlSettings,
    edgeSettings,
    shieldSettings,
    controllerSettings,
  })) {
    for (const row of describeSettings(settings)) {
      assert.ok(
        readmeCells.includes(squeeze(row)),
        `${name}: README is missing or has an outdated row:\n${row}`,
      );
    }
  }
});

test(".ci/run runs exactly the README's test command", () => {
  const ci = readFileSync(fromRepoRoot(".ci", "run"), "utf8");
  assert.match(ci, /^npm ci$/m);
  assert.match(ci, /^npm test$/m);
});
