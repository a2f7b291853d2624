/**
 * Issue 9 item 18: a CallerReference first used by
 * CreateStreamingDistributionWithTags, repeated by Create (or by
 * CreateWithTags with other tags) with the same config, answers the
 * original distribution: tags are not part of the config. Through the real
 * HTTP server and the official SDK, on both stores (MemoryStore, and
 * RedisStore on a real redis-server).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CreateStreamingDistributionCommand,
  CreateStreamingDistributionWithTagsCommand,
  type StreamingDistributionConfig,
} from "@aws-sdk/client-cloudfront";
import { RedisServer } from "../../lib/testing/redis-server.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { parseRedisUrl } from "../src/store/redis-connection.js";
import { RedisStore } from "../src/store/redis-store.js";
import { startApiController } from "./api-e2e-support.js";
import { silentLogger } from "./helpers.js";

function config(reference: string, comment = ""): StreamingDistributionConfig {
  return {
    CallerReference: reference,
    S3Origin: { DomainName: "media-bucket.s3.amazonaws.com", OriginAccessIdentity: "" },
    Comment: comment,
    TrustedSigners: { Enabled: false, Quantity: 0 },
    Enabled: true,
  };
}

let redis: RedisServer;
before(async () => {
  redis = await RedisServer.start();
});
after(async () => {
  await redis.dispose();
});

const stores = {
  MemoryStore: () => new MemoryStore(),
  RedisStore: () =>
    new RedisStore({
      connection: parseRedisUrl(redis.url),
      prefix: "caller-ref:",
      logger: silentLogger("redis-store"),
    }),
};

for (const [name, makeStore] of Object.entries(stores)) {
  describe(`CallerReference idempotency with tags (${name})`, () => {
    it("Create and CreateWithTags repeating a CreateWithTags reference with the same config answer the original", async () => {
      const api = await startApiController({ store: makeStore() });
      try {
        const client = api.client();
        const first = await client.send(
          new CreateStreamingDistributionWithTagsCommand({
            StreamingDistributionConfigWithTags: {
              StreamingDistributionConfig: config("tagged-ref"),
              Tags: { Items: [{ Key: "team", Value: "video" }] },
            },
          }),
        );
        const id = first.StreamingDistribution?.Id;
        assert.ok(id);
        const plain = await client.send(
          new CreateStreamingDistributionCommand({ StreamingDistributionConfig: config("tagged-ref") }),
        );
        assert.equal(plain.StreamingDistribution?.Id, id, "Create answers the original");
        const retagged = await client.send(
          new CreateStreamingDistributionWithTagsCommand({
            StreamingDistributionConfigWithTags: {
              StreamingDistributionConfig: config("tagged-ref"),
              Tags: { Items: [{ Key: "team", Value: "other" }] },
            },
          }),
        );
        assert.equal(retagged.StreamingDistribution?.Id, id, "other tags answer the original too");
        // Another config under the same reference is still refused.
        await assert.rejects(
          client.send(
            new CreateStreamingDistributionCommand({
              StreamingDistributionConfig: config("tagged-ref", "changed"),
            }),
          ),
          { name: "StreamingDistributionAlreadyExists" },
        );
      } finally {
        await api.close();
      }
    });
  });
}
