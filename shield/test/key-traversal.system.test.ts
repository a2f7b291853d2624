import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type ServiceError, status } from "@grpc/grpc-js";
import {
  readAll,
  startTestS3,
  startTestShield,
  stat,
  type TestS3,
  type TestShield,
} from "../../lib/testing/shield.js";
import { errorCodeMetadataKey, ShieldErrorCode } from "../src/errors.js";

// Issue 9 item 6: with path-style addressing the SDK sends the key in the
// URL path as it is and s3rver (like other S3 servers and proxies)
// normalises the path, so `../otherbucket/secret` on an allowed bucket read
// the other bucket. Every variant must be refused before S3 is asked.

const allowed = "media-origin";
const other = "otherbucket";
const secret = Buffer.from("TOP SECRET: never served to an edge");

/** Traversal and reinterpretation variants, each aimed at otherbucket/secret or a key other than the one named. */
const attacks: readonly string[] = [
  "../otherbucket/secret",
  "a/../../otherbucket/secret",
  "./../otherbucket/secret",
  "videos/../../otherbucket/secret",
  "..",
  "videos/..",
  "%2e%2e/otherbucket/secret",
  "%2E%2E/otherbucket/secret",
  ".%2e/otherbucket/secret",
  "%252e%252e/otherbucket/secret",
  "..%2fotherbucket%2fsecret",
  "..\\otherbucket\\secret",
  "\uff0e\uff0e/otherbucket/secret",
  "/../otherbucket/secret",
  "/otherbucket/secret",
  "//otherbucket/secret",
  "a//../../otherbucket/secret",
  "videos/",
  "a\u0000b",
  "a\nb",
  "a\u007f",
  `${"a".repeat(1024)}b`,
];

/** Keys with dots inside names: legitimate, served as before. */
const legit: ReadonlyArray<readonly [string, Buffer]> = [
  ["a..b", randomBytes(3000)],
  [".hidden", randomBytes(1000)],
  ["v1.0/x.flv", randomBytes(70_000)],
  ["clip..flv", randomBytes(10)],
  ["100%/a%41b.flv", randomBytes(20)],
];

function errorCodeOf(error: unknown): string | undefined {
  const value = (error as ServiceError).metadata?.get(errorCodeMetadataKey)[0];
  return typeof value === "string" ? value : undefined;
}

async function refusal(call: () => Promise<unknown>): Promise<ServiceError> {
  try {
    await call();
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("the call succeeded");
}

for (const cache of [true, false]) {
  describe(`keys that would leave the bucket (slice cache ${cache ? "on" : "off"})`, () => {
    let s3: TestS3;
    let shield: TestShield;

    before(async () => {
      s3 = await startTestS3(allowed, other);
      await s3.s3.putObject(other, "secret", secret);
      // Also inside the allowed bucket: `/../otherbucket/secret` normalises to
      // this one, a key other than the one asked for.
      await s3.s3.putObject(allowed, "otherbucket/secret", secret);
      for (const [key, body] of legit) await s3.s3.putObject(allowed, key, body);
      shield = await startTestShield(s3.s3, {
        env: {
          STREAMFRONT_SHIELD_ALLOWED_BUCKETS: allowed,
          STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: cache ? String(16 * 1024 * 1024) : "0",
        },
      });
    });

    after(async () => {
      await shield?.close();
      await s3?.close();
    });

    it("refuses every variant with INVALID_ARGUMENT and SHIELD_ERR_INVALID_KEY, without asking S3", async (t) => {
      s3.s3.clearRequests();
      const rssBefore = process.memoryUsage().rss;
      // A viewer reading a legitimate object while the attacks run.
      const [viewerKey, viewerBody] = legit[2]!;
      const viewer = readAll(shield.client, { bucket: allowed, key: viewerKey, offset: 0, length: 1 << 20 });
      for (const key of attacks) {
        const statError = await refusal(() => stat(shield.client, allowed, key));
        assert.equal(
          statError.code,
          status.INVALID_ARGUMENT,
          `stat ${JSON.stringify(key)}: ${statError.details}`,
        );
        assert.equal(errorCodeOf(statError), ShieldErrorCode.InvalidKey, JSON.stringify(key));
        const readError = await refusal(() =>
          readAll(shield.client, { bucket: allowed, key, offset: 0, length: 4096 }),
        );
        assert.equal(
          readError.code,
          status.INVALID_ARGUMENT,
          `read ${JSON.stringify(key)}: ${readError.details}`,
        );
        assert.equal(errorCodeOf(readError), ShieldErrorCode.InvalidKey, JSON.stringify(key));
        // Also with an ETag pin, which skips the stat in the cache.
        const pinnedError = await refusal(() =>
          readAll(shield.client, { bucket: allowed, key, offset: 0, length: 4096, etag: '"0"' }),
        );
        assert.equal(pinnedError.code, status.INVALID_ARGUMENT, JSON.stringify(key));
      }
      assert.deepEqual((await viewer).data, viewerBody, "the concurrent viewer's read is byte-identical");
      const requests = s3.s3.requests;
      assert.deepEqual(
        requests.filter((r) => r.bucket !== allowed || r.key !== viewerKey),
        [],
        "S3 saw no request but the viewer's",
      );
      assert.equal(
        requests.filter((r) => r.bucket === other).length,
        0,
        "no request reached the other bucket",
      );
      const rssGrowthMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
      t.diagnostic(
        `${attacks.length} variants × 3 calls refused; S3 requests for ${other}: 0; ` +
          `test process RSS growth ${rssGrowthMiB.toFixed(1)} MiB (process.memoryUsage, in-process shield)`,
      );
      assert.ok(rssGrowthMiB < 64, `RSS grew ${rssGrowthMiB.toFixed(1)} MiB`);
      // The shield still answers.
      assert.equal((await stat(shield.client, allowed, "a..b")).size, legit[0]![1].length);
    });

    it("still serves keys with dots inside their names, byte for byte", async () => {
      for (const [key, body] of legit) {
        const info = await stat(shield.client, allowed, key);
        assert.equal(info.size, body.length, key);
        const { data } = await readAll(shield.client, {
          bucket: allowed,
          key,
          offset: 0,
          length: body.length,
        });
        assert.deepEqual(data, body, key);
      }
    });

    it("refuses a bucket name that is not one S3 bucket name", async () => {
      s3.s3.clearRequests();
      for (const bucket of [`${allowed}/../${other}`, "..", `${allowed}\\x`]) {
        const error = await refusal(() => stat(shield.client, bucket, "secret"));
        assert.equal(error.code, status.INVALID_ARGUMENT, bucket);
      }
      assert.equal(s3.s3.requests.length, 0);
    });
  });
}
