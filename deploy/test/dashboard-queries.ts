import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../lib/testing/paths.js";

/** One Prometheus query of a committed dashboard: a panel target or a template variable's query. */
export interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  readonly legend: string | undefined;
}

export interface VariableQuery {
  readonly dashboard: string;
  readonly name: string;
  readonly query: string;
}

interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly {
    readonly title: string;
    readonly datasource?: { readonly uid?: string };
    readonly targets?: readonly {
      readonly expr: string;
      readonly refId: string;
      readonly legendFormat?: string;
      readonly datasource?: { readonly uid?: string };
    }[];
  }[];
  readonly templating: {
    readonly list: readonly { readonly name: string; readonly type: string; readonly query?: unknown }[];
  };
}

export const dashboardsDir = join(repoRoot, "deploy", "dashboards");

/** The committed deploy/dashboards/<name>.json, parsed. */
export function readDashboard(name: string): DashboardJson {
  return JSON.parse(readFileSync(join(dashboardsDir, `${name}.json`), "utf8")) as DashboardJson;
}

/** Every panel target of a committed dashboard, in panel order. */
export function panelQueries(name: string): PanelQuery[] {
  const dashboard = readDashboard(name);
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({
      dashboard: name,
      panel: panel.title,
      refId: t.refId,
      expr: t.expr,
      legend: t.legendFormat,
    })),
  );
}

/** The label_values(…) query of each query variable of a committed dashboard. */
export function variableQueries(name: string): VariableQuery[] {
  return readDashboard(name)
    .templating.list.filter((v) => v.type === "query")
    .map((v) => ({ dashboard: name, name: v.name, query: (v.query as { query: string }).query }));
}
