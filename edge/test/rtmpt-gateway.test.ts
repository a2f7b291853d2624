import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, describe, test } from "node:test";
import { Registry } from "prom-client";
import { listen } from "../../lib/net/listen.js";
import { silentLogger } from "../../lib/testing/shield.js";
import { delay, eventually } from "../../lib/testing/wait.js";
import { EdgeMetrics } from "../src/metrics.js";
import { createHttpResponder } from "../src/transport/http-responder.js";
import { pollingSchedule } from "../src/transport/rtmpt/polling-delay.js";
import { RtmptGateway, type RtmptLimits } from "../src/transport/rtmpt/rtmpt-gateway.js";
import type { TunnelStream } from "../src/transport/rtmpt/tunnel-stream.js";
import type { Protocol } from "../src/vocabulary.js";
import { RawHttpConnection, RtmptTestSession } from "./support/rtmpt-http-client.js";

/**
 * The tunnel on a real HTTP server and real sockets, with a stand-in for
 * the RTMP session: it records what arrives and writes what a test tells it.
 */
interface Accepted {
  readonly stream: TunnelStream;
  readonly protocol: Protocol;
  readonly received: Buffer[];
}

interface Rig {
  readonly port: number;
  readonly gateway: RtmptGateway;
  readonly accepted: Accepted[];
  readonly metrics: EdgeMetrics;
  readonly registry: Registry;
  /** The gateway's clock; tests move it forward. */
  clock: number;
  /** When set, the stand-in answers every client chunk with this function's bytes. */
  echo: ((bytes: Buffer) => Buffer) | null;
}

const rigs: { server: Server; gateway: RtmptGateway }[] = [];
const connections: RawHttpConnection[] = [];

async function startRig(limits: Partial<RtmptLimits> = {}): Promise<Rig> {
  const registry = new Registry();
  const metrics = new EdgeMetrics(registry);
  const rig: Rig = {
    port: 0,
    gateway: undefined as unknown as RtmptGateway,
    accepted: [],
    metrics,
    registry,
    clock: 1_000_000,
    echo: null,
  };
  const gateway = new RtmptGateway({
    accept: (stream, protocol) => {
      const accepted: Accepted = { stream, protocol, received: [] };
      rig.accepted.push(accepted);
      stream.on("data", (bytes: Buffer) => {
        accepted.received.push(bytes);
        if (rig.echo) stream.write(rig.echo(bytes));
      });
      stream.on("error", () => {});
    },
    logger: silentLogger("rtmpt-test"),
    metrics,
    limits,
    now: () => rig.clock,
    sweepIntervalMs: 10,
  });
  const server = createHttpResponder(gateway);
  const address: AddressInfo = await listen(server, 0, "127.0.0.1");
  rigs.push({ server, gateway });
  return Object.assign(rig, { port: address.port, gateway });
}

async function connection(rig: Rig): Promise<RawHttpConnection> {
  const c = await RawHttpConnection.open(rig.port);
  connections.push(c);
  return c;
}

afterEach(() => {
  for (const c of connections.splice(0)) c.close();
});

after(async () => {
  for (const { server, gateway } of rigs) {
    gateway.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** C0 (version 3) and a C1 of 1536 bytes, as the first /send carries them. */
function c0c1(version = 0x03): Buffer {
  const bytes = Buffer.alloc(1537, 0x5a);
  bytes[0] = version;
  return bytes;
}

describe("RTMPT requests and answers", () => {
  test("/fcs/ident2 and /fcs/ident are 404 as on FMS with HTTPIdent off; other paths stay the responder's", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    assert.equal((await c.post("/fcs/ident2")).status, 404);
    assert.equal((await c.post("/fcs/ident")).status, 404);
    assert.equal((await c.post("/fcs/ident/")).status, 404);
    const policy = await c.send("GET", "/crossdomain.xml", Buffer.alloc(0));
    assert.equal(policy.status, 200);
    assert.match(policy.body.toString(), /cross-domain-policy/);
    assert.equal((await c.send("GET", "/videos/sample.flv", Buffer.alloc(0))).status, 404);
    assert.equal(rig.gateway.sessionCount, 0);
  });

  test("/open/1 answers a fresh 128-bit id and a newline, in FMS's headers", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const answer = await c.post("/open/1");
    assert.equal(answer.status, 200);
    assert.match(answer.head, /^HTTP\/1\.1 200 OK\r\n/);
    // librtmp finds "Content-Length: " by this exact spelling and one space.
    assert.match(answer.head, /\r\nContent-Length: 33(\r\n|$)/);
    assert.match(answer.head, /\r\nContent-Type: application\/x-fcs(\r\n|$)/);
    assert.match(answer.head, /\r\nCache-Control: no-cache(\r\n|$)/);
    assert.match(answer.head, /\r\nConnection: Keep-Alive(\r\n|$)/);
    // Old librtmp builds wait for 144 bytes before they parse an answer.
    assert.ok(answer.head.length + 4 >= 144, `answer head is ${answer.head.length} bytes`);
    const id = answer.body.toString("latin1");
    assert.match(id, /^[0-9a-f]{32}\n$/);
    const ids = new Set([id]);
    for (let i = 0; i < 20; i++) ids.add((await c.post("/open/1")).body.toString("latin1"));
    assert.equal(ids.size, 21, "every open gets its own id");
    assert.equal(rig.gateway.sessionCount, 21);
  });

  test("the first /send starts the RTMP side with its bytes; the answer carries what it wrote back", async () => {
    const rig = await startRig();
    rig.echo = (bytes) => Buffer.from(bytes.subarray(0, 4).map((b) => b ^ 0xff));
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    const answer = await session.send(c0c1());
    assert.equal(answer.status, 200);
    assert.equal(rig.accepted.length, 1);
    assert.equal(rig.accepted[0]!.protocol, "rtmpt");
    assert.equal(rig.accepted[0]!.stream.remoteAddress, "127.0.0.1");
    assert.deepEqual(Buffer.concat(rig.accepted[0]!.received), c0c1());
    assert.deepEqual([...answer.body], [0x01, 0xfc, 0xa5, 0xa5, 0xa5]);
    // Later sends go to the same RTMP side, in order.
    await session.send(Buffer.from("abc"));
    await session.send(Buffer.from("def"));
    assert.equal(Buffer.concat(rig.accepted[0]!.received).subarray(1537).toString(), "abcdef");
    assert.equal(rig.accepted.length, 1);
  });

  test("C0 0x06, 0x08 or 0x09 labels the tunnel rtmpte; the bytes pass through untouched", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    for (const version of [0x06, 0x08, 0x09]) {
      const session = await RtmptTestSession.open(c);
      assert.equal((await session.send(c0c1(version))).status, 200);
      const accepted = rig.accepted.at(-1)!;
      assert.equal(accepted.protocol, "rtmpte");
      assert.deepEqual(Buffer.concat(accepted.received), c0c1(version));
    }
  });

  test("an idle poll before any /send does not start the RTMP side", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    const answer = await session.idle();
    assert.deepEqual([...answer.body], [0x01]);
    assert.equal(rig.accepted.length, 0);
  });
});

describe("sequence numbers and unknown sessions", () => {
  test("a wrong sequence number is 400 and changes nothing: the right one still works", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    assert.equal((await c.post(`/idle/${session.id}/1`)).status, 400, "skips 0");
    assert.equal((await session.idle()).status, 200, "seq 0");
    assert.equal((await c.post(`/idle/${session.id}/0`)).status, 400, "replays 0");
    assert.equal((await c.post(`/send/${session.id}/5`, Buffer.from("x"))).status, 400, "jumps ahead");
    assert.equal(rig.accepted.length, 0, "a refused /send delivers nothing");
    assert.equal((await session.send(c0c1())).status, 200, "seq 1");
    assert.equal((await session.idle()).status, 200, "seq 2");
    assert.equal(rig.gateway.sessionCount, 1);
  });

  test("a wrong sequence number on one session leaves another alone", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const a = await RtmptTestSession.open(c);
    const b = await RtmptTestSession.open(c);
    assert.equal((await c.post(`/idle/${a.id}/7`)).status, 400);
    assert.equal((await b.idle()).status, 200);
    assert.equal((await a.idle()).status, 200);
  });

  test("unknown ids, malformed paths and other methods are refused with 400 or 405", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const unknown = "0123456789abcdef0123456789abcdef";
    for (const path of [
      `/idle/${unknown}/0`,
      `/send/${unknown}/0`,
      `/close/${unknown}/0`,
      "/idle/not-an-id/0",
      `/idle/${unknown.toUpperCase()}/0`,
      `/idle/${unknown}/-1`,
      `/idle/${unknown}/01`,
      `/idle/${unknown}/99999999999`,
      `/idle/${unknown}/0/extra`,
      `/idle/${unknown}`,
      "/open/2",
      "/open",
      "/open/1?x=1",
    ]) {
      const answer = await c.post(path);
      assert.equal(answer.status, 400, path);
      assert.match(answer.head, /Content-Type: text\/plain/);
    }
    const get = await c.send("GET", "/open/1", Buffer.alloc(0));
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    assert.equal(rig.gateway.sessionCount, 0);
    const counted = await rig.registry.getSingleMetricAsString("streamfront_edge_rtmpt_requests_total");
    assert.match(counted, /command="invalid",result="bad_request"\} 11/);
    assert.match(counted, /command="idle",result="unknown_session"\} 1/);
  });
});

describe("bounds", () => {
  test("a body over the limit is 413 from its Content-Length alone, before a byte of it is read", async () => {
    const rig = await startRig({ maxBodyBytes: 4096 });
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    // Only the head goes out: the answer cannot have waited for the body.
    c.socket.write(
      `POST /send/${session.id}/0 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-fcs\r\nContent-Length: 4097\r\n\r\n`,
    );
    const raw = await new Promise<string>((resolve) => {
      let text = "";
      c.socket.removeAllListeners("data");
      c.socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
        if (text.includes("\r\n\r\n")) resolve(text);
      });
    });
    assert.match(raw, /^HTTP\/1\.1 413 /);
    assert.match(raw, /Connection: close/i);
    await c.closed;
    assert.equal(rig.accepted.length, 0);
    // The session itself is untouched: the refused request used no sequence number.
    const other = await connection(rig);
    assert.equal((await session.use(other).send(c0c1())).status, 200);
  });

  test("a chunked body is counted as it streams in and cut off at the limit", async () => {
    const rig = await startRig({ maxBodyBytes: 4096 });
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    c.socket.write(
      `POST /send/${session.id}/0 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    let raw = "";
    const answered = new Promise<void>((resolve) => {
      c.socket.removeAllListeners("data");
      c.socket.on("data", (chunk: Buffer) => {
        raw += chunk.toString("latin1");
        if (raw.includes("\r\n\r\n")) resolve();
      });
    });
    for (let i = 0; i < 3; i++) c.socket.write(`800\r\n${"a".repeat(0x800)}\r\n`);
    await answered;
    assert.match(raw, /^HTTP\/1\.1 413 /);
    assert.equal(rig.accepted.length, 0);
  });

  test("a session without requests for the idle timeout is closed, and its RTMP side with it", async () => {
    const rig = await startRig({ idleTimeoutMs: 5_000 });
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    const stream = rig.accepted[0]!.stream;
    rig.clock += 4_000;
    await delay(40);
    assert.equal(rig.gateway.sessionCount, 1, "not yet idle");
    await session.idle(); // a request resets the clock
    rig.clock += 4_000;
    await delay(40);
    assert.equal(rig.gateway.sessionCount, 1);
    rig.clock += 1_000;
    await eventually(() => rig.gateway.sessionCount === 0, 2_000, "idle session to close");
    assert.ok(stream.destroyed, "the RTMP side's stream is closed");
    assert.equal((await session.idle()).status, 400, "the id is forgotten");
  });

  test("the stream's socket-like timeout fires after no bytes moved, however often it is polled", async () => {
    const rig = await startRig({ idleTimeoutMs: 60_000 });
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    const stream = rig.accepted[0]!.stream;
    let timeouts = 0;
    stream.on("timeout", () => timeouts++);
    stream.setTimeout(2_000);
    rig.clock += 1_500;
    await session.idle();
    await delay(40);
    assert.equal(timeouts, 0);
    rig.clock += 600;
    await session.idle();
    await eventually(() => timeouts === 1, 2_000, "timeout event");
  });

  test("per-address and total session caps answer 503; closing one makes room", async () => {
    const rig = await startRig({ maxSessionsPerIp: 2, maxSessions: 3 });
    const c = await connection(rig);
    const first = await RtmptTestSession.open(c);
    await RtmptTestSession.open(c);
    const refused = await c.post("/open/1");
    assert.equal(refused.status, 503);
    assert.equal(rig.gateway.sessionCount, 2);
    await first.close();
    assert.equal(rig.gateway.sessionCount, 1);
    assert.equal((await c.post("/open/1")).status, 200);
    const counted = await rig.registry.getSingleMetricAsString("streamfront_edge_rtmpt_requests_total");
    assert.match(counted, /command="open",result="too_many_sessions"\} 1/);

    const small = await startRig({ maxSessions: 1 });
    const s = await connection(small);
    assert.equal((await s.post("/open/1")).status, 200);
    assert.equal((await s.post("/open/1")).status, 503, "total cap");
  });

  test("draining (stopOpening): an open is 503 on the same keep-alive connection, a tunnel under way goes on", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    rig.gateway.stopOpening();
    const refused = await c.post("/open/1");
    assert.equal(refused.status, 503);
    assert.equal(refused.body.toString(), "the edge is shutting down\n");
    assert.equal(rig.gateway.sessionCount, 1);
    await session.close();
    assert.equal(rig.gateway.sessionCount, 0, "the tunnel under way still answered on the same connection");
    const counted = await rig.registry.getSingleMetricAsString("streamfront_edge_rtmpt_requests_total");
    assert.match(counted, /command="open",result="shutting_down"\} 1/);
  });

  test("server bytes wait in the tunnel with socket backpressure: write() turns false, polls empty it, then 'drain'", async () => {
    const rig = await startRig({ maxResponseBytes: 64 * 1024, highWaterMark: 256 * 1024 });
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    const stream = rig.accepted[0]!.stream;
    const sent: Buffer[] = [];
    let accepted = true;
    let i = 0;
    while (accepted) {
      const chunk = Buffer.alloc(10_000, i++ & 0xff);
      sent.push(chunk);
      accepted = stream.write(chunk);
    }
    const total = sent.reduce((n, b) => n + b.length, 0);
    assert.ok(total >= 256 * 1024, "write() turned false at the highWaterMark");
    assert.equal(stream.writableLength, total, "every unpolled byte counts");
    let drained = false;
    stream.once("drain", () => {
      drained = true;
    });
    const received: Buffer[] = [];
    while (received.reduce((n, b) => n + b.length, 0) < total) {
      const answer = await session.idle();
      assert.equal(answer.status, 200);
      assert.ok(answer.body.length <= 64 * 1024, `answer of ${answer.body.length} bytes`);
      assert.equal(answer.body[0], 0x01, "data flows: shortest polling delay");
      received.push(answer.body.subarray(1));
      if (!drained) assert.ok(stream.writableLength > 0);
    }
    assert.ok(drained, "'drain' after the last byte was polled");
    assert.equal(stream.writableLength, 0);
    assert.deepEqual(Buffer.concat(received), Buffer.concat(sent));
  });

  test("a writer that ignores backpressure past the queue bound loses its tunnel", async () => {
    const rig = await startRig({ maxQueuedBytes: 128 * 1024, highWaterMark: 64 * 1024 });
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    const stream = rig.accepted[0]!.stream;
    for (let i = 0; i < 20; i++) stream.write(Buffer.alloc(10_000));
    await eventually(() => stream.destroyed, 2_000, "stream destroyed");
    assert.deepEqual([...(await session.idle()).body], [0x00]);
    assert.equal((await session.idle()).status, 400);
  });
});

describe("closing", () => {
  test("/close ends the tunnel and its RTMP side; the answer is the closed marker and the id is gone", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    const stream = rig.accepted[0]!.stream;
    const closed = new Promise<void>((resolve) => stream.once("close", resolve));
    const answer = await session.close();
    assert.equal(answer.status, 200);
    assert.deepEqual([...answer.body], [0x00]);
    await closed;
    assert.equal(rig.gateway.sessionCount, 0);
    assert.equal((await session.idle()).status, 400);
  });

  test("the RTMP side destroying its stream: the next poll gets a body of just 0x00, then the id is unknown", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    rig.accepted[0]!.stream.write(Buffer.from("unpolled"));
    rig.accepted[0]!.stream.destroy();
    const answer = await session.idle();
    assert.deepEqual([...answer.body], [0x00]);
    assert.equal(rig.gateway.sessionCount, 0);
    assert.equal((await session.idle()).status, 400);
  });

  test("the RTMP side ending its stream after a last message: the message is polled first, then 0x00", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    const stream = rig.accepted[0]!.stream;
    stream.write(Buffer.from("connect rejected"));
    stream.end();
    const last = await session.idle();
    assert.equal(last.body.subarray(1).toString(), "connect rejected");
    await eventually(() => stream.destroyed, 2_000, "stream closed after end()");
    assert.deepEqual([...(await session.idle()).body], [0x00]);
    assert.equal(rig.gateway.sessionCount, 0);
  });
});

describe("polling delay and connections", () => {
  test("the polling byte backs off over empty polls and returns to 0x01 when bytes move", async () => {
    const rig = await startRig();
    rig.echo = () => Buffer.from("pong");
    const c = await connection(rig);
    const session = await RtmptTestSession.open(c);
    await session.send(c0c1());
    const bytes: number[] = [];
    for (let i = 0; i < 60; i++) bytes.push((await session.idle()).body[0]!);
    const expected = pollingSchedule.flatMap((b) => Array<number>(10).fill(b));
    assert.deepEqual(bytes, expected);
    assert.equal((await session.idle()).body[0], 0x21, "stays at the longest delay");
    const withData = await session.send(Buffer.from("ping"));
    assert.deepEqual([...withData.body], [0x01, ...Buffer.from("pong")]);
    assert.equal((await session.idle()).body[0], 0x01, "reset by data");
    // Server bytes alone reset it too.
    for (let i = 0; i < 15; i++) await session.idle();
    assert.equal((await session.idle()).body[0], 0x03);
    rig.accepted[0]!.stream.write(Buffer.from("news"));
    assert.deepEqual([...(await session.idle()).body], [0x01, ...Buffer.from("news")]);
  });

  test("two sessions share one keep-alive connection, requests pipelined as librtmp sends them", async () => {
    const rig = await startRig();
    rig.echo = (bytes) => Buffer.from(`echo:${bytes.length}`);
    const c = await connection(rig);
    const [a, b] = await Promise.all([RtmptTestSession.open(c), RtmptTestSession.open(c)]);
    assert.notEqual(a.id, b.id);
    const answers = await Promise.all([
      a.send(c0c1()),
      b.send(c0c1()),
      a.send(Buffer.from("12345")),
      b.send(Buffer.from("123")),
      a.idle(),
      b.idle(),
    ]);
    assert.deepEqual(
      answers.map((x) => x.status),
      [200, 200, 200, 200, 200, 200],
    );
    // How the echoes split over a session's answers depends on TCP timing; their order does not.
    const of = (indexes: number[]) => indexes.map((i) => answers[i]!.body.subarray(1).toString()).join("");
    assert.equal(of([0, 2, 4]), "echo:1537echo:5");
    assert.equal(of([1, 3, 5]), "echo:1537echo:3");
    assert.equal(rig.accepted.length, 2);
    assert.equal(Buffer.concat(rig.accepted[0]!.received).length, 1542);
    assert.equal(Buffer.concat(rig.accepted[1]!.received).length, 1540);
  });

  test("one session runs over two connections, requests alternating between them", async () => {
    const rig = await startRig();
    rig.echo = (bytes) => Buffer.from(bytes.toString().toUpperCase());
    const c1 = await connection(rig);
    const c2 = await connection(rig);
    const session = await RtmptTestSession.open(c1);
    await session.use(c2).send(c0c1());
    const words = ["alpha", "beta", "gamma", "delta"];
    const echoed: string[] = [];
    for (const [i, word] of words.entries()) {
      session.use(i % 2 === 0 ? c1 : c2);
      echoed.push((await session.send(Buffer.from(word))).body.subarray(1).toString());
    }
    assert.deepEqual(echoed, ["ALPHA", "BETA", "GAMMA", "DELTA"]);
    assert.equal((await session.use(c1).close()).status, 200);
  });

  test("the sessions gauge follows opens and closes", async () => {
    const rig = await startRig();
    const c = await connection(rig);
    const a = await RtmptTestSession.open(c);
    await RtmptTestSession.open(c);
    assert.match(await rig.registry.getSingleMetricAsString("streamfront_edge_rtmpt_sessions"), / 2$/m);
    await a.close();
    assert.match(await rig.registry.getSingleMetricAsString("streamfront_edge_rtmpt_sessions"), / 1$/m);
  });
});
