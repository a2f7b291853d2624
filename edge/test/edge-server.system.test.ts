import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { Registry } from "prom-client";
import { loadConfig } from "../../lib/config/settings.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createLogger } from "../../lib/log.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import {
  silentLogger,
  startTestS3,
  startTestShield,
  type TestS3,
  type TestShield,
} from "../../lib/testing/shield.js";
import { testTls, testTlsEnv } from "../../lib/testing/tls.js";
import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { edgeSettings } from "../src/config.js";
import { EdgeServer } from "../src/edge-server.js";
import { encodeAmf0 } from "../src/rtmp/amf0.js";
import { encodeMessage } from "../src/rtmp/chunk-encoder.js";
import { MessageType } from "../src/rtmp/message-types.js";
import { ShieldObjectOpener } from "../src/shield-client/object-opener.js";
import { isCommand, RtmpTestClient, statusCode } from "./support/rtmp-test-client.js";

/**
 * An edge in this process, in front of a real shield and s3rver, with its
 * log lines captured: bad peers must be cut off one by one, each with a log
 * line, while every other viewer keeps playing.
 */
const bucket = "edge-server-media";
const logLines: Record<string, unknown>[] = [];
const captured = {
  write(line: string) {
    logLines.push(JSON.parse(line) as Record<string, unknown>);
  },
};

function distribution(fields: Partial<Distribution>): Distribution {
  return {
    id: "E0",
    domainName: "",
    cnames: [],
    originBucket: bucket,
    enabled: true,
    kind: 1,
    trustedSigners: undefined,
    logging: undefined,
    ...fields,
  };
}

const distributions = new Map<string, Distribution>([
  [
    "EPLAY",
    distribution({
      id: "EPLAY",
      domainName: "splay000000000.test",
      cnames: ["localhost", "Video.Example.com"],
    }),
  ],
  ["EWEB", distribution({ id: "EWEB", domainName: "d1111111111111.test", kind: 2 })],
  ["EOFF", distribution({ id: "EOFF", domainName: "soff0000000000.test", enabled: false })],
]);

let s3: TestS3;
let shield: TestShield;
let objects: ShieldObjectOpener;
let edge: EdgeServer;
let rtmpPort = 0;
let httpPort = 0;

before(async () => {
  s3 = await startTestS3(bucket);
  await s3.s3.uploadDirectory(bucket, fromRepoRoot("deploy", "local", "media"));
  shield = await startTestShield(s3.s3, { env: { STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket } });
  objects = new ShieldObjectOpener({
    tls: testTls(PeerRole.Edge),
    address: shield.address,
    logger: silentLogger("edge"),
  });
  const config = loadConfig(edgeSettings, {
    env: {
      STREAMFRONT_EDGE_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_EDGE", PeerRole.Edge),
      STREAMFRONT_EDGE_RTMP_PORT: "0",
      STREAMFRONT_EDGE_HTTP_PORT: "0",
      STREAMFRONT_EDGE_MAX_CONNECTIONS_PER_IP: "20",
      STREAMFRONT_EDGE_HANDSHAKE_TIMEOUT_MS: "1500",
    },
  });
  edge = new EdgeServer({
    config,
    logger: createLogger({ component: "edge", level: "info", destination: captured }),
    registry: new Registry(),
    distributions: { current: () => distributions },
    objects,
  });
  const addresses = await edge.start();
  rtmpPort = Number(addresses.rtmp!.split(":").pop());
  httpPort = Number(addresses.http!.split(":").pop());
});

after(async () => {
  await edge?.close();
  objects?.close();
  await shield?.close();
  await s3?.close();
});

/** Connects, creates a stream and starts playing; resolves once media flows. */
async function startViewer(port = rtmpPort): Promise<RtmpTestClient> {
  const client = await RtmpTestClient.handshake(port);
  const result = await client.connectApp(`rtmp://localhost:${port}/cfx/st`);
  assert.equal(statusCode(result), "NetConnection.Connect.Success");
  const streamId = await client.createStream();
  client.setBufferLength(streamId, 500);
  client.command(streamId, "play", null, "videos/sample", 0, -1);
  await client.waitFor((m) => m.messageTypeId === MessageType.Video && m.payload.length > 5);
  return client;
}

async function expectClosedWithLog(client: RtmpTestClient, code: string): Promise<void> {
  await client.closed;
  const deadline = Date.now() + 2000;
  while (!logLines.some((l) => l.code === code && l.msg === "closing connection")) {
    if (Date.now() > deadline) assert.fail(`no "closing connection" log line with code ${code}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("bad input closes only the connection that sent it", () => {
  test("malformed handshake, chunk and AMF input: each connection closed with a log line, others keep playing", async () => {
    const viewer = await startViewer();
    const viewerMessagesBefore = viewer.messages.length;

    // Handshake: C0 must be 0x03 (or an RTMPE type); 0x07 is neither.
    const badVersion = await RtmpTestClient.open(rtmpPort);
    badVersion.socket.write(Buffer.alloc(1537, 7));
    await expectClosedWithLog(badVersion, "EDGE_ERR_HANDSHAKE_VERSION");

    // Chunk: a type-1 header on a chunk stream that never had a type-0 header.
    const badChunk = await RtmpTestClient.handshake(rtmpPort);
    badChunk.socket.write(Buffer.from([0x45, 0, 0, 0, 0, 0, 10, 20]));
    await expectClosedWithLog(badChunk, "EDGE_ERR_CHUNK_INVALID");

    // Chunk: a message that declares 16 MiB - 1; bounded before anything is allocated.
    const huge = await RtmpTestClient.handshake(rtmpPort);
    huge.socket.write(Buffer.from([0x03, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0]));
    await expectClosedWithLog(huge, "EDGE_ERR_MESSAGE_TOO_LARGE");

    // AMF: a command whose string claims more bytes than the message holds.
    const badAmf = await RtmpTestClient.handshake(rtmpPort);
    badAmf.socket.write(
      encodeMessage(
        {
          chunkStreamId: 3,
          messageTypeId: MessageType.CommandAmf0,
          messageStreamId: 0,
          timestamp: 0,
          payload: Buffer.from([0x02, 0x00, 0x40, 0x63, 0x6f]),
        },
        128,
      ),
    );
    await expectClosedWithLog(badAmf, "EDGE_ERR_AMF_INVALID");

    // AMF: well-formed values but not a command (a number where the name goes).
    const notCommand = await RtmpTestClient.handshake(rtmpPort);
    notCommand.send({
      chunkStreamId: 3,
      messageTypeId: MessageType.CommandAmf0,
      messageStreamId: 0,
      timestamp: 0,
      payload: encodeAmf0([1, 2, 3]),
    });
    await expectClosedWithLog(notCommand, "EDGE_ERR_COMMAND_INVALID");

    // A peer that says nothing after TCP connect is cut at the handshake timeout.
    const silent = await RtmpTestClient.open(rtmpPort);
    await expectClosedWithLog(silent, "EDGE_ERR_HANDSHAKE_TIMEOUT");

    // The viewer that was playing all along is still connected and still receiving media.
    assert.equal(viewer.isClosed, false);
    await viewer.waitFor((m) => m.messageTypeId === MessageType.Video, { from: viewerMessagesBefore + 1 });
    viewer.close();
    // And a new viewer is served as before.
    const another = await startViewer();
    another.close();
  });

  test("a viewer may not publish or send media", async () => {
    const client = await RtmpTestClient.handshake(rtmpPort);
    await client.connectApp(`rtmp://localhost:${rtmpPort}/cfx/st`);
    const streamId = await client.createStream();
    const from = client.messages.length;
    client.command(streamId, "publish", null, "live", "live");
    const status = await client.waitForCommand("onStatus", from);
    assert.equal(statusCode(status), "NetStream.Publish.BadName");
    client.send({
      chunkStreamId: 6,
      messageTypeId: MessageType.Video,
      messageStreamId: streamId,
      timestamp: 0,
      payload: Buffer.from([0x17, 1]),
    });
    await expectClosedWithLog(client, "EDGE_ERR_COMMAND_INVALID");
  });
});

describe("connect: the host picks the distribution, rejections as CloudFront", () => {
  const cases: [string, string, string][] = [
    ["rtmp://nowhere.example.com/cfx/st", "cfx/st", "DistributionNotFound"],
    ["rtmp://d1111111111111.test/cfx/st", "cfx/st", "DistributionTypeMismatch"],
    ["rtmp://soff0000000000.test/cfx/st", "cfx/st", "DistributionDisabled"],
    ["rtmp://splay000000000.test/live", "live", "InvalidInstance"],
    ["not a url", "cfx/st", "InvalidURI"],
  ];
  for (const [tcUrl, app, reason] of cases) {
    test(`${reason}: NetConnection.Connect.Rejected carrying the reason`, async () => {
      const client = await RtmpTestClient.handshake(rtmpPort);
      const result = await client.connectApp(tcUrl, app);
      assert.equal(result.name, "_error");
      assert.equal(statusCode(result), "NetConnection.Connect.Rejected");
      const info = result.args[0] as Record<string, unknown>;
      assert.match(String(info.description), new RegExp(`^\\[ ${reason} \\]`));
      assert.equal((info.application as Record<string, unknown>).code, reason);
      await client.closed;
    });
  }

  test("CNAMEs match case-insensitively, ports ignored; the FMS-style _result follows", async () => {
    const client = await RtmpTestClient.handshake(rtmpPort);
    const result = await client.connectApp(
      "rtmp://VIDEO.example.COM:1935/cfx/st/_definst_",
      "cfx/st/_definst_",
    );
    assert.equal(result.name, "_result");
    const properties = result.commandObject as Record<string, unknown>;
    assert.equal(properties.fmsVer, "FMS/3,5,1,525");
    assert.equal(statusCode(result), "NetConnection.Connect.Success");
    await client.waitForCommand("onBWDone");
    client.close();
  });

  test("a missing object answers StreamNotFound at once", async () => {
    const client = await RtmpTestClient.handshake(rtmpPort);
    await client.connectApp(`rtmp://localhost:${rtmpPort}/cfx/st`);
    const streamId = await client.createStream();
    const from = client.messages.length;
    client.command(streamId, "play", null, "videos/missing", 0, -1);
    const status = await client.waitForCommand("onStatus", from);
    assert.equal(statusCode(status), "NetStream.Play.StreamNotFound");
    client.command(streamId, "play", null, "../escape", 0, -1);
    assert.equal(
      statusCode(await client.waitForCommand("onStatus", client.messages.length)),
      "NetStream.Play.StreamNotFound",
    );
    client.close();
  });
});

describe("the FMS message sequence of a play", () => {
  test("StreamIsRecorded, StreamBegin, Play.Reset, Play.Start, sample access, onMetaData, media, Play.Stop, Play.Complete, StreamEOF (no Data.Start by default)", async () => {
    const client = await RtmpTestClient.handshake(rtmpPort);
    await client.connectApp(`rtmp://localhost:${rtmpPort}/cfx/st`);
    const streamId = await client.createStream();
    client.setBufferLength(streamId, 60_000);
    const from = client.messages.length;
    client.command(streamId, "play", null, "videos/sample", 0, -1);
    // StreamEOF (user control 1) on this stream ends the play.
    await client.waitFor(
      (m) => m.messageTypeId === MessageType.UserControl && m.payload.readUInt16BE(0) === 1,
      { from },
    );
    const events: string[] = [];
    for (const m of client.messages.slice(from)) {
      if (m.messageTypeId === MessageType.UserControl) events.push(`uc:${m.payload.readUInt16BE(0)}`);
      else if (isCommand(m)) {
        const { decodeCommand } = await import("../src/rtmp/command.js");
        events.push(`cmd:${statusCode(decodeCommand(m.payload, m.messageTypeId)) ?? "?"}`);
      } else if (m.messageTypeId === MessageType.DataAmf0) {
        const { decodeAmf0 } = await import("../src/rtmp/amf0.js");
        const [name, info] = decodeAmf0(m.payload);
        const code =
          typeof info === "object" && info !== null ? (info as Record<string, unknown>).code : undefined;
        events.push(`data:${String(name)}${code ? `:${String(code)}` : ""}`);
      } else if (events.at(-1) !== "media") events.push("media");
    }
    assert.deepEqual(events, [
      "uc:4",
      "uc:0",
      "cmd:NetStream.Play.Reset",
      "cmd:NetStream.Play.Start",
      "data:|RtmpSampleAccess",
      "data:onMetaData",
      "media",
      "cmd:NetStream.Play.Stop",
      "data:onPlayStatus:NetStream.Play.Complete",
      "uc:1",
    ]);
    client.close();
  });
});

describe("the shared RTMP/HTTP port", () => {
  test("GET /crossdomain.xml gives the allow-all policy; /fcs/ident2 is 404", async () => {
    const policy = await fetch(`http://127.0.0.1:${httpPort}/crossdomain.xml`);
    assert.equal(policy.status, 200);
    assert.match(await policy.text(), /<allow-access-from domain="\*"/);
    const ident = await fetch(`http://127.0.0.1:${httpPort}/fcs/ident2`, { method: "POST", body: "\0" });
    assert.equal(ident.status, 404);
  });

  test("RTMP on the same port plays", async () => {
    const viewer = await startViewer(httpPort);
    viewer.close();
  });

  test("garbage that is neither RTMP nor HTTP gets a 400 and the port keeps serving", async () => {
    const socket = connect(httpPort, "127.0.0.1");
    socket.write("\x16\x03\x01 not http at all\r\n\r\n");
    const reply = await new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (b) => {
        text += b.toString("latin1");
      });
      socket.on("close", () => resolve(text));
      socket.on("error", () => resolve(text));
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/crossdomain.xml`)).status, 200);
  });
});
