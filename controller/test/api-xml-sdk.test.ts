/**
 * The XML layer against the real AWS SDK (@aws-sdk/client-cloudfront): a
 * throwaway HTTP server on 127.0.0.1 captures the body the SDK sends, which
 * our parsers must read, and answers with our rendered XML, which the SDK
 * must turn into the expected output object (or exception).
 */
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import * as cloudfront from "@aws-sdk/client-cloudfront";
import {
  CloudFrontClient,
  CreateStreamingDistributionCommand,
  CreateStreamingDistributionWithTagsCommand,
  GetStreamingDistributionCommand,
  GetStreamingDistributionConfigCommand,
  ListStreamingDistributionsCommand,
  ListTagsForResourceCommand,
  paginateListStreamingDistributions,
  type StreamingDistributionConfig,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import {
  ApiError,
  type ApiErrorCode,
  apiErrorCodes,
  apiErrorStatus,
  renderError,
} from "../src/api/api-error.js";
import { parseStreamingDistributionArn, streamingDistributionArn } from "../src/api/streaming-config/arn.js";
import { parseListParameters } from "../src/api/streaming-config/list-parameters.js";
import { configsEqual, toDistributionInput, toDistributionPatch } from "../src/api/streaming-config/model.js";
import { checkUpdate } from "../src/api/streaming-config/rules.js";
import { codecForVersion, latestApiVersion } from "../src/api/xml-codec.js";
import type { DistributionView } from "../src/api/xml-types.js";
import { type Distribution, newDistribution, type Tag } from "../src/distribution.js";

// The SDK warns once per process that it will need Node 22; not our concern here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const accountId = "123456789012";
const context = { apiVersion: latestApiVersion, accountId };
const codec = codecForVersion(latestApiVersion)!;
const now = Date.UTC(2026, 10, 22, 10, 0, 0);

interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Records each request and answers with whatever the current test sets. */
class CaptureServer {
  readonly exchanges: Exchange[] = [];
  readonly errors: unknown[] = [];
  reply: (exchange: Exchange) => Reply = () => ({ status: 500 });
  readonly #server: Server;

  constructor() {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const exchange = {
          method: request.method ?? "",
          url: request.url ?? "",
          headers: request.headers,
          body: Buffer.concat(chunks),
        };
        this.exchanges.push(exchange);
        let reply: Reply;
        try {
          reply = this.reply(exchange);
        } catch (error) {
          // An assertion on the request failed: keep it for the test to rethrow.
          this.errors.push(error);
          reply = { status: 599 };
        }
        response.writeHead(reply.status, {
          "x-amz-request-id": "req-0001",
          ...(reply.body === undefined ? {} : { "content-type": "text/xml" }),
          ...reply.headers,
        });
        response.end(reply.body);
      });
    });
  }

  get last(): Exchange {
    const exchange = this.exchanges.at(-1);
    assert.ok(exchange, "the SDK sent no request");
    return exchange;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The full config a client sends (already in the normalised form we answer with). */
const sdkConfig: StreamingDistributionConfig = {
  CallerReference: "ref <1> & co",
  S3Origin: {
    DomainName: "media.s3.amazonaws.com",
    OriginAccessIdentity: "origin-access-identity/cloudfront/E74FTE3AEXAMPLE",
  },
  Aliases: { Quantity: 2, Items: ["video.example.com", "live.example.com"] },
  Comment: 'streams "quoted" <b>',
  Logging: { Enabled: true, Bucket: "mylogs.s3.amazonaws.com", Prefix: "rtmp/" },
  TrustedSigners: { Enabled: true, Quantity: 2, Items: ["self", "111122223333"] },
  PriceClass: "PriceClass_200",
  Enabled: true,
};

const expectedConfig = {
  shape: "2012-05-05",
  callerReference: "ref <1> & co",
  originDomainName: "media.s3.amazonaws.com",
  originBucket: "media",
  originAccessIdentity: "origin-access-identity/cloudfront/E74FTE3AEXAMPLE",
  aliases: ["video.example.com", "live.example.com"],
  comment: 'streams "quoted" <b>',
  logging: { enabled: true, bucket: "mylogs.s3.amazonaws.com", prefix: "rtmp/" },
  trustedSigners: { enabled: true, accounts: ["self", "111122223333"] },
  priceClass: "PriceClass_200",
  enabled: true,
} as const;

function storedDistribution(
  id: string,
  input = toDistributionInput(expectedConfig),
  tags: readonly Tag[] = [],
): Distribution {
  const d = newDistribution({ ...input, tags }, { baseDomain: "cloudfront.test", now });
  return { ...d, id, domainName: `s${id.toLowerCase().slice(1)}.cloudfront.test`, etag: `ETAG${id}` };
}

/**
 * client.send, but an assertion that failed inside the server's reply (on
 * the request the SDK sent) is what the test reports.
 */
async function send<T>(sending: Promise<T>): Promise<T> {
  try {
    return await sending;
  } finally {
    const failed = server.errors.splice(0);
    // biome-ignore lint/correctness/noUnsafeFinally: the server-side failure is the root cause
    if (failed.length > 0) throw failed[0];
  }
}

/** A small SDK client pointed at the capture server; no retries, so error tests see one exchange. */
let server: CaptureServer;
let client: CloudFrontClient;

before(async () => {
  server = new CaptureServer();
  const endpoint = await server.start();
  client = new CloudFrontClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "x" },
    maxAttempts: 1,
  });
});

after(async () => {
  client.destroy();
  await server.close();
});

describe("the AWS SDK against our XML", () => {
  it("CreateStreamingDistributionWithTags: we read the SDK's body; the SDK reads our StreamingDistribution", async () => {
    const d = storedDistribution("EGTXBD79EXAMPLE", toDistributionInput(expectedConfig), [
      { key: "team", value: "video" },
      { key: "empty", value: "" },
    ]);
    const view: DistributionView = {
      distribution: d,
      status: "InProgress",
      activeKeyPairIds: new Map([["self", ["APKAEIBAERJR2EXAMPLE"]]]),
    };
    server.reply = (exchange) => {
      const { config, tags } = codec.parseStreamingDistributionConfigWithTags(exchange.body);
      assert.deepEqual(config, expectedConfig);
      assert.deepEqual(tags, d.tags);
      return {
        status: 201,
        headers: {
          location: `https://cloudfront.amazonaws.com/2020-05-31/streaming-distribution/${d.id}`,
          etag: d.etag,
        },
        body: codec.renderStreamingDistribution(view, context),
      };
    };
    const out = await send(
      client.send(
        new CreateStreamingDistributionWithTagsCommand({
          StreamingDistributionConfigWithTags: {
            StreamingDistributionConfig: sdkConfig,
            Tags: { Items: [{ Key: "team", Value: "video" }, { Key: "empty" }] },
          },
        }),
      ),
    );
    assert.equal(server.last.method, "POST");
    assert.equal(server.last.url, "/2020-05-31/streaming-distribution?WithTags=");
    assert.equal(out.$metadata.httpStatusCode, 201);
    assert.equal(out.ETag, "ETAGEGTXBD79EXAMPLE");
    assert.equal(
      out.Location,
      "https://cloudfront.amazonaws.com/2020-05-31/streaming-distribution/EGTXBD79EXAMPLE",
    );
    assert.deepEqual(out.StreamingDistribution, {
      Id: "EGTXBD79EXAMPLE",
      ARN: "arn:aws:cloudfront::123456789012:streaming-distribution/EGTXBD79EXAMPLE",
      Status: "InProgress",
      LastModifiedTime: new Date("2026-11-22T10:00:00.000Z"),
      DomainName: "sgtxbd79example.cloudfront.test",
      ActiveTrustedSigners: {
        Enabled: true,
        Quantity: 2,
        Items: [
          { AwsAccountNumber: "self", KeyPairIds: { Quantity: 1, Items: ["APKAEIBAERJR2EXAMPLE"] } },
          { AwsAccountNumber: "111122223333", KeyPairIds: { Quantity: 0 } },
        ],
      },
      StreamingDistributionConfig: sdkConfig,
    });
  });

  it("CreateStreamingDistribution with only the required members (no Items when Quantity is 0)", async () => {
    let parsed: unknown;
    server.reply = (exchange) => {
      parsed = codec.parseStreamingDistributionConfig(exchange.body);
      return {
        status: 400,
        body: renderError(new ApiError("InvalidArgument", "stop here"), "r", "2020-05-31"),
      };
    };
    await assert.rejects(
      client.send(
        new CreateStreamingDistributionCommand({
          StreamingDistributionConfig: {
            CallerReference: "minimal",
            S3Origin: { DomainName: "bucket-1.s3.us-west-2.amazonaws.com", OriginAccessIdentity: "" },
            Comment: "",
            TrustedSigners: { Enabled: false, Quantity: 0 },
            Enabled: false,
          },
        }),
      ),
      { name: "InvalidArgument" },
    );
    assert.equal(server.last.url, "/2020-05-31/streaming-distribution");
    assert.deepEqual(parsed, {
      shape: "2012-05-05",
      callerReference: "minimal",
      originDomainName: "bucket-1.s3.us-west-2.amazonaws.com",
      originBucket: "bucket-1",
      originAccessIdentity: "",
      aliases: [],
      comment: "",
      logging: { enabled: false, bucket: "", prefix: "" },
      trustedSigners: { enabled: false, accounts: [] },
      priceClass: "PriceClass_All",
      enabled: false,
    });
  });

  it("GetStreamingDistribution: Deployed, no signers, ETag", async () => {
    const d = {
      ...storedDistribution("E1GET0000000AA"),
      trustedSigners: { enabled: false, accounts: [] },
      cnames: [],
      logging: { enabled: false, bucket: "", prefix: "" },
      originAccessIdentity: "",
    };
    server.reply = () => ({
      status: 200,
      headers: { etag: d.etag },
      body: codec.renderStreamingDistribution({ distribution: d, status: "Deployed" }, context),
    });
    const out = await send(client.send(new GetStreamingDistributionCommand({ Id: d.id })));
    assert.equal(server.last.method, "GET");
    assert.equal(server.last.url, "/2020-05-31/streaming-distribution/E1GET0000000AA");
    assert.equal(out.ETag, d.etag);
    assert.equal(out.StreamingDistribution?.Status, "Deployed");
    assert.deepEqual(out.StreamingDistribution?.ActiveTrustedSigners, { Enabled: false, Quantity: 0 });
    assert.deepEqual(out.StreamingDistribution?.StreamingDistributionConfig, {
      ...sdkConfig,
      S3Origin: { DomainName: "media.s3.amazonaws.com", OriginAccessIdentity: "" },
      Aliases: { Quantity: 0 },
      Logging: { Enabled: false, Bucket: "", Prefix: "" },
      TrustedSigners: { Enabled: false, Quantity: 0 },
    });
  });

  it("GetStreamingDistributionConfig feeds UpdateStreamingDistribution unchanged", async () => {
    const d = storedDistribution("E1UPD0000000AA");
    server.reply = () => ({
      status: 200,
      headers: { etag: d.etag },
      body: codec.renderStreamingDistributionConfig(d, context),
    });
    const got = await send(client.send(new GetStreamingDistributionConfigCommand({ Id: d.id })));
    assert.equal(server.last.url, "/2020-05-31/streaming-distribution/E1UPD0000000AA/config");
    assert.equal(got.ETag, d.etag);
    assert.deepEqual(got.StreamingDistributionConfig, sdkConfig);

    // The usual disable step before a delete: GET config, flip Enabled, PUT with If-Match.
    const updated = { ...d, enabled: false, etag: "ETAG2" };
    server.reply = (exchange) => {
      assert.equal(exchange.headers["if-match"], d.etag);
      const config = codec.parseStreamingDistributionConfig(exchange.body);
      checkUpdate(d, config);
      assert.ok(configsEqual(config, { ...expectedConfig, enabled: false }));
      assert.deepEqual(toDistributionPatch(config).enabled, false);
      return {
        status: 200,
        headers: { etag: updated.etag },
        body: codec.renderStreamingDistribution({ distribution: updated, status: "InProgress" }, context),
      };
    };
    const out = await send(
      client.send(
        new UpdateStreamingDistributionCommand({
          Id: d.id,
          IfMatch: got.ETag,
          StreamingDistributionConfig: { ...got.StreamingDistributionConfig!, Enabled: false },
        }),
      ),
    );
    assert.equal(server.last.method, "PUT");
    assert.equal(server.last.url, "/2020-05-31/streaming-distribution/E1UPD0000000AA/config");
    assert.equal(out.ETag, "ETAG2");
    assert.equal(out.StreamingDistribution?.StreamingDistributionConfig?.Enabled, false);
    assert.equal(out.StreamingDistribution?.Status, "InProgress");
  });

  it("ListStreamingDistributions: paging fields, and the SDK paginator walks every page", async () => {
    const all = ["E1LIST00000001", "E1LIST00000002", "E1LIST00000003"].map((id) => storedDistribution(id));
    server.reply = (exchange) => {
      const query = new URL(exchange.url, "http://x").searchParams;
      const { marker, maxItems } = parseListParameters(
        query.get("Marker") ?? undefined,
        query.get("MaxItems") ?? undefined,
      );
      const start = marker === "" ? 0 : all.findIndex((d) => d.id === marker) + 1;
      const items = all.slice(start, start + maxItems);
      const isTruncated = start + maxItems < all.length;
      return {
        status: 200,
        body: codec.renderStreamingDistributionList(
          {
            items: items.map((distribution) => ({ distribution, status: "Deployed" })),
            marker,
            maxItems,
            nextMarker: isTruncated ? items.at(-1)?.id : undefined,
            isTruncated,
          },
          context,
        ),
      };
    };

    const first = await send(client.send(new ListStreamingDistributionsCommand({ MaxItems: 2 })));
    assert.equal(server.last.url, "/2020-05-31/streaming-distribution?MaxItems=2");
    const list = first.StreamingDistributionList;
    assert.equal(list?.Marker, "");
    assert.equal(list?.NextMarker, "E1LIST00000002");
    assert.equal(list?.MaxItems, 2);
    assert.equal(list?.IsTruncated, true);
    assert.equal(list?.Quantity, 2);
    assert.deepEqual(list?.Items?.[0], {
      Id: "E1LIST00000001",
      ARN: streamingDistributionArn(accountId, "E1LIST00000001"),
      Status: "Deployed",
      LastModifiedTime: new Date(now),
      DomainName: "s1list00000001.cloudfront.test",
      S3Origin: sdkConfig.S3Origin,
      Aliases: sdkConfig.Aliases,
      TrustedSigners: sdkConfig.TrustedSigners,
      Comment: sdkConfig.Comment,
      PriceClass: sdkConfig.PriceClass,
      Enabled: true,
    });

    const last = await send(
      client.send(new ListStreamingDistributionsCommand({ Marker: "E1LIST00000002", MaxItems: 2 })),
    );
    assert.equal(last.StreamingDistributionList?.Marker, "E1LIST00000002");
    assert.equal(last.StreamingDistributionList?.NextMarker, undefined);
    assert.equal(last.StreamingDistributionList?.IsTruncated, false);
    assert.equal(last.StreamingDistributionList?.Quantity, 1);

    const seen: string[] = [];
    for await (const page of paginateListStreamingDistributions({ client, pageSize: 1 }, {})) {
      for (const item of page.StreamingDistributionList?.Items ?? []) seen.push(item.Id ?? "");
    }
    assert.deepEqual(seen, ["E1LIST00000001", "E1LIST00000002", "E1LIST00000003"]);

    server.reply = () => ({
      status: 200,
      body: codec.renderStreamingDistributionList(
        { items: [], marker: "", maxItems: 100, isTruncated: false },
        context,
      ),
    });
    const none = await send(client.send(new ListStreamingDistributionsCommand({})));
    assert.deepEqual(none.StreamingDistributionList, {
      Marker: "",
      MaxItems: 100,
      IsTruncated: false,
      Quantity: 0,
    });
  });

  it("TagResource, UntagResource and ListTagsForResource", async () => {
    const arn = streamingDistributionArn(accountId, "E1TAG000000000");
    server.reply = (exchange) => {
      const query = new URL(exchange.url, "http://x").searchParams;
      assert.equal(parseStreamingDistributionArn(query.get("Resource") ?? "", accountId), "E1TAG000000000");
      assert.equal(query.get("Operation"), "Tag");
      assert.deepEqual(codec.parseTags(exchange.body), [
        { key: "team", value: "video + audio: a=b @x" },
        { key: "名前", value: "" },
      ]);
      return { status: 204 };
    };
    const tagged = await send(
      client.send(
        new TagResourceCommand({
          Resource: arn,
          Tags: { Items: [{ Key: "team", Value: "video + audio: a=b @x" }, { Key: "名前" }] },
        }),
      ),
    );
    assert.equal(tagged.$metadata.httpStatusCode, 204);

    server.reply = (exchange) => {
      assert.equal(new URL(exchange.url, "http://x").searchParams.get("Operation"), "Untag");
      assert.deepEqual(codec.parseTagKeys(exchange.body), ["team", "名前"]);
      return { status: 204 };
    };
    await send(
      client.send(new UntagResourceCommand({ Resource: arn, TagKeys: { Items: ["team", "名前"] } })),
    );

    const tags = [
      { key: "team", value: "video + audio: a=b @x" },
      { key: "empty", value: "" },
    ];
    server.reply = () => ({ status: 200, body: codec.renderTags(tags, context) });
    const listed = await send(client.send(new ListTagsForResourceCommand({ Resource: arn })));
    assert.equal(server.last.method, "GET");
    assert.deepEqual(listed.Tags, {
      Items: [
        { Key: "team", Value: "video + audio: a=b @x" },
        { Key: "empty", Value: "" },
      ],
    });

    server.reply = () => ({ status: 200, body: codec.renderTags([], context) });
    const none = await send(client.send(new ListTagsForResourceCommand({ Resource: arn })));
    assert.deepEqual(none.Tags, { Items: [] });
  });

  const errorExamples: readonly ApiErrorCode[] = [
    "CNAMEAlreadyExists",
    "NoSuchStreamingDistribution",
    "PreconditionFailed",
    "StreamingDistributionNotDisabled",
    "InconsistentQuantities",
    "MalformedXML",
    "EntityTooLarge",
    "SignatureDoesNotMatch",
    "InternalError",
    "ServiceUnavailable",
  ];
  for (const code of errorExamples) {
    it(`an ErrorResponse ${code} becomes an SDK exception named ${code}`, async () => {
      const message = `${code}: "détail" <with> & markup`;
      server.reply = () => ({
        status: apiErrorStatus[code],
        body: renderError(new ApiError(code, message), "req-err-1", "2020-05-31"),
      });
      let caught: unknown;
      try {
        await send(client.send(new GetStreamingDistributionCommand({ Id: "E1ERR000000000" })));
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof cloudfront.CloudFrontServiceException, String(caught));
      assert.equal(caught.name, code);
      assert.equal(caught.message, message);
      assert.equal(caught.$metadata.httpStatusCode, apiErrorStatus[code]);
      assert.equal(caught.$metadata.requestId, "req-0001");
      assert.equal(caught.$fault, apiErrorStatus[code] >= 500 ? "server" : "client");
    });
  }

  it("our status for each code equals the SDK model's, where the SDK models the code", () => {
    const modelled: string[] = [];
    const sdk = cloudfront as unknown as Readonly<Record<string, unknown>>;
    for (const code of apiErrorCodes) {
      const schema = sdk[`${code}$`];
      if (!Array.isArray(schema)) continue;
      // An error schema is [-3, namespace, name, traits, members, types].
      const traits = schema[3] as { readonly httpError?: number } | undefined;
      assert.equal(schema[0], -3, code);
      assert.equal(traits?.httpError, apiErrorStatus[code], code);
      modelled.push(code);
    }
    // Every streaming-distribution error of the service model is among them.
    for (const code of [
      "AccessDenied",
      "CNAMEAlreadyExists",
      "IllegalUpdate",
      "InconsistentQuantities",
      "InvalidArgument",
      "InvalidIfMatchVersion",
      "InvalidOrigin",
      "InvalidOriginAccessIdentity",
      "InvalidTagging",
      "MissingBody",
      "NoSuchResource",
      "NoSuchStreamingDistribution",
      "PreconditionFailed",
      "StreamingDistributionAlreadyExists",
      "StreamingDistributionNotDisabled",
      "TooManyStreamingDistributionCNAMEs",
      "TooManyStreamingDistributions",
      "TooManyTrustedSigners",
      "TrustedSignerDoesNotExist",
      // The public-key calls.
      "PublicKeyAlreadyExists",
      "NoSuchPublicKey",
      "TooManyPublicKeys",
      "CannotChangeImmutablePublicKeyFields",
    ]) {
      assert.ok(modelled.includes(code), code);
    }
  });
});
