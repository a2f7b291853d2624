import type { S3Client } from "@aws-sdk/client-s3";
import { Registry } from "prom-client";
import { embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { loadConfig } from "../../lib/config/settings.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createS3Client } from "../../lib/s3-client.js";
import { FaultProxy } from "../../lib/testing/fault-proxy.js";
import { silentLogger, startTestS3, type TestS3, type TestShield } from "../../lib/testing/shield.js";
import { testShieldClient, testTls, testTlsEnv } from "../../lib/testing/tls.js";
import { shieldSettings } from "../src/config.js";
import type { OriginRange } from "../src/origin.js";
import type { OriginObserver, OriginOperation, OriginResult } from "../src/s3/outcome.js";
import { S3Origin, type S3OriginOptions } from "../src/s3-origin.js";
import { ShieldServer } from "../src/shield-server.js";

/** A real s3rver, the fault proxy in front of it, and a client that goes through the proxy. */
export interface FaultyS3 {
  readonly s3: TestS3;
  readonly proxy: FaultProxy;
  /** Signed with the s3rver keys, through the proxy, SDK retries off (createS3Client's default). */
  readonly client: S3Client;
  close(): Promise<void>;
}

export async function startFaultyS3(...buckets: string[]): Promise<FaultyS3> {
  const s3 = await startTestS3(...buckets);
  const proxy = new FaultProxy({ upstream: s3.s3.endpoint });
  await proxy.start();
  const client = createS3Client({
    endpoint: proxy.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    ...embeddedS3Credentials,
  });
  return {
    s3,
    proxy,
    client,
    async close() {
      client.destroy();
      await proxy.close();
      await s3.close();
    },
  };
}

export interface ObservedRequest {
  readonly operation: OriginOperation;
  readonly result: OriginResult;
  readonly seconds: number;
}

/** An OriginObserver that keeps everything, for assertions. */
export class RecordingObserver implements OriginObserver {
  readonly requests: ObservedRequest[] = [];
  bytesRead = 0;
  /** Requests refused before S3 was asked (lane full), by operation. */
  readonly refusals: OriginOperation[] = [];

  request(operation: OriginOperation, result: OriginResult, seconds: number): void {
    this.requests.push({ operation, result, seconds });
  }

  bytes(count: number): void {
    this.bytesRead += count;
  }

  refused(operation: OriginOperation): void {
    this.refusals.push(operation);
  }

  /** How many requests of the operation ended with the result. */
  count(operation: OriginOperation, result: OriginResult): number {
    return this.requests.filter((r) => r.operation === operation && r.result === result).length;
  }

  /** "result×n" per result of the operation, sorted: compact for deepEqual. */
  summary(operation: OriginOperation): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) if (r.operation === operation) out[r.result] = (out[r.result] ?? 0) + 1;
    return out;
  }
}

/**
 * An S3Origin with test-sized timings: backoff in single milliseconds so
 * retries do not slow the suite, unless a test passes its own.
 */
export function testOrigin(
  client: S3Client,
  observer: OriginObserver,
  options: Partial<Omit<S3OriginOptions, "client" | "logger" | "observer">> = {},
): S3Origin {
  return new S3Origin({
    client,
    logger: silentLogger("s3-origin"),
    observer,
    backoff: { baseMs: 2, capMs: 10 },
    timeoutMs: 2_000,
    ...options,
  });
}

/** Iterates a whole range into one buffer. */
export async function collect(range: OriginRange): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of range) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Iterates a range until it ends or fails; returns the bytes that arrived
 * and the error, if any (to prove what came before a failure).
 */
export async function collectUntilError(range: OriginRange): Promise<{ data: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of range) chunks.push(Buffer.from(chunk));
    return { data: Buffer.concat(chunks), error: undefined };
  } catch (error) {
    return { data: Buffer.concat(chunks), error };
  }
}

/**
 * A ShieldServer reading S3 through the fault proxy, plus a gRPC client:
 * the shield as deployed (its own metrics as the observer, default retry
 * settings), only with a misbehaving S3. `env` adds or overrides settings.
 */
export async function startShieldBehindProxy(
  proxy: FaultProxy,
  allowedBuckets: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<TestShield> {
  const config = loadConfig(shieldSettings, {
    env: {
      STREAMFRONT_SHIELD_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
      STREAMFRONT_SHIELD_GRPC_PORT: "0",
      STREAMFRONT_SHIELD_S3_ENDPOINT: proxy.endpoint,
      STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
      STREAMFRONT_SHIELD_ALLOWED_BUCKETS: allowedBuckets.join(","),
      ...env,
    },
  });
  const registry = new Registry();
  const s3Client = createS3Client({
    endpoint: proxy.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    ...embeddedS3Credentials,
  });
  const server = new ShieldServer({
    tls: testTls(PeerRole.Shield),
    config,
    logger: silentLogger("shield"),
    registry,
    s3Client,
  });
  const address = await server.start();
  const client = testShieldClient(address);
  return {
    server,
    address,
    registry,
    client,
    async close() {
      client.close();
      await server.close(500);
      s3Client.destroy();
    },
  };
}

/** The value of one labelled sample in Prometheus text, 0 when absent. */
export function sampleValue(text: string, name: string, labels: Readonly<Record<string, string>>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  // Summed over the labels not named (the S3 metrics' bucket, for one).
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Set((match[2] ?? "").split(","));
    if (wanted.every((pair) => have.has(pair))) sum += Number(match[3]);
  }
  return sum;
}
