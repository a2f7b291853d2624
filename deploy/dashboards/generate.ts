import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dashboards } from "./src/all.js";
import { buildDashboard, dashboardText } from "./src/common.js";

/**
 * `npm run dashboards`: writes deploy/dashboards/<name>.json for each dashboard of src/, and the chart's
 * copy deploy/helm/streamfront/dashboards/<name>.json (the chart ships them as ConfigMaps and must hold
 * them itself). deploy/test/dashboards.test.ts fails when a committed file differs from this output.
 */
const targets = ["../../../deploy/dashboards/", "../../../deploy/helm/streamfront/dashboards/"].map((dir) =>
  fileURLToPath(new URL(dir, import.meta.url)),
);
for (const dir of targets) mkdirSync(dir, { recursive: true });
for (const spec of dashboards) {
  const text = dashboardText(buildDashboard(spec));
  for (const dir of targets) {
    writeFileSync(`${dir}${spec.name}.json`, text);
    process.stdout.write(`wrote ${dir}${spec.name}.json\n`);
  }
}
