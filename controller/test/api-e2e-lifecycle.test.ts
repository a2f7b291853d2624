/**
 * The control API end to end: a real ControllerServer on loopback, driven by
 * the official @aws-sdk/client-cloudfront (API 2020-05-31, SigV4) and by raw
 * legacy-signed HTTP requests in the documented XML of API 2009-12-01,
 * through the documented lifecycle: create (with tags), get, get config,
 * update with the ETag, list with paging, tags, disable, wait until
 * Deployed, delete.
 *
 * A lib/config-watcher.ts ConfigWatcher in this process plays the edge: it
 * watches the controller over gRPC and acknowledges each config version, so
 * Status goes InProgress → Deployed only because the edge applied the change.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type CloudFrontClient,
  CreateStreamingDistributionCommand,
  CreateStreamingDistributionWithTagsCommand,
  DeleteStreamingDistributionCommand,
  GetStreamingDistributionCommand,
  GetStreamingDistributionConfigCommand,
  ListStreamingDistributionsCommand,
  ListTagsForResourceCommand,
  paginateListStreamingDistributions,
  type StreamingDistribution,
  type StreamingDistributionConfig,
  type StreamingDistributionSummary,
  type Tag,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateStreamingDistributionCommand,
  waitUntilStreamingDistributionDeployed,
} from "@aws-sdk/client-cloudfront";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTls } from "../../lib/testing/tls.js";
import {
  type ApiController,
  parseXml,
  pick,
  sendLegacy,
  startApiController,
  testAccountId,
  until,
} from "./api-e2e-support.js";
import { delay, silentLogger } from "./helpers.js";

const edgeId = "edge-e2e-1";
/** The SDK waiter, polling every 50–200 ms instead of CloudFront's 60 s. */
const waiterTiming = { minDelay: 0.05, maxDelay: 0.2, maxWaitTime: 10 };

let controller: ApiController;
let client: CloudFrontClient;
let edge: ConfigWatcher;

before(async () => {
  // A long TTL: this file's edge keeps the default 5 s heartbeat.
  controller = await startApiController({ env: { STREAMFRONT_CONTROLLER_WATCHER_TTL_MS: "120000" } });
  client = controller.client();
  edge = new ConfigWatcher({
    address: controller.server.address,
    nodeId: edgeId,
    role: "edge",
    tls: testTls(PeerRole.Edge),
    logger: silentLogger("edge"),
  });
  edge.start();
  await until(
    async () =>
      edge.isSynced() && (await controller.server.store.liveWatchers()).some((w) => w.nodeId === edgeId),
    "the edge to connect and be live",
  );
});

after(async () => {
  edge.stop();
  await controller.close();
});

/** The config version that carries the distribution's current config. */
async function configVersionOf(id: string): Promise<number> {
  const stored = await controller.server.store.get(id);
  assert.ok(stored, `${id} is not in the store`);
  return stored.configVersion;
}

/**
 * Asserts that Deployed is owed to the edge: it is still live, it
 * acknowledged the version that carried the distribution's current config,
 * and that is the version it holds.
 */
async function assertDeployedByEdge(id: string): Promise<void> {
  const version = await configVersionOf(id);
  const live = (await controller.server.store.liveWatchers()).find((w) => w.nodeId === edgeId);
  assert.ok(live, "the edge is no longer live: Deployed would prove nothing");
  assert.ok(live.appliedVersion >= version, `edge acknowledged ${live.appliedVersion} < ${version}`);
  assert.ok(edge.version >= version);
}

async function waitDeployed(id: string): Promise<void> {
  const result = await waitUntilStreamingDistributionDeployed({ client, ...waiterTiming }, { Id: id });
  assert.equal(result.state, "SUCCESS");
  await assertDeployedByEdge(id);
}

function sdkConfig(callerReference: string, overrides: Partial<StreamingDistributionConfig> = {}) {
  return {
    CallerReference: callerReference,
    S3Origin: {
      DomainName: "media.s3.amazonaws.com",
      OriginAccessIdentity: "origin-access-identity/cloudfront/E74FTE3AEXAMPLE",
    },
    Aliases: { Quantity: 2, Items: ["video.e2e.example", "live.e2e.example"] },
    Comment: "end to end",
    Logging: { Enabled: true, Bucket: "mylogs.s3.amazonaws.com", Prefix: "rtmp/" },
    TrustedSigners: { Enabled: true, Quantity: 1, Items: ["self"] },
    PriceClass: "PriceClass_100",
    Enabled: true,
    ...overrides,
  } satisfies StreamingDistributionConfig;
}

describe("the full lifecycle with @aws-sdk/client-cloudfront (API 2020-05-31, SigV4)", () => {
  const config = sdkConfig("e2e lifecycle 1");
  let id = "";
  let etag = "";
  let arn = "";

  it("CreateStreamingDistributionWithTags: 201, Location, ETag, ARN, InProgress until the edge acknowledges", async () => {
    const out = await client.send(
      new CreateStreamingDistributionWithTagsCommand({
        StreamingDistributionConfigWithTags: {
          StreamingDistributionConfig: config,
          Tags: {
            Items: [
              { Key: "team", Value: "video" },
              { Key: "env", Value: "e2e" },
            ],
          },
        },
      }),
    );
    assert.equal(out.$metadata.httpStatusCode, 201);
    const d = out.StreamingDistribution;
    assert.ok(d?.Id && out.ETag);
    id = d.Id;
    etag = out.ETag;
    assert.match(id, /^E[A-Z0-9]{12,13}$/);
    assert.equal(out.Location, `${controller.endpoint}/2020-05-31/streaming-distribution/${id}`);
    arn = `arn:aws:cloudfront::${testAccountId}:streaming-distribution/${id}`;
    assert.equal(d.ARN, arn);
    assert.match(d.DomainName ?? "", /^s[a-z0-9]{13}\.streamfront\.local$/);
    assert.ok(d.LastModifiedTime instanceof Date);
    assert.deepEqual(d.StreamingDistributionConfig, config);
    // The edge is live and cannot have acknowledged a version the store
    // committed in this same turn of the event loop.
    assert.equal(d.Status, "InProgress");
    assert.deepEqual(d.ActiveTrustedSigners, {
      Enabled: false,
      Quantity: 1,
      Items: [{ AwsAccountNumber: "self", KeyPairIds: { Quantity: 0 } }],
    });
  });

  it("waitUntilStreamingDistributionDeployed succeeds once the edge applied the distribution", async () => {
    await waitDeployed(id);
    const onEdge = edge.current().get(id);
    assert.ok(onEdge, "the edge holds the distribution");
    assert.deepEqual([...onEdge.cnames].sort(), ["live.e2e.example", "video.e2e.example"]);
    assert.equal(onEdge.enabled, true);
  });

  it("a repeated create with the same CallerReference and config answers the original", async () => {
    const again = await client.send(
      new CreateStreamingDistributionWithTagsCommand({
        StreamingDistributionConfigWithTags: {
          StreamingDistributionConfig: config,
          Tags: {
            Items: [
              { Key: "env", Value: "e2e" },
              { Key: "team", Value: "video" },
            ],
          },
        },
      }),
    );
    assert.equal(again.StreamingDistribution?.Id, id);
    assert.equal(again.ETag, etag);
  });

  it("GetStreamingDistribution and GetStreamingDistributionConfig answer the same ETag and config", async () => {
    const got = await client.send(new GetStreamingDistributionCommand({ Id: id }));
    assert.equal(got.$metadata.httpStatusCode, 200);
    assert.equal(got.ETag, etag);
    assert.equal(got.StreamingDistribution?.Status, "Deployed");
    assert.equal(got.StreamingDistribution?.ARN, arn);
    assert.deepEqual(got.StreamingDistribution?.StreamingDistributionConfig, config);
    const gotConfig = await client.send(new GetStreamingDistributionConfigCommand({ Id: id }));
    assert.equal(gotConfig.ETag, etag);
    assert.deepEqual(gotConfig.StreamingDistributionConfig, config);
  });

  it("UpdateStreamingDistribution with the ETag replaces the config, returns a new ETag, InProgress → Deployed", async () => {
    const { StreamingDistributionConfig: current, ETag } = await client.send(
      new GetStreamingDistributionConfigCommand({ Id: id }),
    );
    assert.ok(current && ETag);
    const changed: StreamingDistributionConfig = {
      ...current,
      Comment: "updated end to end",
      // Omitting a CNAME removes it; the body replaces the config.
      Aliases: { Quantity: 1, Items: ["video.e2e.example"] },
      Logging: { Enabled: false, Bucket: "", Prefix: "" },
      PriceClass: "PriceClass_All",
    };
    const out = await client.send(
      new UpdateStreamingDistributionCommand({ Id: id, IfMatch: ETag, StreamingDistributionConfig: changed }),
    );
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.ok(out.ETag && out.ETag !== etag, "an update gives a new ETag");
    etag = out.ETag;
    assert.equal(out.StreamingDistribution?.Status, "InProgress");
    assert.deepEqual(out.StreamingDistribution?.StreamingDistributionConfig, changed);
    await waitDeployed(id);
    assert.deepEqual(edge.current().get(id)?.cnames, ["video.e2e.example"]);
    const got = await client.send(new GetStreamingDistributionCommand({ Id: id }));
    assert.equal(got.ETag, etag);
    assert.equal(got.StreamingDistribution?.StreamingDistributionConfig?.Comment, "updated end to end");
  });

  it("ListStreamingDistributions pages with Marker/MaxItems; the SDK paginator walks every page", async () => {
    const ids = [id];
    for (let n = 2; n <= 5; n++) {
      const out = await client.send(
        new CreateStreamingDistributionCommand({
          StreamingDistributionConfig: sdkConfig(`e2e lifecycle ${n}`, {
            Aliases: { Quantity: 1, Items: [`n${n}.e2e.example`] },
            TrustedSigners: { Enabled: false, Quantity: 0 },
            Logging: undefined,
          }),
        }),
      );
      assert.equal(out.$metadata.httpStatusCode, 201);
      assert.ok(out.StreamingDistribution?.Id);
      ids.push(out.StreamingDistribution.Id);
    }
    ids.sort();

    const first = await client.send(new ListStreamingDistributionsCommand({ MaxItems: 2 }));
    const list = first.StreamingDistributionList;
    assert.ok(list);
    assert.equal(list.MaxItems, 2);
    assert.equal(list.Marker, "");
    assert.equal(list.Quantity, 2);
    assert.equal(list.IsTruncated, true);
    assert.deepEqual(
      list.Items?.map((s) => s.Id),
      ids.slice(0, 2),
    );
    assert.equal(list.NextMarker, ids[1]);

    const second = await client.send(
      new ListStreamingDistributionsCommand({ Marker: list.NextMarker, MaxItems: 2 }),
    );
    assert.equal(second.StreamingDistributionList?.Marker, ids[1]);
    assert.deepEqual(
      second.StreamingDistributionList?.Items?.map((s) => s.Id),
      ids.slice(2, 4),
    );

    const pages: StreamingDistributionSummary[][] = [];
    for await (const page of paginateListStreamingDistributions({ client, pageSize: 2 }, {})) {
      pages.push(page.StreamingDistributionList?.Items ?? []);
      const truncated = page.StreamingDistributionList?.IsTruncated;
      assert.equal(page.StreamingDistributionList?.NextMarker !== undefined, truncated);
    }
    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 2, 1],
    );
    const summaries = pages.flat();
    assert.deepEqual(
      summaries.map((s) => s.Id),
      ids,
    );
    const ours = summaries.find((s) => s.Id === id);
    assert.equal(ours?.ARN, arn);
    assert.equal(ours?.Comment, "updated end to end");
    assert.deepEqual(ours?.S3Origin, config.S3Origin);
    assert.deepEqual(ours?.Aliases, { Quantity: 1, Items: ["video.e2e.example"] });
    assert.equal(ours?.Enabled, true);
  });

  it("tags: ListTagsForResource, TagResource, UntagResource; tags leave the ETag alone", async () => {
    const listed = await client.send(new ListTagsForResourceCommand({ Resource: arn }));
    assert.deepEqual(sortTags(listed.Tags?.Items), [
      { Key: "env", Value: "e2e" },
      { Key: "team", Value: "video" },
    ]);
    const tagged = await client.send(
      new TagResourceCommand({
        Resource: arn,
        Tags: {
          Items: [
            { Key: "team", Value: "live ops" },
            { Key: "cost-centre", Value: "42" },
          ],
        },
      }),
    );
    assert.equal(tagged.$metadata.httpStatusCode, 204);
    const untagged = await client.send(
      new UntagResourceCommand({ Resource: arn, TagKeys: { Items: ["env", "absent"] } }),
    );
    assert.equal(untagged.$metadata.httpStatusCode, 204);
    const now = await client.send(new ListTagsForResourceCommand({ Resource: arn }));
    assert.deepEqual(sortTags(now.Tags?.Items), [
      { Key: "cost-centre", Value: "42" },
      { Key: "team", Value: "live ops" },
    ]);
    const got = await client.send(new GetStreamingDistributionCommand({ Id: id }));
    assert.equal(got.ETag, etag, "tag changes do not change the ETag");
    assert.equal(got.StreamingDistribution?.Status, "Deployed", "nor start a deployment");
  });

  it("disable with the ETag, wait until Deployed, DeleteStreamingDistribution with the new ETag: 204", async () => {
    const { StreamingDistributionConfig: current, ETag } = await client.send(
      new GetStreamingDistributionConfigCommand({ Id: id }),
    );
    assert.ok(current && ETag === etag);
    const disabled = await client.send(
      new UpdateStreamingDistributionCommand({
        Id: id,
        IfMatch: ETag,
        StreamingDistributionConfig: { ...current, Enabled: false },
      }),
    );
    assert.equal(disabled.StreamingDistribution?.Status, "InProgress");
    assert.equal(disabled.StreamingDistribution?.StreamingDistributionConfig?.Enabled, false);
    await waitDeployed(id);
    assert.equal(edge.current().get(id)?.enabled, false, "the edge holds the distribution disabled");

    assert.ok(disabled.ETag);
    const deleted = await client.send(
      new DeleteStreamingDistributionCommand({ Id: id, IfMatch: disabled.ETag }),
    );
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    await assert.rejects(client.send(new GetStreamingDistributionCommand({ Id: id })), {
      name: "NoSuchStreamingDistribution",
    });
    await until(async () => !edge.current().has(id), "the edge to drop the deleted distribution");
    const listed = await client.send(new ListStreamingDistributionsCommand({}));
    assert.ok(!listed.StreamingDistributionList?.Items?.some((s) => s.Id === id));
  });
});

function sortTags(tags: readonly Tag[] | undefined): Tag[] {
  return [...(tags ?? [])].sort((a, b) => (a.Key ?? "").localeCompare(b.Key ?? ""));
}

/** The 2009-12-01 StreamingDistributionConfig as its API reference shows it. */
function config2009(callerReference: string, comment: string, enabled: boolean, cnames: readonly string[]) {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<StreamingDistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2009-12-01/">\n' +
    "  <Origin>legacy-media.s3.amazonaws.com</Origin>\n" +
    `  <CallerReference>${callerReference}</CallerReference>\n` +
    cnames.map((c) => `  <CNAME>${c}</CNAME>\n`).join("") +
    `  <Comment>${comment}</Comment>\n` +
    `  <Enabled>${enabled}</Enabled>\n` +
    "</StreamingDistributionConfig>\n"
  );
}

const ns2009 = 'xmlns="http://cloudfront.amazonaws.com/doc/2009-12-01/"';

describe("the same lifecycle in API 2009-12-01: raw requests signed AWS id:HMAC-SHA1(Date), documented XML", () => {
  const base = "/2009-12-01/streaming-distribution";
  let id = "";
  let etag = "";

  function distributionOf(body: string): Record<string, unknown> {
    assert.ok(body.includes(`<StreamingDistribution ${ns2009}>`), body);
    return pick(parseXml(body), "StreamingDistribution");
  }

  async function statusOf(): Promise<string> {
    const got = await sendLegacy(controller.endpoint, { method: "GET", target: `${base}/${id}` });
    assert.equal(got.status, 200, got.body);
    return String(distributionOf(got.body).Status);
  }

  it("POST creates: 201, Location, ETag, <StreamingDistribution> in the 2009 shape, InProgress", async () => {
    const created = await sendLegacy(controller.endpoint, {
      method: "POST",
      target: base,
      body: config2009("legacy-20091130090000", "My comments", true, [
        "beagles.e2e.example",
        "www.beagles.e2e.example",
      ]),
    });
    assert.equal(created.status, 201, created.body);
    const d = distributionOf(created.body);
    id = String(d.Id);
    assert.match(id, /^E[A-Z0-9]{12,13}$/);
    assert.equal(created.headers.location, `${controller.endpoint}${base}/${id}`);
    assert.ok(typeof created.headers.etag === "string");
    etag = created.headers.etag;
    assert.equal(d.Status, "InProgress");
    assert.match(String(d.DomainName), /^s[a-z0-9]{13}\.streamfront\.local$/);
    assert.match(String(d.LastModifiedTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // 2009-12-01 had no ARN, signers or logging.
    assert.equal(d.ARN, undefined);
    assert.equal(d.ActiveTrustedSigners, undefined);
    assert.deepEqual(d.StreamingDistributionConfig, {
      Origin: "legacy-media.s3.amazonaws.com",
      CallerReference: "legacy-20091130090000",
      CNAME: ["beagles.e2e.example", "www.beagles.e2e.example"],
      Comment: "My comments",
      Enabled: "true",
    });
  });

  it("GET the distribution and its config: 200 with the same ETag; the SDK reads it too", async () => {
    const got = await sendLegacy(controller.endpoint, { method: "GET", target: `${base}/${id}` });
    assert.equal(got.status, 200);
    assert.equal(got.headers.etag, etag);
    assert.equal(distributionOf(got.body).Id, id);

    const config = await sendLegacy(controller.endpoint, { method: "GET", target: `${base}/${id}/config` });
    assert.equal(config.status, 200);
    assert.equal(config.headers.etag, etag);
    assert.ok(config.body.includes(`<StreamingDistributionConfig ${ns2009}>`));
    assert.deepEqual(pick(parseXml(config.body), "StreamingDistributionConfig").CNAME, [
      "beagles.e2e.example",
      "www.beagles.e2e.example",
    ]);

    // The same distribution through API 2020-05-31, with the fields 2009 lacked at their defaults.
    const modern: StreamingDistribution | undefined = (
      await client.send(new GetStreamingDistributionCommand({ Id: id }))
    ).StreamingDistribution;
    assert.equal(modern?.StreamingDistributionConfig?.S3Origin?.DomainName, "legacy-media.s3.amazonaws.com");
    assert.equal(modern?.StreamingDistributionConfig?.PriceClass, "PriceClass_All");
  });

  it("PUT config with If-Match: 200, a new ETag, the CNAME left out is removed", async () => {
    const updated = await sendLegacy(controller.endpoint, {
      method: "PUT",
      target: `${base}/${id}/config`,
      headers: { "if-match": etag },
      body: config2009("legacy-20091130090000", "Updated comments", true, ["beagles.e2e.example"]),
    });
    assert.equal(updated.status, 200, updated.body);
    assert.ok(updated.headers.etag && updated.headers.etag !== etag);
    etag = updated.headers.etag;
    const d = distributionOf(updated.body);
    assert.equal(d.Status, "InProgress");
    assert.deepEqual(pick(d, "StreamingDistributionConfig").CNAME, ["beagles.e2e.example"]);
    assert.equal(pick(d, "StreamingDistributionConfig").Comment, "Updated comments");
  });

  it("GET the list pages through Marker and MaxItems", async () => {
    const seen: string[] = [];
    let marker = "";
    for (let page = 0; page < 20; page++) {
      const target = `${base}?MaxItems=2${marker === "" ? "" : `&Marker=${marker}`}`;
      const listed = await sendLegacy(controller.endpoint, { method: "GET", target });
      assert.equal(listed.status, 200, listed.body);
      assert.ok(listed.body.includes(`<StreamingDistributionList ${ns2009}>`));
      const list = pick(parseXml(listed.body), "StreamingDistributionList");
      assert.equal(list.Marker, marker);
      assert.equal(list.MaxItems, "2");
      const summaries = (list.StreamingDistributionSummary ?? []) as Record<string, unknown>[];
      assert.ok(summaries.length <= 2);
      for (const s of summaries) {
        seen.push(String(s.Id));
        assert.ok(typeof s.Origin === "string" && typeof s.DomainName === "string");
      }
      if (list.IsTruncated === "false") {
        assert.equal(list.NextMarker, undefined);
        break;
      }
      assert.equal(list.IsTruncated, "true");
      assert.equal(list.NextMarker, seen.at(-1));
      marker = String(list.NextMarker);
    }
    assert.ok(seen.includes(id));
    assert.deepEqual(seen, [...seen].sort(), "ordered by Id, each once");
    assert.equal(new Set(seen).size, seen.length);
    const ours = (
      pick(
        parseXml((await sendLegacy(controller.endpoint, { method: "GET", target: base })).body),
        "StreamingDistributionList",
      ).StreamingDistributionSummary as Record<string, unknown>[]
    ).find((s) => s.Id === id);
    assert.deepEqual(ours?.CNAME, ["beagles.e2e.example"]);
    assert.equal(ours?.Comment, "Updated comments");
  });

  it("tagging did not exist in 2009-12-01: InvalidAction", async () => {
    const arn = `arn:aws:cloudfront::${testAccountId}:streaming-distribution/${id}`;
    const listed = await sendLegacy(controller.endpoint, {
      method: "GET",
      target: `/2009-12-01/tagging?Resource=${encodeURIComponent(arn)}`,
    });
    assert.equal(listed.status, 400);
    assert.equal(pick(parseXml(listed.body), "ErrorResponse.Error").Code, "InvalidAction");
  });

  it("disable with If-Match, poll GET until Deployed, DELETE with If-Match: 204", async () => {
    const disabled = await sendLegacy(controller.endpoint, {
      method: "PUT",
      target: `${base}/${id}/config`,
      headers: { "if-match": etag },
      body: config2009("legacy-20091130090000", "Updated comments", false, ["beagles.e2e.example"]),
    });
    assert.equal(disabled.status, 200, disabled.body);
    assert.equal(distributionOf(disabled.body).Status, "InProgress");
    assert.ok(disabled.headers.etag);
    etag = disabled.headers.etag;
    await until(async () => (await statusOf()) === "Deployed", "Status Deployed");
    await assertDeployedByEdge(id);
    assert.equal(edge.current().get(id)?.enabled, false);

    const deleted = await sendLegacy(controller.endpoint, {
      method: "DELETE",
      target: `${base}/${id}`,
      headers: { "if-match": etag },
    });
    assert.equal(deleted.status, 204, deleted.body);
    assert.equal(deleted.body, "");
    const gone = await sendLegacy(controller.endpoint, { method: "GET", target: `${base}/${id}` });
    assert.equal(gone.status, 404);
    assert.equal(pick(parseXml(gone.body), "ErrorResponse.Error").Code, "NoSuchStreamingDistribution");
    await until(async () => !edge.current().has(id), "the edge to drop the deleted distribution");
  });
});

describe("an edge that stays connected but idle", () => {
  it("still counts once watcher-ttl-ms has passed: a change made then is InProgress until it acknowledges", async () => {
    const idle = await startApiController({ env: { STREAMFRONT_CONTROLLER_WATCHER_TTL_MS: "1000" } });
    const watcher = new ConfigWatcher({
      address: idle.server.address,
      nodeId: "edge-idle-1",
      role: "edge",
      tls: testTls(PeerRole.Edge),
      logger: silentLogger("edge"),
      // Its heartbeat (a re-sent ack) comes well within the TTL, as edges are configured.
      heartbeatMs: 200,
    });
    try {
      watcher.start();
      await until(
        async () => (await idle.server.store.liveWatchers()).some((w) => w.nodeId === "edge-idle-1"),
        "the edge to be live",
      );
      // Longer than the TTL, with the stream open the whole time.
      await delay(1_300);
      assert.ok(watcher.isConnected());
      const out = await idle
        .client()
        .send(
          new CreateStreamingDistributionCommand({ StreamingDistributionConfig: sdkConfig("idle edge") }),
        );
      assert.equal(out.StreamingDistribution?.Status, "InProgress");
    } finally {
      watcher.stop();
      await idle.close();
    }
  });
});
