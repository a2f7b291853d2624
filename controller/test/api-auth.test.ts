import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import {
  CloudFrontClient,
  type CloudFrontClientConfig,
  CreateStreamingDistributionWithTagsCommand,
  GetStreamingDistributionCommand,
  ListStreamingDistributionsCommand,
  TagResourceCommand,
} from "@aws-sdk/client-cloudfront";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import {
  AccessKeys,
  generateDevelopmentKeyPair,
  parseAccessKeys,
  resolveAccessKeys,
} from "../src/api/auth/access-keys.js";
import { AuthError, type AuthErrorCode, type AuthFailure } from "../src/api/auth/auth-error.js";
import { RequestAuthenticator, signLegacy } from "../src/api/auth/authenticator.js";
import type { IncomingRequest } from "../src/api/auth/incoming-request.js";
import { parseHttpDate } from "../src/api/auth/request-time.js";

const KEY = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const KEY2 = { accessKeyId: "AKIAJ2SECONDKEY00042", secretAccessKey: "0123456789abcdefSECONDsecret+/xyz" };
const SECRETS = [KEY.secretAccessKey, KEY2.secretAccessKey];
const keys = AccessKeys.of([KEY, KEY2]);
const MINUTE = 60_000;
const ARN = "arn:aws:cloudfront::123456789012:streaming-distribution/E1234567890ABC";

/**
 * Awaits an authentication that must fail and checks the AWS code and
 * status (and the finer reason when given). Every failure's message is also
 * checked for the secrets, which must never appear in one.
 */
async function refused(
  attempt: Promise<unknown> | (() => unknown),
  code: AuthErrorCode,
  httpStatus: number,
  reason?: AuthFailure,
): Promise<AuthError> {
  let caught: unknown;
  try {
    await (typeof attempt === "function" ? attempt() : attempt);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof AuthError, `expected an AuthError, got ${inspect(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.httpStatus, httpStatus);
  if (reason !== undefined) assert.equal(caught.reason, reason, caught.message);
  for (const secret of SECRETS) assert.ok(!caught.message.includes(secret), "a secret leaked into a message");
  return caught;
}

/** The API version a control-API path starts with. */
function apiVersionOf(rawPath: string): string {
  return rawPath.split("/")[1] ?? "";
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * A throwaway control-API stand-in: records each raw request, authenticates
 * it and answers with a minimal body on success or a CloudFront error
 * document on failure, so the SDK sees what a real endpoint would send.
 */
class AuthTestServer {
  readonly requests: IncomingRequest[] = [];
  readonly outcomes: unknown[] = [];
  /** How far the server's clock (authentication and the Date header) runs ahead of the real one. */
  clockOffsetMs = 0;
  readonly authenticator = new RequestAuthenticator({ keys, clock: () => Date.now() + this.clockOffsetMs });
  readonly #server: Server;
  port = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  get lastRequest(): IncomingRequest {
    const request = this.requests.at(-1);
    assert.ok(request, "the server saw no request");
    return request;
  }

  get lastOutcome(): unknown {
    return this.outcomes.at(-1);
  }

  client(credentials = KEY, extra: Partial<CloudFrontClientConfig> = {}): CloudFrontClient {
    return new CloudFrontClient({
      endpoint: `http://127.0.0.1:${this.port}`,
      region: "us-east-1",
      credentials,
      maxAttempts: 1,
      ...extra,
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request: IncomingRequest = {
      method: req.method ?? "GET",
      rawPath: req.url ?? "/",
      headers: req.headers,
      body: await readBody(req),
    };
    this.requests.push(request);
    const version = apiVersionOf(request.rawPath);
    res.setHeader("content-type", "text/xml");
    res.setHeader("date", new Date(Date.now() + this.clockOffsetMs).toUTCString());
    try {
      const who = await this.authenticator.authenticate(request, version);
      this.outcomes.push(who);
      res.statusCode = 200;
      res.end(
        `<?xml version="1.0"?><R xmlns="http://cloudfront.amazonaws.com/doc/${version}/"><Id>E1</Id></R>`,
      );
    } catch (error) {
      this.outcomes.push(error);
      const code = error instanceof AuthError ? error.code : "InternalError";
      res.statusCode = error instanceof AuthError ? error.httpStatus : 500;
      res.end(
        `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/${version}/">` +
          `<Error><Type>Sender</Type><Code>${code}</Code><Message>refused</Message></Error>` +
          "<RequestId>r1</RequestId></ErrorResponse>",
      );
    }
  }
}

/** The SDK's error for a refused call: its name is the AWS code. */
async function sdkRefused(call: Promise<unknown>, code: string, httpStatus: number): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, code);
    assert.equal(e.$metadata?.httpStatusCode, httpStatus);
    return true;
  });
}

const createWithTags = () =>
  new CreateStreamingDistributionWithTagsCommand({
    StreamingDistributionConfigWithTags: {
      StreamingDistributionConfig: {
        CallerReference: "ref 1",
        S3Origin: { DomainName: "media.s3.amazonaws.com", OriginAccessIdentity: "" },
        Comment: "auth test",
        TrustedSigners: { Enabled: false, Quantity: 0 },
        Enabled: true,
      },
      Tags: { Items: [{ Key: "team", Value: "video ops" }] },
    },
  });
const tagResource = () =>
  new TagResourceCommand({ Resource: ARN, Tags: { Items: [{ Key: "a", Value: "b" }] } });

describe("control API authentication with the AWS SDK's own requests", () => {
  const server = new AuthTestServer();
  before(() => server.start());
  after(() => server.stop());

  it("authenticates GetStreamingDistribution, CreateStreamingDistributionWithTags, TagResource, List", async () => {
    const client = server.client();
    const calls: [string, () => Promise<unknown>, RegExp][] = [
      [
        "GetStreamingDistribution",
        () => client.send(new GetStreamingDistributionCommand({ Id: "E1234567890ABC" })),
        /^\/2020-05-31\/streaming-distribution\/E1234567890ABC$/,
      ],
      ["CreateStreamingDistributionWithTags", () => client.send(createWithTags()), /\?WithTags=?$/],
      [
        "TagResource",
        () => client.send(tagResource()),
        /\?Operation=Tag&Resource=arn%3Aaws%3Acloudfront%3A%3A/,
      ],
      [
        "ListStreamingDistributions",
        () => client.send(new ListStreamingDistributionsCommand({ Marker: "E12 3+x/y~", MaxItems: 10 })),
        /\?Marker=E12%203%2Bx%2Fy~&MaxItems=10$/,
      ],
    ];
    for (const [name, call, path] of calls) {
      await call();
      assert.match(server.lastRequest.rawPath, path, name);
      assert.deepEqual(server.lastOutcome, { accessKeyId: KEY.accessKeyId, scheme: "sigv4" }, name);
    }
    const create = server.requests[1];
    assert.ok(create && create.body.length > 0, "CreateStreamingDistributionWithTags carries a body");
    assert.match(String(create.headers.authorization), /SignedHeaders=.*content-length;content-type;host;/);
    client.destroy();
  });

  it("authenticates the second key too", async () => {
    const client = server.client(KEY2);
    await client.send(tagResource());
    assert.deepEqual(server.lastOutcome, { accessKeyId: KEY2.accessKeyId, scheme: "sigv4" });
    client.destroy();
  });

  it("refuses a wrong secret with SignatureDoesNotMatch 403", async () => {
    const client = server.client({
      accessKeyId: KEY.accessKeyId,
      secretAccessKey: `${KEY.secretAccessKey}x`,
    });
    await sdkRefused(client.send(createWithTags()), "SignatureDoesNotMatch", 403);
    await refused(Promise.reject(server.lastOutcome), "SignatureDoesNotMatch", 403, "mismatch");
    client.destroy();
  });

  it("refuses an unknown access key with InvalidClientTokenId 403", async () => {
    const client = server.client({
      accessKeyId: "AKIAUNKNOWNKEY000000",
      secretAccessKey: KEY.secretAccessKey,
    });
    await sdkRefused(
      client.send(new GetStreamingDistributionCommand({ Id: "E1" })),
      "InvalidClientTokenId",
      403,
    );
    const error = await refused(
      Promise.reject(server.lastOutcome),
      "InvalidClientTokenId",
      403,
      "unknown-key",
    );
    assert.match(error.message, /AKIAUNKNOWNKEY000000/);
    client.destroy();
  });

  it("refuses a client whose clock is 20 minutes slow, and the SDK corrects itself from the Date header", async () => {
    server.clockOffsetMs = 20 * MINUTE;
    try {
      const client = server.client();
      await sdkRefused(client.send(tagResource()), "SignatureDoesNotMatch", 403);
      const error = await refused(
        Promise.reject(server.lastOutcome),
        "SignatureDoesNotMatch",
        403,
        "expired",
      );
      assert.match(
        error.message,
        /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/,
      );
      // SignatureDoesNotMatch is one of the SDK's clock-skew codes: it took
      // the server's time from the response's Date header, so its next call
      // is signed with the corrected clock.
      await client.send(tagResource());
      assert.deepEqual(server.lastOutcome, { accessKeyId: KEY.accessKeyId, scheme: "sigv4" });
      client.destroy();

      // With a retry allowed, the correction happens within the one call.
      const retrying = server.client(KEY, { maxAttempts: 2 });
      const before = server.outcomes.length;
      await retrying.send(tagResource());
      const [first, second] = server.outcomes.slice(before);
      await refused(Promise.reject(first), "SignatureDoesNotMatch", 403, "expired");
      assert.deepEqual(second, { accessKeyId: KEY.accessKeyId, scheme: "sigv4" });
      retrying.destroy();
    } finally {
      server.clockOffsetMs = 0;
    }
  });
});

/** A header bag copy with some headers replaced or (undefined) removed. */
function withHeaders(request: IncomingRequest, changes: Record<string, string | undefined>): IncomingRequest {
  const headers: Record<string, string | readonly string[] | undefined> = { ...request.headers };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { ...request, headers };
}

function authorizationOf(request: IncomingRequest): string {
  return String(request.headers.authorization);
}

function withAuthorization(request: IncomingRequest, authorization: string | undefined): IncomingRequest {
  return withHeaders(request, { authorization });
}

/** Epoch ms of a request's x-amz-date. */
function dateOf(request: IncomingRequest): number {
  const amzDate = String(request.headers["x-amz-date"]);
  return Date.UTC(
    Number(amzDate.slice(0, 4)),
    Number(amzDate.slice(4, 6)) - 1,
    Number(amzDate.slice(6, 8)),
    Number(amzDate.slice(9, 11)),
    Number(amzDate.slice(11, 13)),
    Number(amzDate.slice(13, 15)),
  );
}

/** An authenticator whose clock reads the request's own x-amz-date plus offsetMs. */
function authenticatorAt(request: IncomingRequest, offsetMs = 0): RequestAuthenticator {
  const at = dateOf(request);
  return new RequestAuthenticator({ keys, clock: () => at + offsetMs });
}

/** RFC 3986 encoding, as SigV4 clients put query parameters on the wire. */
function encode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

interface DirectSigning {
  method?: string;
  path?: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
  region?: string;
  service?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  date?: Date;
  /** false: no x-amz-content-sha256 header (the JS SDK always sends one). */
  applyChecksum?: boolean;
}

/**
 * Signs a request with Smithy's signer directly (as the SDK would, but with
 * every part under the test's control) and returns it as the server would
 * receive it.
 */
async function signDirect(options: DirectSigning = {}): Promise<IncomingRequest> {
  const path = options.path ?? "/2020-05-31/streaming-distribution";
  const query = options.query ?? {};
  const body = options.body ?? "";
  const signer = new SignatureV4({
    service: options.service ?? "cloudfront",
    region: options.region ?? "us-east-1",
    credentials: options.credentials ?? KEY,
    sha256: Hash.bind(null, "sha256"),
    applyChecksum: options.applyChecksum ?? true,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: options.method ?? "GET",
      path,
      query,
      headers: { host: "127.0.0.1:8080", ...options.headers },
      body,
    }),
    { signingDate: options.date ?? new Date() },
  );
  const queryText = Object.entries(query)
    .flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((v) => `${encode(name)}=${encode(v)}`),
    )
    .join("&");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return {
    method: options.method ?? "GET",
    rawPath: queryText === "" ? path : `${path}?${queryText}`,
    headers,
    body: Buffer.from(body),
  };
}

describe("SigV4: requests changed after signing", () => {
  const server = new AuthTestServer();
  let create: IncomingRequest;
  let tag: IncomingRequest;
  let list: IncomingRequest;

  before(async () => {
    await server.start();
    const client = server.client();
    await client.send(createWithTags());
    create = server.lastRequest;
    await client.send(tagResource());
    tag = server.lastRequest;
    await client.send(new ListStreamingDistributionsCommand({ Marker: "E1", MaxItems: 5 }));
    list = server.lastRequest;
    client.destroy();
  });
  after(() => server.stop());

  it("replays of the captured requests verify unchanged", async () => {
    for (const request of [create, tag, list]) {
      const who = await authenticatorAt(request).authenticate(request, "2020-05-31");
      assert.deepEqual(who, { accessKeyId: KEY.accessKeyId, scheme: "sigv4" });
    }
  });

  it("?WithTags without '=' and reordered query parameters verify (the canonical query is the same)", async () => {
    const bare = { ...create, rawPath: create.rawPath.replace(/\?WithTags=?$/, "?WithTags") };
    await authenticatorAt(bare).authenticate(bare, "2020-05-31");
    const [path, query] = tag.rawPath.split("?");
    const reordered = { ...tag, rawPath: `${path}?${(query ?? "").split("&").reverse().join("&")}` };
    await authenticatorAt(reordered).authenticate(reordered, "2020-05-31");
  });

  it("a changed body is refused (x-amz-content-sha256 no longer matches)", async () => {
    const changed = { ...create, body: Buffer.from(create.body.toString().replace("ref 1", "ref 2")) };
    await refused(
      authenticatorAt(changed).authenticate(changed, "2020-05-31"),
      "SignatureDoesNotMatch",
      403,
      "payload-hash",
    );
  });

  it("a changed body with a recomputed x-amz-content-sha256 is refused by the signature", async () => {
    const body = Buffer.from(create.body.toString().replace("ref 1", "ref 2"));
    const changed = withHeaders(
      { ...create, body },
      {
        "x-amz-content-sha256": createHash("sha256").update(body).digest("hex"),
        "content-length": String(body.length),
      },
    );
    await refused(
      authenticatorAt(changed).authenticate(changed, "2020-05-31"),
      "SignatureDoesNotMatch",
      403,
      "mismatch",
    );
  });

  it("a changed signed header is refused; a changed unsigned one is not", async () => {
    for (const change of [
      { "content-type": "text/xml" },
      { host: "127.0.0.1:1" },
      { "amz-sdk-request": "attempt=2; max=3" },
    ]) {
      const changed = withHeaders(create, change);
      await refused(
        authenticatorAt(changed).authenticate(changed, "2020-05-31"),
        "SignatureDoesNotMatch",
        403,
        "mismatch",
      );
    }
    const unsigned = withHeaders(create, { "user-agent": "curl/8.0", "x-forwarded-for": "10.0.0.1" });
    await authenticatorAt(unsigned).authenticate(unsigned, "2020-05-31");
  });

  it("a signed header removed on the way is named", async () => {
    const stripped = withHeaders(create, { "x-amz-user-agent": undefined });
    const error = await refused(
      authenticatorAt(stripped).authenticate(stripped, "2020-05-31"),
      "SignatureDoesNotMatch",
      403,
      "signed-header-missing",
    );
    assert.match(error.message, /'x-amz-user-agent'/);
  });

  it("a changed query, path or method is refused", async () => {
    const otherArn = { ...tag, rawPath: tag.rawPath.replace("E1234567890ABC", "E1234567890ABD") };
    const otherOperation = { ...tag, rawPath: tag.rawPath.replace("Operation=Tag", "Operation=Untag") };
    const extraParameter = { ...list, rawPath: `${list.rawPath}&Extra=1` };
    const otherMarker = { ...list, rawPath: list.rawPath.replace("Marker=E1", "Marker=E2") };
    const otherPath = { ...create, rawPath: create.rawPath.replace("2020-05-31", "2019-03-26") };
    const otherMethod = { ...create, method: "PUT" };
    for (const changed of [otherArn, otherOperation, extraParameter, otherMarker, otherPath, otherMethod]) {
      await refused(
        authenticatorAt(changed).authenticate(changed, "2020-05-31"),
        "SignatureDoesNotMatch",
        403,
        "mismatch",
      );
    }
  });

  it("x-amz-date outside the 15-minute window is refused; inside it passes", async () => {
    await refused(
      authenticatorAt(tag, 16 * MINUTE).authenticate(tag, "2020-05-31"),
      "SignatureDoesNotMatch",
      403,
      "expired",
    );
    const future = await refused(
      authenticatorAt(tag, -16 * MINUTE).authenticate(tag, "2020-05-31"),
      "SignatureDoesNotMatch",
      403,
      "not-yet-valid",
    );
    assert.match(future.message, /^Signature not yet current: .* \+ 15 min\.\)$/);
    await authenticatorAt(tag, 14 * MINUTE).authenticate(tag, "2020-05-31");
    await authenticatorAt(tag, -14 * MINUTE).authenticate(tag, "2020-05-31");
  });

  it("the window is configurable", async () => {
    const tight = new RequestAuthenticator({
      keys,
      maxSkewMs: 60_000,
      clock: () => dateOf(tag) + 2 * MINUTE,
    });
    const error = await refused(
      tight.authenticate(tag, "2020-05-31"),
      "SignatureDoesNotMatch",
      403,
      "expired",
    );
    assert.match(error.message, / - 1 min\.\)$/);
    assert.throws(() => new RequestAuthenticator({ keys, maxSkewMs: 0 }), RangeError);
  });

  it("a moved x-amz-date within the window is refused by the signature", async () => {
    const amzDate = String(tag.headers["x-amz-date"]);
    const moved = withHeaders(tag, {
      "x-amz-date": amzDate.replace(/(\d)Z$/, (_, d: string) => `${(Number(d) + 1) % 10}Z`),
    });
    await refused(authenticatorAt(moved).authenticate(moved, "2020-05-31"), "SignatureDoesNotMatch", 403);
  });

  it("a credential scope for another date, region, service or terminator is refused", async () => {
    const authorization = authorizationOf(tag);
    const scopeDate = /Credential=[A-Z0-9]+\/(\d{8})\//.exec(authorization)?.[1] ?? "";
    const variants = [
      authorization.replace(`/${scopeDate}/`, "/20200101/"),
      authorization.replace("/us-east-1/", "/eu-west-1/"),
      authorization.replace("/cloudfront/", "/s3/"),
      authorization.replace("/aws4_request,", "/aws4_reqest,"),
    ];
    for (const variant of variants) {
      const changed = withAuthorization(tag, variant);
      await refused(
        authenticatorAt(changed).authenticate(changed, "2020-05-31"),
        "SignatureDoesNotMatch",
        403,
        "scope",
      );
    }
    // Properly signed for the wrong region and service, too.
    for (const scope of [{ region: "eu-west-1" }, { service: "s3" }]) {
      const request = await signDirect(scope);
      await refused(
        authenticatorAt(request).authenticate(request, "2020-05-31"),
        "SignatureDoesNotMatch",
        403,
        "scope",
      );
    }
  });

  it("a malformed Authorization header is IncompleteSignature 400", async () => {
    const good = authorizationOf(tag);
    const signature = /Signature=([0-9a-f]{64})/.exec(good)?.[1] ?? "";
    const malformed = [
      "AWS4-HMAC-SHA256",
      "AWS4-HMAC-SHA256 ",
      good.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256\t"),
      good.replace(/, SignedHeaders=[^,]+/, ""),
      good.replace(/, Signature=[0-9a-f]+/, ""),
      good.replace("Credential=", "Credential ="),
      good.replace(", SignedHeaders", ",  SignedHeaders"),
      `${good},`,
      `${good}, Extra=1`,
      `${good}, Signature=${signature}`,
      good.replace(signature, signature.toUpperCase()),
      good.replace(signature, signature.slice(1)),
      good.replace(/Credential=[A-Z0-9]+\//, "Credential=/"),
      good.replace("/aws4_request", ""),
      good.replace("/aws4_request", "/aws4_request/more"),
      good.replace(/\/\d{8}\//, "/2026-11-22/"),
      good.replace("SignedHeaders=amz-sdk-invocation-id;", "SignedHeaders=Amz-Sdk-Invocation-Id;"),
      good.replace(
        "SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;",
        "SignedHeaders=amz-sdk-request;amz-sdk-invocation-id;",
      ),
      good.replace(
        "SignedHeaders=amz-sdk-invocation-id;",
        "SignedHeaders=amz-sdk-invocation-id;amz-sdk-invocation-id;",
      ),
      good.replace("SignedHeaders=", "SignedHeaders=;"),
      good.replace(";host;", ";"),
      good.replace(";x-amz-date;", ";"),
      good.replace("host;", "date;host;"),
      good.replace("content-type;", "authorization;content-type;"),
      "AWS4-ECDSA-P256-SHA256 Credential=x",
      "Bearer abc.def",
      "Basic QUtJQTp4",
    ];
    for (const authorization of malformed) {
      const changed = withAuthorization(tag, authorization);
      await refused(
        authenticatorAt(changed).authenticate(changed, "2020-05-31"),
        "IncompleteSignature",
        400,
        "malformed",
      ).catch((error: unknown) => {
        throw new Error(`Authorization: ${authorization}: ${(error as Error).message}`);
      });
    }
  });

  it("no Authorization header is MissingAuthenticationToken 403", async () => {
    for (const authorization of [undefined, "", "   "]) {
      const bare = withAuthorization(tag, authorization);
      await refused(
        authenticatorAt(bare).authenticate(bare, "2020-05-31"),
        "MissingAuthenticationToken",
        403,
        "missing",
      );
    }
    const presigned = {
      ...withAuthorization(list, undefined),
      rawPath: `${list.rawPath}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00`,
    };
    const error = await refused(
      authenticatorAt(presigned).authenticate(presigned, "2020-05-31"),
      "MissingAuthenticationToken",
      403,
    );
    assert.match(error.message, /presigned/);
  });

  it("a missing or malformed x-amz-date is IncompleteSignature 400", async () => {
    const at = authenticatorAt(tag);
    const amzDate = String(tag.headers["x-amz-date"]);
    for (const value of [
      undefined,
      amzDate.replace("T", ""),
      `${amzDate.slice(0, 4)}-${amzDate.slice(4)}`,
      "20261131T000000Z",
    ]) {
      const changed = withHeaders(tag, { "x-amz-date": value });
      await refused(at.authenticate(changed, "2020-05-31"), "IncompleteSignature", 400, "malformed");
    }
  });

  it("an unsigned or streamed payload is refused: CloudFront bodies are always signed", async () => {
    for (const declared of ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"]) {
      const request = await signDirect({
        method: "POST",
        path: "/2020-05-31/tagging",
        query: { Operation: "Tag", Resource: ARN },
        headers: { "x-amz-content-sha256": declared, "content-type": "application/xml" },
        body: "<Tags/>",
      });
      await refused(
        authenticatorAt(request).authenticate(request, "2020-05-31"),
        "SignatureDoesNotMatch",
        403,
        "payload-hash",
      );
    }
  });

  it("temporary credentials (x-amz-security-token) are refused with InvalidClientTokenId", async () => {
    const request = await signDirect({ credentials: { ...KEY, sessionToken: "FwoGZXIvYXdzEJr//token" } });
    assert.ok(request.headers["x-amz-security-token"]);
    await refused(
      authenticatorAt(request).authenticate(request, "2020-05-31"),
      "InvalidClientTokenId",
      403,
      "security-token",
    );
  });

  it("an access key id of the wrong shape is InvalidClientTokenId and is not echoed", async () => {
    const request = await signDirect({
      credentials: { accessKeyId: "not-an-id", secretAccessKey: KEY.secretAccessKey },
    });
    const error = await refused(
      authenticatorAt(request).authenticate(request, "2020-05-31"),
      "InvalidClientTokenId",
      403,
      "unknown-key",
    );
    assert.ok(!error.message.includes("not-an-id"));
  });

  it("paths that need encoding, repeated and empty query parameters, and no body hash header verify", async () => {
    const request = await signDirect({
      path: "/2020-05-31/streaming-distribution/E%2F1%20x~y",
      query: { b: ["2", "1"], a: "x y+z/é", WithTags: "" },
    });
    assert.match(request.rawPath, /a=x%20y%2Bz%2F%C3%A9/);
    await authenticatorAt(request).authenticate(request, "2020-05-31");
    // Signed without x-amz-content-sha256: the verifier hashes the body itself.
    const noHashHeader = await signDirect({
      method: "POST",
      body: "<x/>",
      headers: { "content-type": "text/xml" },
      applyChecksum: false,
    });
    assert.equal(noHashHeader.headers["x-amz-content-sha256"], undefined);
    await authenticatorAt(noHashHeader).authenticate(noHashHeader, "2020-05-31");
    const changedBody = { ...noHashHeader, body: Buffer.from("<y/>") };
    await refused(
      authenticatorAt(changedBody).authenticate(changedBody, "2020-05-31"),
      "SignatureDoesNotMatch",
      403,
      "mismatch",
    );
  });

  it("known-answer vectors from an independent SigV4 implementation verify", async () => {
    // Computed with Python's hmac/hashlib from the SigV4 specification, not
    // with Smithy, so a shared bug in signer and verifier would show here.
    const body = Buffer.from(
      '<?xml version="1.0" encoding="UTF-8"?><Tags xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">' +
        "<Items><Tag><Key>a</Key><Value>b</Value></Tag></Items></Tags>",
    );
    const tagging: IncomingRequest = {
      method: "POST",
      rawPath:
        "/2020-05-31/tagging?Operation=Tag&Resource=arn%3Aaws%3Acloudfront%3A%3A123456789012%3Astreaming-distribution%2FE1234567890ABC",
      headers: {
        "content-type": "application/xml",
        host: "127.0.0.1:8443",
        "x-amz-content-sha256": "8a682eb985157466f1b2c0a7ad97f108da38b13fad3fb05826e590143c603afd",
        "x-amz-date": "20261122T045845Z",
        authorization:
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/cloudfront/aws4_request, " +
          "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, " +
          "Signature=e883c1c1a640674b5b5ce7f0a3617c10b39ad6ddb0f1ff28c0af97626d56de2b",
      },
      body,
    };
    const encodedPath: IncomingRequest = {
      method: "GET",
      rawPath: "/2020-05-31/streaming-distribution/a%20b?WithTags",
      headers: {
        host: "cloudfront.example:8080",
        "x-amz-date": "20261122T045845Z",
        authorization:
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/cloudfront/aws4_request, " +
          "SignedHeaders=host;x-amz-date, " +
          "Signature=f18b8b9109ec42779e772c020c71056c1cd3a7c0d07eabddd8382d4f3f7b695e",
      },
      body: Buffer.alloc(0),
    };
    for (const request of [tagging, encodedPath]) {
      assert.deepEqual(await authenticatorAt(request, 60_000).authenticate(request, "2020-05-31"), {
        accessKeyId: KEY.accessKeyId,
        scheme: "sigv4",
      });
    }
  });
});

describe("legacy scheme (API 2009-12-01): AWS <AccessKeyId>:<Base64(HMAC-SHA1(secret, date))>", () => {
  const now = Date.UTC(2026, 10, 22, 4, 58, 45);
  const authenticator = new RequestAuthenticator({ keys, clock: () => now });
  const rfc1123 = "Sun, 22 Nov 2026 04:58:45 GMT";

  function legacyRequest(headers: Record<string, string>): IncomingRequest {
    return {
      method: "GET",
      rawPath: "/2009-12-01/streaming-distribution",
      headers: { host: "cloudfront.amazonaws.com", ...headers },
      body: Buffer.alloc(0),
    };
  }

  it("signLegacy matches an HMAC-SHA1 computed by openssl", () => {
    // printf '%s' 'Thu, 14 Aug 2008 17:08:48 GMT' | openssl dgst -sha1 -hmac "$SECRET" -binary | base64
    assert.equal(
      signLegacy(KEY.secretAccessKey, "Thu, 14 Aug 2008 17:08:48 GMT"),
      "Zp1xP8JGwwP07VmXPQVgpAoVJZU=",
    );
  });

  it("accepts a good signature over Date, in RFC 1123 and ISO forms", async () => {
    for (const date of [
      rfc1123,
      "22 Nov 2026 04:58:45 +0000",
      "Sun, 22 Nov 2026 05:58:45 +0100",
      "2026-11-22T04:58:45Z",
      "2026-11-22T04:58:45.123Z",
      "20261122T045845Z",
    ]) {
      const request = legacyRequest({
        date,
        authorization: `AWS ${KEY.accessKeyId}:${signLegacy(KEY.secretAccessKey, date)}`,
      });
      assert.deepEqual(
        await authenticator.authenticate(request, "2009-12-01"),
        { accessKeyId: KEY.accessKeyId, scheme: "legacy" },
        date,
      );
    }
  });

  it("signs x-amz-date, not Date, when both are present", async () => {
    const amzDate = "Sun, 22 Nov 2026 04:59:00 GMT";
    const overAmz = legacyRequest({
      date: rfc1123,
      "x-amz-date": amzDate,
      authorization: `AWS ${KEY2.accessKeyId}:${signLegacy(KEY2.secretAccessKey, amzDate)}`,
    });
    assert.deepEqual(await authenticator.authenticate(overAmz, "2009-12-01"), {
      accessKeyId: KEY2.accessKeyId,
      scheme: "legacy",
    });
    const overDate = legacyRequest({
      date: rfc1123,
      "x-amz-date": amzDate,
      authorization: `AWS ${KEY2.accessKeyId}:${signLegacy(KEY2.secretAccessKey, rfc1123)}`,
    });
    await refused(
      authenticator.authenticate(overDate, "2009-12-01"),
      "SignatureDoesNotMatch",
      403,
      "mismatch",
    );
  });

  it("refuses a wrong signature, a wrong secret and an unknown key", async () => {
    const wrongSecret = legacyRequest({
      date: rfc1123,
      authorization: `AWS ${KEY.accessKeyId}:${signLegacy(KEY2.secretAccessKey, rfc1123)}`,
    });
    await refused(
      authenticator.authenticate(wrongSecret, "2009-12-01"),
      "SignatureDoesNotMatch",
      403,
      "mismatch",
    );
    const otherDate = legacyRequest({
      date: rfc1123,
      authorization: `AWS ${KEY.accessKeyId}:${signLegacy(KEY.secretAccessKey, "Sun, 22 Nov 2026 04:58:46 GMT")}`,
    });
    await refused(
      authenticator.authenticate(otherDate, "2009-12-01"),
      "SignatureDoesNotMatch",
      403,
      "mismatch",
    );
    const unknown = legacyRequest({
      date: rfc1123,
      authorization: `AWS AKIAUNKNOWNKEY000000:${signLegacy(KEY.secretAccessKey, rfc1123)}`,
    });
    await refused(
      authenticator.authenticate(unknown, "2009-12-01"),
      "InvalidClientTokenId",
      403,
      "unknown-key",
    );
  });

  it("refuses a date outside the window", async () => {
    for (const [date, reason] of [
      ["Sun, 22 Nov 2026 04:43:44 GMT", "expired"],
      ["Sun, 22 Nov 2026 05:13:46 GMT", "not-yet-valid"],
    ] as const) {
      const request = legacyRequest({
        date,
        authorization: `AWS ${KEY.accessKeyId}:${signLegacy(KEY.secretAccessKey, date)}`,
      });
      await refused(authenticator.authenticate(request, "2009-12-01"), "SignatureDoesNotMatch", 403, reason);
    }
    const edge = "Sun, 22 Nov 2026 04:43:45 GMT";
    await authenticator.authenticate(
      legacyRequest({
        date: edge,
        authorization: `AWS ${KEY.accessKeyId}:${signLegacy(KEY.secretAccessKey, edge)}`,
      }),
      "2009-12-01",
    );
  });

  it("refuses the legacy scheme on API 2020-05-31 with IncompleteSignature, pointing to SigV4", async () => {
    const request = {
      ...legacyRequest({
        date: rfc1123,
        authorization: `AWS ${KEY.accessKeyId}:${signLegacy(KEY.secretAccessKey, rfc1123)}`,
      }),
      rawPath: "/2020-05-31/streaming-distribution",
    };
    const error = await refused(
      authenticator.authenticate(request, "2020-05-31"),
      "IncompleteSignature",
      400,
      "legacy-not-allowed",
    );
    assert.match(error.message, /Signature Version 4/);
    assert.match(error.message, /2009-12-01/);
    const widened = new RequestAuthenticator({
      keys,
      clock: () => now,
      legacyApiVersions: ["2009-12-01", "2010-11-01"],
    });
    assert.equal((await widened.authenticate(request, "2010-11-01")).scheme, "legacy");
  });

  it("refuses malformed headers and dates with IncompleteSignature 400", async () => {
    const signature = signLegacy(KEY.secretAccessKey, rfc1123);
    for (const authorization of [
      `AWS ${KEY.accessKeyId}${signature}`,
      `AWS ${KEY.accessKeyId}:`,
      `AWS :${signature}`,
      `AWS ${KEY.accessKeyId}:${signature.slice(0, -2)}`,
      `AWS ${KEY.accessKeyId}:${signature} extra`,
      `AWS  ${KEY.accessKeyId}:${signature}`,
    ]) {
      await refused(
        authenticator.authenticate(legacyRequest({ date: rfc1123, authorization }), "2009-12-01"),
        "IncompleteSignature",
        400,
        "malformed",
      );
    }
    const authorization = `AWS ${KEY.accessKeyId}:${signature}`;
    await refused(
      authenticator.authenticate(legacyRequest({ authorization }), "2009-12-01"),
      "IncompleteSignature",
      400,
      "malformed",
    );
    for (const date of [
      "yesterday",
      "Sun, 31 Nov 2026 04:58:45 GMT",
      "2026-11-22 04:58:45",
      "Sunday, 22-Nov-26 04:58:45 GMT",
    ]) {
      await refused(
        authenticator.authenticate(
          legacyRequest({
            date,
            authorization: `AWS ${KEY.accessKeyId}:${signLegacy(KEY.secretAccessKey, date)}`,
          }),
          "2009-12-01",
        ),
        "IncompleteSignature",
        400,
        "malformed",
      );
    }
  });

  it("SigV4 is also accepted on API 2009-12-01", async () => {
    const request = await signDirect({ path: "/2009-12-01/streaming-distribution", date: new Date(now) });
    assert.equal((await authenticator.authenticate(request, "2009-12-01")).scheme, "sigv4");
  });

  it("parses the date forms exactly", () => {
    assert.equal(parseHttpDate(rfc1123), now);
    assert.equal(parseHttpDate("Sun, 22 Nov 2026 00:58:45 -0400"), now);
    assert.equal(parseHttpDate("2026-11-22T06:58:45+02:00"), now);
    assert.equal(parseHttpDate("Sun, 22 Nov 2026 04:58:45"), undefined);
    assert.equal(parseHttpDate("Sun, 22 Nov 2026 24:00:00 GMT"), undefined);
  });
});

describe("operator access keys", () => {
  const dir = mkdtempSync(join(tmpdir(), "streamfront-auth-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function configFailure(run: () => unknown, pattern: RegExp, ...forbidden: string[]): void {
    assert.throws(run, (error: unknown) => {
      const e = error as { code?: string; message: string };
      assert.equal(e.code, "CONFIG_ERR_INVALID");
      assert.match(e.message, pattern);
      for (const text of forbidden)
        assert.ok(!e.message.includes(text), `message shows ${text}: ${e.message}`);
      return true;
    });
  }

  it("parses pairs separated by commas, spaces and newlines (CRLF too)", () => {
    const text = `  ${KEY.accessKeyId}:${KEY.secretAccessKey} ,\r\n\n ${KEY2.accessKeyId}:${KEY2.secretAccessKey},\n`;
    const parsed = parseAccessKeys(text, "test");
    assert.deepEqual(parsed.accessKeyIds, [KEY.accessKeyId, KEY2.accessKeyId]);
    assert.equal(parsed.secretFor(KEY2.accessKeyId), KEY2.secretAccessKey);
    assert.equal(parsed.secretFor("AKIANOTTHERE00000000"), undefined);
    const withColon = parseAccessKeys("ABCDEFGHIJKLMNOP:secret:with:colons", "test");
    assert.equal(withColon.secretFor("ABCDEFGHIJKLMNOP"), "secret:with:colons");
  });

  it("parses a JSON object and both file forms", () => {
    const json = JSON.stringify({
      [KEY.accessKeyId]: KEY.secretAccessKey,
      [KEY2.accessKeyId]: KEY2.secretAccessKey,
    });
    assert.equal(parseAccessKeys(json, "test").size, 2);
    const textFile = join(dir, "keys.txt");
    writeFileSync(
      textFile,
      `${KEY.accessKeyId}:${KEY.secretAccessKey}\n${KEY2.accessKeyId}:${KEY2.secretAccessKey}\n`,
    );
    assert.deepEqual(AccessKeys.fromFile(textFile).accessKeyIds, [KEY.accessKeyId, KEY2.accessKeyId]);
    const jsonFile = join(dir, "keys.json");
    writeFileSync(jsonFile, `\uFEFF${json}\n`);
    assert.equal(AccessKeys.fromFile(jsonFile).secretFor(KEY.accessKeyId), KEY.secretAccessKey);
    configFailure(
      () => AccessKeys.fromFile(join(dir, "missing")),
      /cannot read access keys file .*missing: ENOENT/,
    );
  });

  it("refuses bad entries, naming the entry and never printing a secret", () => {
    const good = `${KEY.accessKeyId}:${KEY.secretAccessKey}`;
    configFailure(
      () => parseAccessKeys(`${good}\n${KEY2.accessKeyId}:short`, "keys.txt"),
      /keys\.txt, entry 2 \(line 2\) \(AKIAJ2SECONDKEY00042\): the secret must be 16–128/,
      "short",
    );
    configFailure(
      () => parseAccessKeys(`akiaiosfodnn7example:${KEY.secretAccessKey}`, "t"),
      /entry 1 \(line 1\): the access key id must be/,
      KEY.secretAccessKey,
      "akiaiosfodnn7example",
    );
    configFailure(
      () => parseAccessKeys(`AKIASHORT:${KEY.secretAccessKey}`, "t"),
      /access key id must be 16–128/,
      KEY.secretAccessKey,
    );
    configFailure(
      () => parseAccessKeys(`${good},${KEY.secretAccessKey}`, "t"),
      /entry 2 \(line 1\): expected ACCESS_KEY_ID:SECRET, found no colon/,
      KEY.secretAccessKey,
    );
    configFailure(
      () => parseAccessKeys(`${KEY.secretAccessKey}:${KEY.accessKeyId}`, "t"),
      /access key id must be/,
      KEY.secretAccessKey,
    );
    configFailure(
      () => parseAccessKeys(`${good}\n${KEY.accessKeyId}:${KEY2.secretAccessKey}`, "t"),
      /entry 2 \(line 2\): access key id AKIAIOSFODNN7EXAMPLE is already defined at t, entry 1 \(line 1\)/,
      KEY.secretAccessKey,
      KEY2.secretAccessKey,
    );
    configFailure(
      () => parseAccessKeys(`${KEY.accessKeyId}:${"x".repeat(129)}`, "t"),
      /secret must be 16–128/,
    );
    configFailure(() => parseAccessKeys(" \n ,", "empty.txt"), /empty\.txt holds no access keys/);
    configFailure(
      () => parseAccessKeys(`{"${KEY.accessKeyId}": "${KEY.secretAccessKey}",}`, "k.json"),
      /k\.json: starts with "\{" but is not valid JSON$/,
      KEY.secretAccessKey,
    );
    configFailure(() => parseAccessKeys("{}", "k.json"), /k\.json holds no access keys/);
    configFailure(
      () => parseAccessKeys(`{"${KEY.accessKeyId}": 12345678901234567890}`, "k.json"),
      /entry 1: the secret must be a JSON string \(got number\)/,
    );
    configFailure(
      () => parseAccessKeys(`{"${KEY.accessKeyId}": "${KEY.secretAccessKey} "}`, "k.json"),
      /visible ASCII/,
      KEY.secretAccessKey,
    );
    configFailure(() => AccessKeys.of([]), /access keys holds no access keys/);
  });

  it("never shows a secret when printed", () => {
    for (const shown of [inspect(keys), String(keys), JSON.stringify(keys), `${keys}`]) {
      assert.match(shown, /AKIAIOSFODNN7EXAMPLE/);
      for (const secret of SECRETS) assert.ok(!shown.includes(secret), shown);
    }
  });

  it("generates AWS-shaped development pairs that parse back", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const pair = generateDevelopmentKeyPair();
      assert.match(pair.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
      assert.match(pair.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
      assert.equal(parseAccessKeys(`${pair.accessKeyId}:${pair.secretAccessKey}`, "generated").size, 1);
      seen.add(pair.accessKeyId);
      seen.add(pair.secretAccessKey);
    }
    assert.equal(seen.size, 1000);
    const fixed = generateDevelopmentKeyPair((size) => Buffer.alloc(size, 1));
    assert.deepEqual(fixed, { accessKeyId: `AKIA${"B".repeat(16)}`, secretAccessKey: "B".repeat(40) });
  });

  it("resolves the inline or file setting, not both", () => {
    assert.equal(resolveAccessKeys({ apiAccessKeys: "", apiAccessKeysFile: "" }), undefined);
    const inline = resolveAccessKeys({
      apiAccessKeys: `${KEY.accessKeyId}:${KEY.secretAccessKey}`,
      apiAccessKeysFile: "",
    });
    assert.deepEqual(inline?.accessKeyIds, [KEY.accessKeyId]);
    const file = join(dir, "resolved.txt");
    writeFileSync(file, `${KEY2.accessKeyId}:${KEY2.secretAccessKey}`);
    assert.deepEqual(resolveAccessKeys({ apiAccessKeys: "", apiAccessKeysFile: file })?.accessKeyIds, [
      KEY2.accessKeyId,
    ]);
    configFailure(
      () => resolveAccessKeys({ apiAccessKeys: "A:B", apiAccessKeysFile: file }),
      /set only one of/,
    );
    configFailure(
      () => resolveAccessKeys({ apiAccessKeys: "A:B", apiAccessKeysFile: "" }),
      /setting STREAMFRONT_CONTROLLER_API_ACCESS_KEYS, entry 1/,
      "A:B",
    );
  });
});
