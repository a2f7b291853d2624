import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { parse } from "yaml";
import { rtmpdump, runTool } from "../../lib/testing/ffprobe.js";
import { repoRoot } from "../../lib/testing/paths.js";
import { ProcessCluster } from "../../lib/testing/process-cluster.js";
import { PrometheusServer } from "../../lib/testing/prometheus-server.js";
import { RedisServer } from "../../lib/testing/redis-server.js";
import { eventually } from "../../lib/testing/wait.js";
import { dashboards } from "../dashboards/src/all.js";
import { panelQueries, variableQueries } from "./dashboard-queries.js";

/**
 * Every dashboard query against real data: a real Prometheus (Debian's) scrapes, every second, a cluster
 * of real processes — 2 edges, 1 shield, 2 controllers on one Redis, the embedded S3 — with a plain static
 * scrape config (no namespace or pod label, as outside Kubernetes). rtmpdump plays a clip cold (misses at
 * the edge and the shield), again on the same edge (an edge cache hit) and on the other edge (a shield
 * memory hit), a missing stream (not_found) and an object that is no FLV (a failed play); the control API
 * answers one error. Then each panel target of each committed dashboard is sent to /api/v1/query with the
 * template variables filled in as Grafana would: it must parse and return at least one series. The
 * variables' label_values queries go to the label values API, and every alert and recording rule is
 * evaluated too (loaded by Prometheus itself, and as an instant query).
 */

const rulesFile = join(repoRoot, "deploy", "alerts", "streamfront.rules.yaml");
const work = mkdtempSync(join(tmpdir(), "streamfront-dashboards-prom-"));
let redis: RedisServer;
let cluster: ProcessCluster;
let prometheus: PrometheusServer;
let distributionId = "";
let edgeInstance = "";
let watching: ChildProcess | undefined;

/**
 * Grafana's substitution of one query: its built-in intervals and the template variables. The range is
 * the dashboard's default (now-1h); $__rate_interval is a minute, which holds the plays of this test
 * (Grafana makes it at least four scrape intervals).
 */
function substitute(expr: string): string {
  const values: Record<string, string> = {
    __rate_interval: "1m",
    __interval: "5s",
    __range: "1h",
    namespace: ".*",
    distribution: distributionId,
    edge: edgeInstance,
  };
  return expr.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare)!;
      const value = values[name];
      if (value === undefined) throw new Error(`${whole} in ${expr}: no value for it`);
      return value;
    },
  );
}

/** Sum of a metric's samples in a /metrics text. */
function sumOf(text: string, name: string): number {
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) total += Number(m[1]);
  return total;
}

async function play(edge: number, domain: string, name: string, tag: string): Promise<void> {
  const [host, port] = cluster.rtmpAddress(edge).split(":");
  await rtmpdump(
    ["-r", `rtmp://${host}:${port}/cfx/st/`, "-t", `rtmp://${domain}/cfx/st`, "-y", name, "-m", "60"].concat([
      "-o",
      join(work, `${tag}.flv`),
    ]),
    90_000,
  );
}

before(async () => {
  const clip = async (seconds: number) => {
    const flv = join(work, `clip-${seconds}s.flv`);
    await runTool("ffmpeg", [
      ...["-v", "error", "-y"],
      ...["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10"],
      ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"],
      ...["-t", String(seconds), "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast"],
      ...["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", flv],
    ]);
    return readFileSync(flv);
  };
  const short = await clip(1);
  const long = await clip(30);
  redis = await RedisServer.start();
  cluster = await ProcessCluster.start({
    controllers: 2,
    shields: 1,
    edges: 2,
    redisUrl: redis.url,
    buckets: ["dashboards-media"],
  });
  await cluster.s3.putObject("dashboards-media", "videos/clip.flv", short);
  await cluster.s3.putObject("dashboards-media", "videos/clip2.flv", short);
  await cluster.s3.putObject("dashboards-media", "videos/long.flv", long);
  // FLV by its name, not by its bytes: the edge fails the play (FileStructureInvalid).
  await cluster.s3.putObject("dashboards-media", "videos/broken.flv", Buffer.alloc(4096, 0x5a));
  const admin = (p: { addresses: Readonly<Record<string, string>> }) => p.addresses.admin!;
  edgeInstance = admin(cluster.edges[0]!);
  prometheus = await PrometheusServer.start({
    jobs: [
      { job: "streamfront-edge", targets: cluster.edges.map(admin) },
      { job: "streamfront-shield", targets: cluster.shields.map(admin) },
      { job: "streamfront-controller", targets: cluster.controllers.map(admin) },
    ],
    ruleFiles: [rulesFile],
  });
  // Every target scraped, and both edges live on the controllers (so the create starts InProgress).
  await eventually(async () => (await prometheus.scalar("count(up == 1)")) === 5, 60_000, "5 targets up");
  await eventually(
    async () =>
      (await prometheus.scalar(
        'max(sum by (instance) (streamfront_controller_live_watchers{role="edge"}))',
      )) === 2,
    60_000,
    "both edges live watchers",
  );

  const api = cluster.cloudfront(0);
  const created = await api.send(
    new CreateStreamingDistributionCommand({
      StreamingDistributionConfig: {
        CallerReference: "dashboards",
        S3Origin: { DomainName: "dashboards-media.s3.amazonaws.com", OriginAccessIdentity: "" },
        Comment: "",
        TrustedSigners: { Enabled: false, Quantity: 0 },
        Enabled: true,
      },
    }),
  );
  distributionId = created.StreamingDistribution!.Id!;
  const domain = created.StreamingDistribution!.DomainName!;
  await eventually(
    async () =>
      (await api.send(new GetStreamingDistributionCommand({ Id: distributionId }))).StreamingDistribution
        ?.Status === "Deployed",
    60_000,
    "the distribution Deployed",
  );
  // Round 1 makes every series: Prometheus counts a counter's increase from its first sample, so a
  // series born in the window would show no rate. Round 2, after Prometheus scraped round 1, is measured.
  const missingPlay = (edge: number, tag: string) =>
    assert.rejects(play(edge, domain, "videos/missing", tag), "rtmpdump fails on a missing stream");
  const brokenPlay = (edge: number, tag: string) =>
    assert.rejects(play(edge, domain, "videos/broken", tag), "rtmpdump fails on an object that is no FLV");
  const apiError = () =>
    assert.rejects(
      cluster.cloudfront(1).send(new GetStreamingDistributionCommand({ Id: "E000000000000" })),
      /NoSuchStreamingDistribution/,
    );
  await play(0, domain, "videos/clip", "cold"); // the first play of the object: edge 0 and the shield miss
  await play(1, domain, "videos/clip", "shield-hit"); // edge 1 misses, the shield's memory tier hits
  await missingPlay(0, "missing-1");
  await brokenPlay(1, "broken-1");
  await apiError();
  await scraped();

  await play(0, domain, "videos/clip2", "cold-2"); // a cold miss in the measured window: S3 GETs
  await play(0, domain, "videos/clip", "edge-hit"); // edge 0 hits
  await play(1, domain, "videos/clip", "edge-hit-1"); // edge 1 hits
  await missingPlay(0, "missing-2");
  await brokenPlay(1, "broken-2");
  await apiError();
  // A viewer still watching while the panels are read: a 30 s clip played at real time (a 500 ms
  // buffer), killed (by its PID) once the tests are done.
  const [host, port] = cluster.rtmpAddress(1).split(":");
  watching = spawn(
    "rtmpdump",
    ["-r", `rtmp://${host}:${port}/cfx/st/`, "-t", `rtmp://${domain}/cfx/st`, "-y", "videos/long"].concat([
      ...["-b", "500", "-m", "90", "-o", join(work, "long.flv")],
    ]),
    { stdio: "ignore" },
  );
  await scraped(1);
});

/**
 * Until Prometheus holds what the processes count now: the edges' plays, failures and cache reads, the
 * shield's S3 requests, the controllers' API requests, and `viewers` viewers watching. Round 2 must not
 * start before round 1 is in Prometheus's samples: a series first scraped after both shows no rate.
 */
async function scraped(viewers = 0): Promise<void> {
  const counted = [
    { processes: () => cluster.edges, metric: "streamfront_edge_plays_total" },
    { processes: () => cluster.edges, metric: "streamfront_edge_play_failures_total" },
    { processes: () => cluster.edges, metric: "streamfront_edge_cache_read_bytes_total" },
    { processes: () => cluster.edges, metric: "streamfront_edge_viewers" },
    { processes: () => cluster.shields, metric: "streamfront_shield_origin_requests_total" },
    { processes: () => cluster.controllers, metric: "streamfront_controller_api_requests_total" },
  ];
  await eventually(
    async () => {
      for (const { processes, metric } of counted) {
        const texts = await Promise.all(processes().map((p) => cluster.metricsText(p)));
        const now = texts.reduce((total, text) => total + sumOf(text, metric), 0);
        if (metric === "streamfront_edge_viewers" && now !== viewers) return false;
        if ((await prometheus.scalar(`sum(${metric})`)) !== now) return false;
      }
      return true;
    },
    60_000,
    `Prometheus scraped every process after the plays (${viewers} watching)`,
  );
}

after(async () => {
  if (watching && watching.exitCode === null) {
    const exited = once(watching, "exit");
    watching.kill("SIGKILL");
    await exited;
  }
  await prometheus?.stop();
  await cluster?.stop();
  await redis?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("the dashboards against a real Prometheus scraping a cluster that played", () => {
  test("the plays are in Prometheus: started, completed, not_found, failed; edge hits; a shield memory hit; one watching", async () => {
    const byResult = await prometheus.vector("sum by (result) (streamfront_edge_plays_total)");
    const plays = Object.fromEntries(byResult.map((s) => [s.metric.result, Number(s.value[1])]));
    assert.equal(plays.started, 6, JSON.stringify(plays));
    assert.equal(plays.completed, 5, JSON.stringify(plays));
    assert.equal(plays.not_found, 2, JSON.stringify(plays));
    assert.equal(plays.failed, 2, JSON.stringify(plays));
    assert.ok((await prometheus.scalar('sum(streamfront_edge_cache_read_bytes_total{result="hit"})'))! > 0);
    assert.ok(
      (await prometheus.scalar('sum(streamfront_shield_cache_read_bytes_total{result="memory_hit"})'))! > 0,
    );
    assert.equal(await prometheus.scalar("sum(streamfront_edge_viewers)"), 1);
  });

  test("every panel query of every dashboard parses and returns data: a series with a number", async (t) => {
    const empty: string[] = [];
    let count = 0;
    for (const spec of dashboards) {
      for (const q of panelQueries(spec.name)) {
        const query = substitute(q.expr);
        const answer = await prometheus.api("query", { query });
        const where = `${q.dashboard} / ${q.panel} / ${q.refId}`;
        assert.equal(answer.status, "success", `${where}: ${answer.errorType}: ${answer.error}\n${query}`);
        const result = answer.data?.result as readonly { value: [number, string] }[];
        const values = result.map((s) => s.value[1]).join(", ");
        t.diagnostic(`${where}: ${result.length} series (${values})`);
        // A panel of NaN only (0/0, a quantile of no observations) draws nothing either.
        if (!result.some((s) => Number.isFinite(Number(s.value[1])))) empty.push(`${where}: ${query}`);
        count++;
      }
    }
    assert.deepEqual(empty, [], "panels without data");
    assert.ok(count >= 40, `${count} queries`);
  });

  test("the template variables' label_values queries find the distribution and the edges", async (t) => {
    const found: Record<string, string[]> = {};
    for (const spec of dashboards) {
      for (const v of variableQueries(spec.name)) {
        const m = /^label_values\((?:(.+), )?(\w+)\)$/.exec(v.query);
        assert.ok(m, `${spec.name} $${v.name}: ${v.query}`);
        const answer = await prometheus.api(
          `label/${m[2]}/values`,
          m[1] ? { "match[]": substitute(m[1]) } : {},
        );
        assert.equal(answer.status, "success", `${spec.name} $${v.name}: ${answer.error}`);
        const values = answer.data as unknown as string[];
        t.diagnostic(`${spec.name} / $${v.name}: ${values.length} values (${values.join(", ")})`);
        found[v.name] = values;
      }
    }
    // No namespace label in a static scrape config: the variable is empty and All (.*) matches all.
    assert.deepEqual(found.namespace, []);
    assert.ok(found.distribution?.includes(distributionId), `${found.distribution}`);
    assert.deepEqual([...(found.edge ?? [])].sort(), cluster.edges.map((e) => e.addresses.admin!).sort());
  });

  test("every alert and recording rule evaluates without error, in Prometheus's rule manager and as a query", async (t) => {
    type Rule = { alert?: string; record?: string; expr: string };
    const groups = (parse(readFileSync(rulesFile, "utf8")) as { groups: { rules: Rule[] }[] }).groups;
    const rules = groups.flatMap((g) => g.rules);
    for (const rule of rules) {
      const answer = await prometheus.api("query", { query: rule.expr });
      const name = rule.alert ?? rule.record;
      assert.equal(answer.status, "success", `${name}: ${answer.error}`);
      t.diagnostic(`rule ${name}: ${((answer.data?.result ?? []) as unknown[]).length} series`);
    }
    // Prometheus loaded the same file and evaluates each rule every second: each has run, healthy.
    type Loaded = { name: string; health: string; lastError?: string; lastEvaluation: string };
    await eventually(
      async () => {
        const answer = await prometheus.api("rules", {});
        const loaded = (answer.data as unknown as { groups: { rules: Loaded[] }[] }).groups.flatMap(
          (g) => g.rules,
        );
        return loaded.length === rules.length && loaded.every((r) => !r.lastEvaluation.startsWith("0001"));
      },
      30_000,
      "every rule evaluated once",
    );
    const answer = await prometheus.api("rules", {});
    const loaded = (answer.data as unknown as { groups: { rules: Loaded[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    const unhealthy = loaded
      .filter((r) => r.health !== "ok")
      .map((r) => `${r.name}: ${r.health} ${r.lastError}`);
    assert.deepEqual(unhealthy, []);
    assert.equal(loaded.length, rules.length);
  });
});
