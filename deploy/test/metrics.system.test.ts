import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type CloudFrontClient,
  CreateStreamingDistributionCommand,
  DeleteStreamingDistributionCommand,
  GetStreamingDistributionCommand,
  GetStreamingDistributionConfigCommand,
  UpdateStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { rtmpdump, runTool } from "../../lib/testing/ffprobe.js";
import { repoRoot } from "../../lib/testing/paths.js";
import { ProcessCluster } from "../../lib/testing/process-cluster.js";
import { eventually } from "../../lib/testing/wait.js";

/**
 * The metrics against real processes: a controller, a shield and an edge on
 * the embedded S3, two distributions on two buckets, rtmpdump viewers. Each
 * /metrics is checked against the README's tables (every metric served is
 * documented with its type and labels, and every documented one is served),
 * and the distribution and bucket labels are checked against what was played.
 */
const work = mkdtempSync(join(tmpdir(), "streamfront-metrics-"));
let media: Buffer;

before(async () => {
  const flv = join(work, "clip.flv");
  await runTool("ffmpeg", [
    ...["-v", "error", "-y"],
    ...["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"],
    ...["-t", "1", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast"],
    ...["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", flv],
  ]);
  media = readFileSync(flv);
});

after(() => rmSync(work, { recursive: true, force: true }));

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Prometheus text format: TYPE lines and samples (label values here never hold `"` or `,`). */
function parseMetrics(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  return parseMetrics(text)
    .samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

interface DocumentedMetric {
  readonly type: string;
  readonly labels: readonly string[];
}

/** The README's "### <Component>" table under "## Metrics": name → type and labels. */
function documented(component: string): Map<string, DocumentedMetric> {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Metrics\n"), readme.indexOf("\n## Error codes\n"));
  const start = section.indexOf(`\n### ${component}\n`);
  assert.ok(start >= 0, `README ## Metrics has ### ${component}`);
  const next = section.indexOf("\n### ", start + 1);
  const table = section.slice(start, next < 0 ? undefined : next);
  const out = new Map<string, DocumentedMetric>();
  for (const row of table.split("\n")) {
    const cells = row.split("|").map((c) => c.trim());
    if (cells.length < 6 || !cells[1]!.startsWith("`")) continue;
    const name = cells[1]!.replaceAll("`", "");
    const labels = [...cells[3]!.matchAll(/`([^`]+)`/g)].map((l) => l[1]!).sort();
    out.set(name, { type: cells[2]!, labels });
  }
  return out;
}

/** The samples of metric `name` of `type`: a histogram's or summary's are its _bucket, _sum and _count. */
function samplesOf(samples: readonly Sample[], name: string, type: string): Sample[] {
  const names =
    type === "histogram" || type === "summary"
      ? new Set([name, `${name}_bucket`, `${name}_sum`, `${name}_count`])
      : new Set([name]);
  return samples.filter((s) => names.has(s.name));
}

/** Every difference between what a component serves and what the README says of it. */
function undocumented(component: string, text: string): string[] {
  const docs = documented(component);
  const { types, samples } = parseMetrics(text);
  const problems: string[] = [];
  const defaults = docs.has("process_*, nodejs_*");
  for (const [name, type] of types) {
    if (defaults && (name.startsWith("process_") || name.startsWith("nodejs_"))) continue;
    const doc = docs.get(name);
    const help = new RegExp(`^# HELP ${name} (.*)$`, "m").exec(text)?.[1] ?? "";
    const served = new Set<string>();
    const own = samplesOf(samples, name, type);
    for (const s of own) {
      for (const label of Object.keys(s.labels))
        if (label !== "le" && label !== "quantile") served.add(label);
    }
    const labels = [...served].sort();
    if (!doc) {
      problems.push(
        `not documented: | \`${name}\` | ${type} | ${labels.map((l) => `\`${l}\``).join(", ")} | ${help} |`,
      );
      continue;
    }
    if (doc.type !== type) problems.push(`${name}: documented as ${doc.type}, served as ${type}`);
    // A labelled metric nothing counted yet has no samples: its labels cannot be compared.
    if (own.length > 0 && doc.labels.join(",") !== labels.join(","))
      problems.push(`${name}: documented labels [${doc.labels}], served [${labels}]`);
  }
  for (const name of docs.keys()) {
    if (name === "process_*, nodejs_*") continue;
    if (!types.has(name)) problems.push(`documented but not served: ${name}`);
  }
  return problems.map((p) => `${component}: ${p}`);
}

async function createDistribution(api: CloudFrontClient, bucket: string) {
  const created = await api.send(
    new CreateStreamingDistributionCommand({
      StreamingDistributionConfig: {
        CallerReference: `metrics-${bucket}`,
        S3Origin: { DomainName: `${bucket}.s3.amazonaws.com`, OriginAccessIdentity: "" },
        Comment: "",
        TrustedSigners: { Enabled: false, Quantity: 0 },
        Enabled: true,
      },
    }),
  );
  const id = created.StreamingDistribution!.Id!;
  await deployed(api, id);
  return { id, domain: created.StreamingDistribution!.DomainName! };
}

async function deployed(api: CloudFrontClient, id: string): Promise<void> {
  await eventually(
    async () =>
      (await api.send(new GetStreamingDistributionCommand({ Id: id }))).StreamingDistribution?.Status ===
      "Deployed",
    30_000,
    `${id} Deployed`,
  );
}

describe("metrics of a cluster that played two distributions", () => {
  let cluster: ProcessCluster;
  let a: { id: string; domain: string };
  let b: { id: string; domain: string };
  let controllerBefore = "";

  async function play(domain: string, name: string, tag: string): Promise<void> {
    const [host, port] = cluster.rtmpAddress(0).split(":");
    await rtmpdump(
      [
        "-r",
        `rtmp://${host}:${port}/cfx/st/`,
        "-t",
        `rtmp://${domain}/cfx/st`,
        "-y",
        name,
        "-m",
        "120",
      ].concat(["-o", join(work, `${tag}.flv`)]),
      550_000,
    );
  }

  before(async () => {
    cluster = await ProcessCluster.start({
      controllers: 1,
      shields: 1,
      edges: 1,
      buckets: ["metrics-a", "metrics-b"],
    });
    await cluster.s3.putObject("metrics-a", "videos/clip.flv", media);
    await cluster.s3.putObject("metrics-b", "videos/clip.flv", media);
    // The edge must be live before the creates, so that they start InProgress.
    await eventually(
      async () =>
        sum(await cluster.metricsText(cluster.controllers[0]!), "streamfront_controller_live_watchers", {
          role: "edge",
        }) === 1,
      30_000,
      "the edge live",
    );
    controllerBefore = await cluster.metricsText(cluster.controllers[0]!);
    const api = cluster.cloudfront(0);
    a = await createDistribution(api, "metrics-a");
    b = await createDistribution(api, "metrics-b");
    await play(a.domain, "videos/clip", "a");
    await play(b.domain, "videos/clip", "b");
    await assert.rejects(play(a.domain, "videos/missing", "missing"), "rtmpdump fails on a missing stream");
  });
  after(() => cluster?.stop());

  test("every metric each component serves is in the README's tables with its type and labels, and no other", async () => {
    const problems = [
      ...undocumented("Edge", await cluster.metricsText(cluster.edges[0]!)),
      ...undocumented("Shield", await cluster.metricsText(cluster.shields[0]!)),
      ...undocumented("Controller", await cluster.metricsText(cluster.controllers[0]!)),
    ];
    assert.equal(problems.length, 0, `/metrics vs README:\n${problems.join("\n")}`);
  });

  test("edge: plays, viewers, egress, time to first frame and a not-found play, per distribution", async () => {
    // rtmpdump has exited; the edge sees each connection close a moment later.
    await eventually(
      async () => sum(await cluster.metricsText(cluster.edges[0]!), "streamfront_edge_viewers") === 0,
      30_000,
      "the viewers gone",
    );
    const text = await cluster.metricsText(cluster.edges[0]!);
    for (const d of [a, b]) {
      const distribution = d.id;
      assert.equal(sum(text, "streamfront_edge_plays_total", { distribution, result: "started" }), 1);
      assert.equal(sum(text, "streamfront_edge_plays_total", { distribution, result: "completed" }), 1);
      assert.equal(
        sum(text, "streamfront_edge_time_to_first_frame_seconds_count", { distribution, container: "flv" }),
        1,
      );
      const egress = sum(text, "streamfront_edge_egress_bytes_total", { distribution, protocol: "rtmp" });
      assert.ok(
        egress > media.length * 0.9,
        `${distribution}: ${egress} bytes out for a ${media.length}-byte clip`,
      );
      // The viewer left: its gauge series stays, at 0.
      const viewers = parseMetrics(text).samples.filter(
        (s) => s.name === "streamfront_edge_viewers" && s.labels.distribution === distribution,
      );
      assert.deepEqual(
        viewers.map((s) => [s.labels.protocol, s.value]),
        [["rtmp", 0]],
      );
    }
    assert.equal(sum(text, "streamfront_edge_plays_total", { distribution: a.id, result: "not_found" }), 1);
    assert.equal(sum(text, "streamfront_edge_plays_total", { distribution: b.id, result: "not_found" }), 0);
    // Per-distribution bytes add up to the protocol's total with the connections' bytes before connect.
    const none = sum(text, "streamfront_edge_egress_bytes_total", { distribution: "none", protocol: "rtmp" });
    assert.ok(none > 0, "handshakes count under none");
    assert.equal(sum(text, "streamfront_edge_distribution_labels"), 2);
    assert.ok(sum(text, "streamfront_edge_cache_read_bytes_total", { result: "miss" }) >= media.length);
  });

  test("shield: S3 requests, bytes and latency per bucket", async () => {
    const text = await cluster.metricsText(cluster.shields[0]!);
    for (const bucket of ["metrics-a", "metrics-b"]) {
      assert.ok(
        sum(text, "streamfront_shield_origin_requests_total", { bucket, operation: "get", result: "ok" }) >=
          1,
      );
      assert.equal(sum(text, "streamfront_shield_origin_bytes_total", { bucket }), media.length);
      assert.ok(
        sum(text, "streamfront_shield_origin_request_duration_seconds_count", { bucket, operation: "get" }) >=
          1,
      );
    }
    assert.ok(
      sum(text, "streamfront_shield_origin_requests_total", {
        bucket: "metrics-a",
        operation: "head",
        result: "not_found",
      }) >= 1,
      "the missing stream's HEAD",
    );
    assert.equal(
      sum(text, "streamfront_shield_cache_read_bytes_total", { result: "miss" }),
      2 * media.length,
    );
  });

  test("controller: both creates went InProgress → Deployed through a live edge, and each distribution's status", async () => {
    const text = await cluster.metricsText(cluster.controllers[0]!);
    assert.equal(sum(controllerBefore, "streamfront_controller_deployment_seconds_count"), 0);
    assert.equal(sum(text, "streamfront_controller_deployment_seconds_count"), 2);
    assert.ok(sum(text, "streamfront_controller_deployment_seconds_sum") > 0);
    for (const d of [a, b]) {
      assert.equal(
        sum(text, "streamfront_controller_distribution_status", { distribution: d.id, status: "Deployed" }),
        1,
      );
      assert.equal(
        sum(text, "streamfront_controller_distribution_status", { distribution: d.id, status: "InProgress" }),
        0,
      );
    }
    const version = sum(text, "streamfront_controller_config_version");
    assert.equal(
      sum(text, "streamfront_controller_live_watchers", { role: "edge", config_version: String(version) }),
      1,
    );
  });

  test("a disabled distribution's refused connect counts under it; once deleted, its series leave the edge's /metrics", async () => {
    const api = cluster.cloudfront(0);
    const current = await api.send(new GetStreamingDistributionConfigCommand({ Id: b.id }));
    const disabled = await api.send(
      new UpdateStreamingDistributionCommand({
        Id: b.id,
        IfMatch: current.ETag!,
        StreamingDistributionConfig: { ...current.StreamingDistributionConfig!, Enabled: false },
      }),
    );
    await deployed(api, b.id);
    // A play on the disabled distribution: its connect is refused, counted under it.
    await assert.rejects(play(b.domain, "videos/clip", "disabled"), "rtmpdump fails on a refused connect");
    assert.equal(
      sum(await cluster.metricsText(cluster.edges[0]!), "streamfront_edge_rejections_total", {
        distribution: b.id,
        rejection: "DistributionDisabled",
      }),
      1,
    );
    await api.send(new DeleteStreamingDistributionCommand({ Id: b.id, IfMatch: disabled.ETag! }));
    await eventually(
      async () => !(await cluster.metricsText(cluster.edges[0]!)).includes(`distribution="${b.id}"`),
      30_000,
      `no series of ${b.id}`,
    );
    const text = await cluster.metricsText(cluster.edges[0]!);
    assert.equal(sum(text, "streamfront_edge_plays_total", { distribution: a.id, result: "completed" }), 1);
    assert.equal(sum(text, "streamfront_edge_distribution_labels"), 1);
    const controller = await cluster.metricsText(cluster.controllers[0]!);
    assert.ok(!controller.includes(`distribution="${b.id}"`), "nor from the controller's");
  });
});
