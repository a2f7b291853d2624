import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { CreateStreamingDistributionCommand } from "@aws-sdk/client-cloudfront";
import { readDeliveredLogs } from "../../lib/testing/access-logs.js";
import { FaultKind, FaultProxy, S3ErrorCode } from "../../lib/testing/fault-proxy.js";
import { rtmpdump } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { ProcessCluster } from "../../lib/testing/process-cluster.js";
import { eventually } from "../../lib/testing/wait.js";
import { accessLogFields } from "../src/access-log/w3c-line.js";
import { metricValue } from "./support/edge-process-rig.js";
import { RtmpTestClient, statusCode } from "./support/rtmp-test-client.js";

/**
 * Access logs through the whole cluster (issue 11 item 3): a controller
 * with a distribution whose Logging names a logging bucket, a shield
 * process (the only holder of S3 credentials) behind a fault proxy, an
 * edge process spooling to disk. Viewers play, seek, pause through the
 * edge with the project's RTMP client and with rtmpdump; the delivered
 * .gz files are read back from the bucket and parsed with a W3C reader,
 * and every event of every play appears exactly once — across a while of
 * S3 refusing the log PUTs, and across the edge being SIGKILLed with
 * lines spooled and started again.
 */

const work = mkdtempSync(join(tmpdir(), "streamfront-access-logs-"));
const spoolDir = join(work, "spool");
const media = "media";
const logs = "logs";
let proxy: FaultProxy | undefined;
let cluster: ProcessCluster;
let distributionId = "";
let domainName = "";

before(async () => {
  cluster = await ProcessCluster.start({
    controllers: 1,
    shields: 1,
    edges: 1,
    buckets: [media, logs],
    s3EndpointFor: async (endpoint) => {
      proxy = new FaultProxy({ upstream: endpoint });
      await proxy.start();
      return proxy.endpoint;
    },
    // One S3 attempt per PUT: a refused PUT reaches the edge at once, which then retries the file itself.
    shieldEnv: { STREAMFRONT_SHIELD_S3_MAX_ATTEMPTS: "1" },
    edgeEnv: {
      STREAMFRONT_EDGE_ACCESS_LOG_SPOOL_DIR: spoolDir,
      STREAMFRONT_EDGE_ACCESS_LOG_INTERVAL_MS: "300",
      STREAMFRONT_EDGE_ACCESS_LOG_RETRY_MAX_MS: "400",
      STREAMFRONT_EDGE_LOCATION: "TST1",
    },
  });
  await cluster.s3.uploadFile(
    media,
    "videos/sample.flv",
    fromRepoRoot("deploy", "local", "media", "videos", "sample.flv"),
  );
  const created = await cluster.cloudfront(0).send(
    new CreateStreamingDistributionCommand({
      StreamingDistributionConfig: {
        CallerReference: "access-logs",
        S3Origin: { DomainName: `${media}.s3.amazonaws.com`, OriginAccessIdentity: "" },
        Comment: "access logs",
        TrustedSigners: { Enabled: false, Quantity: 0 },
        Logging: { Enabled: true, Bucket: `${logs}.s3.amazonaws.com`, Prefix: "rtmp/" },
        Enabled: true,
      },
    }),
  );
  distributionId = created.StreamingDistribution!.Id!;
  domainName = created.StreamingDistribution!.DomainName!;
});

after(async () => {
  await cluster?.stop();
  await proxy?.close();
  rmSync(work, { recursive: true, force: true });
});

const rtmpPort = () => Number(cluster.rtmpAddress(0).split(":").pop());
const edgeMetric = async (name: string, labels = "") =>
  metricValue(await cluster.metricsText(cluster.edges[0]!), name, labels);

/** The project's client: connect (retried until the edge has the distribution), play, seek, pause, unpause, stop, close. */
async function interactivePlay(): Promise<string> {
  let client: RtmpTestClient | undefined;
  let clientId = "";
  await eventually(
    async () => {
      client?.close();
      client = await RtmpTestClient.handshake(rtmpPort());
      const answer = await client.connectApp(`rtmp://${domainName}/cfx/st`);
      if (answer.name !== "_result") return false;
      const info = answer.args[0] as Record<string, unknown>;
      clientId = String(info.clientid ?? "");
      return true;
    },
    20_000,
    "the edge to accept connects to the distribution",
  );
  const viewer = client!;
  const streamId = await viewer.createStream();
  // Real-time pacing, so the play is still on for the commands below.
  viewer.setBufferLength(streamId, 100);
  viewer.command(streamId, "play", null, "videos/sample");
  const isStatus = (code: string) => (c: { name: string }) =>
    c.name === "onStatus" && statusCode(c as Parameters<typeof statusCode>[0]) === code;
  await viewer.waitForCommand(isStatus("NetStream.Play.Start"));
  let from = viewer.messages.length;
  viewer.command(streamId, "seek", null, 1500);
  await viewer.waitForCommand(isStatus("NetStream.Seek.Notify"), from);
  from = viewer.messages.length;
  viewer.command(streamId, "pause", null, true, 1500);
  await viewer.waitForCommand(isStatus("NetStream.Pause.Notify"), from);
  from = viewer.messages.length;
  viewer.command(streamId, "pause", null, false, 1500);
  await viewer.waitForCommand(isStatus("NetStream.Unpause.Notify"), from);
  viewer.command(streamId, "play", null, false);
  viewer.command(0, "deleteStream", null, streamId);
  viewer.close();
  return clientId;
}

/** A connection that connects and leaves: its connect and disconnect lines. */
async function connectOnly(): Promise<string> {
  const client = await RtmpTestClient.handshake(rtmpPort());
  const answer = await client.connectApp(`rtmp://${domainName}/cfx/st`);
  assert.equal(answer.name, "_result");
  client.close();
  await client.closed;
  return String((answer.args[0] as Record<string, unknown>).clientid ?? "");
}

/** rtmpdump plays the whole file, sending its swfUrl, pageUrl and flashVer. */
async function rtmpdumpPlay(name: string): Promise<void> {
  await rtmpdump([
    "-r",
    `rtmp://127.0.0.1:${rtmpPort()}/cfx/st`,
    "-a",
    "cfx/st",
    "-t",
    `rtmp://${domainName}/cfx/st`,
    "-y",
    "videos/sample",
    "-s",
    "http://player.example.com/player.swf",
    "-p",
    "http://www.example.com/watch page.html",
    "-f",
    "LNX 10,0,32,18",
    "-o",
    join(work, `${name}.flv`),
  ]);
}

test("every event of every play is delivered exactly once, across an S3 outage and an edge SIGKILL", async (t) => {
  // 1. S3 refuses every PUT to the logging bucket for a while: deliveries fail and the lines wait on disk.
  const outage = proxy!.addRule({
    name: "logging bucket down",
    match: { method: "PUT", path: new RegExp(`^/${logs}/`) },
    fault: { kind: FaultKind.Error, code: S3ErrorCode.ServiceUnavailable },
  });
  const interactiveId = await interactivePlay();
  await rtmpdumpPlay("during-outage");
  await eventually(
    async () =>
      (await edgeMetric(
        "streamfront_edge_access_log_delivery_failures_total",
        'code="EDGE_ERR_ACCESS_LOG_DELIVERY_FAILED"',
      )) >= 3,
    30_000,
    "deliveries to fail while S3 refuses",
  );
  assert.ok(outage.fired >= 3, `${outage.fired} PUTs refused`);
  assert.deepEqual(await readDeliveredLogs(cluster.s3.endpoint, logs), [], "nothing is in the bucket yet");
  assert.ok((await edgeMetric("streamfront_edge_access_log_spool_bytes")) > 0);
  outage.remove();
  const linesBeforeKill = async () => edgeMetric("streamfront_edge_access_log_lines_total");
  // The spool drains once S3 answers again.
  await eventually(
    async () => (await edgeMetric("streamfront_edge_access_log_spool_bytes")) === 0,
    30_000,
    "the spool to drain after the outage",
  );
  const firstRunLines = await linesBeforeKill();

  // 2. S3 refuses again, a play happens, and the edge is killed with its lines spooled.
  const second = proxy!.addRule({
    name: "logging bucket down again",
    match: { method: "PUT", path: new RegExp(`^/${logs}/`) },
    fault: { kind: FaultKind.Error, code: S3ErrorCode.ServiceUnavailable },
  });
  await rtmpdumpPlay("before-kill");
  const failuresBefore = await edgeMetric(
    "streamfront_edge_access_log_delivery_failures_total",
    'code="EDGE_ERR_ACCESS_LOG_DELIVERY_FAILED"',
  );
  // Its file was sealed and refused: it waits on disk as a sealed file …
  await eventually(
    async () =>
      (await edgeMetric(
        "streamfront_edge_access_log_delivery_failures_total",
        'code="EDGE_ERR_ACCESS_LOG_DELIVERY_FAILED"',
      )) > failuresBefore,
    20_000,
    "the last play's file to be sealed and refused",
  );
  // … and one more connection's lines go to a file still open when the edge dies.
  const lastId = await connectOnly();
  await eventually(
    async () => (await linesBeforeKill()) >= firstRunLines + 6,
    20_000,
    "the last connection's lines to be spooled",
  );
  const lines = await linesBeforeKill();
  await cluster.edges[0]!.kill();
  const spooled = readdirSync(spoolDir).filter((n) => n.endsWith(".log") || n.endsWith(".sealed"));
  // Usually a sealed file and an open one; whether the interval sealed the last one first is timing
  // (the spool's pick-up of open files, torn lines included, is access-log.test.ts's).
  assert.ok(
    spooled.some((n) => n.endsWith(".sealed")),
    `the killed edge left its refused file: ${spooled.join(", ")}`,
  );
  second.remove();
  await cluster.startEdge(0);
  await eventually(
    async () => (await edgeMetric("streamfront_edge_access_log_files_delivered_total")) >= spooled.length,
    30_000,
    "the restarted edge to deliver what the killed one spooled",
  );
  await eventually(
    async () => readdirSync(spoolDir).every((n) => n === "sequence"),
    30_000,
    "the spool to be empty",
  );

  // 3. Read the bucket back: every file's key is CloudFront's, every line parses, none is missing or repeated.
  const delivered = await readDeliveredLogs(cluster.s3.endpoint, logs);
  const keyPattern = new RegExp(`^rtmp/${distributionId}\\.\\d{4}-\\d{2}-\\d{2}-\\d{2}\\.[0-9a-f]{24}\\.gz$`);
  for (const file of delivered) {
    assert.match(file.key, keyPattern);
    assert.equal(file.log.version, "1.0");
    assert.deepEqual(file.log.fields, accessLogFields);
  }
  assert.equal(new Set(delivered.map((f) => f.key)).size, delivered.length);
  const records = delivered.flatMap((f) => [...f.log.records]);
  assert.equal(records.length, lines, `${records.length} lines delivered, the edge logged ${lines}`);
  const byClient = new Map<string, Record<string, string>[]>();
  for (const r of records) {
    const list = byClient.get(r["x-cf-client-id"]!) ?? [];
    list.push(r);
    byClient.set(r["x-cf-client-id"]!, list);
  }
  // Keys sort by hour, then by the spool's sequence: the records above are in the order they were logged.
  const events = (id: string) => (byClient.get(id) ?? []).map((r) => r["x-event"]);
  for (const list of byClient.values()) {
    const bytes = list.map((r) => Number(r["sc-bytes"]));
    assert.deepEqual(
      bytes,
      [...bytes].sort((a, b) => a - b),
      "sc-bytes is a running total",
    );
  }
  assert.deepEqual(events(interactiveId), [
    "connect",
    "play",
    "seek",
    "pause",
    "unpause",
    "stop",
    "disconnect",
  ]);
  assert.deepEqual(events(lastId), ["connect", "disconnect"]);
  const rtmpdumps = [...byClient.keys()].filter((id) => id !== interactiveId && id !== lastId);
  assert.equal(rtmpdumps.length, 2, `connections: ${[...byClient.keys()].join(", ")}`);
  for (const id of rtmpdumps) {
    const seen = events(id);
    assert.equal(seen[0], "connect");
    assert.equal(seen[1], "play");
    assert.equal(seen.at(-1), "disconnect");
    assert.equal(seen.filter((e) => e === "play").length, 1);
    assert.equal(seen.filter((e) => e === "stop").length, 1, seen.join(" "));
    assert.equal(seen.filter((e) => e === "connect").length, 1);
    const connect = byClient.get(id)!.find((r) => r["x-event"] === "connect")!;
    assert.equal(connect["c-referrer"], "http://player.example.com/player.swf");
    assert.equal(connect["x-page-url"], "http://www.example.com/watch page.html");
    assert.equal(connect["c-user-agent"], "LNX 10,0,32,18");
  }
  for (const r of records) {
    assert.equal(r["x-edge-location"], "TST1");
    assert.equal(r["c-ip"], "127.0.0.1");
    assert.equal(r["x-cf-status"], "OK");
    assert.equal(r["cs-uri-stem"], `rtmp://${domainName}/cfx/st`);
    const streamEvent = r["x-event"] !== "connect" && r["x-event"] !== "disconnect";
    assert.equal(r["x-sname"], streamEvent ? "videos/sample" : "", JSON.stringify(r));
    assert.equal(r["x-file-ext"], streamEvent ? "flv" : "");
    assert.equal(r["x-sid"] !== "", streamEvent);
  }
  t.diagnostic(
    `${delivered.length} files, ${records.length} lines, ${outage.fired + second.fired} log PUTs refused, ` +
      `files left by the killed edge: ${spooled.map((n) => n.slice(n.lastIndexOf("."))).join(" ")}`,
  );
  // The raw lines escape flashVer as CloudFront did.
  const raw = delivered.map((f) => gunzipSync(f.gzipped).toString("utf8")).join("");
  assert.match(raw, /\tLNX%2010,0,32,18\t/);
});
