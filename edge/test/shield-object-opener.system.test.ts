import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import {
  silentLogger,
  startTestS3,
  startTestShield,
  type TestS3,
  type TestShield,
} from "../../lib/testing/shield.js";
import { testTls } from "../../lib/testing/tls.js";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { BufferedReader } from "../src/media/buffered-reader.js";
import { ShieldObjectOpener } from "../src/shield-client/object-opener.js";

const bucket = "edge-objects";

describe("ShieldObjectOpener against a real shield and s3rver", () => {
  let s3: TestS3;
  let shield: TestShield;
  let objects: ShieldObjectOpener;
  let flv: Buffer;

  before(async () => {
    s3 = await startTestS3(bucket);
    await s3.s3.uploadDirectory(bucket, fromRepoRoot("deploy", "local", "media"));
    flv = await readFile(fromRepoRoot("deploy", "local", "media", "videos", "sample.flv"));
    shield = await startTestShield(s3.s3, {
      env: {
        STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket,
        STREAMFRONT_SHIELD_MAX_PIECE_BYTES: String(16 * 1024),
      },
    });
    objects = new ShieldObjectOpener({
      tls: testTls(PeerRole.Edge),
      address: shield.address,
      logger: silentLogger("edge"),
      deadlineMs: 5_000,
    });
  });

  after(async () => {
    objects?.close();
    await shield?.close();
    await s3?.close();
  });

  it("opens an object and reads ranges byte for byte", async () => {
    const source = await objects.open(bucket, "videos/sample.flv");
    assert.ok(source);
    assert.equal(source.size, flv.length);
    assert.ok((await source.read(0, 13)).equals(flv.subarray(0, 13)));
    assert.ok((await source.read(1000, 100_000)).equals(flv.subarray(1000, 101_000)));
    assert.ok((await source.read(0, flv.length)).equals(flv));
  });

  it("cuts reads at the end and returns nothing past it, as RangeSource requires", async () => {
    const source = await objects.open(bucket, "videos/sample.flv");
    assert.ok(source);
    assert.ok((await source.read(flv.length - 10, 1000)).equals(flv.subarray(flv.length - 10)));
    assert.equal((await source.read(flv.length, 10)).length, 0);
    assert.equal((await source.read(5, 0)).length, 0);
  });

  it("works under BufferedReader", async () => {
    const source = await objects.open(bucket, "videos/sample.flv");
    assert.ok(source);
    const reader = new BufferedReader(source, { blockSize: 64 * 1024 });
    const out: Buffer[] = [];
    while (reader.remaining > 0) out.push(Buffer.from(await reader.read(4099)));
    assert.ok(Buffer.concat(out).equals(flv));
  });

  it("returns null for a missing object", async () => {
    assert.equal(await objects.open(bucket, "videos/nope.flv"), null);
  });

  it("fails with ShieldUnavailable for a bucket the shield refuses", async () => {
    await assert.rejects(
      objects.open("not-allowed-here", "videos/sample.flv"),
      (error: unknown) =>
        error instanceof EdgeError &&
        error.code === EdgeErrorCode.ShieldUnavailable &&
        /PERMISSION_DENIED/.test(error.message),
    );
  });

  it("fails reads with ShieldUnavailable when the object changed after open", async () => {
    await s3.s3.putObject(bucket, "changing.flv", Buffer.from("FLV version one"));
    const source = await objects.open(bucket, "changing.flv");
    assert.ok(source);
    assert.equal((await source.read(0, 3)).toString(), "FLV");
    await s3.s3.putObject(bucket, "changing.flv", Buffer.from("FLV version two!"));
    await assert.rejects(
      source.read(0, 3),
      (error: unknown) => error instanceof EdgeError && /FAILED_PRECONDITION/.test(error.message),
    );
  });

  it("fails with ShieldUnavailable when no shield answers, within the deadline", async () => {
    const dead = new ShieldObjectOpener({
      tls: testTls(PeerRole.Edge),
      address: "127.0.0.1:1",
      logger: silentLogger("edge"),
      deadlineMs: 500,
    });
    const started = Date.now();
    await assert.rejects(
      dead.open(bucket, "videos/sample.flv"),
      (error: unknown) => error instanceof EdgeError && error.code === EdgeErrorCode.ShieldUnavailable,
    );
    // A hang guard (the error code decides), loose enough for a loaded machine.
    assert.ok(Date.now() - started < 10_000);
    dead.close();
  });
});
