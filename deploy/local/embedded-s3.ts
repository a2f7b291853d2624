import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, relative, sep } from "node:path";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import type { Logger } from "../../lib/log.js";
import { createS3Client } from "../../lib/s3-client.js";

export interface EmbeddedS3Options {
  /** Where s3rver keeps buckets and objects (a temp directory in tests). */
  readonly directory: string;
  /** Loopback by default: the embedded S3 has no real authentication. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly logger?: Logger;
  /** Requests kept in `requests`, oldest dropped first. @default 10000 */
  readonly maxRequestLog?: number;
}

/** One HTTP request s3rver received, as seen on the wire. */
export interface S3RequestRecord {
  readonly method: string;
  readonly bucket: string;
  /** The object key, decoded; empty for bucket-level requests. */
  readonly key: string;
  /** The Range header, when there was one. */
  readonly range?: string;
  readonly ifMatch?: string;
  /** 0 until the response headers went out. */
  readonly status: number;
  /**
   * pending while the response is being sent; finished when all of it was
   * written; aborted when the client went away first (e.g. a cancelled read).
   */
  readonly outcome: "pending" | "finished" | "aborted";
}

interface MutableRecord {
  method: string;
  bucket: string;
  key: string;
  range?: string;
  ifMatch?: string;
  status: number;
  outcome: "pending" | "finished" | "aborted";
}

/** Credentials s3rver accepts (it checks signatures against these). */
export const embeddedS3Credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

const contentTypes: Readonly<Record<string, string>> = {
  ".mp4": "video/mp4",
  ".m4v": "video/mp4",
  ".m4a": "audio/mp4",
  ".f4v": "video/mp4",
  ".flv": "video/x-flv",
  ".mp3": "audio/mpeg",
};

/**
 * A local S3 (s3rver on the file system) for `npm start` and for tests, so
 * the shield reads real S3 range GETs over HTTP instead of a mock. Every
 * request is recorded in `requests`, which lets a test prove where bytes
 * came from.
 */
export class EmbeddedS3 {
  readonly #options: EmbeddedS3Options;
  readonly #log: MutableRecord[] = [];
  #server: S3rver | undefined;
  #client: S3Client | undefined;
  #endpoint = "";

  constructor(options: EmbeddedS3Options) {
    this.#options = options;
  }

  /** Requests seen so far, oldest first. */
  get requests(): ReadonlyArray<S3RequestRecord> {
    return this.#log;
  }

  get endpoint(): string {
    if (!this.#endpoint) throw new Error("EmbeddedS3 is not started");
    return this.#endpoint;
  }

  /** A client for this server (path style, the s3rver credentials). */
  get client(): S3Client {
    if (!this.#client) throw new Error("EmbeddedS3 is not started");
    return this.#client;
  }

  async start(): Promise<{ endpoint: string }> {
    const host = this.#options.host ?? "127.0.0.1";
    const server = new S3rver({
      address: host,
      port: this.#options.port ?? 0,
      directory: this.#options.directory,
      silent: true,
    });
    const address = await server.run();
    this.#server = server;
    // An extra 'request' listener sees every request before s3rver's Koa
    // handler answers it, without changing how s3rver behaves.
    server.httpServer?.prependListener("request", (req: IncomingMessage, res: ServerResponse) =>
      this.#record(req, res),
    );
    const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.#endpoint = `http://${shownHost}:${address.port}`;
    this.#client = createS3Client({
      endpoint: this.#endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      ...embeddedS3Credentials,
    });
    this.#options.logger?.info(
      { endpoint: this.#endpoint, directory: this.#options.directory },
      "embedded S3 listening",
    );
    return { endpoint: this.#endpoint };
  }

  /** Creates the bucket unless it exists. */
  async ensureBucket(name: string): Promise<void> {
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: name }));
    } catch (error) {
      const code = (error as { name?: string }).name;
      if (code !== "BucketAlreadyOwnedByYou" && code !== "BucketAlreadyExists") throw error;
    }
  }

  async putObject(bucket: string, key: string, body: Buffer, contentType?: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: contentType ?? contentTypeOf(key),
      }),
    );
  }

  /**
   * Uploads every file under dir; keys are the paths relative to dir with
   * "/" separators. Returns the keys uploaded.
   */
  async uploadDirectory(bucket: string, dir: string): Promise<string[]> {
    const keys: string[] = [];
    for (const file of await listFiles(dir)) {
      const key = relative(dir, file).split(sep).join("/");
      const { size } = await stat(file);
      await this.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: createReadStream(file),
          ContentLength: size,
          ContentType: contentTypeOf(key),
        }),
      );
      keys.push(key);
    }
    this.#options.logger?.info({ bucket, objects: keys.length }, "uploaded directory to embedded S3");
    return keys;
  }

  /** Forgets the recorded requests (e.g. between test steps). */
  clearRequests(): void {
    this.#log.length = 0;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#client?.destroy();
    this.#client = undefined;
    if (!server) return;
    const closed = server.close();
    // Other clients (a shield under test) may hold keep-alive or streaming
    // connections; close() alone would wait for them.
    server.httpServer?.closeAllConnections();
    await closed;
  }

  #record(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://s3.invalid");
    const [bucket = "", ...rest] = url.pathname.slice(1).split("/");
    const record: MutableRecord = {
      method: req.method ?? "",
      bucket: decodeURIComponent(bucket),
      key: decodeURIComponent(rest.join("/")),
      status: 0,
      outcome: "pending",
    };
    const range = req.headers.range;
    if (range) record.range = range;
    const ifMatch = req.headers["if-match"];
    if (ifMatch) record.ifMatch = ifMatch;
    this.#log.push(record);
    const max = this.#options.maxRequestLog ?? 10_000;
    if (this.#log.length > max) this.#log.splice(0, this.#log.length - max);
    res.once("close", () => {
      record.status = res.statusCode;
      record.outcome = res.writableFinished ? "finished" : "aborted";
      this.#options.logger?.debug({ s3Request: record }, "embedded S3 request");
    });
  }
}

function contentTypeOf(key: string): string {
  return contentTypes[extname(key).toLowerCase()] ?? "application/octet-stream";
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}
