import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import {
  delay,
  eventually,
  hasCode,
  readAll,
  startTestS3,
  startTestShield,
  stat,
  type TestS3,
  type TestShield,
} from "../../lib/testing/shield.js";
import type { ReadRangeResponse } from "../../proto/gen/streamfront/shield/v1/shield.js";
import { maxRangeBytes } from "../src/shield-service.js";

const bucket = "media-origin";
const pieceBytes = 64 * 1024;

describe("ShieldService against s3rver", () => {
  let s3: TestS3;
  let shield: TestShield;
  let mp4: Buffer;
  let big: Buffer;

  before(async () => {
    s3 = await startTestS3(bucket, "other-bucket");
    await s3.s3.uploadDirectory(bucket, fromRepoRoot("deploy", "local", "media"));
    mp4 = await readFile(fromRepoRoot("deploy", "local", "media", "videos", "sample.mp4"));
    big = randomBytes(8 * 1024 * 1024);
    await s3.s3.putObject(bucket, "big/object.bin", big);
    await s3.s3.putObject("other-bucket", "secret.bin", Buffer.from("not for edges"));
    shield = await startTestShield(s3.s3, {
      env: {
        STREAMFRONT_SHIELD_ALLOWED_BUCKETS: `${bucket},allowed-but-missing`,
        STREAMFRONT_SHIELD_MAX_PIECE_BYTES: String(pieceBytes),
      },
      maxInFlightPieces: 2,
    });
  });

  after(async () => {
    await shield?.close();
    await s3?.close();
  });

  it("stats an object with size, etag and content type", async () => {
    const info = await stat(shield.client, bucket, "videos/sample.mp4");
    assert.equal(info.size, mp4.length);
    assert.match(info.etag, /^"[0-9a-f]{32}"$/);
    assert.equal(info.contentType, "video/mp4");
    assert.ok(info.lastModifiedMs > 0);
  });

  it("reads a whole object byte for byte", async () => {
    const { data, pieces } = await readAll(shield.client, {
      bucket,
      key: "videos/sample.mp4",
      length: mp4.length,
    });
    assert.ok(data.equals(mp4));
    assert.ok(pieces.every((p) => p.data.length <= pieceBytes));
    let expected = 0;
    for (const piece of pieces) {
      assert.equal(piece.offset, expected);
      expected += piece.data.length;
    }
  });

  it("reads partial ranges, including single bytes", async () => {
    for (const [offset, length] of [
      [0, 1],
      [0, 11],
      [1, 1],
      [12345, 70_000],
      [mp4.length - 1, 1],
      [100_000, pieceBytes * 2 + 3],
    ] as const) {
      const { data, pieces } = await readAll(shield.client, {
        bucket,
        key: "videos/sample.mp4",
        offset,
        length,
      });
      assert.ok(data.equals(mp4.subarray(offset, offset + length)), `range ${offset}+${length}`);
      assert.equal(pieces[0]?.offset, offset);
    }
  });

  it("cuts a range that runs past the end", async () => {
    const offset = mp4.length - 100;
    const { data } = await readAll(shield.client, {
      bucket,
      key: "videos/sample.mp4",
      offset,
      length: 10_000,
    });
    assert.ok(data.equals(mp4.subarray(offset)));
  });

  it("answers OUT_OF_RANGE for an offset at or past the end", async () => {
    for (const offset of [mp4.length, mp4.length + 1000]) {
      await assert.rejects(
        readAll(shield.client, { bucket, key: "videos/sample.mp4", offset, length: 10 }),
        hasCode(status.OUT_OF_RANGE, /SHIELD_ERR_RANGE_NOT_SATISFIABLE/),
      );
    }
  });

  it("answers NOT_FOUND for missing objects and buckets", async () => {
    await assert.rejects(stat(shield.client, bucket, "videos/missing.mp4"), hasCode(status.NOT_FOUND));
    await assert.rejects(
      readAll(shield.client, { bucket, key: "videos/missing.mp4", length: 10 }),
      hasCode(status.NOT_FOUND, /SHIELD_ERR_OBJECT_NOT_FOUND/),
    );
    await assert.rejects(
      readAll(shield.client, { bucket: "allowed-but-missing", key: "a.mp4", length: 10 }),
      hasCode(status.NOT_FOUND, /bucket does not exist/),
    );
  });

  it("answers PERMISSION_DENIED for buckets outside the allowlist, without asking S3", async () => {
    s3.s3.clearRequests();
    await assert.rejects(
      stat(shield.client, "other-bucket", "secret.bin"),
      hasCode(status.PERMISSION_DENIED),
    );
    await assert.rejects(
      readAll(shield.client, { bucket: "other-bucket", key: "secret.bin", length: 5 }),
      hasCode(status.PERMISSION_DENIED, /SHIELD_ERR_BUCKET_NOT_ALLOWED/),
    );
    assert.equal(s3.s3.requests.length, 0);
  });

  it("rejects malformed requests with INVALID_ARGUMENT and keeps serving", async () => {
    const key = "videos/sample.mp4";
    const cases = [
      [{ bucket: "", key, length: 1 }, /bucket is empty/],
      [{ bucket, key: "", length: 1 }, /key is empty/],
      [{ bucket, key: "k".repeat(1025), length: 1 }, /key is too long \(1025 vs 1024 bytes\)/],
      [{ bucket, key: "é".repeat(513), length: 1 }, /key is too long \(1026 vs 1024 bytes\)/],
      [{ bucket, key, length: 0 }, /length must be at least 1/],
      [{ bucket, key, length: maxRangeBytes + 1 }, /length is too large/],
      [{ bucket, key, length: Number.MAX_SAFE_INTEGER }, /length is too large/],
      [{ bucket: "b".repeat(300), key, length: 1 }, /bucket name is too long/],
    ] as const;
    for (const [request, detail] of cases) {
      await assert.rejects(readAll(shield.client, request), hasCode(status.INVALID_ARGUMENT, detail));
    }
    await assert.rejects(stat(shield.client, bucket, ""), hasCode(status.INVALID_ARGUMENT, /key is empty/));
    const { data } = await readAll(shield.client, { bucket, key, length: 16 });
    assert.ok(data.equals(mp4.subarray(0, 16)));
  });

  it("answers FAILED_PRECONDITION when the object changed after stat", async () => {
    const key = "changing/object.bin";
    await s3.s3.putObject(bucket, key, Buffer.from("first version of the object"));
    const info = await stat(shield.client, bucket, key);
    const pinned = await readAll(shield.client, { bucket, key, length: 5, etag: info.etag });
    assert.equal(pinned.data.toString(), "first");
    await s3.s3.putObject(bucket, key, Buffer.from("second version, a different one"));
    await assert.rejects(
      readAll(shield.client, { bucket, key, length: 5, etag: info.etag }),
      hasCode(status.FAILED_PRECONDITION, /SHIELD_ERR_OBJECT_CHANGED/),
    );
    const unpinned = await readAll(shield.client, { bucket, key, length: 6 });
    assert.equal(unpinned.data.toString(), "second");
  });

  it("reads ranges from S3 with range GETs (the request log shows them)", async () => {
    s3.s3.clearRequests();
    const info = await stat(shield.client, bucket, "videos/sample.mp4");
    await readAll(shield.client, {
      bucket,
      key: "videos/sample.mp4",
      offset: 1000,
      length: 500,
      etag: info.etag,
    });
    const requests = s3.s3.requests.filter((r) => r.key === "videos/sample.mp4");
    assert.deepEqual(
      requests.map((r) => [r.method, r.range, r.ifMatch, r.status]),
      [
        ["HEAD", undefined, undefined, 200],
        ["GET", "bytes=1000-1499", info.etag, 206],
      ],
    );
  });

  it("streams a large range in bounded pieces and does not outrun a slow reader", async () => {
    const metrics = shield.server.metrics;
    const originBefore = metrics.originBytes;
    const stream = shield.client.readRange({
      bucket,
      key: "big/object.bin",
      offset: 0,
      length: big.length,
      etag: "",
    });
    const pieces: Buffer[] = [];
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (piece: ReadRangeResponse) => {
        assert.ok(piece.data.length <= pieceBytes);
        assert.equal(piece.offset, received);
        pieces.push(piece.data);
        received += piece.data.length;
        if (pieces.length === 1) {
          // A reader that stops after the first piece: the shield must stall
          // too, not pull the remaining 8 MiB from S3 into memory.
          stream.pause();
          setTimeout(() => stream.resume(), 600);
        }
      });
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    await delay(400);
    const readWhilePaused = metrics.originBytes - originBefore;
    assert.ok(
      readWhilePaused < big.length / 2,
      `shield read ${readWhilePaused} bytes from S3 while the reader was paused`,
    );
    // Per call: the in-flight pieces plus one being assembled.
    assert.ok(
      shield.server.service.peakCallQueuedBytes <= 2 * pieceBytes,
      `peak ${shield.server.service.peakCallQueuedBytes}`,
    );
    await done;
    assert.ok(Buffer.concat(pieces).equals(big));
    assert.equal(pieces.length, big.length / pieceBytes);
    assert.equal(metrics.queuedBytes, 0);
  });

  it("aborts the S3 read when the client cancels", async () => {
    s3.s3.clearRequests();
    const stream = shield.client.readRange({
      bucket,
      key: "big/object.bin",
      offset: 0,
      length: big.length,
      etag: "",
    });
    const cancelled = new Promise<number>((resolve) => {
      stream.on("error", (error: { code: number }) => resolve(error.code));
    });
    stream.once("data", () => {
      stream.pause();
      stream.cancel();
    });
    assert.equal(await cancelled, status.CANCELLED);
    await eventually(() => shield.server.service.activeCalls === 0, 5_000, "the call to end on the shield");
    await eventually(
      () => s3.s3.requests.some((r) => r.method === "GET" && r.outcome !== "pending"),
      5_000,
      "the S3 GET to end",
    );
    const get = s3.s3.requests.find((r) => r.method === "GET");
    assert.equal(get?.range, `bytes=0-${big.length - 1}`);
    assert.equal(get?.outcome, "aborted");
    assert.equal(shield.server.metrics.queuedBytes, 0);
  });

  it("publishes its metrics under streamfront_shield_", async () => {
    const text = await shield.registry.metrics();
    for (const name of [
      "streamfront_shield_origin_requests_total",
      "streamfront_shield_origin_bytes_total",
      "streamfront_shield_origin_request_duration_seconds_bucket",
      "streamfront_shield_range_reads_total",
      "streamfront_shield_served_bytes_total",
    ]) {
      assert.match(text, new RegExp(`^${name}`, "m"), name);
    }
    assert.match(
      text,
      /^streamfront_shield_origin_requests_total\{bucket="[^"]+",operation="get",result="ok"\} [1-9]/m,
    );
    assert.match(text, /^streamfront_shield_range_reads_total\{grpc_status="cancelled"\} [1-9]/m);
    assert.match(text, /^streamfront_shield_range_reads_total\{grpc_status="invalid_argument"\} [1-9]/m);
    const served = /^streamfront_shield_served_bytes_total (\d+)/m.exec(text);
    assert.ok(served && Number(served[1]) > big.length);
  });
});
