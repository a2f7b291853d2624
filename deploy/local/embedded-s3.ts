import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, relative, sep } from "node:path";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import type { Logger } from "../../lib/log.js";
import { createS3Client } from "../../lib/s3-client.js";
import { checkS3Request, type S3Refusal, s3ErrorXml } from "./s3-auth.js";

export interface EmbeddedS3Options {
  /** Where s3rver keeps buckets and objects (a temp directory in tests). */
  readonly directory: string;
  /** Loopback by default. */
  readonly host?: string;
  /**
   * The one key pair every request must be signed with (SigV4, checked by
   * s3-auth.ts in front of s3rver). @default embeddedS3Credentials
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
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

/**
 * The default key pair of an EmbeddedS3 (tests). `npm start` generates its
 * own pair and keeps it in its state folder. s3rver itself knows only this
 * access key id, so a request verified against another pair reaches s3rver
 * with its Credential renamed to this id.
 */
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
  readonly #publicRead: string[] = [];

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
    this.#guard(server);
    const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.#endpoint = `http://${shownHost}:${address.port}`;
    this.#client = createS3Client({
      endpoint: this.#endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      ...this.credentials,
    });
    this.#options.logger?.info(
      { endpoint: this.#endpoint, directory: this.#options.directory },
      "embedded S3 listening",
    );
    return { endpoint: this.#endpoint };
  }

  /** The key pair requests must be signed with. */
  get credentials(): { readonly accessKeyId: string; readonly secretAccessKey: string } {
    return this.#options.credentials ?? embeddedS3Credentials;
  }

  /**
   * Lets anonymous GET and HEAD read keys under `prefix` in `bucket`, as a
   * public-read bucket policy would (tests of anonymous clients).
   */
  allowAnonymousRead(bucket: string, prefix = ""): void {
    this.#publicRead.push(`${bucket}/${prefix}`);
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

  /** Uploads one file as key (streamed, with its content type). */
  async uploadFile(bucket: string, key: string, file: string): Promise<void> {
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
  }

  /**
   * Uploads every file under dir; keys are the paths relative to dir with
   * "/" separators. Returns the keys uploaded.
   */
  async uploadDirectory(bucket: string, dir: string): Promise<string[]> {
    const keys: string[] = [];
    for (const file of await listFiles(dir)) {
      const key = relative(dir, file).split(sep).join("/");
      await this.uploadFile(bucket, key, file);
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

  /**
   * Puts the signature check in front of s3rver's own handler: s3rver's
   * 'request' (and 'checkContinue') listeners are taken off the server and
   * called only for requests checkS3Request lets through. A request with
   * Expect: 100-continue is checked before its body is asked for.
   */
  #guard(server: S3rver): void {
    const http = server.httpServer;
    if (!http) throw new Error("s3rver did not expose its HTTP server");
    const handlers = http.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
    http.removeAllListeners("request");
    const { accessKeyId } = this.credentials;
    const gate = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
      this.#record(req, res);
      checkS3Request(
        { method: req.method ?? "", rawPath: req.url ?? "/", headers: req.headers },
        { credentials: this.credentials, publicReadPrefixes: this.#publicRead },
      ).then(
        (refusal) => {
          if (refusal) return this.#refuse(req, res, refusal);
          // s3rver looks the access key id up in its own one-key registry.
          const authorization = req.headers.authorization;
          if (authorization && accessKeyId !== embeddedS3Credentials.accessKeyId) {
            req.headers.authorization = authorization.replace(
              `Credential=${accessKeyId}/`,
              `Credential=${embeddedS3Credentials.accessKeyId}/`,
            );
          }
          if (expectsContinue) res.writeContinue();
          for (const handler of handlers) handler.call(http, req, res);
        },
        (error: unknown) =>
          this.#refuse(req, res, { status: 500, code: "InternalError", message: String(error) }),
      );
    };
    http.on("request", (req: IncomingMessage, res: ServerResponse) => gate(req, res, false));
    http.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => gate(req, res, true));
  }

  #refuse(req: IncomingMessage, res: ServerResponse, refusal: S3Refusal): void {
    this.#options.logger?.warn(
      { method: req.method, url: req.url?.slice(0, 256), code: refusal.code },
      "embedded S3 refused a request",
    );
    const body =
      req.method === "HEAD" ? "" : s3ErrorXml(refusal, randomBytes(8).toString("hex").toUpperCase());
    // The body of a refused upload is never read: close the connection after the answer.
    res.writeHead(refusal.status, {
      "content-type": "application/xml",
      "content-length": Buffer.byteLength(body),
      connection: "close",
    });
    res.end(body);
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
