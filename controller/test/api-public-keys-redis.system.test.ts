/**
 * Public keys with Redis: two controller replicas on one real redis-server,
 * the official SDK creating, updating and deleting keys through one, and a
 * ConfigWatcher on the other seeing each change in order with a
 * distribution change, under this installation's account.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, it } from "node:test";
import {
  CreatePublicKeyCommand,
  CreateStreamingDistributionCommand,
  DeletePublicKeyCommand,
  GetPublicKeyCommand,
  UpdatePublicKeyCommand,
} from "@aws-sdk/client-cloudfront";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { RedisServer } from "../../lib/testing/redis-server.js";
import { testTls } from "../../lib/testing/tls.js";
import { parseRedisUrl } from "../src/store/redis-connection.js";
import { RedisStore } from "../src/store/redis-store.js";
import { type ApiController, startApiController, testAccountId, until } from "./api-e2e-support.js";
import { silentLogger } from "./helpers.js";

const encodedKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .publicKey.export({ type: "spki", format: "pem" })
  .toString();

let redis: RedisServer;
let a: ApiController;
let b: ApiController;
let edge: ConfigWatcher;

before(async () => {
  redis = await RedisServer.start();
  const store = () =>
    new RedisStore({ connection: parseRedisUrl(redis.url), prefix: "keys:", logger: silentLogger("redis") });
  a = await startApiController({ store: store() });
  b = await startApiController({ store: store() });
  edge = new ConfigWatcher({
    tls: testTls(PeerRole.Edge),
    address: b.server.address,
    nodeId: "edge-redis-keys",
    role: "edge",
    logger: silentLogger("edge"),
  });
  edge.start();
  await until(async () => edge.isSynced(), "the edge to sync");
});

after(async () => {
  edge.stop();
  await a.close();
  await b.close();
  await redis.dispose();
});

it("a key made through one replica reaches an edge of the other, changes, and goes", async () => {
  const client = a.client();
  const created = await client.send(
    new CreatePublicKeyCommand({
      PublicKeyConfig: {
        CallerReference: "redis-1",
        Name: "redis-key",
        EncodedKey: encodedKey,
        Comment: "one",
      },
    }),
  );
  const id = created.PublicKey?.Id ?? "";
  assert.match(id, /^K[A-Z0-9]{13}$/);
  await until(async () => edge.publicKeys().has(id), "the key to reach the edge through the other replica");
  assert.equal(edge.publicKeys().get(id)?.accountId, testAccountId);

  // The same CallerReference through the other replica answers the original.
  const again = await b.client().send(
    new CreatePublicKeyCommand({
      PublicKeyConfig: {
        CallerReference: "redis-1",
        Name: "redis-key",
        EncodedKey: encodedKey,
        Comment: "one",
      },
    }),
  );
  assert.equal(again.PublicKey?.Id, id);

  const dist = await client.send(
    new CreateStreamingDistributionCommand({
      StreamingDistributionConfig: {
        CallerReference: "redis-dist-1",
        S3Origin: { DomainName: "media.s3.amazonaws.com", OriginAccessIdentity: "" },
        Comment: "",
        TrustedSigners: { Enabled: true, Quantity: 1, Items: ["self"] },
        Enabled: true,
      },
    }),
  );
  const updated = await b.client().send(
    new UpdatePublicKeyCommand({
      Id: id,
      IfMatch: created.ETag,
      PublicKeyConfig: {
        CallerReference: "redis-1",
        Name: "redis-key",
        EncodedKey: encodedKey,
        Comment: "two",
      },
    }),
  );
  assert.equal(updated.PublicKey?.PublicKeyConfig?.Comment, "two");
  const version = await b.server.store.version();
  await until(async () => edge.version >= version, "the edge to apply the update");
  assert.ok(edge.current().has(dist.StreamingDistribution?.Id ?? ""));

  await client.send(new DeletePublicKeyCommand({ Id: id, IfMatch: updated.ETag }));
  await until(async () => !edge.publicKeys().has(id), "the edge to drop the key");
  await assert.rejects(b.client().send(new GetPublicKeyCommand({ Id: id })), { name: "NoSuchPublicKey" });
});
