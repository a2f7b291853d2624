import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import { embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createS3Client } from "../../lib/s3-client.js";
import { silentLogger, startTestS3, startTestShield, stat, type TestS3 } from "../../lib/testing/shield.js";
import { testShieldClient, testTls, testTlsEnv } from "../../lib/testing/tls.js";
import type { ReadRangeResponse, ShieldServiceClient } from "../../proto/gen/streamfront/shield/v1/shield.js";
import { loadShieldConfig } from "../src/config.js";
import { ShieldServer } from "../src/shield-server.js";

/**
 * Memory stays within the configured budgets under a run that reads ten
 * times the memory tier's size: in-process, the cache's own accounting is
 * sampled after every block; in a child process that runs only the shield
 * (s3rver and the gRPC client stay in this process, so their memory does
 * not count), RSS is sampled every 10 ms and its growth over the warmed-up
 * floor is bounded and printed.
 */

const childFlag = "STREAMFRONT_CACHE_RSS_CHILD";
const bucket = "budget-media";
const mib = 1024 * 1024;

interface MemorySample {
  readonly rss: number;
  readonly peakRss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly cacheMemoryBytes: number;
  readonly peakCacheMemoryBytes: number;
  readonly peakFetchingBytes: number;
}

type ChildMessage = { type: "ready"; address: string } | ({ type: "sample" } & MemorySample);

if (process.env[childFlag] === "1") await runChild();
else {
  const { after, before, describe, it } = await import("node:test");

  describe("memory budget under a read of 10× the memory tier", () => {
    let s3: TestS3;
    const objects: { key: string; size: number; sha256: string }[] = [];

    before(async () => {
      s3 = await startTestS3(bucket);
      // Ten 32 MiB objects; only their digests are kept here.
      for (let i = 0; i < 10; i++) {
        const body = randomBytes(32 * mib);
        const key = `videos/title-${i}.bin`;
        await s3.s3.putObject(bucket, key, body);
        objects.push({ key, size: body.length, sha256: createHash("sha256").update(body).digest("hex") });
      }
    });

    after(async () => {
      await s3?.close();
    });

    it("in-process: cache bytes never exceed cache-memory-bytes while 10× that is read through a ShieldServer", async () => {
      const budget = 16 * mib;
      const shield = await startTestShield(s3.s3, {
        env: {
          STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket,
          STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: String(budget),
          STREAMFRONT_SHIELD_CACHE_SLICE_BYTES: String(mib),
        },
      });
      const cache = shield.server.cache!;
      let peakMemory = 0;
      let peakFetching = 0;
      const sampler = setInterval(() => {
        peakMemory = Math.max(peakMemory, cache.memoryBytes);
        peakFetching = Math.max(peakFetching, cache.fetchingBytes);
      }, 2);
      try {
        // Five 32 MiB titles = 160 MiB = 10 × the budget; two viewers per
        // title, played block by block like an edge does.
        for (const object of objects.slice(0, 5)) {
          const digests = await Promise.all(
            [0, 1].map(() =>
              playBlocks(shield.client, object.key, object.size, () => {
                peakMemory = Math.max(peakMemory, cache.memoryBytes);
              }),
            ),
          );
          for (const digest of digests) assert.equal(digest, object.sha256, object.key);
        }
      } finally {
        clearInterval(sampler);
      }
      assert.ok(peakMemory <= budget, `memory tier peaked at ${peakMemory} bytes, budget ${budget}`);
      assert.ok(peakMemory > budget / 2, "the tier was used");
      assert.ok(cache.memoryEvictions > 0);
      assert.ok(peakFetching <= 16 * mib, `fetching peaked at ${peakFetching}`);
      console.log(
        `in-process: 160 MiB of distinct data (5 titles × 32 MiB, 2 viewers each: 320 MiB served) through a ` +
          `${budget / mib} MiB memory tier: peak tier ${(peakMemory / mib).toFixed(1)} MiB, peak in flight ` +
          `${(peakFetching / mib).toFixed(1)} MiB, ${cache.memoryEvictions} evictions, ` +
          `${cache.stats.collapsed} collapsed joins, ${cache.stats.readAhead} read-ahead slices`,
      );
      await shield.close();
    });

    it("child process: RSS growth stays bounded while 10× the memory tier is read", async () => {
      const budget = 32 * mib;
      const cached = await measureChild(s3, objects, budget);
      console.log(
        `child RSS, cache-memory-bytes=${budget / mib} MiB, read ${cached.readMiB} MiB after a 32 MiB warm-up: ` +
          `floor ${mb(cached.floor)} MiB, peak ${mb(cached.peak.peakRss)} MiB ` +
          `(growth ${mb(cached.peak.peakRss - cached.floor)} MiB), after GC ${mb(cached.end.rss)} MiB; ` +
          `peak tier ${mb(cached.peak.peakCacheMemoryBytes)} MiB, peak in flight ` +
          `${mb(cached.peak.peakFetchingBytes)} MiB, external ${mb(cached.end.external)} MiB`,
      );
      assert.ok(cached.peak.peakCacheMemoryBytes <= budget);
      // Tier + fetches in flight (16 MiB by default here) + gRPC/HTTP buffers
      // and garbage not yet collected: far below the 320 MiB read.
      const growth = cached.peak.peakRss - cached.floor;
      assert.ok(growth < budget + 16 * mib + 96 * mib, `RSS grew ${mb(growth)} MiB`);
      assert.ok(cached.end.rss - cached.floor < budget + 64 * mib, `RSS after GC ${mb(cached.end.rss)} MiB`);
    });
  });
}

function mb(bytes: number): string {
  return (bytes / mib).toFixed(1);
}

/** Reads an object in 1 MiB ReadRange calls, pinned to its ETag, and returns its SHA-256. */
async function playBlocks(
  client: ShieldServiceClient,
  key: string,
  size: number,
  onBlock: () => void = () => {},
): Promise<string> {
  const info = await stat(client, bucket, key);
  const hash = createHash("sha256");
  for (let offset = 0; offset < size; offset += mib) {
    await new Promise<void>((resolve, reject) => {
      const stream = client.readRange({ bucket, key, offset, length: mib, etag: info.etag });
      stream.on("data", (piece: ReadRangeResponse) => hash.update(piece.data));
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    onBlock();
  }
  return hash.digest("hex");
}

async function measureChild(
  s3: TestS3,
  objects: readonly { key: string; size: number; sha256: string }[],
  memoryBytes: number,
): Promise<{ floor: number; peak: MemorySample; end: MemorySample; readMiB: number }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: {
      ...process.env,
      [childFlag]: "1",
      STREAMFRONT_TEST_S3_ENDPOINT: s3.s3.endpoint,
      STREAMFRONT_SHIELD_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
      STREAMFRONT_SHIELD_GRPC_PORT: "0",
      STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket,
      STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: String(memoryBytes),
      STREAMFRONT_SHIELD_CACHE_SLICE_BYTES: String(mib),
    },
    execArgv: ["--expose-gc"],
    // stdout is this test's TAP stream: the child must not write to it.
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const messages: ChildMessage[] = [];
  const waiters: ((m: ChildMessage) => void)[] = [];
  child.on("message", (m: ChildMessage) => {
    const waiter = waiters.shift();
    if (waiter) waiter(m);
    else messages.push(m);
  });
  const next = (): Promise<ChildMessage> =>
    new Promise((resolve, reject) => {
      const queued = messages.shift();
      if (queued) {
        resolve(queued);
        return;
      }
      waiters.push(resolve);
      child.once("exit", (code) =>
        reject(new Error(`shield child exited (${code}): ${stderr.slice(-2000)}`)),
      );
    });
  const sample = async (gc: boolean): Promise<MemorySample> => {
    child.send({ type: gc ? "gc" : "sample" });
    const m = await next();
    assert.equal(m.type, "sample");
    return m as MemorySample;
  };
  let client: ShieldServiceClient | undefined;
  try {
    const ready = await next();
    assert.equal(ready.type, "ready");
    client = testShieldClient((ready as { address: string }).address);
    // Warm-up: one title, so modules, JIT and connection buffers are in the floor.
    assert.equal(await playBlocks(client, objects[0]!.key, objects[0]!.size), objects[0]!.sha256);
    const floor = (await sample(true)).rss;
    child.send({ type: "reset-peak" });
    let read = 0;
    // Ten titles, two at a time: 320 MiB, 10× a 32 MiB tier.
    for (let i = 0; i < objects.length; i += 2) {
      const pair = objects.slice(i, i + 2);
      const digests = await Promise.all(pair.map((o) => playBlocks(client!, o.key, o.size)));
      for (const [j, o] of pair.entries()) assert.equal(digests[j], o.sha256, o.key);
      read += pair.reduce((n, o) => n + o.size, 0);
    }
    const peak = await sample(false);
    const end = await sample(true);
    return { floor, peak, end, readMiB: read / mib };
  } finally {
    client?.close();
    child.send({ type: "stop" });
    await Promise.race([once(child, "exit"), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (child.exitCode === null) child.kill();
  }
}

/** The child: a ShieldServer alone, answering memory samples over IPC. */
async function runChild(): Promise<void> {
  const config = loadShieldConfig({ env: process.env });
  const s3Client = createS3Client({
    endpoint: process.env.STREAMFRONT_TEST_S3_ENDPOINT ?? "",
    region: "us-east-1",
    forcePathStyle: true,
    ...embeddedS3Credentials,
  });
  const server = new ShieldServer({
    tls: testTls(PeerRole.Shield),
    config,
    logger: silentLogger("shield"),
    registry: new Registry(),
    s3Client,
  });
  const address = await server.start();
  let peakRss = 0;
  let peakCache = 0;
  let peakFetching = 0;
  const watch = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakCache = Math.max(peakCache, server.cache?.memoryBytes ?? 0);
    peakFetching = Math.max(peakFetching, server.cache?.fetchingBytes ?? 0);
  };
  const timer = setInterval(watch, 10);
  const send = (m: ChildMessage) => process.send?.(m);
  process.on("message", (m: { type: string }) => {
    if (m.type === "reset-peak") {
      peakRss = 0;
      peakCache = 0;
      peakFetching = 0;
      return;
    }
    if (m.type === "stop") {
      clearInterval(timer);
      void server.close(500).then(() => {
        s3Client.destroy();
        process.exit(0);
      });
      return;
    }
    if (m.type === "gc") (globalThis as { gc?: () => void }).gc?.();
    watch();
    const usage = process.memoryUsage();
    send({
      type: "sample",
      rss: usage.rss,
      peakRss,
      heapUsed: usage.heapUsed,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
      cacheMemoryBytes: server.cache?.memoryBytes ?? 0,
      peakCacheMemoryBytes: peakCache,
      peakFetchingBytes: peakFetching,
    });
  });
  send({ type: "ready", address });
}
