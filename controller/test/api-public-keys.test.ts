/**
 * The public-key calls end to end: a real ControllerServer on loopback
 * (embedded store), driven by the official @aws-sdk/client-cloudfront —
 * create, get, get config, list with paging, update of the comment, the
 * refusals CloudFront answers (immutable fields, If-Match, CallerReference,
 * invalid keys), delete — while a lib/config-watcher.ts ConfigWatcher
 * playing the edge sees the keys arrive, change and go, under account-id.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  type CloudFrontClient,
  CreatePublicKeyCommand,
  DeletePublicKeyCommand,
  GetPublicKeyCommand,
  GetPublicKeyConfigCommand,
  ListPublicKeysCommand,
  type PublicKeyConfig,
  UpdatePublicKeyCommand,
} from "@aws-sdk/client-cloudfront";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTls } from "../../lib/testing/tls.js";
import {
  type ApiController,
  assertSdkError,
  type ProducedCodes,
  sendSigV4,
  startApiController,
  testAccountId,
  until,
} from "./api-e2e-support.js";
import { silentLogger } from "./helpers.js";

const pem = (bits: number) =>
  generateKeyPairSync("rsa", { modulusLength: bits })
    .publicKey.export({ type: "spki", format: "pem" })
    .toString();
const keyA = pem(2048);
const keyB = pem(2048);
const produced: ProducedCodes = new Map();

let controller: ApiController;
let client: CloudFrontClient;
let edge: ConfigWatcher;

before(async () => {
  controller = await startApiController({ env: { STREAMFRONT_CONTROLLER_MAX_PUBLIC_KEYS: "4" } });
  client = controller.client();
  edge = new ConfigWatcher({
    tls: testTls(PeerRole.Edge),
    address: controller.server.address,
    nodeId: "edge-keys-1",
    role: "edge",
    logger: silentLogger("edge"),
  });
  edge.start();
  await until(async () => edge.isSynced(), "the edge to sync");
});

after(async () => {
  edge.stop();
  await controller.close();
});

const config = (callerReference: string, overrides: Partial<PublicKeyConfig> = {}): PublicKeyConfig => ({
  CallerReference: callerReference,
  Name: "key-a",
  EncodedKey: keyA,
  Comment: "first",
  ...overrides,
});
const create = (c: PublicKeyConfig) => client.send(new CreatePublicKeyCommand({ PublicKeyConfig: c }));

describe("the public-key lifecycle with the official SDK", () => {
  let id = "";
  let etag = "";

  it("creates a key: 201, Location, ETag, the config echoed, an id like CloudFront's", async () => {
    const out = await create(config("life-1"));
    assert.equal(out.$metadata.httpStatusCode, 201);
    const key = out.PublicKey;
    assert.ok(key?.Id && out.ETag);
    assert.match(key.Id, /^K[A-Z0-9]{13}$/);
    assert.equal(out.Location, `${controller.endpoint}/2020-05-31/public-key/${key.Id}`);
    assert.ok(key.CreatedTime instanceof Date && Math.abs(key.CreatedTime.getTime() - Date.now()) < 60_000);
    assert.deepEqual(key.PublicKeyConfig, config("life-1"));
    id = key.Id;
    etag = out.ETag;
  });

  it("the edge receives the key under this installation's account", async () => {
    await until(async () => edge.publicKeys().has(id), "the key to reach the edge");
    assert.deepEqual({ ...edge.publicKeys().get(id) }, { id, accountId: testAccountId, encodedKey: keyA });
  });

  it("gets the key and its config with the same ETag", async () => {
    const got = await client.send(new GetPublicKeyCommand({ Id: id }));
    assert.equal(got.ETag, etag);
    assert.equal(got.PublicKey?.Id, id);
    assert.deepEqual(got.PublicKey?.PublicKeyConfig, config("life-1"));
    const cfg = await client.send(new GetPublicKeyConfigCommand({ Id: id }));
    assert.equal(cfg.ETag, etag);
    assert.deepEqual(cfg.PublicKeyConfig, config("life-1"));
  });

  it("the same CallerReference and config answers the original key; another config PublicKeyAlreadyExists", async () => {
    const again = await create(config("life-1"));
    assert.equal(again.PublicKey?.Id, id);
    assert.equal(again.ETag, etag);
    await assertSdkError(produced, create(config("life-1", { Comment: "other" })), "PublicKeyAlreadyExists");
    await assertSdkError(produced, create(config("life-1", { EncodedKey: keyB })), "PublicKeyAlreadyExists");
  });

  it("lists with paging: MaxItems, NextMarker, Quantity, summaries", async () => {
    await create(config("life-2", { Name: "key-b", EncodedKey: keyB, Comment: undefined }));
    await create(config("life-3", { Name: "key-c" }));
    const seen: string[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 5; page++) {
      const out = await client.send(
        new ListPublicKeysCommand({ MaxItems: 2, ...(marker ? { Marker: marker } : {}) }),
      );
      const list = out.PublicKeyList;
      assert.ok(list);
      assert.equal(list.MaxItems, 2);
      assert.equal(list.Quantity, list.Items?.length ?? 0);
      for (const s of list.Items ?? []) {
        assert.ok(s.Id && s.Name && s.EncodedKey && s.CreatedTime instanceof Date);
        seen.push(s.Id);
      }
      marker = list.NextMarker;
      if (!marker) break;
    }
    assert.equal(seen.length, 3);
    assert.deepEqual(seen, [...seen].sort());
    assert.ok(seen.includes(id));
    const all = await client.send(new ListPublicKeysCommand({}));
    assert.equal(all.PublicKeyList?.Quantity, 3);
    assert.equal(all.PublicKeyList?.NextMarker, undefined);
  });

  it("updates the comment with If-Match: a new ETag, and the edge's copy stays", async () => {
    const out = await client.send(
      new UpdatePublicKeyCommand({
        Id: id,
        IfMatch: etag,
        PublicKeyConfig: config("life-1", { Comment: "second" }),
      }),
    );
    assert.ok(out.ETag && out.ETag !== etag);
    assert.equal(out.PublicKey?.PublicKeyConfig?.Comment, "second");
    const cfg = await client.send(new GetPublicKeyConfigCommand({ Id: id }));
    assert.equal(cfg.ETag, out.ETag);
    assert.equal(cfg.PublicKeyConfig?.Comment, "second");
    etag = out.ETag;
    const version = await controller.server.store.version();
    await until(async () => edge.version >= version, "the edge to apply the update");
    assert.equal(edge.publicKeys().get(id)?.encodedKey, keyA);
  });

  it("refuses to change EncodedKey or Name (CannotChangeImmutablePublicKeyFields), and a stale If-Match", async () => {
    const update = (c: PublicKeyConfig, ifMatch?: string) =>
      client.send(
        new UpdatePublicKeyCommand({ Id: id, PublicKeyConfig: c, ...(ifMatch ? { IfMatch: ifMatch } : {}) }),
      );
    await assertSdkError(
      produced,
      update(config("life-1", { EncodedKey: keyB }), etag),
      "CannotChangeImmutablePublicKeyFields",
    );
    await assertSdkError(
      produced,
      update(config("life-1", { Name: "renamed" }), etag),
      "CannotChangeImmutablePublicKeyFields",
    );
    await assertSdkError(
      produced,
      update(config("life-1", { Comment: "x" }), "E0000000000000"),
      "PreconditionFailed",
    );
    await assertSdkError(produced, update(config("life-1", { Comment: "x" })), "InvalidIfMatchVersion");
  });

  it("refuses invalid keys and names with InvalidArgument", async () => {
    const small = pem(1024);
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
      .publicKey.export({ type: "spki", format: "pem" })
      .toString();
    for (const [EncodedKey, why] of [
      [small, /1024-bit RSA key/],
      [ec, /not RSA/],
      ["not a key", /not a PEM public key/],
      ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", /does not parse/],
    ] as const) {
      const e = await assertSdkError(
        produced,
        create(config(`bad-${String(why)}`, { EncodedKey })),
        "InvalidArgument",
      );
      assert.match(e.message ?? "", why);
    }
    const e = await assertSdkError(
      produced,
      create(config("bad-name", { Name: "has space" })),
      "InvalidArgument",
    );
    assert.match(e.message ?? "", /Name/);
  });

  it("answers TooManyPublicKeys past max-public-keys", async () => {
    await create(config("life-4", { Name: "key-d" }));
    await assertSdkError(produced, create(config("life-5", { Name: "key-e" })), "TooManyPublicKeys");
  });

  it("deletes only with the current ETag; then NoSuchPublicKey, and the edge drops the key", async () => {
    const del = (ifMatch?: string) =>
      client.send(new DeletePublicKeyCommand({ Id: id, ...(ifMatch ? { IfMatch: ifMatch } : {}) }));
    await assertSdkError(produced, del("E0000000000000"), "PreconditionFailed");
    await assertSdkError(produced, del(), "InvalidIfMatchVersion");
    const out = await del(etag);
    assert.equal(out.$metadata.httpStatusCode, 204);
    await assertSdkError(produced, client.send(new GetPublicKeyCommand({ Id: id })), "NoSuchPublicKey");
    await assertSdkError(produced, client.send(new GetPublicKeyConfigCommand({ Id: id })), "NoSuchPublicKey");
    await assertSdkError(produced, del(etag), "NoSuchPublicKey");
    await until(async () => !edge.publicKeys().has(id), "the edge to drop the key");
    // A new create with the old CallerReference makes a new key.
    const fresh = await create(config("life-1"));
    assert.notEqual(fresh.PublicKey?.Id, id);
  });

  it("a watcher that resumes gets the key changes it missed (changesSince), in order", async () => {
    const second = new ConfigWatcher({
      tls: testTls(PeerRole.Edge),
      address: controller.server.address,
      nodeId: "edge-keys-2",
      role: "edge",
      logger: silentLogger("edge"),
    });
    second.start();
    await until(async () => second.isSynced(), "the second edge to sync");
    const before = new Set(second.publicKeys().keys());
    second.stop();
    const all = await client.send(new ListPublicKeysCommand({}));
    const victim = all.PublicKeyList?.Items?.[0]?.Id ?? "";
    const got = await client.send(new GetPublicKeyCommand({ Id: victim }));
    await client.send(new DeletePublicKeyCommand({ Id: victim, IfMatch: got.ETag }));
    const made = await create(config("resume-1", { Name: "key-resume" }));
    const madeId = made.PublicKey?.Id ?? "";
    assert.ok(before.has(victim) && !before.has(madeId));
    second.start();
    await until(
      async () => second.publicKeys().has(madeId) && !second.publicKeys().has(victim),
      "the resumed edge to get the missed changes",
    );
    second.stop();
  });

  it("is served in API 2020-05-31 only; a body is required", async () => {
    const old = await sendSigV4(controller.endpoint, { method: "GET", path: "/2019-03-26/public-key" });
    assert.equal(old.status, 400);
    assert.match(old.body, /<Code>InvalidAction<\/Code>/);
    const empty = await sendSigV4(controller.endpoint, {
      method: "POST",
      path: "/2020-05-31/public-key",
      body: "",
    });
    assert.equal(empty.status, 400);
    assert.match(empty.body, /<Code>MissingBody<\/Code>/);
  });
});
