import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { EmbeddedS3, embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { type ConfigSources, loadConfig } from "../../lib/config/settings.js";
import { createLogger, type Logger } from "../../lib/log.js";
import { createS3Client } from "../../lib/s3-client.js";
import {
  type ReadRangeRequest,
  type ReadRangeResponse,
  ShieldServiceClient,
  type StatObjectResponse,
} from "../../proto/gen/streamfront/shield/v1/shield.js";
import { shieldSettings } from "../src/config.js";
import { ShieldServer } from "../src/shield-server.js";

export function silentLogger(component = "test"): Logger {
  return createLogger({ component, level: process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent" });
}

export interface TestS3 {
  readonly s3: EmbeddedS3;
  close(): Promise<void>;
}

/** A real s3rver in a temp directory with the given buckets. */
export async function startTestS3(...buckets: string[]): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "streamfront-s3-"));
  const s3 = new EmbeddedS3({ directory, host: "127.0.0.1", port: 0 });
  await s3.start();
  for (const bucket of buckets) await s3.ensureBucket(bucket);
  return {
    s3,
    async close() {
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface TestShield {
  readonly server: ShieldServer;
  readonly address: string;
  readonly registry: Registry;
  readonly client: ShieldServiceClient;
  close(): Promise<void>;
}

export interface TestShieldOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly maxInFlightPieces?: number;
}

/** A ShieldServer on 127.0.0.1:0 in front of the given S3, plus a client to it. */
export async function startTestShield(s3: EmbeddedS3, options: TestShieldOptions = {}): Promise<TestShield> {
  const sources: ConfigSources = {
    env: {
      STREAMFRONT_SHIELD_HOST: "127.0.0.1",
      STREAMFRONT_SHIELD_GRPC_PORT: "0",
      STREAMFRONT_SHIELD_S3_ENDPOINT: s3.endpoint,
      STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
      ...options.env,
    },
  };
  const config = loadConfig(shieldSettings, sources);
  const registry = new Registry();
  const s3Client = createS3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    ...embeddedS3Credentials,
  });
  const server = new ShieldServer({
    config,
    logger: silentLogger("shield"),
    registry,
    s3Client,
    ...(options.maxInFlightPieces === undefined ? {} : { maxInFlightPieces: options.maxInFlightPieces }),
  });
  const address = await server.start();
  const client = new ShieldServiceClient(address, credentials.createInsecure(), {
    "grpc.max_receive_message_length": 8 * 1024 * 1024,
  });
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

export function stat(client: ShieldServiceClient, bucket: string, key: string): Promise<StatObjectResponse> {
  return new Promise((resolve, reject) => {
    client.statObject({ bucket, key }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

export interface ReadResult {
  readonly data: Buffer;
  readonly pieces: readonly ReadRangeResponse[];
}

/** Reads a whole ReadRange stream; rejects with the call's ServiceError. */
export function readAll(
  client: ShieldServiceClient,
  request: Partial<ReadRangeRequest>,
): Promise<ReadResult> {
  const full: ReadRangeRequest = { bucket: "", key: "", offset: 0, length: 0, etag: "", ...request };
  return new Promise((resolve, reject) => {
    const pieces: ReadRangeResponse[] = [];
    const stream = client.readRange(full);
    stream.on("data", (piece: ReadRangeResponse) => pieces.push(piece));
    stream.on("error", reject);
    stream.on("end", () => resolve({ data: Buffer.concat(pieces.map((p) => p.data)), pieces }));
  });
}

/** The gRPC status code of a rejection, for assert.rejects. */
export function hasCode(code: number, detail?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    const e = error as ServiceError;
    if (e.code !== code)
      throw new Error(`expected gRPC status ${code}, got ${e.code}: ${e.details ?? e.message}`);
    if (detail && !detail.test(e.details))
      throw new Error(`details ${JSON.stringify(e.details)} do not match ${detail}`);
    return true;
  };
}

export { delay, eventually } from "../../lib/testing/wait.js";
