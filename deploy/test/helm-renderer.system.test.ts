import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import {
  buildRenderer,
  RenderError,
  type RenderedDocument,
  RendererBuildError,
  type RenderOptions,
  renderChart,
  rendererBinary,
  renderNotes,
} from "../../deploy/helm/renderer.js";
import { hasChartArgument } from "../../deploy/helm/template-args.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";

/**
 * The offline chart renderer (deploy/helm/renderer, built from Debian's Go
 * packages on first use) against a small fixture chart made to exercise it
 * (deploy/test/fixtures/helm-fixture), not the streamfront chart. Each test
 * runs the real binary and reads back what it printed: the documents, the
 * exit status and Helm-shaped error messages.
 */
const chartDir = fromRepoRoot("deploy", "test", "fixtures", "helm-fixture");
const work = mkdtempSync(join(tmpdir(), "streamfront-helm-renderer-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs the binary itself, for exit codes and the exact stderr. */
async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const binary = await rendererBinary();
  return new Promise((resolve) => {
    execFile(binary, [...args], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function writeFile(name: string, text: string): string {
  const file = join(work, name);
  writeFileSync(file, text);
  return file;
}

async function render(options: Omit<RenderOptions, "chartDir"> = {}): Promise<RenderedDocument[]> {
  return (await renderChart({ chartDir, ...options })).documents;
}

function byName(documents: readonly RenderedDocument[], name: string): Record<string, unknown> {
  const found = documents.find((d) => (d.document.metadata as { name?: string } | undefined)?.name === name);
  assert.ok(found, `no document named ${name}`);
  return found.document;
}

function byKind(documents: readonly RenderedDocument[], kind: string): Record<string, unknown> {
  const found = documents.find((d) => d.document.kind === kind);
  assert.ok(found, `no ${kind}`);
  return found.document;
}

function data(documents: readonly RenderedDocument[], name: string): Record<string, string> {
  return byName(documents, name).data as Record<string, string>;
}

/** The fixture's values ConfigMap holds `toYaml .Values`: the merged values as templates saw them. */
async function mergedValues(options: Omit<RenderOptions, "chartDir"> = {}): Promise<Record<string, unknown>> {
  const documents = await render(options);
  const dump = documents.find((d) =>
    String((d.document.metadata as { name: string }).name).endsWith("-values"),
  );
  assert.ok(dump, "no values ConfigMap");
  return parseYaml((dump.document.data as Record<string, string>)["values.yaml"]!) as Record<string, unknown>;
}

describe("output", () => {
  test("documents come in Helm's install order by kind, empty and comment-only documents dropped", async () => {
    const documents = await render();
    assert.deepEqual(
      documents.map((d) => `${d.document.kind} ${d.source}`),
      [
        "Namespace helm-fixture/templates/namespace.yaml",
        "ServiceAccount helm-fixture/templates/service.yaml",
        "ConfigMap helm-fixture/templates/configmap.yaml",
        "ConfigMap helm-fixture/templates/configmap.yaml",
        "ConfigMap helm-fixture/templates/info.yaml",
        "Service helm-fixture/templates/service.yaml",
        "Deployment helm-fixture/templates/deployment.yaml",
      ],
    );
    // An unknown kind (a CRD's) goes after every known one.
    const withMonitoring = await render({ apiVersions: ["monitoring.coreos.com/v1"] });
    assert.equal(withMonitoring.length, 8);
    assert.equal(withMonitoring.at(-1)?.document.kind, "ServiceMonitor");
    assert.equal(withMonitoring.at(-1)?.source, "helm-fixture/templates/servicemonitor.yaml");
  });

  test("the YAML stream is helm template's: --- then # Source: then the document", async () => {
    const { code, stdout, stderr } = await cli([chartDir]);
    assert.equal(code, 0, stderr);
    assert.ok(
      stdout.startsWith(
        "---\n# Source: helm-fixture/templates/namespace.yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n---\n",
      ),
      stdout.slice(0, 200),
    );
    assert.equal(stdout.match(/^---$/gm)?.length, 7);
    assert.equal(stdout.match(/^# Source: /gm)?.length, 7);
    assert.doesNotMatch(stdout, /_helpers|NOTES|<no value>/);
  });

  test("npm run helm:template's CLI passes flags through and takes a chart directory", async () => {
    const script = fileURLToPath(new URL("../../deploy/helm/template.js", import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [script, "--set", "replicas=7", chartDir], (error, out, err) =>
        error ? reject(new Error(err)) : resolve(out),
      );
    });
    assert.match(stdout, /^---\n# Source: helm-fixture\/templates\/namespace\.yaml\n/);
    assert.match(stdout, /^ {2}replicas: 7$/m);
    assert.equal(hasChartArgument(["-f", "v.yaml", "--set", "a=1"]), false, "flag values are not the chart");
    assert.equal(hasChartArgument(["--set=a=1", "charts/x"]), true);
  });
});

describe("template functions and objects", () => {
  test("include, toYaml | nindent, tpl, .Files.Glob.AsConfig (honouring .helmignore), .Files.Lines", async () => {
    const documents = await render();
    const labels = { "app.kubernetes.io/name": "streamfront-web", team: "media", tier: "edge" };
    assert.deepEqual(
      (byName(documents, "streamfront-web-files").metadata as { labels: unknown }).labels,
      labels,
    );
    assert.deepEqual((byKind(documents, "Deployment").metadata as { labels: unknown }).labels, labels);
    // files/edge.conf.bak matches the glob but .helmignore drops *.bak.
    assert.deepEqual(data(documents, "streamfront-web-files"), {
      "edge.conf": "listen 1935\n",
      "shield.conf": "upstream shield\nretries 3\n",
      lines: "2",
      firstLine: "line one",
    });
    const info = data(documents, "streamfront-web-info");
    assert.equal(info.greeting, "hello streamfront from web");
    const renamed = data(await render({ releaseName: "live" }), "live-web-info");
    assert.equal(renamed.greeting, "hello live from web");
  });

  test("lookup is empty (no cluster), a missing key renders as nothing, .Chart/.Release/.Template", async () => {
    const documents = await render({ namespace: "media" });
    const info = data(documents, "streamfront-web-info");
    assert.equal(info.lookupFound, "no");
    assert.equal(info.lookupSize, "0");
    assert.equal(data(documents, "streamfront-web-values").missing, "");
    assert.equal(info.chart, "helm-fixture-0.3.0 app 1.2.3 v2");
    assert.equal(info.release, "streamfront media true 1 Helm");
    assert.equal(info.template, "helm-fixture/templates/info.yaml");
    assert.equal(info.basePath, "helm-fixture/templates");
    assert.equal(byName(documents, "media").kind, "Namespace");
  });

  test(".Capabilities: v1.32.0 by default, --kube-version and --api-versions change it", async () => {
    const info = data(await render(), "streamfront-web-info");
    assert.deepEqual(
      [info.kubeVersion, info.kubeMinor, info.hasApps, info.hasMonitoring],
      ["v1.32.0", "32", "true", "false"],
    );
    const other = data(
      await render({ kubeVersion: "1.29.4", apiVersions: ["monitoring.coreos.com/v1"] }),
      "streamfront-web-info",
    );
    assert.deepEqual([other.kubeVersion, other.kubeMinor, other.hasMonitoring], ["v1.29.4", "29", "true"]);
  });

  test("Helm's data functions: .Files.Get, .AsSecrets, toJson/fromJson/toYaml/fromYaml, fromYamlArray, fail", async () => {
    const info = data(await render(), "streamfront-web-info");
    assert.equal(info.fileGet, "listen 1935\n");
    assert.equal(info.secrets, `lines.txt: ${Buffer.from("line one\nline two\n").toString("base64")}`);
    assert.equal(info.roundTrip, '{"team":"media","tier":"edge"}');
    assert.equal(info.yamlArray, '[1,"two"]');
    assert.equal(info.badYaml, "true", "fromYaml reports a parse failure under Error");
    const { code, stderr } = await cli(["--set", "failWith=stop here", chartDir]);
    assert.equal(code, 1);
    assert.equal(stderr, "Error: execution error at (helm-fixture/templates/broken.yaml:13:4): stop here\n");
  });

  test("env is not a template function (as in Helm), and a parse error names file and line", async () => {
    const chart = join(work, "parse-chart");
    mkdirSync(join(chart, "templates"), { recursive: true });
    writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: parse-chart\nversion: 1.0.0\n");
    writeFileSync(join(chart, "templates", "x.yaml"), 'kind: ConfigMap\nhome: {{ env "HOME" }}\n');
    const { code, stderr } = await cli([chart]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      'Error: parse error at (parse-chart/templates/x.yaml:2): function "env" not defined\n',
    );
  });

  test("an include that recurses without end fails instead of running out of memory", async () => {
    const { code, stderr } = await cli(["--set", "recurse=true", chartDir]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      'Error: execution error at (helm-fixture/templates/_helpers.tpl:12:3): template "fixture.loop" includes itself more than 1000 deep\n',
    );
  });
});

describe("values", () => {
  test("-f files merge over values.yaml in order; a null deletes a default", async () => {
    const first = writeFile(
      "first.yaml",
      "replicas: 3\nlabels:\n  team: ops\nconfig:\n  nested:\n    keep: first\n",
    );
    const second = writeFile(
      "second.yaml",
      "replicas: 4\nconfig:\n  nested:\n    drop: null\nlist: [only]\n",
    );
    const values = await mergedValues({ valuesFiles: [first, second] });
    assert.equal(values.replicas, 4);
    assert.deepEqual(values.labels, { team: "ops", tier: "edge" });
    assert.deepEqual(values.config, { a: 1, nested: { keep: "first" } });
    assert.deepEqual(values.list, ["only"], "a list is replaced, not merged");
    assert.equal((await mergedValues({ valuesFiles: [second, first] })).replicas, 3);
    assert.equal(
      (await mergedValues({ valuesFiles: [first], set: ["replicas=9"] })).replicas,
      9,
      "--set wins over -f",
    );
  });

  const setCases: readonly { set: string; expect: Record<string, unknown> }[] = [
    { set: "replicas=5", expect: { replicas: 5 } },
    { set: "name=edge,replicas=3", expect: { name: "edge", replicas: 3 } },
    { set: "labels.zone=eu", expect: { labels: { team: "media", tier: "edge", zone: "eu" } } },
    { set: "config.a=null", expect: { config: { nested: { keep: "yes-default", drop: "me" } } } },
    { set: "list={a,b,c}", expect: { list: ["a", "b", "c"] } },
    { set: "list={}", expect: { list: [] } },
    { set: "list[1]=q", expect: { list: [null, "q"] } },
    { set: "ports[0].name=http,ports[0].port=8080", expect: { ports: [{ name: "http", port: 8080 }] } },
    { set: "matrix[0][1]=x", expect: { matrix: [[null, "x"]] } },
    { set: "note=a\\,b", expect: { note: "a,b" } },
    { set: "dotted\\.key=v", expect: { "dotted.key": "v" } },
    { set: "on=true,off=FALSE", expect: { on: true, off: false } },
    { set: "code=007,ratio=1.5,zero=0", expect: { code: "007", ratio: "1.5", zero: 0 } },
    { set: "big=12345678901", expect: { big: 12345678901 } },
    { set: "empty=", expect: { empty: "" } },
    { set: "url=http://x/?a=b", expect: { url: "http://x/?a=b" } },
  ];
  for (const { set, expect } of setCases) {
    test(`--set ${set}`, async () => {
      const values = await mergedValues({ set: [set] });
      for (const [key, value] of Object.entries(expect)) assert.deepEqual(values[key], value, key);
      if (set === "config.a=null") assert.equal("a" in (values.config as object), false);
    });
  }

  test("--set-string keeps every value a string and applies after every --set", async () => {
    const values = await mergedValues({ setString: ["tag=5,flag=true,none=null"] });
    assert.deepEqual([values.tag, values.flag, values.none], ["5", "true", "null"]);
    const { code, stdout, stderr } = await cli(["--set-string", "tag=2", "--set", "tag=1", chartDir]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^ {4}tag: "2"$/m);
  });

  test("--set syntax errors are refused", async () => {
    const { code, stderr } = await cli(["--set", "a", chartDir]);
    assert.equal(code, 1);
    assert.equal(stderr, 'Error: failed parsing --set data: key "a" has no value\n');
  });
});

describe("refusals", () => {
  test("required fails with exit 1 and Helm's message; given the value, it renders", async () => {
    const { code, stdout, stderr } = await cli(["--set", "requireToken=true", chartDir]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      "Error: execution error at (helm-fixture/templates/secret.yaml:7:12): token is required when requireToken is true\n",
    );
    await assert.rejects(render({ set: ["requireToken=true"] }), (error: unknown) => {
      assert.ok(error instanceof RenderError);
      assert.match(error.message, /token is required when requireToken is true/);
      return true;
    });
    const secret = byKind(await render({ set: ["requireToken=true", "token=s3cret"] }), "Secret");
    assert.deepEqual(secret.stringData, { token: "s3cret" });
  });

  test("values that break values.schema.json are refused, each violation named by its path", async () => {
    const bad = writeFile("bad.yaml", "name: Bad\nports:\n  - name: rtmp\n    port: 70000\n");
    const { code, stderr } = await cli(["-f", bad, "--set", "replicas=0", chartDir]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      [
        "Error: values don't meet the specifications of the schema(s) in the following chart(s):",
        "helm-fixture:",
        "- name: Does not match pattern '^[a-z][a-z0-9-]*$'",
        "- ports.0.port: Must be less than or equal to 65535",
        "- replicas: Must be greater than or equal to 1",
        "",
      ].join("\n"),
    );
  });

  test("a kube version outside the chart's kubeVersion constraint is refused", async () => {
    const { code, stderr } = await cli(["--kube-version", "1.24.3", chartDir]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      "Error: chart requires kubeVersion: >=1.25.0-0 which is incompatible with Kubernetes v1.24.3\n",
    );
    assert.equal((await cli(["--kube-version", "v1.25.0", chartDir])).code, 0);
  });

  test("a template that renders invalid YAML fails, naming the template", async () => {
    const { code, stderr } = await cli(["--set", "breakYaml=true", chartDir]);
    assert.equal(code, 1);
    assert.match(stderr, /^Error: YAML parse error on helm-fixture\/templates\/broken\.yaml: yaml: line 6: /);
  });
});

describe("building", () => {
  test("two builds at once into an empty cache both end with the same whole binary, and leave nothing else", async () => {
    const cacheRoot = join(work, "cache");
    const [a, b] = await Promise.all([buildRenderer({ cacheRoot }), buildRenderer({ cacheRoot })]);
    assert.equal(a, b);
    assert.match(a, /[/][0-9a-f]{64}[/]streamfront-helm-template$/);
    assert.deepEqual(readdirSync(dirname(a)), ["streamfront-helm-template"], "no partial binary is left");
    assert.deepEqual(readdirSync(cacheRoot), [basename(dirname(a))], "no temporary GOPATH is left");
    const help = await new Promise<string>((resolve, reject) =>
      execFile(a, ["--help"], (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    assert.match(help, /^streamfront-helm-template: render a Helm chart offline/);
    assert.equal(await buildRenderer({ cacheRoot }), a, "a built version is reused");
  });

  test("a missing Debian Go library is named with the package to install", async () => {
    const empty = join(work, "no-gocode");
    mkdirSync(empty, { recursive: true });
    await assert.rejects(
      buildRenderer({ cacheRoot: join(work, "cache-2"), debianGoPath: empty }),
      (error: unknown) => {
        assert.ok(error instanceof RendererBuildError);
        assert.match(
          error.message,
          /apt-get install golang-github-masterminds-sprig-dev golang-github-masterminds-semver-dev golang-k8s-sigs-yaml-dev golang-github-xeipuuv-gojsonschema-dev$/,
        );
        return true;
      },
    );
  });
});

test("NOTES.txt renders only with --notes, with the release and values", async () => {
  const notes = await renderNotes({ chartDir, namespace: "media", set: ["replicas=3"] });
  assert.equal(notes, "streamfront-web is installed in media with 3 replicas.\n");
});
