import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  type DataSourceRef,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";

/*
 * What every streamfront dashboard shares: the template variables, the panel helper and the dashboard
 * frame (uid, tags, refresh, time).
 *
 * Selecting by label, under kube-prometheus and outside it. A ServiceMonitor or PodMonitor adds
 * `namespace` and `pod` to every series and names the target `instance` = <pod IP>:<port>; a plain
 * static scrape config adds neither namespace nor pod, only `instance` = <host>:<port>. So:
 * - `namespace` is a multi-value variable over label_values(namespace) that includes All with the
 *   allValue `.*`, which also matches a series without the label (an absent label is ""): the
 *   queries' `namespace=~"$namespace"` select everything when nothing is chosen or there is no namespace.
 * - an edge is chosen by `instance`, the one target label both worlds have (the variable is labelled
 *   "Edge pod"; under kube-prometheus its values are the pods' addresses), same All/`.*`.
 * - no query names a scrape `job` (a ServiceMonitor and a PodMonitor name it differently): a component
 *   is told apart by its own metric names, and the process_/nodejs_ defaults every component serves
 *   are narrowed to edges with `and on (job, instance) streamfront_edge_build_info`.
 */

/** Every panel and target reads the data source the `datasource` variable names. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template.
export const datasource: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** The namespace matcher every query carries. */
export const ns = 'namespace=~"$namespace"';

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder("datasource")
    .label("Data source")
    .type("prometheus")
    .current({ text: "default", value: "default" });
}

/** A label_values variable: multi-value with All (`.*`) unless `single`. */
function labelVariable(
  name: string,
  label: string,
  query: string,
  options: { readonly single?: boolean; readonly regex?: string } = {},
): QueryVariableBuilder {
  const variable = new QueryVariableBuilder(name)
    .label(label)
    .datasource(datasource)
    .query({ qryType: 1, query, refId: "PrometheusVariableQueryEditor-VariableQuery" })
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
  if (options.regex) variable.regex(options.regex);
  if (options.single) return variable.multi(false).includeAll(false);
  return variable
    .multi(true)
    .includeAll(true)
    .allValue(".*")
    .current({ selected: true, text: ["All"], value: ["$__all"] });
}

export function namespaceVariable(): QueryVariableBuilder {
  return labelVariable("namespace", "Namespace", "label_values(streamfront_edge_build_info, namespace)");
}

/**
 * The distribution ids the edges count (none, the connections routed to no distribution, left out).
 * `single`: the distribution dashboard shows one at a time.
 */
export function distributionVariable(single = false): QueryVariableBuilder {
  return labelVariable(
    "distribution",
    "Distribution",
    `label_values(streamfront_edge_plays_total{${ns}}, distribution)`,
    { single, regex: "/^(?!none$).+$/" },
  );
}

/** Edges by their target `instance` (see above). */
export function edgeVariable(): QueryVariableBuilder {
  return labelVariable("edge", "Edge pod", `label_values(streamfront_edge_build_info{${ns}}, instance)`);
}

export interface Target {
  readonly expr: string;
  /** Grafana's legend template: `{{label}}` (Helm leaves it alone: the chart never tpl's the JSON). */
  readonly legend?: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly targets: readonly Target[];
  /** A single number (the last value) instead of a graph. */
  readonly stat?: boolean;
  readonly width?: number;
}

/** A panel of `spec` with the dashboard's data source and one Prometheus query per target (refId A, B, …). */
export function panel(spec: PanelSpec): StatPanelBuilder | TimeseriesPanelBuilder {
  const queries = spec.targets.map((t, i) => {
    const q = new DataqueryBuilder()
      .datasource(datasource)
      .expr(t.expr)
      .refId(String.fromCharCode(65 + i))
      .range();
    return t.legend === undefined ? q : q.legendFormat(t.legend);
  });
  if (spec.stat) {
    return new StatPanelBuilder()
      .title(spec.title)
      .description(spec.description)
      .datasource(datasource)
      .unit(spec.unit)
      .targets(queries)
      .height(5)
      .span(spec.width ?? 4);
  }
  return new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(datasource)
    .unit(spec.unit)
    .targets(queries)
    .fillOpacity(10)
    .height(8)
    .span(spec.width ?? 12);
}

export interface DashboardSpec {
  /** The file name under deploy/dashboards (and the chart's dashboards/), without .json. */
  readonly name: string;
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly variables: readonly (DatasourceVariableBuilder | QueryVariableBuilder)[];
  readonly panels: readonly PanelSpec[];
}

/** The dashboard of `spec`, with fixed uid, no id, no version and panel ids 1, 2, … in order. */
export function buildDashboard(spec: DashboardSpec): Dashboard {
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .id(null)
    .description(spec.description)
    .tags(["streamfront"])
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh("30s")
    .time({ from: "now-1h", to: "now" })
    .timezone("browser")
    .variables([...spec.variables]);
  spec.panels.forEach((p, i) => {
    builder.withPanel(panel(p).id(i + 1));
  });
  return builder.build();
}

/** Objects with their keys sorted, recursively (arrays keep their order): the same input, the same text. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  return value;
}

/** The committed form of a dashboard: sorted keys, two-space indent, a final newline. */
export function dashboardText(dashboard: Dashboard): string {
  return `${JSON.stringify(sortKeys(dashboard), null, 2)}\n`;
}
