import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { readDeliveredLogs } from "../../lib/testing/access-logs.js";
import {
  silentLogger,
  startTestS3,
  startTestShield,
  type TestS3,
  type TestShield,
} from "../../lib/testing/shield.js";
import { testTls } from "../../lib/testing/tls.js";
import { type Distribution, DistributionKind } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { shieldLogDelivery } from "../src/access-log/shield-delivery.js";
import { accessLogHeader } from "../src/access-log/w3c-line.js";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { ShieldPool } from "../src/shield-client/shield-pool.js";

/**
 * The edge's side of DeliverAccessLog against real shields and s3rver:
 * any live replica will do (a dead one, or one that does not know the
 * distribution's Logging yet, is failed over), while S3 failing behind a
 * shield is not failed over — every replica writes the same bucket.
 */

function distribution(id: string, bucket: string): Distribution {
  return {
    id,
    domainName: `${id.toLowerCase()}.test`,
    cnames: [],
    originBucket: "media",
    enabled: true,
    kind: DistributionKind.DISTRIBUTION_KIND_STREAMING,
    trustedSigners: { enabled: false, accountIds: [] },
    logging: { enabled: true, bucket, prefix: "edge/" },
  };
}

/** An address nothing listens on. */
async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

const line =
  "2026-12-03\t07:00:00\tTST1\t127.0.0.1\tconnect\t3073\tOK\tabc\trtmp://h/cfx/st\t-\t-\t-\t-\t-\t-\t-\t-\n";
let sequence = 0;
const file = (distributionId: string) => ({
  distributionId,
  hour: "2026-12-03-07",
  unique: (0x1000 + sequence++).toString(16).padStart(16, "0"),
  gzipped: gzipSync(accessLogHeader + line),
});

async function deliveries(shield: TestShield): Promise<number> {
  const metric = await shield.registry
    .getSingleMetric("streamfront_shield_access_log_deliveries_total")
    ?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe("shieldLogDelivery", () => {
  let s3: TestS3;
  let knows: TestShield;
  let knowsToo: TestShield;
  let stale: TestShield;
  const pools: ShieldPool[] = [];
  const pool = (targets: string[]) => {
    const p = new ShieldPool({
      targets,
      logger: silentLogger("pool"),
      penaltyMs: 60_000,
      tls: testTls(PeerRole.Edge),
    });
    pools.push(p);
    return p;
  };

  before(async () => {
    s3 = await startTestS3("media", "logs");
    knows = await startTestShield(s3.s3);
    knowsToo = await startTestShield(s3.s3);
    stale = await startTestShield(s3.s3);
    const config = new Map([
      ["ELOGS", distribution("ELOGS", "logs.s3.amazonaws.com")],
      // A logging bucket S3 does not have: every PUT fails.
      ["EBROKEN", distribution("EBROKEN", "no-such-bucket")],
    ]);
    knows.server.applyDistributions(config);
    knowsToo.server.applyDistributions(config);
    stale.server.applyDistributions(new Map());
  });
  after(async () => {
    for (const p of pools) p.close();
    for (const shield of [knows, knowsToo, stale]) await shield?.close();
    await s3?.close();
  });

  test("a dead replica and one without the config are failed over: the file lands once", async () => {
    const deliver = shieldLogDelivery(pool([await deadAddress(), stale.address, knows.address]), 5_000);
    for (let i = 0; i < 3; i++) await deliver(file("ELOGS"));
    const logs = await readDeliveredLogs(s3.s3.endpoint, "logs", "edge/");
    assert.equal(logs.length, 3);
    for (const l of logs) assert.match(l.key, /^edge\/ELOGS\.2026-12-03-07\.[0-9a-f]{16}\.gz$/);
  });

  test("no replica that can: EDGE_ERR_ACCESS_LOG_DELIVERY_FAILED", async () => {
    const deliver = shieldLogDelivery(pool([await deadAddress(), stale.address]), 5_000);
    await assert.rejects(
      deliver(file("ELOGS")),
      (error) => error instanceof EdgeError && error.code === EdgeErrorCode.AccessLogDeliveryFailed,
    );
  });

  test("S3 failing behind a shield is not failed over", async () => {
    const before = (await deliveries(knows)) + (await deliveries(knowsToo));
    const deliver = shieldLogDelivery(pool([knows.address, knowsToo.address]), 30_000);
    await assert.rejects(
      deliver(file("EBROKEN")),
      (error) =>
        error instanceof EdgeError &&
        error.code === EdgeErrorCode.AccessLogDeliveryFailed &&
        /SHIELD_ERR_ORIGIN_UNAVAILABLE/.test(error.message),
    );
    assert.equal(
      (await deliveries(knows)) + (await deliveries(knowsToo)) - before,
      1,
      "one shield was asked",
    );
  });
});
