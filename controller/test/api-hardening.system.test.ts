/**
 * Attacks on the control API of a real controller process
 * (dist/controller/src/main.js, spawned with every port 0), as issue 9
 * found them: each performs the attack over real sockets, then asserts the
 * process is alive, a signed call with the official SDK still succeeds, and
 * the child's memory (VmHWM of /proc/<pid>/status: the peak RSS of the
 * whole process) stayed under a stated bound. Figures go to t.diagnostic.
 *
 * Attackers connect from other loopback addresses (127.0.0.2 …), so the
 * per-address bounds they hit are not the ones the SDK, on 127.0.0.1, uses.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { after, before, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  type CloudFrontClient,
  CreateStreamingDistributionCommand,
  DeleteStreamingDistributionCommand,
  GetStreamingDistributionCommand,
  GetStreamingDistributionConfigCommand,
  ListDistributionsCommand,
  ListStreamingDistributionsCommand,
  type StreamingDistributionConfig,
  UpdateStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../../lib/process/launcher.js";
import { testTlsEnv } from "../../lib/testing/tls.js";
import { type RawResponse, sdkClient, signSigV4, testKey } from "./api-e2e-support.js";

const run = promisify(execFile);
const mainJs = fileURLToPath(new URL("../src/main.js", import.meta.url));
const bodyTimeoutMs = 2_000;
const headersTimeoutMs = 2_000;
/** Peak RSS allowed for the controller through every attack below (its idle RSS is ~90 MB). */
const rssBoundKb = 300 * 1024;

let controller: LaunchedComponent;
let endpoint = "";
let apiPort = 0;
let client: CloudFrontClient;
const logLines: Record<string, unknown>[] = [];

before(async () => {
  controller = await launchComponent(mainJs, {
    stdio: "pipe",
    env: {
      STREAMFRONT_CONTROLLER_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
      STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
      STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
      STREAMFRONT_CONTROLLER_API_PORT: "0",
      STREAMFRONT_CONTROLLER_API_ACCESS_KEYS: `${testKey.accessKeyId}:${testKey.secretAccessKey}`,
      STREAMFRONT_CONTROLLER_DEMO_BUCKET: "demo-media",
      STREAMFRONT_CONTROLLER_API_BODY_TIMEOUT_MS: String(bodyTimeoutMs),
      STREAMFRONT_CONTROLLER_API_HEADERS_TIMEOUT_MS: String(headersTimeoutMs),
      STREAMFRONT_CONTROLLER_LOG_LEVEL: "info",
      STREAMFRONT_CONTROLLER_REDIS_URL: "",
    },
  });
  let pending = "";
  controller.child.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a log line (nothing else is expected on stdout).
      }
    }
  });
  controller.child.stderr?.resume();
  endpoint = `http://${controller.addresses.api}`;
  apiPort = Number(new URL(endpoint).port);
  client = sdkClient(endpoint);
});

after(async () => {
  client?.destroy();
  await controller?.stop();
});

/** VmRSS and VmHWM (peak) of the controller process, in kB. */
function memory(): { rssKb: number; peakKb: number } {
  const status = readFileSync(`/proc/${controller.child.pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssKb: field("VmRSS"), peakKb: field("VmHWM") };
}

/** The process is alive, a signed SDK call succeeds, and the peak RSS is within the bound. */
async function assertServing(t: TestContext): Promise<void> {
  assert.equal(controller.child.exitCode, null, "the controller process is alive");
  assert.equal(controller.child.signalCode, null, "the controller process is alive");
  const listed = await client.send(new ListStreamingDistributionsCommand({}));
  assert.equal(listed.$metadata.httpStatusCode, 200);
  const { rssKb, peakKb } = memory();
  t.diagnostic(`controller RSS ${Math.round(rssKb / 1024)} MB, peak (VmHWM) ${Math.round(peakKb / 1024)} MB`);
  assert.ok(peakKb < rssBoundKb, `peak RSS ${peakKb} kB over ${rssBoundKb} kB`);
}

interface RawExchange {
  /** Everything the server sent. */
  readonly data: string;
  /** From connect to the server closing the connection (or our deadline). */
  readonly closedAfterMs: number;
  readonly closedByServer: boolean;
}

/**
 * A raw TCP exchange from localAddress: writes the given pieces (each after
 * its delay), then waits, sending nothing more, until the server closes the
 * connection or deadlineMs passes.
 */
function exchange(
  pieces: readonly (string | Buffer)[],
  options: { localAddress?: string; deadlineMs?: number; pieceDelayMs?: number } = {},
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket: Socket = connect({
      host: "127.0.0.1",
      port: apiPort,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    let data = "";
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve({ data, closedAfterMs: performance.now() - started, closedByServer });
    };
    const deadline = setTimeout(() => finish(false), options.deadlineMs ?? 30_000);
    socket.on("data", (chunk: Buffer) => {
      // Keep only the start: the status lines are what the tests read.
      if (data.length < 64 * 1024) data += chunk.toString("latin1");
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.on("connect", async () => {
      for (const piece of pieces) {
        if (done) return;
        socket.write(piece);
        if (options.pieceDelayMs) await new Promise((r) => setTimeout(r, options.pieceDelayMs));
      }
    });
  });
}

function statusOf(data: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
}

function errorCodeOf(data: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(data)?.[1];
}

/** A request over node:http with a body written in chunks (Transfer-Encoding: chunked), read to the end. */
function chunkedPost(headers: Record<string, string>, body: Buffer, chunkBytes = 8192): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port: apiPort,
      method: "POST",
      path: "/2020-05-31/streaming-distribution",
      headers,
      agent: false,
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on("error", () => {});
    });
    // The server stops reading once it has refused: a write may then fail.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    let offset = 0;
    const pump = () => {
      while (offset < body.length) {
        const piece = body.subarray(offset, offset + chunkBytes);
        offset += piece.length;
        if (!req.write(piece)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

function config(reference: string, overrides: Partial<StreamingDistributionConfig> = {}) {
  return {
    CallerReference: reference,
    S3Origin: { DomainName: "media-bucket.s3.amazonaws.com", OriginAccessIdentity: "" },
    Comment: "",
    TrustedSigners: { Enabled: false, Quantity: 0 },
    Enabled: true,
    ...overrides,
  } satisfies StreamingDistributionConfig;
}

async function sdkCode(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (error) {
    return (error as { name?: string }).name ?? "unknown";
  }
}

describe("item 2: a request body over the limit never kills the controller", () => {
  it("the issue's curl (chunked, unsigned, 100,000 bytes) is refused, the process lives, the next signed call succeeds", async (t) => {
    const { stdout } = await run("sh", [
      "-c",
      `head -c 100000 /dev/zero | curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' --data-binary @- ${endpoint}/2020-05-31/streaming-distribution`,
    ]);
    // Refused from its headers (no signature) before a byte of body is read.
    assert.equal(stdout, "403");
    await assertServing(t);
  });

  it("the same chunked body, signed: 413 EntityTooLarge once 64 KiB are read, the process lives", async (t) => {
    const body = Buffer.alloc(100_000);
    for (let i = 0; i < 3; i++) {
      const signed = await signSigV4(endpoint, {
        method: "POST",
        path: "/2020-05-31/streaming-distribution",
        headers: { "content-type": "text/xml" },
        body: body.toString("latin1"),
      });
      const response = await chunkedPost(signed.headers, body);
      assert.equal(response.status, 413, response.body);
      assert.equal(errorCodeOf(response.body), "EntityTooLarge");
      assert.equal(response.headers.connection, "close");
    }
    await assertServing(t);
  });

  it("a Content-Length over the limit, signed or not: 413 before the body is read", async (t) => {
    for (const signedToo of [false, true]) {
      const headers = signedToo
        ? (
            await signSigV4(endpoint, {
              method: "POST",
              path: "/2020-05-31/streaming-distribution",
              headers: { "content-type": "text/xml" },
              body: "x".repeat(200_000),
            })
          ).headers
        : {};
      const head =
        "POST /2020-05-31/streaming-distribution HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n" +
        Object.entries(headers)
          .filter(([name]) => name !== "host")
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join("") +
        "\r\n";
      const answer = await exchange([head, "x".repeat(1000)], { localAddress: "127.0.0.2" });
      assert.equal(statusOf(answer.data), 413, answer.data.slice(0, 300));
      assert.ok(answer.closedByServer);
    }
    await assertServing(t);
  });

  it("aborted bodies, client resets, malformed and oversized headers, bodies on GET and DELETE", async (t) => {
    // A signed body cut off half way, and a reset in the middle of one.
    for (const how of ["end", "reset"] as const) {
      const body = "<StreamingDistributionConfig>".padEnd(2000, " ");
      const signed = await signSigV4(endpoint, {
        method: "POST",
        path: "/2020-05-31/streaming-distribution",
        headers: { "content-type": "text/xml", "content-length": String(body.length) },
        body,
      });
      const socket = connect({ host: "127.0.0.1", port: apiPort, localAddress: "127.0.0.3" });
      socket.on("error", () => {});
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      socket.write(
        `POST ${signed.target} HTTP/1.1\r\n${Object.entries(signed.headers)
          .map(([n, v]) => `${n}: ${v}\r\n`)
          .join("")}\r\n${body.slice(0, 500)}`,
      );
      await new Promise((r) => setTimeout(r, 100));
      if (how === "end") socket.end();
      else socket.resetAndDestroy();
    }
    // Malformed: not HTTP, a bad header line, a header over 16 KiB, a bad Content-Length.
    const garbage = await exchange(["\x00\x01\x02 not http\r\n\r\n"], { localAddress: "127.0.0.3" });
    assert.equal(statusOf(garbage.data), 400);
    const badHeader = await exchange(["GET / HTTP/1.1\r\nHo st: x\r\n\r\n"], { localAddress: "127.0.0.3" });
    assert.equal(statusOf(badHeader.data), 400);
    const huge = await exchange([`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`], {
      localAddress: "127.0.0.3",
    });
    assert.equal(statusOf(huge.data), 431);
    const badLength = await exchange(
      ["POST /2020-05-31/streaming-distribution HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n"],
      { localAddress: "127.0.0.3" },
    );
    assert.equal(statusOf(badLength.data), 400);
    // Bodies on operations that take none: unsigned ones are refused and the
    // connection closed (the body would be read as the next request).
    const deleteWithBody = await exchange(
      [
        "DELETE /2020-05-31/streaming-distribution/EXXX HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc",
      ],
      { localAddress: "127.0.0.3" },
    );
    assert.equal(statusOf(deleteWithBody.data), 403);
    assert.ok(deleteWithBody.closedByServer, "closed, not left waiting for the rest of the body");
    // A signed GET with a body: its body is held to the signed hash and the GET answered.
    const getBody = "ignored";
    const signedGet = await signSigV4(endpoint, {
      method: "GET",
      path: "/2020-05-31/streaming-distribution",
      headers: { "content-length": String(getBody.length) },
      body: getBody,
    });
    const get = await exchange(
      [
        `GET ${signedGet.target} HTTP/1.1\r\n${Object.entries(signedGet.headers)
          .map(([n, v]) => `${n}: ${v}\r\n`)
          .join("")}Connection: close\r\n\r\n${getBody}`,
      ],
      { localAddress: "127.0.0.3" },
    );
    assert.equal(statusOf(get.data), 200, get.data.slice(0, 300));
    await assertServing(t);
  });

  it("pipelined requests: 2,000 unsigned ones in one write from a client that does not read, then two signed ones answered in order", async (t) => {
    const one = "GET /2020-05-31/streaming-distribution HTTP/1.1\r\nHost: x\r\n\r\n";
    const flood = await exchange([one.repeat(2_000)], { localAddress: "127.0.0.4", deadlineMs: 3_000 });
    t.diagnostic(`flood: ${flood.data.length} bytes answered before the test stopped reading`);
    const signed = [];
    for (const path of ["/2020-05-31/streaming-distribution", "/2020-05-31/streaming-distribution/ENOPE"]) {
      const s = await signSigV4(endpoint, { method: "GET", path });
      signed.push(
        `GET ${s.target} HTTP/1.1\r\n${Object.entries(s.headers)
          .map(([n, v]) => `${n}: ${v}\r\n`)
          .join("")}\r\n`,
      );
    }
    const pair = await exchange([signed.join("")], { localAddress: "127.0.0.4", deadlineMs: 3_000 });
    const statuses = [...pair.data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 404]);
    await assertServing(t);
  });
});

describe("item 9: unauthenticated clients cannot throttle the API", () => {
  it("300 slow unsigned bodies from one address: each refused from its headers; signed SDK calls all succeed meanwhile", async (t) => {
    const slow = Array.from({ length: 300 }, () =>
      exchange(
        [
          "POST /2020-05-31/streaming-distribution HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 60000\r\n\r\n",
          "<Stre",
        ],
        { localAddress: "127.0.0.5", deadlineMs: 60_000 },
      ),
    );
    const codes: string[] = [];
    for (let i = 0; i < 20; i++)
      codes.push(await sdkCode(client.send(new ListStreamingDistributionsCommand({}))));
    const answers = await Promise.all(slow);
    assert.deepEqual(
      codes.filter((c) => c !== "OK"),
      [],
      "no signed call was throttled",
    );
    const byCode = new Map<string, number>();
    for (const a of answers) {
      const code = errorCodeOf(a.data) ?? `status ${statusOf(a.data)}`;
      byCode.set(code, (byCode.get(code) ?? 0) + 1);
      assert.ok(a.closedByServer, "closed by the server");
      // Refused at once, or over the connection bound: never held.
      assert.ok(code === "MissingAuthenticationToken" || code === "Throttling", code);
    }
    const longest = Math.max(...answers.map((a) => a.closedAfterMs));
    t.diagnostic(`slow unsigned bodies: ${JSON.stringify(Object.fromEntries(byCode))}`);
    t.diagnostic(`longest time to close a slow unsigned body: ${Math.round(longest)} ms`);
    // Well under the body timeout: they are refused without waiting for the body.
    assert.ok(longest < bodyTimeoutMs * 5, `${longest} ms`);
    await assertServing(t);
  });

  it("signed slow bodies are closed at the body timeout with RequestTimeout; botocore-style ones are bounded per address", async (t) => {
    const body = "<StreamingDistributionConfig>".padEnd(3000, " ");
    const head = async (signPayload: boolean, secret = testKey.secretAccessKey) => {
      const signed = await signSigV4(endpoint, {
        method: "POST",
        path: "/2020-05-31/streaming-distribution",
        headers: { "content-type": "text/xml", "content-length": String(body.length) },
        body,
        credentials: { accessKeyId: testKey.accessKeyId, secretAccessKey: secret },
      });
      const headers = Object.entries(signed.headers).filter(
        ([name]) => signPayload || name !== "x-amz-content-sha256",
      );
      return `POST ${signed.target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
    };
    // Signed by the SDK's rules (payload hash signed): verified from the headers, then timed out.
    const timed = await Promise.all(
      Array.from({ length: 20 }, async () =>
        exchange([await head(true), body.slice(0, 10)], { localAddress: "127.0.0.6" }),
      ),
    );
    for (const a of timed) assert.equal(errorCodeOf(a.data), "RequestTimeout", a.data.slice(0, 300));
    const closeTimes = timed.map((a) => a.closedAfterMs);
    t.diagnostic(
      `signed slow bodies closed after ${Math.round(Math.min(...closeTimes))}–${Math.round(Math.max(...closeTimes))} ms (body timeout ${bodyTimeoutMs} ms)`,
    );
    assert.ok(Math.min(...closeTimes) >= bodyTimeoutMs - 100);
    // No payload hash (botocore), a known key id but a wrong secret: the
    // signature needs the body, so at most 8 per address wait for theirs.
    const unverified = await Promise.all(
      Array.from({ length: 30 }, async () =>
        exchange([await head(false, "not-the-secret-at-all"), body.slice(0, 10)], {
          localAddress: "127.0.0.7",
        }),
      ),
    );
    const codes = unverified.map((a) => errorCodeOf(a.data));
    t.diagnostic(
      `botocore-style slow bodies: ${codes.filter((c) => c === "RequestTimeout").length} waited, ${codes.filter((c) => c === "Throttling").length} throttled at once`,
    );
    assert.ok(codes.filter((c) => c === "RequestTimeout").length <= 8, codes.join(","));
    assert.ok(
      codes.every((c) => c === "RequestTimeout" || c === "Throttling"),
      codes.join(","),
    );
    await assertServing(t);
  });

  it("slow headers (one byte, then silence) are closed at the headers timeout; the SDK is served meanwhile", async (t) => {
    const slow = Array.from({ length: 64 }, () =>
      exchange(["P"], { localAddress: "127.0.0.8", deadlineMs: 60_000 }),
    );
    assert.equal(await sdkCode(client.send(new ListStreamingDistributionsCommand({}))), "OK");
    const answers = await Promise.all(slow);
    for (const a of answers) {
      assert.ok(a.closedByServer);
      assert.equal(statusOf(a.data), 408, a.data);
    }
    const times = answers.map((a) => a.closedAfterMs);
    t.diagnostic(
      `slow headers closed after ${Math.round(Math.min(...times))}–${Math.round(Math.max(...times))} ms (headers timeout ${headersTimeoutMs} ms, checked every 1 s)`,
    );
    assert.ok(Math.min(...times) >= headersTimeoutMs - 100);
    await assertServing(t);
  });

  it("connections past the per-address bound are answered Throttling and closed; other addresses are not", async (t) => {
    const held = await Promise.all(
      Array.from(
        { length: 64 },
        () =>
          new Promise<Socket>((resolve) => {
            const s = connect({ host: "127.0.0.1", port: apiPort, localAddress: "127.0.0.9" });
            s.on("error", () => {});
            s.once("connect", () => resolve(s));
          }),
      ),
    );
    try {
      const extra = await exchange([], { localAddress: "127.0.0.9", deadlineMs: 10_000 });
      assert.equal(errorCodeOf(extra.data), "Throttling");
      assert.ok(extra.closedByServer);
      assert.equal(await sdkCode(client.send(new ListStreamingDistributionsCommand({}))), "OK");
    } finally {
      for (const s of held) s.destroy();
    }
    await assertServing(t);
  });
});

describe("items 10 and 18 through the SDK", () => {
  it("the demo distribution can be fetched, updated with its own config (disabled) and deleted", async () => {
    const listed = await client.send(new ListStreamingDistributionsCommand({}));
    const demo = listed.StreamingDistributionList?.Items?.find((d) =>
      d.Aliases?.Items?.includes("localhost"),
    );
    assert.ok(demo?.Id, "the demo distribution (CNAME localhost) is listed");
    const got = await client.send(new GetStreamingDistributionConfigCommand({ Id: demo.Id }));
    const own = got.StreamingDistributionConfig!;
    const updated = await client.send(
      new UpdateStreamingDistributionCommand({
        Id: demo.Id,
        IfMatch: got.ETag,
        StreamingDistributionConfig: { ...own, Enabled: false },
      }),
    );
    assert.equal(updated.StreamingDistribution?.StreamingDistributionConfig?.Enabled, false);
    const deleted = await client.send(
      new DeleteStreamingDistributionCommand({ Id: demo.Id, IfMatch: updated.ETag }),
    );
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    assert.equal(
      await sdkCode(client.send(new GetStreamingDistributionCommand({ Id: demo.Id }))),
      "NoSuchStreamingDistribution",
    );
  });

  it("CNAMEs: IP addresses and misplaced wildcards are InvalidArgument; a leading wildcard and overlapping names are taken; the same name twice conflicts", async () => {
    let n = 0;
    const create = (aliases: string[]) =>
      client.send(
        new CreateStreamingDistributionCommand({
          StreamingDistributionConfig: config(`cname-${++n}`, {
            Aliases: { Quantity: aliases.length, Items: aliases },
          }),
        }),
      );
    for (const bad of [
      "127.0.0.1",
      "::1",
      "[::1]",
      "10.0.0.1",
      "a.*.com",
      "*foo.com",
      "**.x",
      "x.streamfront.local",
    ]) {
      assert.equal(await sdkCode(create([bad])), "InvalidArgument", bad);
    }
    assert.equal(await sdkCode(create(["*.wild.example"])), "OK");
    assert.equal(await sdkCode(create(["www.wild.example", "wild.example", "*.deep.wild.example"])), "OK");
    assert.equal(await sdkCode(create(["*.wild.example"])), "CNAMEAlreadyExists");
    assert.equal(await sdkCode(create(["mediabox"])), "OK", "a single-label LAN name");
  });

  it("a 501 (web distributions) is logged at info without a stack, not as an error", async () => {
    assert.equal(await sdkCode(client.send(new ListDistributionsCommand({}))), "NotImplemented");
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      line = logLines.find((l) => l.code === "NotImplemented");
      if (!line) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(line, "a log line for the 501");
    assert.equal(line.level, "info");
    assert.ok(!JSON.stringify(line).includes("stack"), JSON.stringify(line));
    assert.deepEqual(
      logLines.filter((l) => l.level === "error"),
      [],
      "no error line in the whole run",
    );
  });
});
