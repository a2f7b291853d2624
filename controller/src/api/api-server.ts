import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { Logger } from "../../../lib/log.js";
import { listen } from "../../../lib/net/listen.js";
import { ApiError, fallbackApiVersion, isApiErrorCode, renderError, toApiError } from "./api-error.js";
import { AuthError } from "./auth/auth-error.js";
import type { RequestAuthenticator } from "./auth/authenticator.js";
import { Operation, type Route, route } from "./routes.js";
import type { StreamingApi } from "./streaming-api.js";
import { parseListParameters, type StreamingLimits } from "./streaming-config.js";
import { codecForVersion, servedApiVersions } from "./xml-codec.js";
import type { RenderContext, StreamingXmlCodec } from "./xml-types.js";

/** What the server reports per request; the controller's metrics implement it. */
export interface ApiObserver {
  request(operation: string, code: string, httpStatus: number, seconds: number): void;
}

export interface ApiServerOptions {
  readonly api: StreamingApi;
  readonly authenticator: RequestAuthenticator;
  readonly logger: Logger;
  readonly limits: Partial<StreamingLimits>;
  /** Largest request body read; larger ones get EntityTooLarge before a byte is buffered. @default 65536 */
  readonly maxBodyBytes?: number;
  /** Requests handled at once; more get Throttling (the SDKs back off and retry). @default 256 */
  readonly maxConcurrentRequests?: number;
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
const noObserver: ApiObserver = { request() {} };

/**
 * The CloudFront control API over HTTP: routes, reads the body within its
 * bound, authenticates, runs the operation and writes CloudFront's XML, with
 * `x-amz-request-id` on every response and `<ErrorResponse>` bodies for
 * every refusal. Nothing here throws past a request: an unexpected error is
 * an InternalError answer and a log line with its cause.
 */
export class ApiServer {
  readonly #o: ApiServerOptions;
  readonly #server: Server;
  readonly #maxBodyBytes: number;
  readonly #maxConcurrent: number;
  readonly #observer: ApiObserver;
  #inFlight = 0;

  constructor(options: ApiServerOptions) {
    this.#o = options;
    this.#maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.#maxConcurrent = options.maxConcurrentRequests ?? 256;
    this.#observer = options.observer ?? noObserver;
    this.#server = createServer(
      {
        // Slow or silent clients do not hold sockets for ever.
        headersTimeout: 10_000,
        requestTimeout: 30_000,
        keepAliveTimeout: 5_000,
        maxHeaderSize: 16 * 1024,
      },
      (req, res) => {
        void this.#handle(req, res);
      },
    );
    this.#server.on("clientError", (error, socket) => {
      // Unparseable HTTP: answer 400 when the socket still can, and never crash.
      if (socket.writable)
        socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      else socket.destroy();
      this.#o.logger.debug({ err: error.message }, "bad HTTP request");
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.#server, port, host);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    let operation = "Unknown";
    let apiVersion = fallbackApiVersion;
    res.setHeader("x-amz-request-id", requestId);
    // The SDKs correct their clock from Date after a signature error.
    res.setHeader("Date", new Date().toUTCString());
    this.#inFlight++;
    try {
      if (this.#inFlight > this.#maxConcurrent) {
        throw new ApiError("Throttling", "Rate exceeded: too many requests at once. Retry with backoff.");
      }
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
      const body = await this.#readBody(req);
      await this.#authenticate(method, target, req, body, r.apiVersion);
      const context: RenderContext = { apiVersion: r.apiVersion, accountId: this.#o.api.accountId };
      const answer = await this.#run(r, codec, context, body, req);
      this.#send(res, answer.status, answer.headers, answer.body);
      this.#observer.request(operation, "OK", answer.status, (performance.now() - started) / 1000);
    } catch (error) {
      const apiError = this.#asApiError(error);
      if (apiError.httpStatus >= 500) {
        this.#o.logger.error({ err: error, requestId, operation }, "control API request failed");
      } else {
        this.#o.logger.debug({ code: apiError.code, requestId, operation, msg: apiError.message }, "refused");
      }
      this.#send(
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
      // A body we did not read would be parsed as the next request.
      if (!req.complete) res.once("finish", () => req.socket.destroy());
    } finally {
      this.#inFlight--;
    }
  }

  async #authenticate(
    method: string,
    target: string,
    req: IncomingMessage,
    body: Buffer,
    apiVersion: string,
  ) {
    await this.#o.authenticator.authenticate(
      { method, rawPath: target, headers: req.headers, body },
      apiVersion,
    );
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
  }

  /** The body, refused before buffering when its declared length is over the bound, and cut off when a chunked one goes over. */
  async #readBody(req: IncomingMessage): Promise<Buffer> {
    const declared = req.headers["content-length"];
    if (declared !== undefined) {
      const length = Number(declared);
      if (!Number.isSafeInteger(length) || length < 0) {
        throw new ApiError("InvalidArgument", "The Content-Length header is not a valid length.");
      }
      if (length > this.#maxBodyBytes) throw tooLarge(this.#maxBodyBytes);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > this.#maxBodyBytes) throw tooLarge(this.#maxBodyBytes);
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof ApiError) throw error;
      // The client went away before its body was complete ("aborted"): its
      // fault, not ours, so neither an error log line nor an InternalError
      // in the metrics. Nobody reads the answer.
      throw new ApiError("MissingBody", "The connection closed before the request body was complete.", {
        cause: error,
      });
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
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

  #send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
    if (res.headersSent) return;
    const bytes = Buffer.from(body, "utf8");
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (bytes.length > 0) res.setHeader("Content-Type", xmlContentType);
    res.setHeader("Content-Length", String(bytes.length));
    res.statusCode = status;
    res.end(bytes);
  }
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
