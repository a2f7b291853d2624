import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { errorMessage } from "../../../lib/errors.js";
import type { Logger } from "../../../lib/log.js";
import { listen, type PortSetting } from "../../../lib/net/listen.js";
import { AddressBudget, clientAddress } from "./address-budget.js";
import { ApiError, fallbackApiVersion, isApiErrorCode, renderError, toApiError } from "./api-error.js";
import { AuthError } from "./auth/auth-error.js";
import type { RequestAuthenticator } from "./auth/authenticator.js";
import type { PublicKeyApi } from "./public-key-api.js";
import {
  parsePublicKeyConfig,
  renderPublicKey,
  renderPublicKeyConfig,
  renderPublicKeyList,
} from "./public-key-xml.js";
import { Operation, type Route, route } from "./routes.js";
import type { StreamingApi } from "./streaming-api.js";
import { parseListParameters } from "./streaming-config/list-parameters.js";
import type { StreamingLimits } from "./streaming-config/rules.js";
import { codecForVersion, servedApiVersions } from "./xml-codec.js";
import type { RenderContext, StreamingXmlCodec } from "./xml-types.js";

/** What the server reports per request and per connection; the controller's metrics implement it. */
export interface ApiObserver {
  request(operation: string, code: string, httpStatus: number, seconds: number): void;
  /** A connection was accepted (opened) or ended (closed), or refused over a connection bound. */
  connection(event: "opened" | "closed" | "refused"): void;
}

export interface ApiServerOptions {
  readonly api: StreamingApi;
  /** CreatePublicKey … ListPublicKeys; without it they answer NotImplemented. */
  readonly publicKeys?: PublicKeyApi;
  readonly authenticator: RequestAuthenticator;
  readonly logger: Logger;
  readonly limits: Partial<StreamingLimits>;
  /** Largest request body read; larger ones get EntityTooLarge before a byte is buffered. @default 65536 */
  readonly maxBodyBytes?: number;
  /**
   * Authenticated requests handled at once; more get Throttling (the SDKs
   * back off and retry). Only requests that passed authentication from
   * their headers count, so unauthenticated clients cannot fill it. @default 256
   */
  readonly maxConcurrentRequests?: number;
  /** Open connections in total; more are answered Throttling and closed. @default 1024 */
  readonly maxConnections?: number;
  /** Open connections from one client address. @default 64 */
  readonly maxConnectionsPerAddress?: number;
  /**
   * Requests whose signature can only be checked once the body is read
   * (SigV4 without a signed x-amz-content-sha256, as botocore signs): their
   * sender named a known key id but may not hold its secret, so they are
   * bounded apart, in total and per address. @default 64 and 8
   */
  readonly maxUnverifiedRequests?: number;
  readonly maxUnverifiedPerAddress?: number;
  /** Time from a connection's (or request's) first byte to the end of its headers. @default 10000 */
  readonly headersTimeoutMs?: number;
  /** Time for the whole body once the headers are authenticated; then RequestTimeout. @default 10000 */
  readonly bodyTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this long. @default 5000 */
  readonly keepAliveTimeoutMs?: number;
  /** The URL base of Location headers, e.g. http://127.0.0.1:9102. Defaults to the request's Host. */
  readonly publicBaseUrl?: string;
  readonly observer?: ApiObserver;
}

const xmlContentType = "text/xml";
/** The operations that came with API 2016-08-01. */
const taggingOperations: ReadonlySet<Operation> = new Set([
  Operation.CreateWithTags,
  Operation.Tag,
  Operation.Untag,
  Operation.ListTags,
]);
/** The public-key calls, served in API 2020-05-31 (the version that brought them to signed URLs). */
const publicKeyOperations: ReadonlySet<Operation> = new Set([
  Operation.CreatePublicKey,
  Operation.GetPublicKey,
  Operation.GetPublicKeyConfig,
  Operation.UpdatePublicKey,
  Operation.DeletePublicKey,
  Operation.ListPublicKeys,
]);
const publicKeyApiVersion = "2020-05-31";
const noObserver: ApiObserver = { request() {}, connection() {} };
/**
 * How long a connection we are closing may still deliver bytes before it is
 * destroyed: long enough for the client to read the answer it was sent.
 */
const lingerMs = 2_000;

/**
 * The CloudFront control API over HTTP: routes, authenticates from the
 * headers, reads the body within its bounds, checks it against the
 * signature, runs the operation and writes CloudFront's XML, with
 * `x-amz-request-id` on every response and `<ErrorResponse>` bodies for
 * every refusal. Nothing here throws past a request: an unexpected error is
 * an InternalError answer and a log line with its cause.
 *
 * What a client without a key can hold is bounded: a connection (per
 * address and in total) for at most the headers timeout; once its headers
 * are in it is refused before its body is read, and the connection closed.
 */
export class ApiServer {
  readonly #o: ApiServerOptions;
  readonly #server: Server;
  readonly #maxBodyBytes: number;
  readonly #maxConcurrent: number;
  readonly #bodyTimeoutMs: number;
  readonly #observer: ApiObserver;
  readonly #connections: AddressBudget;
  readonly #unverified: AddressBudget;
  /** Sockets refused at connect: whatever they send is not served. */
  readonly #refused = new WeakSet<Socket>();
  /** The response being written on each socket, so a parse error there never writes over it. */
  readonly #active = new WeakMap<Socket, ServerResponse>();
  #inFlight = 0;

  constructor(options: ApiServerOptions) {
    this.#o = options;
    this.#maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.#maxConcurrent = options.maxConcurrentRequests ?? 256;
    this.#bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
    this.#observer = options.observer ?? noObserver;
    this.#connections = new AddressBudget({
      perAddress: options.maxConnectionsPerAddress ?? 64,
      total: options.maxConnections ?? 1024,
    });
    this.#unverified = new AddressBudget({
      perAddress: options.maxUnverifiedPerAddress ?? 8,
      total: options.maxUnverifiedRequests ?? 64,
    });
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    this.#server = createServer(
      {
        // Node checks these timeouts every connectionsCheckingInterval
        // (30 s by default), so a 10 s headers timeout really fired after
        // up to 40 s; checked every second it fires within a second.
        headersTimeout,
        // A backstop only: the body timeout below answers RequestTimeout
        // first, with an XML body the SDKs retry on.
        requestTimeout: headersTimeout + this.#bodyTimeoutMs + 5_000,
        connectionsCheckingInterval: 1_000,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
        maxHeaderSize: 16 * 1024,
      },
      (req, res) => this.#dispatch(req, res, false),
    );
    // Expect: 100-continue is answered only once the headers are
    // authenticated: Node's default would invite the body of anyone.
    this.#server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) =>
      this.#dispatch(req, res, true),
    );
    // Pipelined requests on one socket all reach the handler before their
    // answers are written; past this many the socket is answered 503 and closed.
    this.#server.maxRequestsPerSocket = 1_000;
    this.#server.on("connection", (socket: Socket) => this.#onConnection(socket));
    this.#server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) =>
      this.#onClientError(error, socket),
    );
  }

  listen(port: number, host: string, setting?: PortSetting): Promise<AddressInfo> {
    return listen(this.#server, port, host, setting);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Open connections, as counted against maxConnections. */
  get connections(): number {
    return this.#connections.total;
  }

  #onConnection(socket: Socket): void {
    const address = clientAddress(socket.remoteAddress);
    if (!this.#connections.tryTake(address)) {
      this.#refused.add(socket);
      this.#observer.connection("refused");
      this.#o.logger.debug({ address }, "API connection refused: too many open connections");
      const body = renderError(
        new ApiError("Throttling", "Too many open connections. Retry with backoff."),
        randomUUID(),
        fallbackApiVersion,
      );
      socket.on("error", () => {});
      socket.end(
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nRetry-After: 1\r\n" +
          `Content-Type: ${xmlContentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      lingerThenDestroy(socket);
      return;
    }
    this.#observer.connection("opened");
    socket.once("close", () => {
      this.#connections.release(address);
      this.#observer.connection("closed");
    });
  }

  /** Bytes that do not parse as HTTP, headers over the size or time bound, a reset: never a crash. */
  #onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    this.#o.logger.debug({ err: error.message, code: error.code }, "bad HTTP request");
    const inProgress = this.#active.has(socket as Socket);
    if (
      error.code === "ECONNRESET" ||
      !socket.writable ||
      inProgress ||
      this.#refused.has(socket as Socket)
    ) {
      // Writing now would interleave with an answer being written.
      socket.destroy();
      return;
    }
    const status =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "408 Request Timeout"
        : error.code === "HPE_HEADER_OVERFLOW"
          ? "431 Request Header Fields Too Large"
          : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    lingerThenDestroy(socket);
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const socket = req.socket;
    if (this.#refused.has(socket)) {
      socket.destroy();
      return;
    }
    this.#active.set(socket, res);
    res.once("finish", () => {
      if (this.#active.get(socket) === res) this.#active.delete(socket);
    });
    res.once("close", () => {
      if (this.#active.get(socket) === res) this.#active.delete(socket);
    });
    this.#handle(req, res, expectsContinue).catch((error: unknown) => {
      // #handle answers every failure itself; this is a bug in the answer
      // path. The socket goes, the process stays.
      this.#o.logger.error({ err: error }, "control API answer failed");
      socket.destroy();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    const address = clientAddress(req.socket.remoteAddress);
    let operation = "Unknown";
    let apiVersion = fallbackApiVersion;
    let admitted = false;
    let unverified = false;
    res.setHeader("x-amz-request-id", requestId);
    // The SDKs correct their clock from Date after a signature error.
    res.setHeader("Date", new Date().toUTCString());
    try {
      const r = route(method, target);
      operation = r.operation;
      apiVersion = r.apiVersion;
      const codec = codecForVersion(r.apiVersion);
      if (!codec) {
        apiVersion = fallbackApiVersion;
        throw new ApiError(
          "InvalidURI",
          `API version ${r.apiVersion} is not served; use one of ${servedApiVersions.join(", ")}.`,
        );
      }
      const declared = this.#declaredLength(req);
      const hasBody = declared === undefined ? req.headers["transfer-encoding"] !== undefined : declared > 0;
      // Who is asking, from the headers alone: a sender without a key is
      // refused here, before its body is read or a slot is taken.
      const pending = await this.#o.authenticator.authenticateHead(
        { method, rawPath: target, headers: req.headers },
        r.apiVersion,
        hasBody,
      );
      if (this.#inFlight >= this.#maxConcurrent) {
        throw new ApiError("Throttling", "Rate exceeded: too many requests at once. Retry with backoff.");
      }
      this.#inFlight++;
      admitted = true;
      if (!pending.verified) {
        if (!this.#unverified.tryTake(address)) {
          throw new ApiError(
            "Throttling",
            "Rate exceeded: too many requests from this address are waiting for their body. Retry with backoff.",
          );
        }
        unverified = true;
      }
      if (expectsContinue && hasBody) res.writeContinue();
      const body = await this.#readBody(req);
      await pending.finish(body);
      if (unverified) {
        this.#unverified.release(address);
        unverified = false;
      }
      const context: RenderContext = { apiVersion: r.apiVersion, accountId: this.#o.api.accountId };
      const answer = await this.#run(r, codec, context, body, req);
      this.#send(req, res, answer.status, answer.headers, answer.body);
      this.#observer.request(operation, "OK", answer.status, (performance.now() - started) / 1000);
    } catch (error) {
      const apiError = this.#asApiError(error);
      this.#logRefusal(apiError, error, requestId, operation);
      this.#send(
        req,
        res,
        apiError.httpStatus,
        apiError.code === "Throttling" ? { "Retry-After": "1" } : {},
        renderError(apiError, requestId, apiVersion),
      );
      this.#observer.request(
        operation,
        apiError.code,
        apiError.httpStatus,
        (performance.now() - started) / 1000,
      );
    } finally {
      if (admitted) this.#inFlight--;
      if (unverified) this.#unverified.release(address);
    }
  }

  /**
   * Only real faults are errors: an InternalError with its stack; a store
   * outage (ServiceUnavailable) a warning naming the cause; a call
   * streamfront does not implement (NotImplemented, e.g. web
   * distributions) an info line; the client's own mistakes debug.
   */
  #logRefusal(apiError: ApiError, error: unknown, requestId: string, operation: string): void {
    const fields = { code: apiError.code, requestId, operation };
    if (apiError.code === "InternalError") {
      this.#o.logger.error({ ...fields, err: error }, "control API request failed");
    } else if (apiError.code === "ServiceUnavailable") {
      this.#o.logger.warn(
        { ...fields, cause: errorMessage(apiError.cause ?? error) },
        "control API unavailable",
      );
    } else if (apiError.code === "NotImplemented") {
      this.#o.logger.info({ ...fields, msg: apiError.message }, "control API call not implemented");
    } else {
      this.#o.logger.debug({ ...fields, msg: apiError.message }, "refused");
    }
  }

  /** The declared Content-Length, refused when malformed or over the bound; undefined when none is declared. */
  #declaredLength(req: IncomingMessage): number | undefined {
    const declared = req.headers["content-length"];
    if (declared === undefined) return undefined;
    const length = /^[0-9]{1,15}$/.test(declared) ? Number(declared) : Number.NaN;
    if (!Number.isSafeInteger(length)) {
      throw new ApiError("InvalidArgument", "The Content-Length header is not a valid length.");
    }
    if (length > this.#maxBodyBytes) throw tooLarge(this.#maxBodyBytes);
    return length;
  }

  async #run(
    r: Route,
    codec: StreamingXmlCodec,
    context: RenderContext,
    body: Buffer,
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const api = this.#o.api;
    const parse = { maxBodyBytes: this.#maxBodyBytes, limits: this.#o.limits };
    if (!codec.supportsTagging && taggingOperations.has(r.operation)) {
      // Refused before the store is asked: ListTagsForResource would
      // otherwise answer NoSuchResource or AccessDenied for an API version
      // that has no tagging at all, and a body-less Tag MissingBody.
      throw new ApiError(
        "InvalidAction",
        `${r.operation} is not available in API version ${r.apiVersion}; use 2016-08-01 or later.`,
      );
    }
    if (publicKeyOperations.has(r.operation)) return this.#runPublicKey(r, context, body, req);
    switch (r.operation) {
      case Operation.Create:
      case Operation.CreateWithTags: {
        requireBody(body, req);
        const input =
          r.operation === Operation.CreateWithTags
            ? codec.parseStreamingDistributionConfigWithTags(body, parse)
            : { config: codec.parseStreamingDistributionConfig(body, parse), tags: [] };
        const { view } = await api.create(input.config, input.tags);
        const id = view.distribution.id;
        return {
          status: 201,
          headers: {
            Location: `${this.#baseUrl(req)}/${r.apiVersion}/streaming-distribution/${id}`,
            ETag: view.distribution.etag,
          },
          body: codec.renderStreamingDistribution(view, context),
        };
      }
      case Operation.Get: {
        const view = await api.get(r.id!);
        return {
          status: 200,
          headers: { ETag: view.distribution.etag },
          body: codec.renderStreamingDistribution(view, context),
        };
      }
      case Operation.GetConfig: {
        const d = await api.getConfig(r.id!);
        return {
          status: 200,
          headers: { ETag: d.etag },
          body: codec.renderStreamingDistributionConfig(d, context),
        };
      }
      case Operation.Update: {
        requireBody(body, req);
        const config = codec.parseStreamingDistributionConfig(body, parse);
        const view = await api.update(r.id!, header(req, "if-match"), config);
        return {
          status: 200,
          headers: { ETag: view.distribution.etag },
          body: codec.renderStreamingDistribution(view, context),
        };
      }
      case Operation.Delete:
        await api.delete(r.id!, header(req, "if-match"));
        return { status: 204, headers: {}, body: "" };
      case Operation.List: {
        const { marker, maxItems } = parseListParameters(r.query.get("Marker"), r.query.get("MaxItems"));
        const page = await api.list(marker, maxItems);
        return { status: 200, headers: {}, body: codec.renderStreamingDistributionList(page, context) };
      }
      case Operation.Tag:
        requireBody(body, req);
        await api.tag(r.query.get("Resource") ?? "", codec.parseTags(body, parse));
        return { status: 204, headers: {}, body: "" };
      case Operation.Untag:
        requireBody(body, req);
        await api.untag(r.query.get("Resource") ?? "", codec.parseTagKeys(body, parse));
        return { status: 204, headers: {}, body: "" };
      case Operation.ListTags: {
        const tags = await api.listTags(r.query.get("Resource") ?? "");
        return { status: 200, headers: {}, body: codec.renderTags(tags, context) };
      }
    }
    // Unreachable: the public-key operations went to #runPublicKey.
    throw new ApiError("NotImplemented", `${r.operation} is not served here.`);
  }

  async #runPublicKey(
    r: Route,
    context: RenderContext,
    body: Buffer,
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    if (r.apiVersion !== publicKeyApiVersion) {
      throw new ApiError(
        "InvalidAction",
        `${r.operation} is served in API version ${publicKeyApiVersion} only, not ${r.apiVersion}.`,
      );
    }
    const api = this.#o.publicKeys;
    if (!api) throw new ApiError("NotImplemented", "This controller serves no public-key calls.");
    switch (r.operation) {
      case Operation.CreatePublicKey: {
        requireBody(body, req);
        const { key } = await api.create(parsePublicKeyConfig(body, this.#maxBodyBytes));
        return {
          status: 201,
          headers: { Location: `${this.#baseUrl(req)}/${r.apiVersion}/public-key/${key.id}`, ETag: key.etag },
          body: renderPublicKey(key, context),
        };
      }
      case Operation.GetPublicKey: {
        const key = await api.get(r.id!);
        return { status: 200, headers: { ETag: key.etag }, body: renderPublicKey(key, context) };
      }
      case Operation.GetPublicKeyConfig: {
        const key = await api.get(r.id!);
        return { status: 200, headers: { ETag: key.etag }, body: renderPublicKeyConfig(key, context) };
      }
      case Operation.UpdatePublicKey: {
        requireBody(body, req);
        const input = parsePublicKeyConfig(body, this.#maxBodyBytes);
        const key = await api.update(r.id!, header(req, "if-match"), input);
        return { status: 200, headers: { ETag: key.etag }, body: renderPublicKey(key, context) };
      }
      case Operation.DeletePublicKey:
        await api.delete(r.id!, header(req, "if-match"));
        return { status: 204, headers: {}, body: "" };
      default: {
        const { marker, maxItems } = parseListParameters(r.query.get("Marker"), r.query.get("MaxItems"));
        return {
          status: 200,
          headers: {},
          body: renderPublicKeyList(await api.list(marker, maxItems), context),
        };
      }
    }
  }

  /**
   * The body, cut off when it goes over the bound (a chunked one can only be
   * measured as it comes), when it takes longer than the body timeout, or
   * when the client goes away. Listeners are removed on every way out, so
   * whatever still arrives is discarded, never buffered.
   */
  #readBody(req: IncomingMessage): Promise<Buffer> {
    const max = this.#maxBodyBytes;
    const timeoutMs = this.#bodyTimeoutMs;
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let settled = false;
      const settle = (error: ApiError | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.off("data", onData);
        req.off("end", onEnd);
        req.off("error", onGone);
        req.off("close", onGone);
        if (error) reject(error);
        else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      };
      const onData = (chunk: Buffer) => {
        total += chunk.length;
        if (total > max) {
          chunks.length = 0;
          settle(tooLarge(max));
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = () => settle(undefined);
      // The client went away before its body was complete ("aborted"): its
      // fault, not ours, so neither an error log line nor an InternalError
      // in the metrics. Nobody reads the answer.
      const onGone = () =>
        settle(new ApiError("MissingBody", "The connection closed before the request body was complete."));
      const timer = setTimeout(
        () =>
          settle(
            new ApiError(
              "RequestTimeout",
              `The request body was not received within ${timeoutMs} ms of its headers.`,
            ),
          ),
        timeoutMs,
      );
      req.on("data", onData);
      req.on("end", onEnd);
      req.on("error", onGone);
      req.on("close", onGone);
    });
  }

  #asApiError(error: unknown): ApiError {
    if (error instanceof AuthError) {
      return isApiErrorCode(error.code)
        ? new ApiError(error.code, error.message, { cause: error })
        : new ApiError("AccessDenied", error.message, { cause: error });
    }
    return toApiError(error);
  }

  #baseUrl(req: IncomingMessage): string {
    if (this.#o.publicBaseUrl) return this.#o.publicBaseUrl.replace(/\/+$/, "");
    const host = header(req, "host") ?? "localhost";
    return `http://${/^[A-Za-z0-9.:[\]-]{1,300}$/.test(host) ? host : "localhost"}`;
  }

  /**
   * Writes the answer once. A request whose body was not read in full
   * (refused first, over the bound, timed out) gets Connection: close: the
   * rest of its body would otherwise be parsed as the next request. Node
   * then ends the socket once the answer is flushed.
   */
  #send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: string,
  ): void {
    if (res.headersSent || res.destroyed) return;
    const bytes = Buffer.from(body, "utf8");
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (bytes.length > 0) res.setHeader("Content-Type", xmlContentType);
    res.setHeader("Content-Length", String(bytes.length));
    if (!req.complete) {
      res.setHeader("Connection", "close");
      const socket = req.socket;
      // Node ends such a socket with destroySoon(): destroyed as soon as
      // the answer is flushed, while the client may still be sending its
      // body. Closing with unread bytes sends a reset, and the client's
      // kernel then drops the answer it had not read yet. So: send FIN,
      // keep discarding what arrives (Node dumps the rest of the request),
      // destroy after the linger.
      socket.destroySoon = () => {
        socket.end();
        lingerThenDestroy(socket);
      };
    }
    res.statusCode = status;
    res.end(bytes);
  }
}

/** Destroys a socket being closed once the client had time to read its answer (or at once when it is gone). */
function lingerThenDestroy(socket: Duplex | null): void {
  if (!socket || socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** CloudFront answers MissingBody when a request that needs a body has none. */
function requireBody(body: Buffer, req: IncomingMessage): void {
  if (body.length === 0) {
    throw new ApiError(
      "MissingBody",
      `This operation needs an XML body${header(req, "content-type") ? "" : " (and a Content-Type)"}.`,
    );
  }
}

function tooLarge(max: number): ApiError {
  return new ApiError("EntityTooLarge", `The request body is larger than ${max} bytes.`);
}
