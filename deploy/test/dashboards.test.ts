import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../../lib/testing/paths.js";
import { dashboards } from "../dashboards/src/all.js";
import { buildDashboard, dashboardText, datasource } from "../dashboards/src/common.js";
import { dashboardsDir, panelQueries, readDashboard, variableQueries } from "./dashboard-queries.js";

/**
 * The committed dashboards against their TypeScript sources (deploy/dashboards/src): deploy/dashboards
 * and the chart's copy hold exactly what `npm run dashboards` writes, each query reads only metrics the
 * README's tables document, and every query carries the namespace matcher and Grafana's intervals.
 * deploy/test/dashboards-prometheus.system.test.ts runs every query against a real Prometheus.
 */

const chartDashboards = join(repoRoot, "deploy", "helm", "streamfront", "dashboards");

/** Every metric name the README's "## Metrics" tables document, and the families they name with `*`. */
function documentedMetrics(): { names: Set<string>; prefixes: string[] } {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Metrics\n"), readme.indexOf("\n## Error codes\n"));
  const names = new Set<string>();
  const prefixes: string[] = [];
  for (const row of section.split("\n")) {
    const cell = /^\| (`[^|]+`) \| (counter|gauge|histogram|summary|—) \|/.exec(row)?.[1];
    if (!cell) continue;
    for (const name of cell.matchAll(/([a-z_:]+)(\*)?/g)) {
      if (name[2]) prefixes.push(name[1]!);
      else names.add(name[1]!);
    }
  }
  return { names, prefixes };
}

/** The metric names an expression selects (identifiers followed by `{`, PromQL keywords aside). */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][\w:]*)\{/g)].map((m) => m[1]!);
}

describe("the dashboards", () => {
  it("deploy/dashboards and the chart's dashboards/ hold exactly what npm run dashboards writes", () => {
    const expected = dashboards.map((d) => `${d.name}.json`).sort();
    for (const dir of [dashboardsDir, chartDashboards]) {
      assert.deepEqual(
        readdirSync(dir)
          .filter((f) => f.endsWith(".json"))
          .sort(),
        expected,
        `${dir}: run npm run dashboards`,
      );
      for (const spec of dashboards) {
        assert.equal(
          readFileSync(join(dir, `${spec.name}.json`), "utf8"),
          dashboardText(buildDashboard(spec)),
          `${dir}/${spec.name}.json is stale: run npm run dashboards`,
        );
      }
    }
  });

  it("the same sources build the same text (no timestamps, no ids but the panels' own)", () => {
    for (const spec of dashboards) {
      const once = dashboardText(buildDashboard(spec));
      assert.equal(dashboardText(buildDashboard(spec)), once);
      const json = JSON.parse(once) as Record<string, unknown>;
      assert.equal(json.uid, `streamfront-${spec.name}`);
      assert.equal(json.id, null);
      assert.equal(json.version, undefined);
      assert.doesNotMatch(once, /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/, `${spec.name}: a timestamp`);
    }
    assert.equal(new Set(dashboards.map((d) => d.name)).size, dashboards.length);
  });

  it("every panel and target reads the datasource variable; every dashboard has datasource and namespace", () => {
    for (const spec of dashboards) {
      const d = readDashboard(spec.name);
      const variables = d.templating.list.map((v) => v.name);
      assert.deepEqual(variables.slice(0, 2), ["datasource", "namespace"], spec.name);
      assert.ok(d.panels.length > 0);
      for (const panel of d.panels) {
        assert.equal(panel.datasource?.uid, datasource.uid, `${spec.name} / ${panel.title}`);
        assert.ok((panel.targets ?? []).length > 0, `${spec.name} / ${panel.title} has a query`);
        for (const t of panel.targets ?? []) assert.equal(t.datasource?.uid, datasource.uid);
      }
    }
    assert.ok(variableQueries("edge").some((v) => v.name === "edge"));
    assert.ok(variableQueries("distribution").some((v) => v.name === "distribution"));
  });

  it("every query names only metrics the README documents, each filtered by namespace, rates over $__rate_interval", () => {
    const { names, prefixes } = documentedMetrics();
    assert.ok(names.has("streamfront_edge_viewers") && prefixes.includes("process_"), "README tables read");
    const problems: string[] = [];
    const queries = dashboards.flatMap((d) => panelQueries(d.name));
    for (const q of queries) {
      const where = `${q.dashboard} / ${q.panel} / ${q.refId}`;
      for (const metric of metricsOf(q.expr)) {
        const family = metric.replace(/_(bucket|sum|count)$/, "");
        const known = names.has(metric) || names.has(family) || prefixes.some((p) => metric.startsWith(p));
        // `up` carries target labels only; it is joined with a component's build_info.
        if (!known && metric !== "up") problems.push(`${where}: ${metric} is not in README ## Metrics`);
      }
      const selectors = [...q.expr.matchAll(/(?:streamfront|process|nodejs)_[\w:]*\{([^}]*)\}/g)];
      for (const s of selectors)
        if (!s[1]!.includes('namespace=~"$namespace"')) problems.push(`${where}: ${s[0]} has no namespace`);
      for (const window of q.expr.matchAll(/\[([^\]]+)\]/g))
        if (window[1] !== "$__rate_interval" && window[1] !== "$__range")
          problems.push(`${where}: window [${window[1]}]`);
    }
    assert.deepEqual(problems, []);
    assert.ok(queries.length >= 40, `${queries.length} queries`);
  });

  it("README's Dashboards table lists every panel of every dashboard, in order, and no other", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const start = readme.indexOf("\n### Dashboards\n");
    assert.ok(start >= 0, "README has ### Dashboards");
    const section = readme.slice(start, readme.indexOf("\n### ", start + 1));
    const listed: string[] = [];
    let uid = "";
    for (const row of section.split("\n")) {
      const cells = row.split("|").map((c) => c.trim());
      if (cells.length < 5 || cells[2] === "Panel" || cells[2]?.startsWith("---")) continue;
      uid = /\(`([^`]+)`\)/.exec(cells[1]!)?.[1] ?? uid;
      listed.push(`${uid} / ${cells[2]}`);
    }
    const built = dashboards.flatMap((spec) =>
      spec.panels.map((p) => `streamfront-${spec.name} / ${p.title}`),
    );
    assert.deepEqual(listed, built);
  });
});
