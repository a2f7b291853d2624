/**
 * What the end-to-end tests of the control API share: a real ControllerServer
 * (in-process, loopback, port 0), an AWS SDK client pointed at it, and raw
 * HTTP requests signed with SigV4 (Smithy's signer, as the SDK does) or the
 * legacy `AWS id:HMAC-SHA1(Date)` scheme of API 2009-12-01, for what the SDK
 * cannot send.
 */
import assert from "node:assert/strict";
import { type IncomingHttpHeaders, request } from "node:http";
import { CloudFrontClient, type CloudFrontClientConfig } from "@aws-sdk/client-cloudfront";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { XMLParser } from "fast-xml-parser";
import { Registry } from "prom-client";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTls, testTlsEnv } from "../../lib/testing/tls.js";
import { type ApiErrorCode, apiErrorStatus } from "../src/api/api-error.js";
import { signLegacy } from "../src/api/auth/authenticator.js";
import { loadControllerConfig } from "../src/config.js";
import { ControllerServer } from "../src/controller-server.js";
import type { DistributionStore } from "../src/store/distribution-store.js";
import { delay, silentLogger } from "./helpers.js";

// The SDK warns once per process that its next releases need Node 22; not our concern here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The operator key every test controller is configured with. */
export const testKey: Credentials = {
  accessKeyId: "AKIATESTTESTTEST1234",
  secretAccessKey: "secretsecretsecretsecret",
};
export const testAccountId = "123456789012";

export interface ApiController {
  readonly server: ControllerServer;
  /** http://127.0.0.1:<api port> */
  readonly endpoint: string;
  /** An SDK client with the operator key; no retries, so a refusal is seen as sent. */
  client(credentials?: Credentials, extra?: Partial<CloudFrontClientConfig>): CloudFrontClient;
  /** Destroys the clients, closes the controller, then the store if one was handed in. */
  close(): Promise<void>;
}

/** A ControllerServer on loopback with every port 0 and the test key; env adds or overrides settings. */
export async function startApiController(
  options: {
    readonly env?: Readonly<Record<string, string>>;
    readonly store?: DistributionStore;
    /** ControllerServerDeps.trustedKeysPollMs. */
    readonly trustedKeysPollMs?: number;
  } = {},
): Promise<ApiController> {
  const config = loadControllerConfig({
    env: {
      STREAMFRONT_CONTROLLER_HOST: "127.0.0.1",
      STREAMFRONT_CONTROLLER_API_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
      STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
      STREAMFRONT_CONTROLLER_API_PORT: "0",
      STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
      STREAMFRONT_CONTROLLER_ACCOUNT_ID: testAccountId,
      STREAMFRONT_CONTROLLER_API_ACCESS_KEYS: `${testKey.accessKeyId}:${testKey.secretAccessKey}`,
      ...options.env,
    },
    argv: [],
  });
  const server = new ControllerServer({
    tls: testTls(PeerRole.Controller),
    config,
    logger: silentLogger("controller"),
    registry: new Registry(),
    ...(options.store ? { store: options.store } : {}),
    ...(options.trustedKeysPollMs === undefined ? {} : { trustedKeysPollMs: options.trustedKeysPollMs }),
  });
  await server.start();
  const endpoint = `http://${server.apiAddress}`;
  const clients: CloudFrontClient[] = [];
  return {
    server,
    endpoint,
    client(credentials = testKey, extra = {}) {
      const client = sdkClient(endpoint, credentials, extra);
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.destroy();
      await server.close();
      // A store handed in is the caller's: the controller leaves it open.
      await options.store?.close();
    },
  };
}

export function sdkClient(
  endpoint: string,
  credentials: Credentials = testKey,
  extra: Partial<CloudFrontClientConfig> = {},
): CloudFrontClient {
  return new CloudFrontClient({ endpoint, region: "us-east-1", credentials, maxAttempts: 1, ...extra });
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface RawRequest {
  readonly method: string;
  /** Path and query exactly as sent, e.g. /2020-05-31/streaming-distribution?MaxItems=2 */
  readonly target: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Send only the headers and this much of the body, then wait for the answer (never finish the body). */
  readonly partialBody?: boolean;
}

/**
 * One HTTP request over a fresh connection. Resolves with the response once
 * it is read in full, even when the server then drops the connection (as it
 * does after refusing a body it did not read).
 */
export function sendRaw(endpoint: string, raw: RawRequest): Promise<RawResponse> {
  const url = new URL(raw.target, endpoint);
  const body = typeof raw.body === "string" ? Buffer.from(raw.body, "utf8") : (raw.body ?? Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      method: raw.method,
      path: raw.target,
      headers: { ...(raw.partialBody ? {} : { "content-length": String(body.length) }), ...raw.headers },
      agent: false,
    });
    let settled = false;
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        settled = true;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        });
        req.destroy();
      });
      res.on("error", (error) => {
        if (!settled) reject(error);
      });
    });
    req.on("error", (error) => {
      if (!settled) reject(error);
    });
    if (raw.partialBody) {
      req.flushHeaders();
      if (body.length > 0) req.write(body);
    } else {
      req.end(body);
    }
  });
}

/** RFC 3986 encoding, as SigV4 clients put query parameters on the wire. */
export function encodeQueryPart(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export interface SignedRequest {
  readonly method: string;
  /** The path without the query, e.g. /2020-05-31/streaming-distribution */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly credentials?: Credentials;
  /** @default now */
  readonly signingDate?: Date;
}

/** A request signed with SigV4 (service cloudfront, us-east-1) by Smithy's signer, as the SDK signs. */
export async function sendSigV4(endpoint: string, r: SignedRequest): Promise<RawResponse> {
  const signed = await signSigV4(endpoint, r);
  return sendRaw(endpoint, {
    method: r.method,
    target: signed.target,
    headers: signed.headers,
    body: r.body ?? "",
  });
}

/**
 * The request target and headers (lower case) of a SigV4-signed request,
 * as the SDK signs it: x-amz-content-sha256 included and signed, so the
 * controller can check the signature before the body arrives.
 */
export async function signSigV4(
  endpoint: string,
  r: SignedRequest,
): Promise<{ target: string; headers: Record<string, string> }> {
  const url = new URL(endpoint);
  const query = r.query ?? {};
  const body = r.body ?? "";
  const signer = new SignatureV4({
    service: "cloudfront",
    region: "us-east-1",
    credentials: r.credentials ?? testKey,
    sha256: Hash.bind(null, "sha256"),
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: r.method,
      path: r.path,
      query: { ...query },
      headers: { host: url.host, ...r.headers },
      body,
    }),
    { signingDate: r.signingDate ?? new Date() },
  );
  const queryText = Object.entries(query)
    .map(([name, value]) => `${encodeQueryPart(name)}=${encodeQueryPart(value)}`)
    .join("&");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return { target: queryText === "" ? r.path : `${r.path}?${queryText}`, headers };
}

/**
 * A request signed the API 2009-12-01 way: `Authorization: AWS
 * <AccessKeyId>:Base64(HMAC-SHA1(secret, Date))`, POST and PUT bodies as
 * text/xml (RESTAuthentication.html).
 */
export function sendLegacy(
  endpoint: string,
  r: {
    readonly method: string;
    readonly target: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: string;
    readonly credentials?: Credentials;
  },
): Promise<RawResponse> {
  const credentials = r.credentials ?? testKey;
  const date = new Date().toUTCString();
  return sendRaw(endpoint, {
    method: r.method,
    target: r.target,
    headers: {
      date,
      authorization: `AWS ${credentials.accessKeyId}:${signLegacy(credentials.secretAccessKey, date)}`,
      ...(r.body === undefined ? {} : { "content-type": "text/xml" }),
      ...r.headers,
    },
    ...(r.body === undefined ? {} : { body: r.body }),
  });
}

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  // Repeated elements are arrays whatever their count.
  isArray: (name) =>
    [
      "CNAME",
      "StreamingDistributionSummary",
      "Tag",
      "AwsAccountNumber",
      "Signer",
      "KeyPairId",
      "Key",
    ].includes(name),
});

/** A response body as a plain object (values stay strings). */
export function parseXml(body: string): Record<string, unknown> {
  return xmlParser.parse(body) as Record<string, unknown>;
}

/** The child object at path (dot separated), asserting each step is there. */
export function pick(tree: unknown, path: string): Record<string, unknown> {
  let node = tree;
  for (const step of path.split(".")) {
    assert.ok(typeof node === "object" && node !== null && step in node, `no ${step} in ${path}`);
    node = (node as Record<string, unknown>)[step];
  }
  return node as Record<string, unknown>;
}

/** The codes each test produced, with the HTTP status they came with; the coverage test reads it. */
export type ProducedCodes = Map<string, Set<number>>;

function record(produced: ProducedCodes, code: string, status: number): void {
  const statuses = produced.get(code) ?? new Set<number>();
  statuses.add(status);
  produced.set(code, statuses);
}

/**
 * Asserts a raw response is CloudFront's error document for code, with the
 * code's HTTP status, Type Sender/Receiver and the x-amz-request-id header
 * repeated as RequestId; records the code.
 */
export function assertRawError(
  produced: ProducedCodes,
  response: RawResponse,
  code: ApiErrorCode,
  apiVersion = "2020-05-31",
): string {
  const status = apiErrorStatus[code];
  assert.equal(response.status, status, `status for ${code}: ${response.body}`);
  assert.equal(response.headers["content-type"], "text/xml");
  assert.match(
    response.body,
    new RegExp(
      `^<\\?xml [^>]*\\?><ErrorResponse xmlns="http://cloudfront\\.amazonaws\\.com/doc/${apiVersion}/">`,
    ),
  );
  const error = pick(parseXml(response.body), "ErrorResponse.Error");
  assert.equal(error.Code, code, response.body);
  assert.equal(error.Type, status >= 500 ? "Receiver" : "Sender");
  assert.equal(typeof error.Message, "string");
  const requestId = response.headers["x-amz-request-id"];
  assert.ok(typeof requestId === "string" && requestId.length > 0);
  assert.equal(pick(parseXml(response.body), "ErrorResponse").RequestId, requestId);
  record(produced, code, response.status);
  return String(error.Message);
}

interface SdkFailure {
  readonly name?: string;
  readonly message?: string;
  readonly $fault?: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly requestId?: string };
}

/**
 * Awaits an SDK call that must fail with code: the SDK's error name is the
 * code and $metadata.httpStatusCode its status; records the code. Returns
 * the error for further checks.
 */
export async function assertSdkError(
  produced: ProducedCodes,
  call: Promise<unknown>,
  code: ApiErrorCode,
): Promise<SdkFailure> {
  let caught: unknown;
  try {
    await call;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof Error, `expected the SDK to throw ${code}`);
  const e = caught as SdkFailure;
  const status = apiErrorStatus[code];
  assert.equal(e.name, code, e.message);
  assert.equal(e.$metadata?.httpStatusCode, status, `status for ${code}`);
  assert.equal(e.$fault, status >= 500 ? "server" : "client");
  assert.match(e.$metadata?.requestId ?? "", /^[0-9a-f-]{36}$/);
  record(produced, code, status);
  return e;
}

/** Polls an async check every 20 ms until it holds; fails naming what it waited for. */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}
