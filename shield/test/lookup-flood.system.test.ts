import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../../lib/process/launcher.js";
import { eventually, readAll, stat } from "../../lib/testing/shield.js";
import { testShieldClient, testTlsEnv } from "../../lib/testing/tls.js";
import {
  type ShieldServiceClient,
  type StatObjectResponse,
  StatPurpose,
} from "../../proto/gen/streamfront/shield/v1/shield.js";
import { errorCodeMetadataKey, ShieldErrorCode } from "../src/errors.js";
import { type FaultyS3, sampleValue, startFaultyS3 } from "./fault-helpers.js";

// Issue 9 item 8: getStreamLength for random names makes the shield HEAD
// S3 once per name; 6,000 of them filled the per-bucket queue and a
// concurrent cold play's GETs were refused. The shield is run as its own
// process, as deployed; S3 is the real s3rver.

const shieldMain = fileURLToPath(new URL("../src/main.js", import.meta.url));
const bucket = "media-origin";
const flood = 6_000;
const maxLookups = 16;
const maxQueuedLookups = 64;

interface Outcome {
  readonly code: number;
  readonly shieldCode: string | undefined;
}

function outcomeOf(error: unknown): Outcome {
  const e = error as ServiceError;
  const value = e.metadata?.get(errorCodeMetadataKey)[0];
  return { code: e.code, shieldCode: typeof value === "string" ? value : undefined };
}

/** VmHWM and VmRSS of a process in MiB, from /proc/<pid>/status. */
async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** Stats `count` distinct random names, as one edge's connection would; resolves each outcome. */
function startFlood(
  client: ShieldServiceClient,
  count: number,
  onSettled: (o: Outcome) => void,
): Promise<Outcome[]> {
  // A hang guard under the system tests' 600 s timeout, not a bound: the
  // held lookups must not expire on their own however slow the machine is.
  const deadline = new Date(Date.now() + 590_000);
  const calls: Promise<Outcome>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `flood/${randomBytes(12).toString("hex")}.flv`;
    calls.push(
      new Promise<Outcome>((resolve) => {
        client.statObject({ bucket, key }, new Metadata(), { deadline }, (error) => {
          const outcome = error ? outcomeOf(error) : { code: status.OK, shieldCode: undefined };
          onSettled(outcome);
          resolve(outcome);
        });
      }),
    );
  }
  return Promise.all(calls);
}

/** A StatObject as an edge's play sends it (purpose PLAY). */
function playStat(client: ShieldServiceClient, key: string): Promise<StatObjectResponse> {
  return new Promise((resolve, reject) => {
    client.statObject({ bucket, key, purpose: StatPurpose.STAT_PURPOSE_PLAY }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const name = `${status[o.code]}${o.shieldCode ? ` ${o.shieldCode}` : ""}`;
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

describe("a flood of lookups for names that do not exist (shield process, real s3rver)", () => {
  let faulty: FaultyS3;
  let shield: LaunchedComponent;
  let client: ShieldServiceClient;
  let body: Buffer;
  let etag: string;
  /** HEADs for flood/ names that reached S3. */
  let floodHeads = 0;
  /** While true, flood HEADs are held at the proxy (fault injection: a slow S3 answering lookups). */
  let holding = false;
  /** Resolvers of the flood HEADs held now, oldest first. */
  const held: (() => void)[] = [];
  const releaseAll = () => {
    holding = false;
    for (const release of held.splice(0)) release();
  };
  /** Every HEAD the proxy saw, in order of arrival (keys). */
  const headOrder: string[] = [];

  before(async () => {
    faulty = await startFaultyS3(bucket);
    body = randomBytes(6 * 1024 * 1024);
    await faulty.s3.s3.putObject(bucket, "videos/cold.bin", body);
    await faulty.s3.s3.putObject(bucket, "videos/known.flv", Buffer.from("FLV known"));
    await faulty.s3.s3.putObject(bucket, "videos/cold2.flv", Buffer.from("FLV cold2"));
    faulty.proxy.onRequest(async (request) => {
      if (request.method !== "HEAD") return;
      headOrder.push(request.path);
      if (!request.path.includes("/flood/")) return;
      floodHeads += 1;
      if (holding) await new Promise<void>((resolve) => held.push(resolve));
    });
    shield = await launchComponent(shieldMain, {
      stdio: "ignore",
      env: {
        ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
        STREAMFRONT_SHIELD_GRPC_PORT: "0",
        STREAMFRONT_SHIELD_ADMIN_PORT: "0",
        STREAMFRONT_SHIELD_S3_ENDPOINT: faulty.proxy.endpoint,
        STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
        STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: "S3RVER",
        STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: "S3RVER",
        STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket,
        STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: String(64 * 1024 * 1024),
        // Held HEADs must not time out while the test holds them.
        STREAMFRONT_SHIELD_S3_TIMEOUT_MS: "600000",
        // Long enough that the second look below cannot outlive it on a loaded machine.
        STREAMFRONT_SHIELD_NEGATIVE_TTL_SECONDS: "3600",
        STREAMFRONT_SHIELD_S3_MAX_LOOKUPS_PER_BUCKET: String(maxLookups),
        STREAMFRONT_SHIELD_S3_MAX_QUEUED_LOOKUPS_PER_BUCKET: String(maxQueuedLookups),
      },
    });
    client = testShieldClient(shield.addresses.grpc ?? "", {
      "grpc.max_receive_message_length": 8 * 1024 * 1024,
    });
  });

  after(async () => {
    releaseAll();
    client?.close();
    await shield?.stop();
    await faulty?.close();
  });

  it("sheds what exceeds the lookup lane while a cold read of a real object completes byte for byte", async (t) => {
    // Whatever fails, held HEADs must not outlive this test.
    t.after(releaseAll);
    // A play's open before the flood: the shield learns the object's ETag (one HEAD).
    const info = await stat(client, bucket, "videos/cold.bin");
    etag = info.etag;
    assert.equal(info.size, body.length);
    await stat(client, bucket, "videos/known.flv");
    const before = await memoryMiB(shield.child.pid ?? 0);
    const queued = async (lane: string) =>
      sampleValue(
        await (await fetch(`http://${shield.addresses.admin}/metrics`)).text(),
        "streamfront_shield_origin_queued_requests",
        {
          lane,
        },
      );

    holding = true;
    const floodStart = headOrder.length;
    const admitted = maxLookups + maxQueuedLookups;
    let settled = 0;
    let allShed: () => void = () => {};
    const shedDone = new Promise<void>((resolve) => {
      allShed = resolve;
    });
    const floodDone = startFlood(client, flood, () => {
      settled += 1;
      if (settled === flood - admitted) allShed();
    });
    // Every lookup past the lane's bound is answered while S3 holds the
    // admitted ones: nothing else is waiting.
    await shedDone;
    await eventually(() => floodHeads >= maxLookups, 60_000, "the admitted HEADs reaching S3");
    assert.equal(floodHeads, maxLookups, "HEADs at S3 while the lane is full: its in-flight bound");

    // A cold read while the lookup lane is full: pinned to the ETag, as the
    // edge reads after its open, through the read lane.
    const startedRead = performance.now();
    const read = await readAll(client, {
      bucket,
      key: "videos/cold.bin",
      offset: 0,
      length: body.length,
      etag,
    });
    const readMs = performance.now() - startedRead;
    assert.ok(read.data.equals(body), "the cold read is byte-identical");
    // A play of an object the shield knows still opens (its stat is cached).
    assert.equal((await stat(client, bucket, "videos/known.flv")).size, 9);
    // A play's open of an object the shield has not seen waits for a HEAD
    // slot ahead of the 64 queued lookups: the first slot S3 frees is its.
    const open = playStat(client, "videos/cold2.flv");
    await eventually(async () => (await queued("open")) === 1, 60_000, "the open queued at the shield");
    assert.equal(await queued("lookup"), maxQueuedLookups);
    held.shift()?.();
    const opened = await open;
    assert.equal(opened.size, 9);
    // HEADs that reached S3 since the flood began: the 16 admitted, then the open's.
    assert.match(
      headOrder[floodStart + maxLookups] ?? "",
      /videos\/cold2\.flv/,
      "the open's HEAD went before every queued lookup",
    );

    releaseAll();
    const outcomes = await floodDone;
    const counts = tally(outcomes);
    assert.deepEqual(counts, {
      [`RESOURCE_EXHAUSTED ${ShieldErrorCode.LookupsShed}`]: flood - admitted,
      [`NOT_FOUND ${ShieldErrorCode.ObjectNotFound}`]: admitted,
    });
    assert.equal(floodHeads, admitted, `S3 HEADs for the ${flood}-name flood`);

    const metrics = await (await fetch(`http://${shield.addresses.admin}/metrics`)).text();
    assert.equal(
      sampleValue(metrics, "streamfront_shield_origin_refused_total", { operation: "head" }),
      flood - admitted,
    );
    const after = await memoryMiB(shield.child.pid ?? 0);
    t.diagnostic(
      `${flood} distinct random names: ${floodHeads} S3 HEADs (bound ${maxLookups} in flight + ${maxQueuedLookups} queued), ` +
        `${flood - admitted} shed with RESOURCE_EXHAUSTED; cold 6 MiB read during the flood took ${readMs.toFixed(0)} ms; ` +
        `shield RSS ${before.rss.toFixed(0)} → ${after.rss.toFixed(0)} MiB, peak (VmHWM) ${after.peak.toFixed(0)} MiB (/proc/<pid>/status of the shield process)`,
    );
    assert.ok(after.peak < 400, `shield peak RSS ${after.peak.toFixed(0)} MiB`);
    // The shield still answers.
    assert.equal((await stat(client, bucket, "videos/cold.bin")).size, body.length);
  });

  it("remembers the names S3 said do not exist, and answers unthrottled S3 floods with bounded work", async (t) => {
    // Names just answered NOT_FOUND are negative-cache hits: no HEAD.
    const seen = floodHeads;
    const known = faulty.proxy.requests
      .filter((r) => r.method === "HEAD" && r.path.includes("/flood/"))
      .map((r) => decodeURIComponent(r.path.slice(`/${bucket}/`.length).split("?")[0] ?? ""));
    assert.equal(known.length, seen);
    for (const key of known) {
      await assert.rejects(stat(client, bucket, key), (e: ServiceError) => e.code === status.NOT_FOUND);
    }
    assert.equal(floodHeads, seen, "no HEAD for a name S3 just said is missing");

    // The same flood against an S3 that answers at once (nothing held): every
    // call is answered NOT_FOUND or shed, and a concurrent cold read is whole.
    const before = floodHeads;
    let settled = 0;
    const floodDone = startFlood(client, flood, () => {
      settled += 1;
    });
    const read = await readAll(client, {
      bucket,
      key: "videos/cold.bin",
      offset: 0,
      length: body.length,
      etag,
    });
    assert.ok(read.data.equals(body), "the cold read is byte-identical");
    const outcomes = await floodDone;
    assert.equal(settled, flood);
    const counts = tally(outcomes);
    for (const name of Object.keys(counts)) {
      assert.ok(
        name === `RESOURCE_EXHAUSTED ${ShieldErrorCode.LookupsShed}` ||
          name === `NOT_FOUND ${ShieldErrorCode.ObjectNotFound}`,
        `unexpected outcome ${name}`,
      );
    }
    const heads = floodHeads - before;
    assert.equal(
      heads,
      counts[`NOT_FOUND ${ShieldErrorCode.ObjectNotFound}`] ?? 0,
      "one HEAD per name answered",
    );
    const memory = await memoryMiB(shield.child.pid ?? 0);
    t.diagnostic(
      `unthrottled s3rver: ${flood} names → ${heads} S3 HEADs, outcomes ${JSON.stringify(counts)}; ` +
        `shield peak RSS (VmHWM) ${memory.peak.toFixed(0)} MiB`,
    );
    assert.ok(memory.peak < 400, `shield peak RSS ${memory.peak.toFixed(0)} MiB`);
    assert.equal((await stat(client, bucket, "videos/cold.bin")).size, body.length);
  });
});
