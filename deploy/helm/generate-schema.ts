import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { settingsEnvText, valuesSchemaText } from "./values-schema.js";

/**
 * `npm run helm:schema`: writes deploy/helm/streamfront/values.schema.json and files/settings.json
 * (each setting's variable) from values-schema.ts.
 * deploy/test/helm-chart.system.test.ts fails when the committed file is stale.
 */
const chart = new URL("../../../deploy/helm/streamfront/", import.meta.url);
for (const [file, text] of [
  ["values.schema.json", valuesSchemaText()],
  ["files/settings.json", settingsEnvText()],
] as const) {
  const target = fileURLToPath(new URL(file, chart));
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
