import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { createS3Client } from "../../lib/s3-client.js";
import { silentLogger, startTestS3, type TestS3 } from "../../lib/testing/shield.js";
import { CachingOrigin, type CachingOriginOptions } from "../src/cache/caching-origin.js";
import { ShieldError, ShieldErrorCode } from "../src/errors.js";
import { S3Origin } from "../src/s3-origin.js";

const bucket = "consistency-bucket";
const sliceBytes = 64 * 1024;
const second = 1000;
const hour = 3_600 * second;
const freshness = { defaultTtlMs: 24 * hour, minTtlMs: hour, maxTtlMs: 365 * 24 * hour };

function isShieldError(code: ShieldErrorCode): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ShieldError, `expected ShieldError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

describe("versions and freshness (CachingOrigin over S3Origin and s3rver)", () => {
  let s3: TestS3;
  let clock = 1_000_000;
  const now = () => clock;

  before(async () => {
    s3 = await startTestS3(bucket);
  });

  after(async () => {
    await s3?.close();
  });

  function cache(options: Partial<CachingOriginOptions> = {}): CachingOrigin {
    return new CachingOrigin({
      origin: new S3Origin({ client: s3.s3.client, logger: silentLogger() }),
      logger: silentLogger(),
      sliceBytes,
      memoryBytes: 64 * sliceBytes,
      readAheadSlices: 0,
      freshness,
      negativeTtlMs: 10 * second,
      now,
      ...options,
    });
  }

  async function put(key: string, body: Buffer, cacheControl?: string): Promise<void> {
    await s3.s3.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ...(cacheControl ? { CacheControl: cacheControl } : {}),
      }),
    );
  }

  /** Reads what it can; returns the bytes and the error that ended the read, if any. */
  async function readUntilError(
    origin: CachingOrigin,
    key: string,
    offset: number,
    length: number,
    etag?: string,
  ): Promise<{ data: Buffer; error: unknown }> {
    const parts: Buffer[] = [];
    try {
      const range = await origin.readRange(bucket, key, offset, length, etag, new AbortController().signal);
      for await (const chunk of range) parts.push(chunk);
      return { data: Buffer.concat(parts), error: undefined };
    } catch (error) {
      return { data: Buffer.concat(parts), error };
    }
  }

  const heads = (key: string) => s3.s3.requests.filter((r) => r.key === key && r.method === "HEAD");

  it("a play pinned to an ETag fails cleanly when the object is replaced under it, never mixing versions", async () => {
    const origin = cache();
    const key = "replaced-mid-play.bin";
    const v1 = randomBytes(3 * sliceBytes);
    const v2 = randomBytes(3 * sliceBytes);
    await put(key, v1);
    const { etag: e1 } = await origin.stat(bucket, key);
    // The play has read its first slice (now cached) when the object is replaced.
    const start = await readUntilError(origin, key, 0, sliceBytes, e1);
    assert.ok(start.data.equals(v1.subarray(0, sliceBytes)));
    await put(key, v2);
    const rest = await readUntilError(origin, key, 0, 3 * sliceBytes, e1);
    assert.ok(isShieldError(ShieldErrorCode.ObjectChanged)(rest.error));
    assert.ok(rest.data.length <= sliceBytes, "nothing past the cached slice");
    assert.ok(rest.data.equals(v1.subarray(0, rest.data.length)), "only bytes of the pinned version");
    // A read pinned to the old ETag whose first slice must come from S3 is refused up front.
    await assert.rejects(
      origin.readRange(bucket, key, 2 * sliceBytes, 10, e1, new AbortController().signal),
      isShieldError(ShieldErrorCode.ObjectChanged),
    );
    // The shield learned the version is gone: a new play gets the new one at once, TTL or not.
    const { etag: e2 } = await origin.stat(bucket, key);
    assert.notEqual(e2, e1);
    const fresh = await readUntilError(origin, key, 0, 3 * sliceBytes, e2);
    assert.equal(fresh.error, undefined);
    assert.ok(fresh.data.equals(v2));
    await origin.close();
  });

  it("an unpinned read whose cached ETag is gone takes the current version", async () => {
    const origin = cache();
    const key = "unpinned.bin";
    await put(key, Buffer.from("version one of the object"));
    await origin.stat(bucket, key);
    await put(key, Buffer.from("version two, which is longer than one"));
    const { data, error } = await readUntilError(origin, key, 0, 100);
    assert.equal(error, undefined);
    assert.equal(data.toString(), "version two, which is longer than one");
    await origin.close();
  });

  it("keeps metadata for the default TTL, then revalidates with a conditional HEAD (304 keeps it)", async () => {
    const origin = cache();
    const key = "ttl-default.bin";
    await put(key, Buffer.from("stable"));
    s3.s3.clearRequests();
    const first = await origin.stat(bucket, key);
    clock += 23 * hour;
    assert.deepEqual(await origin.stat(bucket, key), first);
    assert.equal(heads(key).length, 1, "fresh: no S3 request");
    clock += 2 * hour;
    assert.deepEqual(await origin.stat(bucket, key), first);
    assert.deepEqual(
      heads(key).map((r) => r.status),
      [200, 304],
    );
    assert.equal(origin.stats.statRevalidated, 1);
    // Refreshed for another full TTL.
    clock += 23 * hour;
    await origin.stat(bucket, key);
    assert.equal(heads(key).length, 2);
    await origin.close();
  });

  it("an object replaced within the TTL is served as it was until the TTL ends, then the new version", async () => {
    const origin = cache();
    const key = "ttl-replaced.bin";
    await put(key, Buffer.from("old"));
    const old = await origin.stat(bucket, key);
    await put(key, Buffer.from("new!"));
    clock += hour;
    assert.equal((await origin.stat(bucket, key)).etag, old.etag, "CloudFront semantics: fresh means fresh");
    clock += 24 * hour;
    const current = await origin.stat(bucket, key);
    assert.notEqual(current.etag, old.etag);
    assert.equal(current.size, 4);
    assert.equal(origin.stats.statChanged, 1);
    await origin.close();
  });

  it("honours Cache-Control max-age and s-maxage within [min, max]", async () => {
    const origin = cache();
    const cases = [
      ["max-age=7200", 2 * hour],
      ["max-age=60", hour],
      ["max-age=7200, s-maxage=10800", 3 * hour],
      ["max-age=999999999", 365 * 24 * hour],
    ] as const;
    for (const [header, ttl] of cases) {
      const key = `cc/${header}`;
      await put(key, Buffer.from(header), header);
      s3.s3.clearRequests();
      const start = clock;
      assert.equal((await origin.stat(bucket, key)).cacheControl, header);
      clock = start + ttl - 1;
      await origin.stat(bucket, key);
      assert.equal(heads(key).length, 1, `${header}: fresh just before ${ttl} ms`);
      clock = start + ttl + 1;
      await origin.stat(bucket, key);
      assert.equal(heads(key).length, 2, `${header}: stale just after ${ttl} ms`);
    }
    await origin.close();
  });

  it("remembers a 404 for the negative TTL", async () => {
    const origin = cache();
    const key = "appears-later.bin";
    s3.s3.clearRequests();
    await assert.rejects(origin.stat(bucket, key), isShieldError(ShieldErrorCode.ObjectNotFound));
    await assert.rejects(origin.stat(bucket, key), isShieldError(ShieldErrorCode.ObjectNotFound));
    await assert.rejects(
      origin.readRange(bucket, key, 0, 10, undefined, new AbortController().signal),
      isShieldError(ShieldErrorCode.ObjectNotFound),
    );
    assert.equal(heads(key).length, 1);
    assert.equal(origin.stats.statNegativeHits, 2);
    await put(key, Buffer.from("here now"));
    clock += 5 * second;
    await assert.rejects(origin.stat(bucket, key), isShieldError(ShieldErrorCode.ObjectNotFound));
    clock += 6 * second;
    assert.equal((await origin.stat(bucket, key)).size, 8);
    assert.equal(heads(key).length, 2);
    await origin.close();
  });

  it("with min TTL 0, no-store objects are revalidated on every stat and read straight through", async () => {
    const origin = cache({ freshness: { ...freshness, minTtlMs: 0 } });
    const key = "no-store.bin";
    const body = randomBytes(2 * sliceBytes);
    await put(key, body, "no-store");
    s3.s3.clearRequests();
    const { etag } = await origin.stat(bucket, key);
    await origin.stat(bucket, key);
    assert.deepEqual(
      heads(key).map((r) => r.status),
      [200, 304],
    );
    for (let i = 0; i < 2; i++) {
      const { data } = await readUntilError(origin, key, 100, 1000, etag);
      assert.ok(data.equals(body.subarray(100, 1100)));
    }
    const gets = s3.s3.requests.filter((r) => r.key === key && r.method === "GET");
    assert.deepEqual(
      gets.map((g) => g.range),
      ["bytes=100-1099", "bytes=100-1099"],
      "not sliced, not cached",
    );
    assert.equal(origin.memoryBytes, 0);
    await origin.close();
  });

  it("refuses an offset at or past the end without a GET when the size is known", async () => {
    const origin = cache();
    const key = "small.bin";
    await put(key, Buffer.from("0123456789"));
    const { etag } = await origin.stat(bucket, key);
    s3.s3.clearRequests();
    for (const offset of [10, 11, 5 * sliceBytes]) {
      await assert.rejects(
        origin.readRange(bucket, key, offset, 5, etag, new AbortController().signal),
        isShieldError(ShieldErrorCode.RangeNotSatisfiable),
      );
    }
    assert.equal(s3.s3.requests.length, 0);
    // Pinned to an ETag the stat cache never saw: the first slice tells the size.
    const fresh = cache();
    await assert.rejects(
      fresh.readRange(bucket, key, 10, 5, etag, new AbortController().signal),
      isShieldError(ShieldErrorCode.RangeNotSatisfiable),
    );
    const { data } = await readUntilError(fresh, key, 8, 100, etag);
    assert.equal(data.toString(), "89");
    await origin.close();
    await fresh.close();
  });

  it("serves the stale entry when S3 fails to revalidate (and says so in the stats)", async () => {
    const other = await startTestS3(bucket);
    // A client of its own: the server goes away, the client stays.
    const client = createS3Client({
      endpoint: other.s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      ...embeddedS3Credentials,
    });
    const origin = new CachingOrigin({
      origin: new S3Origin({ client, logger: silentLogger() }),
      logger: silentLogger(),
      sliceBytes,
      memoryBytes: 64 * sliceBytes,
      readAheadSlices: 0,
      freshness,
      negativeTtlMs: 10 * second,
      now,
    });
    try {
      await other.s3.putObject(bucket, "k.bin", Buffer.from("kept"));
      const held = await origin.stat(bucket, "k.bin");
      await other.s3.close();
      clock += 25 * hour;
      assert.deepEqual(await origin.stat(bucket, "k.bin"), held);
      assert.equal(origin.stats.statStale, 1);
    } finally {
      await origin.close();
      client.destroy();
      await other.close();
    }
  });
});
