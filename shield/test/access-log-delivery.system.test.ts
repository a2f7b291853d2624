import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { type ServiceError, status } from "@grpc/grpc-js";
import { errorCodeMetadataKey, ShieldErrorCode } from "../../lib/shield-error-code.js";
import { readDeliveredLogs } from "../../lib/testing/access-logs.js";
import { startTestS3, startTestShield, type TestS3, type TestShield } from "../../lib/testing/shield.js";
import { type Distribution, DistributionKind } from "../../proto/gen/streamfront/controller/v1/controller.js";
import type {
  DeliverAccessLogRequest,
  DeliverAccessLogResponse,
} from "../../proto/gen/streamfront/shield/v1/shield.js";

/**
 * DeliverAccessLog against s3rver: the shield writes an edge's gzipped
 * access-log file to the logging bucket its own config names, under
 * exactly CloudFront's key, and nowhere else.
 */

const header =
  "#Version: 1.0\n#Fields: date time x-edge-location c-ip x-event sc-bytes x-cf-status x-cf-client-id " +
  "cs-uri-stem cs-uri-query c-referrer x-page-url c-user-agent x-sname x-sname-query x-file-ext x-sid\n";
const line =
  "2026-12-03\t07:00:00\tTST1\t127.0.0.1\tconnect\t3073\tOK\tabc\trtmp://h/cfx/st\t-\t-\t-\t-\t-\t-\t-\t-\n";

function distribution(id: string, logging: Distribution["logging"]): Distribution {
  return {
    id,
    domainName: `${id.toLowerCase()}.test`,
    cnames: [],
    originBucket: "media",
    enabled: true,
    kind: DistributionKind.DISTRIBUTION_KIND_STREAMING,
    trustedSigners: { enabled: false, accountIds: [] },
    logging,
  };
}

describe("DeliverAccessLog", () => {
  let s3: TestS3;
  let shield: TestShield;

  before(async () => {
    s3 = await startTestS3("media", "logs");
    shield = await startTestShield(s3.s3);
    shield.server.applyDistributions(
      new Map([
        ["ELOGS", distribution("ELOGS", { enabled: true, bucket: "logs.s3.amazonaws.com", prefix: "rtmp/" })],
        ["EQUIET", distribution("EQUIET", { enabled: false, bucket: "logs", prefix: "" })],
        ["ETRAVERSE", distribution("ETRAVERSE", { enabled: true, bucket: "logs", prefix: "../media/" })],
      ]),
    );
  });
  after(async () => {
    await shield?.close();
    await s3?.close();
  });

  const deliver = (request: Partial<DeliverAccessLogRequest>) =>
    new Promise<DeliverAccessLogResponse>((resolve, reject) =>
      shield.client.deliverAccessLog(
        {
          distributionId: "ELOGS",
          hour: "2026-12-03-07",
          unique: "0123456789abcdef",
          gzipped: gzipSync(header + line),
          ...request,
        },
        (error, response) => (error ? reject(error) : resolve(response!)),
      ),
    );

  const refused = (grpcStatus: status, code: string) => (error: unknown) => {
    assert.equal((error as { code: number }).code, grpcStatus);
    assert.equal((error as ServiceError).metadata.get(errorCodeMetadataKey)[0], code);
    return true;
  };

  it("writes <prefix><DistributionId>.YYYY-MM-DD-HH.<unique>.gz to the configured logging bucket; again overwrites the same key", async () => {
    const answer = await deliver({});
    assert.deepEqual(answer, { bucket: "logs", key: "rtmp/ELOGS.2026-12-03-07.0123456789abcdef.gz" });
    await deliver({});
    const logs = await readDeliveredLogs(s3.s3.endpoint, "logs");
    assert.deepEqual(
      logs.map((l) => l.key),
      ["rtmp/ELOGS.2026-12-03-07.0123456789abcdef.gz"],
    );
    assert.equal(logs[0]!.log.records.length, 1);
    assert.equal(logs[0]!.log.records[0]!["x-event"], "connect");
    assert.deepEqual(await readDeliveredLogs(s3.s3.endpoint, "media"), []);
  });

  it("refuses a distribution without Logging, or one it does not know: FAILED_PRECONDITION", async () => {
    await assert.rejects(
      deliver({ distributionId: "EQUIET" }),
      refused(status.FAILED_PRECONDITION, ShieldErrorCode.LoggingNotEnabled),
    );
    await assert.rejects(
      deliver({ distributionId: "EUNKNOWN" }),
      refused(status.FAILED_PRECONDITION, ShieldErrorCode.LoggingNotEnabled),
    );
  });

  it("refuses key parts outside CloudFront's pattern, a prefix that leaves the bucket, and a body that is no gzipped W3C log", async () => {
    await assert.rejects(
      deliver({ unique: "../../media/x" }),
      refused(status.INVALID_ARGUMENT, ShieldErrorCode.InvalidArgument),
    );
    await assert.rejects(
      deliver({ hour: "2026-12-03" }),
      refused(status.INVALID_ARGUMENT, ShieldErrorCode.InvalidArgument),
    );
    await assert.rejects(
      deliver({ distributionId: "ETRAVERSE" }),
      refused(status.INVALID_ARGUMENT, ShieldErrorCode.InvalidKey),
    );
    await assert.rejects(
      deliver({ gzipped: Buffer.from(header + line) }),
      refused(status.INVALID_ARGUMENT, ShieldErrorCode.InvalidArgument),
    );
    await assert.rejects(
      deliver({ gzipped: gzipSync("<html>not a log</html>") }),
      refused(status.INVALID_ARGUMENT, ShieldErrorCode.InvalidArgument),
    );
    // A gzip bomb: 100 MiB of log text in a few hundred KiB would not pass the request bound; one that fits
    // (64 MiB of one repeated line, ~60 KiB gzipped) is cut off at the bound on decompressed text, not inflated.
    const bomb = gzipSync(header + "x".repeat(64 * 1024 * 1024), { level: 9 });
    assert.ok(bomb.length < 64 * 1024, `the bomb is ${bomb.length} bytes`);
    await assert.rejects(
      deliver({ gzipped: bomb }),
      refused(status.INVALID_ARGUMENT, ShieldErrorCode.InvalidArgument),
    );
    // A body just over the shield's request bound is refused by gRPC before anything reads it.
    await assert.rejects(
      deliver({ gzipped: Buffer.alloc(64 * 1024 + 1, 1) }),
      (error: ServiceError) => error.code === status.RESOURCE_EXHAUSTED,
    );
    // The shield keeps serving after all of it.
    assert.deepEqual(await deliver({ unique: "fedcba9876543210" }), {
      bucket: "logs",
      key: "rtmp/ELOGS.2026-12-03-07.fedcba9876543210.gz",
    });
    const keys = (await readDeliveredLogs(s3.s3.endpoint, "logs")).map((l) => l.key).sort();
    assert.deepEqual(keys, [
      "rtmp/ELOGS.2026-12-03-07.0123456789abcdef.gz",
      "rtmp/ELOGS.2026-12-03-07.fedcba9876543210.gz",
    ]);
    assert.deepEqual(await readDeliveredLogs(s3.s3.endpoint, "media"), []);
  });
});
