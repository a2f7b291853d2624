import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse } from "yaml";
import { fromRepoRoot } from "../../lib/testing/paths.js";

/**
 * The alert rules (deploy/alerts/streamfront.rules.yaml) through Debian's promtool: `check rules`
 * parses every expression and template, `test rules` runs the unit tests in deploy/alerts/tests
 * (each alert fires on one input and stays quiet on another; the recording rules' values).
 */
const rulesFile = fromRepoRoot("deploy", "alerts", "streamfront.rules.yaml");
const testsDir = fromRepoRoot("deploy", "alerts", "tests");
const work = mkdtempSync(join(tmpdir(), "streamfront-alert-rules-"));
after(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly output: string;
}

function promtool(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("promtool", [...args], { cwd: fromRepoRoot() }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

function rules(): Rule[] {
  const file = parse(readFileSync(rulesFile, "utf8")) as { groups: { rules: Rule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

const testFiles = readdirSync(testsDir)
  .filter((name) => name.endsWith(".yaml"))
  .map((name) => join("deploy", "alerts", "tests", name));

describe("alert rules", () => {
  it("pass promtool check rules", async () => {
    const run = await promtool(["check", "rules", rulesFile]);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${rules().length} rules found`));
  });

  it("pass their promtool unit tests", async () => {
    assert.ok(testFiles.length > 0);
    const run = await promtool(["test", "rules", ...testFiles]);
    assert.equal(run.code, 0, run.output);
    assert.equal(run.output.match(/SUCCESS/g)?.length, testFiles.length, run.output);
  });

  it("each alert has a severity, a summary, a description and a runbook in the README", () => {
    const readme = readFileSync(fromRepoRoot("README.md"), "utf8");
    const anchors = new Set(
      [...readme.matchAll(/^#{2,6} (.+)$/gm)].map((match) =>
        (match[1] ?? "")
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 _-]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    const alerts = rules().filter((rule) => rule.alert !== undefined);
    assert.ok(alerts.length > 0);
    for (const rule of alerts) {
      assert.match(rule.labels?.severity ?? "", /^(page|ticket|warning)$/, `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary, `${rule.alert}: summary`);
      // absent() has neither labels nor a value worth printing.
      const templated = /^absent\(/.test(rule.expr) ? /./ : /\{\{ \$(labels|value)/;
      assert.match(rule.annotations?.description ?? "", templated, `${rule.alert}: description`);
      const url = rule.annotations?.runbook_url ?? "";
      const anchor = /^README\.md#(.+)$/.exec(url)?.[1];
      assert.ok(
        anchor !== undefined && anchors.has(anchor),
        `${rule.alert}: runbook_url ${url} names no README heading`,
      );
    }
  });

  it("each alert is tested by name in deploy/alerts/tests", () => {
    const tested = testFiles.map((file) => readFileSync(fromRepoRoot(file), "utf8")).join("\n");
    for (const rule of rules()) {
      if (rule.alert !== undefined)
        assert.match(tested, new RegExp(`alertname: ${rule.alert}\\n`), rule.alert);
      if (rule.record !== undefined) assert.ok(tested.includes(`expr: ${rule.record}\n`), rule.record);
    }
  });

  it("a broken rule fails promtool check rules, so the check is real", async () => {
    const broken = join(work, "broken.rules.yaml");
    writeFileSync(
      broken,
      [
        "groups:",
        "  - name: broken",
        "    rules:",
        "      - alert: Broken",
        "        expr: sum(rate(streamfront_edge_plays_total[5m]) by",
        "",
      ].join("\n"),
    );
    const run = await promtool(["check", "rules", broken]);
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /parse error/);
  });

  it("a wrong expectation fails promtool test rules, so the tests are real", async () => {
    const source = readFileSync(fromRepoRoot("deploy", "alerts", "tests", "controller.test.yaml"), "utf8");
    const wrong = source.replace("instance: c1\n", "instance: c2\n");
    assert.notEqual(wrong, source);
    const file = join(work, "wrong.test.yaml");
    writeFileSync(file, wrong.replace("../streamfront.rules.yaml", rulesFile));
    const run = await promtool(["test", "rules", file]);
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /FAILED/);
  });
});
