/**
 * Every error code the control API answers, produced through the real HTTP
 * server of a ControllerServer on loopback: with @aws-sdk/client-cloudfront
 * where the SDK can send the request (asserting the SDK's error name,
 * $metadata.httpStatusCode and fault), with raw SigV4- or legacy-signed
 * requests where it cannot (asserting the status, the <ErrorResponse> and
 * its <Code>). The last test checks that the codes produced cover the
 * error table of the CloudFront API reference and every code of apiErrorStatus.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { type ClientRequest, request } from "node:http";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import {
  type CloudFrontClient,
  CreatePublicKeyCommand,
  CreateStreamingDistributionCommand,
  DeleteStreamingDistributionCommand,
  GetPublicKeyCommand,
  GetStreamingDistributionCommand,
  GetStreamingDistributionConfigCommand,
  ListDistributionsCommand,
  ListStreamingDistributionsCommand,
  ListTagsForResourceCommand,
  type StreamingDistributionConfig,
  TagResourceCommand,
  UntagResourceCommand,
  UpdatePublicKeyCommand,
  UpdateStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { type ApiErrorCode, apiErrorCodes, apiErrorStatus } from "../src/api/api-error.js";
import { ApiServer } from "../src/api/api-server.js";
import { AccessKeys } from "../src/api/auth/access-keys.js";
import { RequestAuthenticator } from "../src/api/auth/authenticator.js";
import type { Distribution, DistributionPatch } from "../src/distribution.js";
import type {
  ChangeListener,
  ConfigSnapshot,
  CreateOptions,
  DeleteOptions,
  DistributionChange,
  DistributionStore,
  TagChange,
  UpdateOptions,
  WatcherRole,
  WatcherState,
} from "../src/store/distribution-store.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { parseRedisUrl } from "../src/store/redis-connection.js";
import { RedisStore } from "../src/store/redis-store.js";
import {
  type ApiController,
  assertRawError,
  assertSdkError,
  type ProducedCodes,
  type RawResponse,
  sdkClient,
  sendLegacy,
  sendRaw,
  sendSigV4,
  signSigV4,
  startApiController,
  testAccountId,
  testKey,
  until,
} from "./api-e2e-support.js";
import { silentLogger } from "./helpers.js";

/** Every code a test below produced, with the statuses it came with. */
const produced: ProducedCodes = new Map();

const knownSigner = "111122223333";
let main: ApiController;
let client: CloudFrontClient;

before(async () => {
  main = await startApiController({
    env: { STREAMFRONT_CONTROLLER_TRUSTED_SIGNER_ACCOUNTS: `${knownSigner},444455556666` },
  });
  client = main.client();
});

after(async () => {
  await main.close();
});

function config(callerReference: string, overrides: Partial<StreamingDistributionConfig> = {}) {
  return {
    CallerReference: callerReference,
    S3Origin: { DomainName: "media.s3.amazonaws.com", OriginAccessIdentity: "" },
    Comment: "errors",
    TrustedSigners: { Enabled: false, Quantity: 0 },
    Enabled: true,
    ...overrides,
  } satisfies StreamingDistributionConfig;
}

const create = (c: StreamingDistributionConfig) =>
  client.send(new CreateStreamingDistributionCommand({ StreamingDistributionConfig: c }));

async function created(
  callerReference: string,
  overrides: Partial<StreamingDistributionConfig> = {},
): Promise<{ id: string; etag: string; config: StreamingDistributionConfig }> {
  const c = config(callerReference, overrides);
  const out = await create(c);
  assert.ok(out.StreamingDistribution?.Id && out.ETag);
  return { id: out.StreamingDistribution.Id, etag: out.ETag, config: c };
}

const unknownId = "E0000000000000";
const arnOf = (id: string, account = testAccountId) =>
  `arn:aws:cloudfront::${account}:streaming-distribution/${id}`;

const configXml =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  '<StreamingDistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">' +
  "<CallerReference>raw 1</CallerReference>" +
  "<S3Origin><DomainName>media.s3.amazonaws.com</DomainName><OriginAccessIdentity></OriginAccessIdentity></S3Origin>" +
  "<Comment>raw</Comment>" +
  "<TrustedSigners><Enabled>false</Enabled><Quantity>0</Quantity></TrustedSigners>" +
  "<Enabled>true</Enabled>" +
  "</StreamingDistributionConfig>";

const postConfig = (body: string, extraHeaders: Record<string, string> = {}) =>
  sendSigV4(main.endpoint, {
    method: "POST",
    path: "/2020-05-31/streaming-distribution",
    headers: { "content-type": "text/xml", ...extraHeaders },
    body,
  });

describe("the public-key error codes, with the AWS SDK", () => {
  const encodedKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
    .publicKey.export({ type: "spki", format: "pem" })
    .toString();
  const keyConfig = (callerReference: string, comment = "") => ({
    CallerReference: callerReference,
    Name: "errors-key",
    EncodedKey: encodedKey,
    Comment: comment,
  });
  const createKey = (c: ReturnType<typeof keyConfig>) =>
    client.send(new CreatePublicKeyCommand({ PublicKeyConfig: c }));

  it("NoSuchPublicKey 404, PublicKeyAlreadyExists 409, CannotChangeImmutablePublicKeyFields 400, TooManyPublicKeys 400", async () => {
    await assertSdkError(
      produced,
      client.send(new GetPublicKeyCommand({ Id: "K0000000000000" })),
      "NoSuchPublicKey",
    );
    const made = await createKey(keyConfig("errors-key-1"));
    assert.ok(made.PublicKey?.Id && made.ETag);
    await assertSdkError(produced, createKey(keyConfig("errors-key-1", "other")), "PublicKeyAlreadyExists");
    await assertSdkError(
      produced,
      client.send(
        new UpdatePublicKeyCommand({
          Id: made.PublicKey.Id,
          IfMatch: made.ETag,
          PublicKeyConfig: { ...keyConfig("errors-key-1"), Name: "renamed" },
        }),
      ),
      "CannotChangeImmutablePublicKeyFields",
    );
    // The default quota is CloudFront's: 10 keys.
    for (let i = 2; i <= 10; i++) await createKey(keyConfig(`errors-key-${i}`));
    await assertSdkError(produced, createKey(keyConfig("errors-key-11")), "TooManyPublicKeys");
  });
});

describe("the streaming-distribution error codes, with the AWS SDK", () => {
  it("NoSuchStreamingDistribution 404: Get, GetConfig, Update and Delete of an unknown Id", async () => {
    await assertSdkError(
      produced,
      client.send(new GetStreamingDistributionConfigCommand({ Id: unknownId })),
      "NoSuchStreamingDistribution",
    );
    await assertSdkError(
      produced,
      client.send(new GetStreamingDistributionCommand({ Id: unknownId })),
      "NoSuchStreamingDistribution",
    );
    await assertSdkError(
      produced,
      client.send(
        new UpdateStreamingDistributionCommand({
          Id: unknownId,
          IfMatch: "E1",
          StreamingDistributionConfig: config("nsd"),
        }),
      ),
      "NoSuchStreamingDistribution",
    );
    await assertSdkError(
      produced,
      client.send(new DeleteStreamingDistributionCommand({ Id: unknownId, IfMatch: "E1" })),
      "NoSuchStreamingDistribution",
    );
  });

  it("InvalidOrigin 400: an origin that is not an S3 bucket endpoint", async () => {
    for (const domainName of [
      "www.example.com",
      "s3.amazonaws.com/media",
      "media.s3-accelerate.amazonaws.com",
    ]) {
      await assertSdkError(
        produced,
        create(config("bad origin", { S3Origin: { DomainName: domainName, OriginAccessIdentity: "" } })),
        "InvalidOrigin",
      );
    }
  });

  it("InvalidOriginAccessIdentity 400", async () => {
    await assertSdkError(
      produced,
      create(
        config("bad oai", {
          S3Origin: {
            DomainName: "media.s3.amazonaws.com",
            OriginAccessIdentity: "origin-access-identity/ec2/E1",
          },
        }),
      ),
      "InvalidOriginAccessIdentity",
    );
  });

  it("InconsistentQuantities 400: Quantity is not the number of Items", async () => {
    await assertSdkError(
      produced,
      create(
        config("bad quantity", { Aliases: { Quantity: 3, Items: ["a.errors.example", "b.errors.example"] } }),
      ),
      "InconsistentQuantities",
    );
  });

  it("TooManyStreamingDistributionCNAMEs 400: 11 CNAMEs (the quota is 10)", async () => {
    const items = Array.from({ length: 11 }, (_, n) => `c${n}.errors.example`);
    await assertSdkError(
      produced,
      create(config("many cnames", { Aliases: { Quantity: items.length, Items: items } })),
      "TooManyStreamingDistributionCNAMEs",
    );
  });

  it("TooManyTrustedSigners 400: 6 signers (the quota is 5)", async () => {
    const items = ["self", ...Array.from({ length: 5 }, (_, n) => `11112222333${n}`)];
    await assertSdkError(
      produced,
      create(
        config("many signers", { TrustedSigners: { Enabled: true, Quantity: items.length, Items: items } }),
      ),
      "TooManyTrustedSigners",
    );
  });

  it("TrustedSignerDoesNotExist 400: an account outside trusted-signer-accounts; a listed one and self are taken", async () => {
    await assertSdkError(
      produced,
      create(
        config("unknown signer", {
          TrustedSigners: { Enabled: true, Quantity: 2, Items: ["self", "999988887777"] },
        }),
      ),
      "TrustedSignerDoesNotExist",
    );
    const ok = await create(
      config("known signer", {
        TrustedSigners: { Enabled: true, Quantity: 2, Items: ["self", knownSigner] },
      }),
    );
    assert.equal(ok.$metadata.httpStatusCode, 201);
  });

  it("InvalidArgument 400: List with MaxItems 0 or a bad Marker, a comment over 128 characters", async () => {
    await assertSdkError(
      produced,
      client.send(new ListStreamingDistributionsCommand({ MaxItems: 0 })),
      "InvalidArgument",
    );
    await assertSdkError(
      produced,
      client.send(new ListStreamingDistributionsCommand({ Marker: "not-an-id" })),
      "InvalidArgument",
    );
    await assertSdkError(
      produced,
      create(config("long comment", { Comment: "x".repeat(129) })),
      "InvalidArgument",
    );
  });

  it("CNAMEAlreadyExists 409: a CNAME another distribution has, on create and on update", async () => {
    await created("cname owner", { Aliases: { Quantity: 1, Items: ["taken.errors.example"] } });
    await assertSdkError(
      produced,
      create(config("cname thief", { Aliases: { Quantity: 1, Items: ["TAKEN.errors.example"] } })),
      "CNAMEAlreadyExists",
    );
    const other = await created("cname thief 2");
    await assertSdkError(
      produced,
      client.send(
        new UpdateStreamingDistributionCommand({
          Id: other.id,
          IfMatch: other.etag,
          StreamingDistributionConfig: {
            ...other.config,
            Aliases: { Quantity: 1, Items: ["taken.errors.example"] },
          },
        }),
      ),
      "CNAMEAlreadyExists",
    );
  });

  it("StreamingDistributionAlreadyExists 409: a CallerReference reused with another config", async () => {
    await created("reused reference");
    await assertSdkError(
      produced,
      create(config("reused reference", { Comment: "something else" })),
      "StreamingDistributionAlreadyExists",
    );
  });

  it("IllegalUpdate 400: changing the origin or the CallerReference", async () => {
    const d = await created("illegal update");
    for (const changed of [
      { ...d.config, S3Origin: { DomainName: "other.s3.amazonaws.com", OriginAccessIdentity: "" } },
      { ...d.config, CallerReference: "another reference" },
    ]) {
      await assertSdkError(
        produced,
        client.send(
          new UpdateStreamingDistributionCommand({
            Id: d.id,
            IfMatch: d.etag,
            StreamingDistributionConfig: changed,
          }),
        ),
        "IllegalUpdate",
      );
    }
  });

  it("InvalidIfMatchVersion 400 and PreconditionFailed 412: no If-Match, a stale one", async () => {
    const d = await created("if match");
    await assertSdkError(
      produced,
      client.send(
        new UpdateStreamingDistributionCommand({ Id: d.id, StreamingDistributionConfig: d.config }),
      ),
      "InvalidIfMatchVersion",
    );
    await assertSdkError(
      produced,
      client.send(new DeleteStreamingDistributionCommand({ Id: d.id })),
      "InvalidIfMatchVersion",
    );
    const updated = await client.send(
      new UpdateStreamingDistributionCommand({
        Id: d.id,
        IfMatch: d.etag,
        StreamingDistributionConfig: { ...d.config, Enabled: false },
      }),
    );
    assert.ok(updated.ETag && updated.ETag !== d.etag);
    // d.etag is stale now.
    await assertSdkError(
      produced,
      client.send(
        new UpdateStreamingDistributionCommand({
          Id: d.id,
          IfMatch: d.etag,
          StreamingDistributionConfig: d.config,
        }),
      ),
      "PreconditionFailed",
    );
    await assertSdkError(
      produced,
      client.send(new DeleteStreamingDistributionCommand({ Id: d.id, IfMatch: d.etag })),
      "PreconditionFailed",
    );
    const deleted = await client.send(
      new DeleteStreamingDistributionCommand({ Id: d.id, IfMatch: updated.ETag }),
    );
    assert.equal(deleted.$metadata.httpStatusCode, 204);
  });

  it("StreamingDistributionNotDisabled 409: deleting an enabled distribution with the right ETag", async () => {
    const d = await created("still enabled");
    await assertSdkError(
      produced,
      client.send(new DeleteStreamingDistributionCommand({ Id: d.id, IfMatch: d.etag })),
      "StreamingDistributionNotDisabled",
    );
    const still = await client.send(new GetStreamingDistributionCommand({ Id: d.id }));
    assert.equal(still.ETag, d.etag);
  });

  it("NoSuchResource 404: tagging an ARN of this account that names no streaming distribution", async () => {
    await assertSdkError(
      produced,
      client.send(new ListTagsForResourceCommand({ Resource: arnOf(unknownId) })),
      "NoSuchResource",
    );
    await assertSdkError(
      produced,
      client.send(
        new TagResourceCommand({ Resource: arnOf(unknownId), Tags: { Items: [{ Key: "a", Value: "b" }] } }),
      ),
      "NoSuchResource",
    );
    await assertSdkError(
      produced,
      client.send(new UntagResourceCommand({ Resource: arnOf(unknownId), TagKeys: { Items: ["a"] } })),
      "NoSuchResource",
    );
    // A web distribution's ARN: not a streaming distribution.
    await assertSdkError(
      produced,
      client.send(
        new ListTagsForResourceCommand({ Resource: `arn:aws:cloudfront::${testAccountId}:distribution/E1` }),
      ),
      "NoSuchResource",
    );
  });

  it("AccessDenied 403: tagging another account's ARN, even with an Id that exists here", async () => {
    const d = await created("cross account");
    const foreign = arnOf(d.id, "999999999999");
    await assertSdkError(
      produced,
      client.send(new ListTagsForResourceCommand({ Resource: foreign })),
      "AccessDenied",
    );
    await assertSdkError(
      produced,
      client.send(new TagResourceCommand({ Resource: foreign, Tags: { Items: [{ Key: "a", Value: "b" }] } })),
      "AccessDenied",
    );
    await assertSdkError(
      produced,
      client.send(new UntagResourceCommand({ Resource: foreign, TagKeys: { Items: ["a"] } })),
      "AccessDenied",
    );
    const tags = await client.send(new ListTagsForResourceCommand({ Resource: arnOf(d.id) }));
    assert.deepEqual(tags.Tags?.Items ?? [], [], "nothing was tagged");
  });

  it("InvalidTagging 400: a reserved key, a forbidden character, a value over 256 characters", async () => {
    const d = await created("bad tags");
    for (const tag of [
      { Key: "aws:owner", Value: "x" },
      { Key: "bad#key", Value: "x" },
      { Key: "long", Value: "v".repeat(257) },
    ]) {
      await assertSdkError(
        produced,
        client.send(new TagResourceCommand({ Resource: arnOf(d.id), Tags: { Items: [tag] } })),
        "InvalidTagging",
      );
    }
    await assertSdkError(
      produced,
      client.send(new UntagResourceCommand({ Resource: arnOf(d.id), TagKeys: { Items: [""] } })),
      "InvalidTagging",
    );
  });

  it("TooManyStreamingDistributions 400: past max-distributions", async () => {
    const small = await startApiController({ env: { STREAMFRONT_CONTROLLER_MAX_DISTRIBUTIONS: "2" } });
    try {
      const c = small.client();
      for (const ref of ["quota 1", "quota 2"]) {
        await c.send(new CreateStreamingDistributionCommand({ StreamingDistributionConfig: config(ref) }));
      }
      await assertSdkError(
        produced,
        c.send(new CreateStreamingDistributionCommand({ StreamingDistributionConfig: config("quota 3") })),
        "TooManyStreamingDistributions",
      );
    } finally {
      await small.close();
    }
  });
});

describe("the request-level error codes, with the AWS SDK", () => {
  it("NotImplemented 501: web distributions (ListDistributions) are not served", async () => {
    await assertSdkError(produced, client.send(new ListDistributionsCommand({})), "NotImplemented");
  });

  it("InvalidClientTokenId 403: an access key the controller does not know", async () => {
    const stranger = main.client({
      accessKeyId: "AKIAUNKNOWNKEY000000",
      secretAccessKey: testKey.secretAccessKey,
    });
    await assertSdkError(
      produced,
      stranger.send(new ListStreamingDistributionsCommand({})),
      "InvalidClientTokenId",
    );
  });

  it("SignatureDoesNotMatch 403: the right key with the wrong secret", async () => {
    const wrong = main.client({ accessKeyId: testKey.accessKeyId, secretAccessKey: "not-the-secret-at-all" });
    await assertSdkError(
      produced,
      wrong.send(new ListStreamingDistributionsCommand({})),
      "SignatureDoesNotMatch",
    );
  });

  it("EntityTooLarge 413: a body over max-body-bytes", async () => {
    await assertSdkError(produced, create(config("huge", { Comment: "x".repeat(70_000) })), "EntityTooLarge");
  });

  it("InternalError 500: an unexpected failure, answered without its cause", async () => {
    const store = new ListFailsStore();
    const faulty = await startApiController({ store });
    try {
      const error = await assertSdkError(
        produced,
        faulty.client().send(new ListStreamingDistributionsCommand({})),
        "InternalError",
      );
      assert.ok(!error.message?.includes("injected"), "the cause is not shown to the client");
      // The rest of the API is unaffected.
      const out = await faulty
        .client()
        .send(new CreateStreamingDistributionCommand({ StreamingDistributionConfig: config("ok") }));
      assert.equal(out.$metadata.httpStatusCode, 201);
    } finally {
      await faulty.close();
    }
  });

  it("ServiceUnavailable 503: the store (Redis) cannot be reached", async () => {
    const port = await closedPort();
    const store = new RedisStore({
      connection: parseRedisUrl(`redis://127.0.0.1:${port}`),
      connectWaitMs: 200,
      connectTimeoutMs: 200,
      commandTimeoutMs: 200,
      logger: silentLogger("redis-store"),
    });
    const down = await startApiController({ store });
    try {
      const error = await assertSdkError(
        produced,
        down.client().send(new GetStreamingDistributionCommand({ Id: unknownId })),
        "ServiceUnavailable",
      );
      assert.ok(!error.message?.includes(String(port)), "the store's address is not shown to the client");
    } finally {
      await down.close();
    }
  });

  it("Throttling 400 with Retry-After: more requests at once than maxConcurrentRequests", async () => {
    // ControllerServer has no setting for the bound; this is its ApiServer
    // class on the controller's own StreamingApi, allowing one request at once.
    const server = new ApiServer({
      api: main.server.api,
      authenticator: new RequestAuthenticator({ keys: AccessKeys.of([testKey]) }),
      logger: silentLogger("api"),
      limits: {},
      maxConcurrentRequests: 1,
    });
    const address = await server.listen(0, "127.0.0.1");
    const endpoint = `http://127.0.0.1:${address.port}`;
    const throttled = sdkClient(endpoint);
    // One signed request whose body never finishes occupies the only slot
    // (an unsigned one is refused from its headers and takes none).
    const held = await holdSignedBody(endpoint);
    try {
      let refusal: unknown;
      await until(async () => {
        try {
          await throttled.send(new ListStreamingDistributionsCommand({}));
          return false;
        } catch (error) {
          refusal = error;
          return true;
        }
      }, "the held request to take the only slot");
      await assertSdkError(produced, Promise.reject(refusal), "Throttling");
      const raw = await sendSigV4(endpoint, { method: "GET", path: "/2020-05-31/streaming-distribution" });
      assertRawError(produced, raw, "Throttling");
      assert.equal(raw.headers["retry-after"], "1");
      // Once the slot is free the same request is served.
      held.destroy();
      await until(async () => {
        try {
          await throttled.send(new ListStreamingDistributionsCommand({}));
          return true;
        } catch {
          return false;
        }
      }, "the slot to free up");
    } finally {
      held.destroy();
      throttled.destroy();
      await server.close();
    }
  });
});

describe("a client that goes away", () => {
  it("in the middle of its body is counted as MissingBody (a client fault), not InternalError", async () => {
    const seen: { operation: string; code: string; status: number }[] = [];
    const server = new ApiServer({
      api: main.server.api,
      authenticator: new RequestAuthenticator({ keys: AccessKeys.of([testKey]) }),
      logger: silentLogger("api"),
      limits: {},
      // One at a time: a Throttling answer to a probe shows the request below is being read.
      maxConcurrentRequests: 1,
      observer: {
        request: (operation, code, status) => seen.push({ operation, code, status }),
        connection() {},
      },
    });
    const address = await server.listen(0, "127.0.0.1");
    const endpoint = `http://127.0.0.1:${address.port}`;
    const gone = await holdSignedBody(endpoint);
    try {
      await until(
        async () =>
          (await sendSigV4(endpoint, { method: "GET", path: "/2020-05-31/streaming-distribution" }))
            .status === 400,
        "the server to be reading the body",
      );
      gone.destroy();
      const create = () => seen.filter((s) => s.operation === "CreateStreamingDistribution");
      await until(async () => create().length > 0, "the server to give up on the request");
      assert.deepEqual(create(), [
        { operation: "CreateStreamingDistribution", code: "MissingBody", status: 400 },
      ]);
    } finally {
      gone.destroy();
      await server.close();
    }
  });
});

describe("a client that is slow", () => {
  it("RequestTimeout 400: a signed body that does not arrive within the body timeout, then the connection closes", async () => {
    const server = new ApiServer({
      api: main.server.api,
      authenticator: new RequestAuthenticator({ keys: AccessKeys.of([testKey]) }),
      logger: silentLogger("api"),
      limits: {},
      bodyTimeoutMs: 1_000,
    });
    const address = await server.listen(0, "127.0.0.1");
    const endpoint = `http://127.0.0.1:${address.port}`;
    const started = performance.now();
    const held = await holdSignedBody(endpoint);
    try {
      const response = await new Promise<RawResponse>((resolve, reject) => {
        held.on("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
        });
        held.on("error", reject);
      });
      const elapsed = performance.now() - started;
      assertRawError(produced, response, "RequestTimeout");
      assert.equal(response.headers.connection, "close");
      // Not before the timeout; the upper bound only guards against "never".
      assert.ok(elapsed >= 1_000 - 50, `answered after ${elapsed} ms`);
      assert.ok(elapsed < 30_000, `answered after ${elapsed} ms`);
    } finally {
      held.destroy();
      await server.close();
    }
  });
});

describe("the error codes the SDK cannot send: raw signed requests", () => {
  it("MissingBody 400: Create, Update and Tag without a body", async () => {
    assertRawError(produced, await postConfig(""), "MissingBody");
    const d = await created("missing body");
    assertRawError(
      produced,
      await sendSigV4(main.endpoint, {
        method: "PUT",
        path: `/2020-05-31/streaming-distribution/${d.id}/config`,
        headers: { "if-match": d.etag },
      }),
      "MissingBody",
    );
    assertRawError(
      produced,
      await sendSigV4(main.endpoint, {
        method: "POST",
        path: "/2020-05-31/tagging",
        query: { Operation: "Tag", Resource: arnOf(d.id) },
      }),
      "MissingBody",
    );
  });

  it("MalformedXML 400: a body that is not well-formed XML, or declares a DOCTYPE", async () => {
    assertRawError(
      produced,
      await postConfig("<StreamingDistributionConfig><Comment>unclosed"),
      "MalformedXML",
    );
    assertRawError(
      produced,
      await postConfig(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><StreamingDistributionConfig/>',
      ),
      "MalformedXML",
    );
  });

  it("MalformedInput 400: well-formed XML that breaks the schema (an unknown or a repeated element)", async () => {
    assertRawError(
      produced,
      await postConfig(configXml.replace("<Comment>raw</Comment>", "<Comment>raw</Comment><Bogus/>")),
      "MalformedInput",
    );
    assertRawError(
      produced,
      await postConfig(
        configXml.replace("<Comment>raw</Comment>", "<Comment>a</Comment><Comment>b</Comment>"),
      ),
      "MalformedInput",
    );
    // The well-formed original is accepted.
    assert.equal((await postConfig(configXml)).status, 201);
  });

  it("InappropriateXML 400: a well-formed document of the wrong kind for the operation", async () => {
    assertRawError(
      produced,
      await postConfig('<Tags xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Items/></Tags>'),
      "InappropriateXML",
    );
  });

  it("InvalidURI 400: an unknown resource, an unserved API version, a bad %-escape", async () => {
    assertRawError(
      produced,
      await sendSigV4(main.endpoint, { method: "GET", path: "/2020-05-31/streaming-thing" }),
      "InvalidURI",
    );
    assertRawError(
      produced,
      await sendSigV4(main.endpoint, { method: "GET", path: "/2010-11-01/streaming-distribution" }),
      "InvalidURI",
    );
    assertRawError(
      produced,
      await sendRaw(main.endpoint, {
        method: "GET",
        target: "/2020-05-31/streaming-distribution?Marker=%zz",
      }),
      "InvalidURI",
    );
  });

  it("MethodNotAllowed 405: a method the resource does not take", async () => {
    assertRawError(
      produced,
      await sendSigV4(main.endpoint, {
        method: "PATCH",
        path: `/2020-05-31/streaming-distribution/${unknownId}`,
      }),
      "MethodNotAllowed",
    );
    assertRawError(
      produced,
      await sendSigV4(main.endpoint, { method: "DELETE", path: "/2020-05-31/streaming-distribution" }),
      "MethodNotAllowed",
    );
  });

  it("InvalidAction 400: tagging in API 2009-12-01, which had none", async () => {
    const d = await created("2009 tagging");
    const resource = encodeURIComponent(arnOf(d.id));
    assertRawError(
      produced,
      await sendLegacy(main.endpoint, { method: "GET", target: `/2009-12-01/tagging?Resource=${resource}` }),
      "InvalidAction",
      "2009-12-01",
    );
    assertRawError(
      produced,
      await sendLegacy(main.endpoint, {
        method: "POST",
        target: `/2009-12-01/tagging?Operation=Tag&Resource=${resource}`,
        body: "<Tags><Items><Tag><Key>a</Key><Value>b</Value></Tag></Items></Tags>",
      }),
      "InvalidAction",
      "2009-12-01",
    );
    // Even an ARN of another account or of nothing: the operation does not exist in this version.
    assertRawError(
      produced,
      await sendLegacy(main.endpoint, {
        method: "GET",
        target: `/2009-12-01/tagging?Resource=${encodeURIComponent(arnOf(unknownId, "999999999999"))}`,
      }),
      "InvalidAction",
      "2009-12-01",
    );
  });

  it("MissingAuthenticationToken 403: no Authorization header", async () => {
    assertRawError(
      produced,
      await sendRaw(main.endpoint, { method: "GET", target: "/2020-05-31/streaming-distribution" }),
      "MissingAuthenticationToken",
    );
  });

  it("IncompleteSignature 400: a malformed Authorization header; the legacy scheme on a SigV4-only version", async () => {
    assertRawError(
      produced,
      await sendRaw(main.endpoint, {
        method: "GET",
        target: "/2020-05-31/streaming-distribution",
        headers: { authorization: "AWS4-HMAC-SHA256 Credential=garbage", "x-amz-date": "20260101T000000Z" },
      }),
      "IncompleteSignature",
    );
    assertRawError(
      produced,
      await sendLegacy(main.endpoint, { method: "GET", target: "/2020-05-31/streaming-distribution" }),
      "IncompleteSignature",
    );
  });

  it("SignatureDoesNotMatch 403 (not RequestExpired): a signature 20 minutes old; a legacy signature with the wrong secret", async () => {
    assertRawError(
      produced,
      await sendSigV4(main.endpoint, {
        method: "GET",
        path: "/2020-05-31/streaming-distribution",
        signingDate: new Date(Date.now() - 20 * 60_000),
      }),
      "SignatureDoesNotMatch",
    );
    assertRawError(
      produced,
      await sendLegacy(main.endpoint, {
        method: "GET",
        target: "/2009-12-01/streaming-distribution",
        credentials: { accessKeyId: testKey.accessKeyId, secretAccessKey: "not-the-secret-at-all" },
      }),
      "SignatureDoesNotMatch",
      "2009-12-01",
    );
  });

  it("EntityTooLarge 413: a declared length over the bound is refused before the body is read", async () => {
    assertRawError(
      produced,
      await sendRaw(main.endpoint, {
        method: "POST",
        target: "/2020-05-31/streaming-distribution",
        headers: { "content-type": "text/xml", "content-length": String(10 * 1024 * 1024) },
        body: "<StreamingDistributionConfig>",
        partialBody: true,
      }),
      "EntityTooLarge",
    );
  });
});

/**
 * The CloudFront API reference's error table: each code with its HTTP status, or undefined
 * where the table gives none (InvalidURI; the last row's "?").
 */
const referenceTable: Readonly<Record<string, number | undefined>> = {
  AccessDenied: 403,
  CNAMEAlreadyExists: 409,
  StreamingDistributionAlreadyExists: 409,
  StreamingDistributionNotDisabled: 409,
  IllegalUpdate: 400,
  InconsistentQuantities: 400,
  InvalidArgument: 400,
  InvalidIfMatchVersion: 400,
  PreconditionFailed: 412,
  InvalidOrigin: 400,
  InvalidOriginAccessIdentity: 400,
  MissingBody: 400,
  NoSuchStreamingDistribution: 404,
  NoSuchResource: 404,
  InvalidTagging: 400,
  TooManyStreamingDistributions: 400,
  TooManyStreamingDistributionCNAMEs: 400,
  TooManyTrustedSigners: 400,
  TrustedSignerDoesNotExist: 400,
  // The generic row (fog mock of 2010-11-01, RESTResponses.html).
  InappropriateXML: 400,
  InternalError: 500,
  InvalidAction: 400,
  NotImplemented: 501,
  InvalidURI: undefined,
  // The last row: "not confirmed"; it suggests MalformedXML 400 and 403 for a signature mismatch.
  MalformedXML: 400,
  MalformedInput: undefined,
  SignatureDoesNotMatch: 403,
  RequestExpired: undefined,
  Throttling: undefined,
};

/**
 * Codes in apiErrorStatus that no request can produce, each with the reason.
 * Nothing else may be missing from what the tests above produced.
 */
const cannotArise: Readonly<Partial<Record<ApiErrorCode, string>>> = {
  // The authenticator answers a date outside the 15-minute window with
  // SignatureDoesNotMatch ("Signature expired"), as AWS's global services do
  // (see auth/auth-error.ts, authFailureOutcomes); nothing raises
  // RequestExpired. The SignatureDoesNotMatch test above sends such a request.
  RequestExpired: "expired signatures are answered SignatureDoesNotMatch",
};

describe("coverage of the error codes", () => {
  it("every code of the reference table is one we answer, with the table's status", () => {
    for (const [code, status] of Object.entries(referenceTable)) {
      assert.ok(Object.hasOwn(apiErrorStatus, code), `${code} is not in apiErrorStatus`);
      if (status !== undefined) assert.equal(apiErrorStatus[code as ApiErrorCode], status, code);
    }
  });

  it("the tests above produced every code of apiErrorStatus but the ones that cannot arise, each with its status", () => {
    const missing = apiErrorCodes.filter((code) => !produced.has(code) && cannotArise[code] === undefined);
    assert.deepEqual(missing, [], `codes no test produced: ${missing.join(", ")}`);
    for (const [code, statuses] of produced) {
      assert.ok(Object.hasOwn(apiErrorStatus, code), `${code} is not in apiErrorStatus`);
      assert.deepEqual([...statuses], [apiErrorStatus[code as ApiErrorCode]], code);
    }
    for (const code of Object.keys(cannotArise)) {
      assert.ok(Object.hasOwn(apiErrorStatus, code), `${code} is not in apiErrorStatus`);
      assert.ok(!produced.has(code), `${code} was produced after all: take it off cannotArise`);
    }
    for (const code of Object.keys(referenceTable)) {
      assert.ok(
        produced.has(code) || Object.hasOwn(cannotArise, code),
        `reference code ${code} not produced`,
      );
    }
  });
});

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return address.port;
}

/**
 * Fault injection: the MemoryStore, except that list() fails with a plain
 * Error, as a bug or an unforeseen failure would. Neither real store can be
 * made to do that on demand (their own failures are ControllerErrors with a
 * mapped code), so this is the one fake in this file.
 */
class ListFailsStore implements DistributionStore {
  readonly #inner = new MemoryStore();

  list(): Promise<readonly Distribution[]> {
    return Promise.reject(new Error("injected fault: the index is corrupt"));
  }
  create(distribution: Distribution, options?: CreateOptions): Promise<Distribution> {
    return this.#inner.create(distribution, options);
  }
  get(id: string): Promise<Distribution | undefined> {
    return this.#inner.get(id);
  }
  getByCallerReference(callerReference: string): Promise<Distribution | undefined> {
    return this.#inner.getByCallerReference(callerReference);
  }
  update(id: string, patch: DistributionPatch, options?: UpdateOptions): Promise<Distribution> {
    return this.#inner.update(id, patch, options);
  }
  delete(id: string, options?: DeleteOptions): Promise<void> {
    return this.#inner.delete(id, options);
  }
  changeTags(id: string, change: TagChange, maxTags: number): Promise<Distribution> {
    return this.#inner.changeTags(id, change, maxTags);
  }
  version(): Promise<number> {
    return this.#inner.version();
  }
  snapshot(): Promise<ConfigSnapshot> {
    return this.#inner.snapshot();
  }
  changesSince(version: number): Promise<DistributionChange | undefined> {
    return this.#inner.changesSince(version);
  }
  subscribe(listener: ChangeListener): () => void {
    return this.#inner.subscribe(listener);
  }
  heartbeat(nodeId: string, role: WatcherRole, appliedVersion: number, ttlMs: number): Promise<void> {
    return this.#inner.heartbeat(nodeId, role, appliedVersion, ttlMs);
  }
  dropWatcher(nodeId: string): Promise<void> {
    return this.#inner.dropWatcher(nodeId);
  }
  liveWatchers(): Promise<readonly WatcherState[]> {
    return this.#inner.liveWatchers();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * A signed Create (SDK-style, x-amz-content-sha256 signed) whose body is
 * sent only in part and never finished: authenticated from its headers, it
 * holds a request slot while the server waits for the rest.
 */
async function holdSignedBody(endpoint: string): Promise<ClientRequest> {
  const body = `<StreamingDistributionConfig>${" ".repeat(1000)}`;
  const signed = await signSigV4(endpoint, {
    method: "POST",
    path: "/2020-05-31/streaming-distribution",
    headers: { "content-type": "text/xml", "content-length": String(body.length) },
    body,
  });
  const url = new URL(endpoint);
  const held = request({
    host: url.hostname,
    port: url.port,
    method: "POST",
    path: signed.target,
    headers: signed.headers,
    agent: false,
  });
  held.on("error", () => {});
  held.write(body.slice(0, 40));
  return held;
}
