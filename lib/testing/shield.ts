import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceError } from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { EmbeddedS3, embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import type {
  ReadRangeRequest,
  ReadRangeResponse,
  ShieldServiceClient,
  StatObjectResponse,
} from "../../proto/gen/streamfront/shield/v1/shield.js";
import { shieldSettings } from "../../shield/src/config.js";
import { ShieldError, ShieldErrorCode } from "../../shield/src/errors.js";
import type { ObjectInfo, Origin, OriginRange, StatOptions } from "../../shield/src/origin.js";
import { ShieldServer } from "../../shield/src/shield-server.js";
import { type ConfigSources, loadConfig } from "../config/settings.js";
import { PeerRole } from "../grpc/peer-role.js";
import { createLogger, type Logger } from "../log.js";
import { createS3Client } from "../s3-client.js";
import { testShieldClient, testTls, testTlsEnv } from "./tls.js";

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
  /** The cache's freshness clock (ShieldServerDeps.now). */
  readonly now?: () => number;
}

/** A ShieldServer on 127.0.0.1:0 in front of the given S3, plus a client to it. */
export async function startTestShield(s3: EmbeddedS3, options: TestShieldOptions = {}): Promise<TestShield> {
  const sources: ConfigSources = {
    env: {
      STREAMFRONT_SHIELD_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
      STREAMFRONT_SHIELD_GRPC_PORT: "0",
      STREAMFRONT_SHIELD_S3_ENDPOINT: s3.endpoint,
      STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
      // The slice cache is off unless a test turns it on: the service tests
      // count S3 requests and replace objects as if every read reached S3.
      STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: "0",
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
    tls: testTls(PeerRole.Shield),
    config,
    logger: silentLogger("shield"),
    registry,
    s3Client,
    ...(options.maxInFlightPieces === undefined ? {} : { maxInFlightPieces: options.maxInFlightPieces }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const address = await server.start();
  const client = testShieldClient(address, {
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

/**
 * The one fake the cache tests use, and only a wrapper: every byte and
 * every answer comes from the real Origin inside (S3Origin over s3rver).
 * Its bodies are cut into chunks of `chunkBytes` that pass a gate the test
 * opens and closes, so the test decides when bytes arrive — a real S3 on
 * loopback delivers a slice too fast to join it mid-fetch or abort it
 * half-way on purpose.
 */
export class GatedOrigin implements Origin {
  readonly #inner: Origin;
  readonly #chunkBytes: number;
  /** Chunks that may still pass; Infinity when the gate is open. */
  #allowance = Number.POSITIVE_INFINITY;
  #wakers: (() => void)[] = [];
  /** Chunks that passed the gate, over all bodies. */
  chunksPassed = 0;
  /** Bodies whose iteration ended before their last byte (the reader stopped or aborted). */
  bodiesStoppedEarly = 0;
  /** readRange calls the inner origin answered. */
  readsAnswered = 0;

  constructor(inner: Origin, chunkBytes = 4096) {
    this.#inner = inner;
    this.#chunkBytes = chunkBytes;
  }

  /** Lets no more chunks through. */
  hold(): void {
    this.#allowance = 0;
  }

  /** Lets `chunks` more through, then holds again. */
  allow(chunks: number): void {
    this.#allowance = (Number.isFinite(this.#allowance) ? this.#allowance : 0) + chunks;
    this.#wake();
  }

  /** Lets everything through. */
  open(): void {
    this.#allowance = Number.POSITIVE_INFINITY;
    this.#wake();
  }

  stat(bucket: string, key: string, signal?: AbortSignal, options?: StatOptions): Promise<ObjectInfo> {
    return this.#inner.stat(bucket, key, signal, options);
  }

  async readRange(
    bucket: string,
    key: string,
    offset: number,
    length: number,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<OriginRange> {
    const range = await this.#inner.readRange(bucket, key, offset, length, etag, signal);
    this.readsAnswered += 1;
    return {
      offset: range.offset,
      length: range.length,
      objectSize: range.objectSize,
      etag: range.etag,
      [Symbol.asyncIterator]: () => this.#gated(range, signal),
    };
  }

  async *#gated(range: OriginRange, signal: AbortSignal): AsyncGenerator<Buffer> {
    let complete = false;
    try {
      for await (const chunk of range) {
        for (let at = 0; at < chunk.length; at += this.#chunkBytes) {
          await this.#pass(signal);
          this.chunksPassed += 1;
          yield chunk.subarray(at, Math.min(chunk.length, at + this.#chunkBytes));
        }
      }
      complete = true;
    } finally {
      if (!complete) this.bodiesStoppedEarly += 1;
    }
  }

  #pass(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new ShieldError(ShieldErrorCode.Aborted, "read aborted"));
    if (this.#allowance > 0) {
      this.#allowance -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#wakers.indexOf(attempt);
        if (at >= 0) this.#wakers.splice(at, 1);
        reject(new ShieldError(ShieldErrorCode.Aborted, "read aborted"));
      };
      const attempt = () => {
        if (this.#allowance > 0) {
          this.#allowance -= 1;
          signal.removeEventListener("abort", onAbort);
          resolve();
        } else {
          this.#wakers.push(attempt);
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#wakers.push(attempt);
    });
  }

  #wake(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    for (const attempt of wakers) attempt();
  }
}

export { delay, eventually } from "./wait.js";
