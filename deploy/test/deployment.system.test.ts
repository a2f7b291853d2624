import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type CloudFrontClient,
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
  ListStreamingDistributionsCommand,
} from "@aws-sdk/client-cloudfront";
import { parseRedisUrl } from "../../controller/src/store/redis-connection.js";
import { RedisStore } from "../../controller/src/store/redis-store.js";
import { assertSamePackets, probePackets, rtmpdump } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { ProcessCluster } from "../../lib/testing/process-cluster.js";
import { RedisServer } from "../../lib/testing/redis-server.js";
import { delay, eventually } from "../../lib/testing/wait.js";

/**
 * Deployment tracking and resilience with real processes: two controller
 * replicas on one Redis, one shield, three edges (edge i watches
 * controller i % 2), the official CloudFront client for the API, rtmpdump
 * for viewers.
 */
const bucket = "deploy-media";
const sample = fromRepoRoot("deploy", "local", "media", "videos", "sample.flv");
const work = mkdtempSync(join(tmpdir(), "streamfront-deploy-"));
let redis: RedisServer;
let cluster: ProcessCluster;
let store: RedisStore;
let api: CloudFrontClient;

before(async () => {
  redis = await RedisServer.start({ appendOnly: true });
  cluster = await ProcessCluster.start({
    controllers: 2,
    shields: 1,
    edges: 3,
    redisUrl: redis.url,
    buckets: [bucket],
    controllerEnv: { STREAMFRONT_CONTROLLER_WATCHER_TTL_MS: "20000" },
    edgeEnv: { STREAMFRONT_EDGE_CONTROLLER_HEARTBEAT_MS: "500" },
  });
  await cluster.s3.putObject(bucket, "videos/sample.flv", readFileSync(sample));
  // The test's own view of the shared state (the same store class the controllers run).
  store = new RedisStore({ connection: parseRedisUrl(redis.url) });
  api = cluster.cloudfront(0);
  await eventually(async () => liveEdges().then((edges) => edges.length === 3), 20_000, "three live edges");
});

after(async () => {
  await store?.close();
  await cluster?.stop();
  await redis?.dispose();
  rmSync(work, { recursive: true, force: true });
});

async function liveEdges() {
  return (await store.liveWatchers()).filter((w) => w.role === "edge");
}

async function createDistribution(reference: string) {
  const out = await api.send(
    new CreateStreamingDistributionCommand({
      StreamingDistributionConfig: {
        CallerReference: reference,
        S3Origin: { DomainName: `${bucket}.s3.amazonaws.com`, OriginAccessIdentity: "" },
        Comment: reference,
        TrustedSigners: { Enabled: false, Quantity: 0 },
        Enabled: true,
      },
    }),
  );
  return out.StreamingDistribution!;
}

async function statusOf(id: string, client = api): Promise<string | undefined> {
  return (await client.send(new GetStreamingDistributionCommand({ Id: id }))).StreamingDistribution?.Status;
}

/** rtmpdump through edge `index`, with the tcUrl naming the distribution's domain; the packets it got. */
async function playThrough(index: number, domainName: string, name: string) {
  const out = join(work, `${name}-${index}-${Date.now()}.flv`);
  const [host, port] = cluster.rtmpAddress(index).split(":");
  await rtmpdump([
    "-r",
    `rtmp://${host}:${port}/cfx/st/`,
    "-t",
    `rtmp://${domainName}/cfx/st`,
    "-y",
    "videos/sample",
    "-o",
    out,
  ]);
  return probePackets(out);
}

describe("deployment tracking with three edge processes", () => {
  test("a new distribution stays InProgress while one edge is paused, becomes Deployed when it resumes, then plays on every edge", async () => {
    const paused = cluster.edges[1]!;
    paused.signal("SIGSTOP");
    try {
      const created = await createDistribution("while-paused");
      assert.equal(created.Status, "InProgress");
      const version = (await store.get(created.Id!))!.configVersion;
      // The two running edges apply it; the paused one cannot.
      await eventually(
        async () => (await liveEdges()).filter((e) => e.appliedVersion >= version).length === 2,
        10_000,
        "the two running edges to acknowledge",
      );
      // Asked through both controller replicas, for a while: still waiting for the paused edge.
      for (let i = 0; i < 5; i++) {
        assert.equal(await statusOf(created.Id!), "InProgress");
        assert.equal(await statusOf(created.Id!, cluster.cloudfront(1)), "InProgress");
        await delay(200);
      }
      paused.signal("SIGCONT");
      await eventually(async () => (await statusOf(created.Id!)) === "Deployed", 10_000, "Deployed");
      assert.equal(await statusOf(created.Id!, cluster.cloudfront(1)), "Deployed");
      const source = await probePackets(sample);
      for (let i = 0; i < 3; i++) {
        assertSamePackets(await playThrough(i, created.DomainName!, "new"), source);
      }
    } finally {
      paused.signal("SIGCONT");
    }
  });
});

describe("Redis down for 30 s", () => {
  test("edges keep serving, the API answers 503 ServiceUnavailable, and everything recovers with nothing lost or duplicated", async () => {
    const existing = await createDistribution("before-outage");
    await eventually(async () => (await statusOf(existing.Id!)) === "Deployed", 10_000, "Deployed");
    const before = await api.send(new ListStreamingDistributionsCommand({}));
    const idsBefore = (before.StreamingDistributionList?.Items ?? []).map((d) => d.Id).sort();

    const killedAt = Date.now();
    await redis.kill();
    const refused = await api.send(new GetStreamingDistributionCommand({ Id: existing.Id! })).then(
      () => assert.fail("the API answered without its store"),
      (error: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => error,
    );
    assert.equal(refused.name, "ServiceUnavailable");
    assert.equal(refused.$metadata?.httpStatusCode, 503);
    assert.match(refused.message, /unavailable/i);
    await assert.rejects(createDistribution("during-outage"), { name: "ServiceUnavailable" });
    // The controller's own metrics still answer, and say what is wrong.
    const scrape = await cluster.metricsText(cluster.controllers[0]!);
    assert.match(scrape, /^streamfront_controller_store_up 0$/m);

    // Viewers of existing distributions do not notice, on every edge, all through the outage.
    const source = await probePackets(sample);
    while (Date.now() - killedAt < 30_000) {
      for (let i = 0; i < 3; i++)
        assertSamePackets(await playThrough(i, existing.DomainName!, "outage"), source);
    }

    await redis.restart();
    await eventually(
      async () =>
        api.send(new ListStreamingDistributionsCommand({})).then(
          () => true,
          () => false,
        ),
      15_000,
      "the API to answer again",
    );
    assert.match(await cluster.metricsText(cluster.controllers[0]!), /^streamfront_controller_store_up 1$/m);
    const after = await api.send(new ListStreamingDistributionsCommand({}));
    const idsAfter = (after.StreamingDistributionList?.Items ?? []).map((d) => d.Id).sort();
    assert.deepEqual(idsAfter, idsBefore, "nothing lost, nothing duplicated");
    const fresh = await createDistribution("after-outage");
    await eventually(async () => (await statusOf(fresh.Id!)) === "Deployed", 20_000, "the new one Deployed");
    assertSamePackets(await playThrough(2, fresh.DomainName!, "after"), source);
    const final = await api.send(new ListStreamingDistributionsCommand({}));
    const ids = (final.StreamingDistributionList?.Items ?? []).map((d) => d.Id);
    assert.equal(new Set(ids).size, ids.length, "no id twice");
    assert.equal(ids.length, idsBefore.length + 1);
  });
});
