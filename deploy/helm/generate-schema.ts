import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { settingsEnvText, valuesSchemaText } from "./values-schema.js";

/**
 * `npm run helm:schema`: writes deploy/helm/streamfront/values.schema.json and files/settings.json
 * (each setting's variable) from values-schema.ts, and files/streamfront.rules.yaml, a copy of
 * deploy/alerts/streamfront.rules.yaml (the chart must hold what its PrometheusRule renders).
 * deploy/test/helm-chart.system.test.ts fails when a committed file is stale.
 */
const chart = new URL("../../../deploy/helm/streamfront/", import.meta.url);
const alertRules = readFileSync(
  new URL("../../../deploy/alerts/streamfront.rules.yaml", import.meta.url),
  "utf8",
);
for (const [file, text] of [
  ["values.schema.json", valuesSchemaText()],
  ["files/settings.json", settingsEnvText()],
  ["files/streamfront.rules.yaml", alertRules],
] as const) {
  const target = fileURLToPath(new URL(file, chart));
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
