import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { generateDevelopmentKeyPair } from "../../controller/src/api/auth/access-keys.js";
import { createS3Client } from "../../lib/s3-client.js";
import { EmbeddedS3, embeddedS3Credentials } from "../local/embedded-s3.js";

/**
 * The embedded S3 (a real s3rver behind s3-auth.ts) refuses whatever is not
 * signed with its key pair, and serves the real @aws-sdk/client-s3 signing
 * with it. Requests are sent over real sockets on loopback.
 */
const bucket = "auth-bucket";
const credentials = generateDevelopmentKeyPair();
const dir = mkdtempSync(join(tmpdir(), "streamfront-s3-auth-"));
const s3 = new EmbeddedS3({ directory: dir, credentials });

interface RawAnswer {
  readonly status: number;
  readonly body: string;
  readonly continued: boolean;
}

/** One request by hand (no SDK), e.g. anonymous or replayed. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<RawAnswer> {
  const url = new URL(path, s3.endpoint);
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), continued }),
      );
    });
    req.on("error", reject);
    if (headers.expect === "100-continue") {
      // Sent only once the server says go on: a refused upload never leaves here.
      req.on("continue", () => {
        continued = true;
        req.end(body);
      });
      req.flushHeaders();
    } else {
      req.end(body);
    }
  });
}

async function keys(): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
}

before(async () => {
  await s3.start();
  await s3.ensureBucket(bucket);
  await s3.putObject(bucket, "kept.txt", Buffer.from("original"));
});
after(async () => {
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("embedded S3 authentication", () => {
  it("refuses anonymous PUT, DELETE, GET and listing with 403 AccessDenied, changing nothing", async () => {
    const put = await raw("PUT", `/${bucket}/intruder.txt`, { "content-length": "5" }, Buffer.from("owned"));
    assert.equal(put.status, 403);
    assert.match(put.body, /<Code>AccessDenied<\/Code>/);
    const del = await raw("DELETE", `/${bucket}/kept.txt`);
    assert.equal(del.status, 403);
    assert.equal((await raw("GET", `/${bucket}/kept.txt`)).status, 403);
    assert.equal((await raw("GET", `/${bucket}?list-type=2`)).status, 403);
    assert.equal((await raw("PUT", "/another-bucket")).status, 403, "no anonymous CreateBucket");
    assert.deepEqual(await keys(), ["kept.txt"]);
  });

  it("refuses an anonymous upload with Expect: 100-continue before its body is sent", async () => {
    const big = Buffer.alloc(1024 * 1024, 1);
    const put = await raw(
      "PUT",
      `/${bucket}/big.bin`,
      { expect: "100-continue", "content-length": String(big.length) },
      big,
    );
    assert.equal(put.status, 403);
    assert.equal(put.continued, false, "no 100 Continue for an unauthenticated upload");
    assert.deepEqual(await keys(), ["kept.txt"]);
  });

  it("serves @aws-sdk/client-s3 signing with the server's key pair: PUT, GET, DELETE", async () => {
    const client = createS3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      ...credentials,
    });
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "dir/signed file.txt", Body: "signed" }));
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "dir/signed file.txt" }));
      assert.equal(await got.Body?.transformToString(), "signed");
      assert.deepEqual(await keys(), ["dir/signed file.txt", "kept.txt"]);
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "dir/signed file.txt" }));
      assert.deepEqual(await keys(), ["kept.txt"]);
    } finally {
      client.destroy();
    }
  });

  it("refuses a wrong secret (SignatureDoesNotMatch) and s3rver's built-in key (InvalidAccessKeyId)", async () => {
    for (const [wrong, code] of [
      [
        { accessKeyId: credentials.accessKeyId, secretAccessKey: `${credentials.secretAccessKey}x` },
        "SignatureDoesNotMatch",
      ],
      [embeddedS3Credentials, "InvalidAccessKeyId"],
    ] as const) {
      const client = createS3Client({
        endpoint: s3.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        ...wrong,
      });
      try {
        await assert.rejects(
          client.send(new PutObjectCommand({ Bucket: bucket, Key: "kept.txt", Body: "overwritten" })),
          (error: unknown) => (error as { name?: string }).name === code,
        );
      } finally {
        client.destroy();
      }
    }
    const got = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: "kept.txt" }));
    assert.equal(await got.Body?.transformToString(), "original");
  });

  it("refuses a signed request replayed against another key or method", async () => {
    const host = new URL(s3.endpoint).host;
    const signer = new SignatureV4({
      service: "s3",
      region: "us-east-1",
      credentials,
      sha256: Hash.bind(null, "sha256"),
      uriEscapePath: false,
    });
    const signed = await signer.sign(
      new HttpRequest({
        method: "GET",
        protocol: "http:",
        hostname: host.split(":")[0] ?? "",
        port: Number(host.split(":")[1]),
        path: `/${bucket}/kept.txt`,
        headers: { host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
      }),
    );
    const headers = signed.headers as Record<string, string>;
    assert.equal((await raw("GET", `/${bucket}/kept.txt`, headers)).status, 200, "the request as signed");
    const otherKey = await raw("GET", `/${bucket}/other.txt`, headers);
    assert.equal(otherKey.status, 403);
    assert.match(otherKey.body, /SignatureDoesNotMatch/);
    assert.equal((await raw("DELETE", `/${bucket}/kept.txt`, headers)).status, 403);
    // Presigned (query-string) authentication is not accepted at all.
    assert.equal(
      (await raw("GET", `/${bucket}/kept.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00`)).status,
      403,
    );
    assert.deepEqual(await keys(), ["kept.txt"]);
  });
});
