import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { accessLogKey, logBucketName, logHourOf, logKeyProblem } from "../../lib/access-log-key.js";
import { createLogger } from "../../lib/log.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { parseW3cLog } from "../../lib/testing/w3c-log.js";
import { type LogFileDelivery, LogShipper } from "../src/access-log/log-shipper.js";
import { AccessLogSpool } from "../src/access-log/spool.js";
import {
  type AccessLogRecord,
  accessLogFields,
  accessLogHeader,
  escapeField,
  formatAccessLogLine,
  maxFieldChars,
} from "../src/access-log/w3c-line.js";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { createAmfObject } from "../src/rtmp/amf0.js";
import { ManualScheduler } from "./support/manual-scheduler.js";
import { MemoryEdge, testHost } from "./support/memory-viewer.js";

/**
 * Access logs (issue 11 item 3) below the cluster: CloudFront's line format
 * and escaping, the file names, the spool's bounds and crash recovery on a
 * temp dir, the shipper's retries on a manual clock, and which events a
 * session logs with which fields (MemoryEdge). The cluster test is
 * access-logs.system.test.ts.
 */

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "streamfront-spool-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function captureLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    component: "test",
    level: "debug",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

const connection = {
  edgeLocation: "SEA4",
  clientIp: "192.0.2.10",
  clientId: "AbC123",
  uriStem: "rtmp://s5c39gqb8ow64r.cloudfront.net/cfx/st",
  uriQuery: "key=value",
  referrer: "http://player.example.com/player.swf",
  pageUrl: "http://www.example.com/video.html",
  userAgent: "LNX 10,0,32,18",
};

function record(event: AccessLogRecord["event"], timeMs: number, scBytes = 0): AccessLogRecord {
  const stream =
    event === "connect" || event === "disconnect"
      ? undefined
      : { name: "videos/sample.flv", query: "", fileExt: "flv", streamId: 1 };
  return { timeMs, event, scBytes, connection, stream };
}

describe("W3C line", () => {
  test("the header is CloudFront's, and a line has its 17 fields in order, tab-separated", () => {
    assert.equal(
      accessLogHeader,
      "#Version: 1.0\n#Fields: date time x-edge-location c-ip x-event sc-bytes x-cf-status x-cf-client-id " +
        "cs-uri-stem cs-uri-query c-referrer x-page-url c-user-agent x-sname x-sname-query x-file-ext x-sid\n",
    );
    const line = formatAccessLogLine(record("play", Date.UTC(2010, 2, 12, 23, 51, 20), 3914));
    assert.equal(
      line,
      `${[
        "2010-03-12",
        "23:51:20",
        "SEA4",
        "192.0.2.10",
        "play",
        "3914",
        "OK",
        "AbC123",
        "rtmp://s5c39gqb8ow64r.cloudfront.net/cfx/st",
        "key=value",
        "http://player.example.com/player.swf",
        "http://www.example.com/video.html",
        "LNX%2010,0,32,18",
        "videos/sample.flv",
        "-",
        "flv",
        "1",
      ].join("\t")}\n`,
    );
  });

  test("connect and disconnect have `-` for the stream fields; empty fields are `-`", () => {
    const line = formatAccessLogLine({
      ...record("connect", Date.UTC(2010, 2, 12, 23, 51, 20), 3073),
      connection: { ...connection, uriQuery: "", referrer: "", pageUrl: "" },
    });
    const fields = line.trimEnd().split("\t");
    assert.equal(fields.length, accessLogFields.length);
    assert.deepEqual(fields.slice(9, 12), ["-", "-", "-"]);
    assert.deepEqual(fields.slice(13), ["-", "-", "-", "-"]);
  });

  test("escaping: controls, space, tab, quote, backslash and non-ASCII are percent-encoded; % is left", () => {
    assert.equal(escapeField("LNX 10,0,32,18"), "LNX%2010,0,32,18");
    assert.equal(escapeField("a\tb\nc\rd"), "a%09b%0Ac%0Dd");
    assert.equal(escapeField('q"b\\'), "q%22b%5C");
    assert.equal(escapeField("é"), "%C3%A9");
    assert.equal(escapeField("a%20b"), "a%20b");
    assert.equal(escapeField(""), "-");
  });

  test("a field is cut at maxFieldChars on a whole escape, so any line fits an empty file", () => {
    const long = escapeField("é".repeat(5000));
    assert.ok(long.length <= maxFieldChars);
    assert.match(long, /^(%C3%A9)+$/);
    const huge = "x ".repeat(20_000);
    const line = formatAccessLogLine({
      ...record("play", t0),
      connection: {
        ...connection,
        uriStem: huge,
        uriQuery: huge,
        referrer: huge,
        pageUrl: huge,
        userAgent: huge,
        clientIp: huge,
      },
      stream: { name: huge, query: huge, fileExt: huge, streamId: 1 },
    });
    assert.ok(Buffer.byteLength(accessLogHeader + line) <= 48 * 1024, `${line.length}`);
  });

  test("a W3C reader reads the lines back field by field", () => {
    const hostile = {
      ...connection,
      pageUrl: "http://x/a b\tc\n#Fields: evil",
      userAgent: "WIN 11,1,102,55",
    };
    const text =
      accessLogHeader +
      formatAccessLogLine({ ...record("connect", Date.UTC(2026, 0, 1)), connection: hostile }) +
      formatAccessLogLine(record("seek", Date.UTC(2026, 0, 1, 0, 0, 5), 77));
    const log = parseW3cLog(text);
    assert.equal(log.version, "1.0");
    assert.deepEqual(log.fields, accessLogFields);
    assert.equal(log.records.length, 2);
    assert.equal(log.records[0]!["x-page-url"], "http://x/a b\tc\n#Fields: evil");
    assert.equal(log.records[0]!["c-user-agent"], "WIN 11,1,102,55");
    assert.equal(log.records[0]!["x-sname"], "");
    assert.equal(log.records[1]!["x-event"], "seek");
    assert.equal(log.records[1]!["sc-bytes"], "77");
    assert.equal(log.records[1]!["x-sid"], "1");
  });
});

describe("file names", () => {
  test("<prefix><DistributionId>.YYYY-MM-DD-HH.<unique>.gz, the hour in UTC", () => {
    assert.equal(logHourOf(Date.UTC(2026, 11, 3, 7, 59, 59, 999)), "2026-12-03-07");
    assert.equal(logHourOf(Date.UTC(2026, 11, 3, 8)), "2026-12-03-08");
    assert.equal(
      accessLogKey("rtmp-logs/", "E1ABCDEF", "2026-12-03-07", "0123456789abcdef"),
      "rtmp-logs/E1ABCDEF.2026-12-03-07.0123456789abcdef.gz",
    );
    assert.equal(logKeyProblem("E1ABCDEF", "2026-12-03-07", "0123456789abcdef"), null);
    assert.match(logKeyProblem("E1/../x", "2026-12-03-07", "0123456789abcdef") ?? "", /distribution/);
    assert.match(logKeyProblem("E1", "2026-12-03-24", "0123456789abcdef") ?? "", /hour/);
    assert.match(logKeyProblem("E1", "2026-12-03-07", "../../other") ?? "", /unique/);
  });

  test("a CloudFront-style logging bucket name is the part before .s3", () => {
    assert.equal(logBucketName("mylogs.s3.amazonaws.com"), "mylogs");
    assert.equal(logBucketName("mylogs"), "mylogs");
  });
});

const t0 = Date.UTC(2026, 11, 3, 7, 0, 0);

describe("spool", () => {
  test("lines land in one file per distribution per hour; sealAll closes them; sealed files are in order", () => {
    const dir = tempDir();
    const spool = new AccessLogSpool({
      dir,
      nodeId: "edge-0",
      maxBytes: 1024 * 1024,
      maxFileBytes: 60_000,
      logger: captureLogger().logger,
    });
    const line = formatAccessLogLine(record("connect", t0));
    assert.ok(spool.append("EONE", t0, line));
    assert.ok(spool.append("EONE", t0 + 1000, line));
    assert.ok(spool.append("ETWO", t0, line));
    assert.ok(spool.append("EONE", t0 + 3_600_000, line));
    assert.equal(spool.sealed().length, 0);
    spool.sealAll();
    const sealed = spool.sealed();
    assert.deepEqual(
      sealed.map((f) => `${f.distributionId} ${f.hour}`),
      ["EONE 2026-12-03-07", "ETWO 2026-12-03-07", "EONE 2026-12-03-08"],
    );
    assert.equal(readFileSync(sealed[0]!.path, "utf8"), accessLogHeader + line + line);
    const header = Buffer.byteLength(accessLogHeader);
    assert.equal(spool.bytes, 3 * header + 4 * Buffer.byteLength(line));
    // Every unique differs, and is node hash + sequence.
    assert.equal(new Set(sealed.map((f) => f.unique)).size, 3);
    for (const f of sealed) assert.equal(logKeyProblem(f.distributionId, f.hour, f.unique), null);
    for (const f of sealed) spool.remove(f);
    assert.equal(spool.bytes, 0);
    assert.deepEqual(readdirSync(dir), ["sequence"]);
  });

  test("a file is sealed before a line would take it past max-file-bytes", () => {
    const spool = new AccessLogSpool({
      dir: tempDir(),
      nodeId: "edge-0",
      maxBytes: 1024 * 1024,
      maxFileBytes: 16 * 1024,
      logger: captureLogger().logger,
    });
    const line = formatAccessLogLine(record("play", t0));
    const lines = 200;
    for (let i = 0; i < lines; i++) assert.ok(spool.append("EONE", t0, line));
    spool.sealAll();
    const files = spool.sealed();
    assert.ok(files.length >= 2, `${files.length} files`);
    let total = 0;
    for (const f of files) {
      assert.ok(f.bytes <= 16 * 1024, `${f.bytes} bytes`);
      total += parseW3cLog(readFileSync(f.path, "utf8")).records.length;
    }
    assert.equal(total, lines);
  });

  test("at access-log-spool-bytes lines are dropped, counted and logged once; room again is logged", () => {
    const { logger, lines } = captureLogger();
    let dropped = 0;
    const line = formatAccessLogLine(record("play", t0));
    const header = Buffer.byteLength(accessLogHeader);
    const fits = 10;
    const spool = new AccessLogSpool({
      dir: tempDir(),
      nodeId: "edge-0",
      maxBytes: header + fits * Buffer.byteLength(line),
      maxFileBytes: 60_000,
      logger,
      onDropped: (n) => {
        dropped += n;
      },
    });
    let kept = 0;
    for (let i = 0; i < 25; i++) if (spool.append("EONE", t0, line)) kept++;
    assert.equal(kept, fits);
    assert.equal(dropped, 15);
    assert.ok(spool.bytes <= header + fits * Buffer.byteLength(line));
    const full = lines.filter((l) => l.code === EdgeErrorCode.AccessLogSpoolFull);
    assert.equal(full.length, 1);
    assert.equal(full[0]!.level, "warn");
    spool.sealAll();
    for (const f of spool.sealed()) spool.remove(f);
    assert.ok(spool.append("EONE", t0, line));
    assert.equal(lines.filter((l) => l.msg === "access-log spool has room again").length, 1);
  });

  test("a new spool on the same dir (a killed edge) picks up sealed and open files, cutting a torn line", () => {
    const dir = tempDir();
    const options = {
      dir,
      nodeId: "edge-0",
      maxBytes: 1024 * 1024,
      maxFileBytes: 60_000,
      logger: captureLogger().logger,
    };
    const first = new AccessLogSpool(options);
    const line = formatAccessLogLine(record("play", t0));
    first.append("EONE", t0, line);
    first.sealAll();
    first.append("EONE", t0, line);
    first.append("EONE", t0, line);
    // Not closed: the process is gone. A torn write at the end of the open file:
    const open = readdirSync(dir).find((n) => n.endsWith(".log"))!;
    writeFileSync(join(dir, open), readFileSync(join(dir, open), "utf8") + line.slice(0, 20));
    const before = first.sealed()[0]!;

    const second = new AccessLogSpool(options);
    const files = second.sealed();
    assert.equal(files.length, 2);
    assert.equal(files[0]!.unique, before.unique);
    assert.deepEqual(
      files.map((f) => parseW3cLog(readFileSync(f.path, "utf8")).records.length),
      [1, 2],
    );
    assert.equal(second.bytes, files[0]!.bytes + files[1]!.bytes);
    // The sequence goes on: a new file never takes a delivered file's name.
    for (const f of files) second.remove(f);
    const third = new AccessLogSpool(options);
    third.append("EONE", t0, line);
    third.sealAll();
    const next = third.sealed()[0]!;
    assert.ok(!files.some((f) => f.unique === next.unique));
    assert.ok(next.sequence > files[1]!.sequence);
  });
});

describe("shipper", () => {
  test("a failing delivery keeps the file and retries with backoff; the file is removed once delivered", async () => {
    const scheduler = new ManualScheduler({ epochMs: t0 });
    const spool = new AccessLogSpool({
      dir: tempDir(),
      nodeId: "edge-0",
      maxBytes: 1024 * 1024,
      maxFileBytes: 60_000,
      logger: captureLogger().logger,
    });
    const line = formatAccessLogLine(record("play", t0));
    spool.append("EONE", t0, line);
    spool.append("EONE", t0, line);
    const attempts: { at: number; file: LogFileDelivery }[] = [];
    let failuresLeft = 3;
    const failed: string[] = [];
    const delivered: number[] = [];
    const shipper = new LogShipper({
      spool,
      scheduler,
      logger: captureLogger().logger,
      intervalMs: 60_000,
      retryMinMs: 1_000,
      retryMaxMs: 3_000,
      isLogging: () => true,
      // A fake delivery, to inject the failures: the real one is the cluster test's.
      deliver: async (file) => {
        attempts.push({ at: scheduler.now(), file });
        if (failuresLeft-- > 0) throw new EdgeError(EdgeErrorCode.AccessLogDeliveryFailed, "S3 is down");
      },
      observer: {
        delivered: (lines) => delivered.push(lines),
        failed: (code) => failed.push(code),
        abandoned: () => assert.fail("nothing is abandoned"),
      },
    });
    shipper.start();
    await scheduler.settle();
    assert.equal(attempts.length, 0, "nothing sealed before the interval");
    await scheduler.advance(60_000);
    await scheduler.advance(1_000);
    await scheduler.advance(2_000);
    await scheduler.advance(3_000);
    assert.deepEqual(
      attempts.map((a) => a.at),
      [60_000, 61_000, 63_000, 66_000],
    );
    assert.deepEqual(failed, Array(3).fill(EdgeErrorCode.AccessLogDeliveryFailed));
    assert.deepEqual(delivered, [2]);
    assert.equal(spool.sealed().length, 0);
    assert.equal(spool.bytes, 0);
    // Every attempt carried the same key parts and the same bytes.
    const bodies = new Set(attempts.map((a) => a.file.gzipped.toString("base64")));
    assert.equal(bodies.size, 1);
    assert.equal(gunzipSync(attempts[0]!.file.gzipped).toString(), accessLogHeader + line + line);
    assert.equal(new Set(attempts.map((a) => a.file.unique)).size, 1);
    shipper.stop();
  });

  test("a file of a distribution that no longer logs is dropped and counted, not retried", async () => {
    const scheduler = new ManualScheduler({ epochMs: t0 });
    const spool = new AccessLogSpool({
      dir: tempDir(),
      nodeId: "edge-0",
      maxBytes: 1024 * 1024,
      maxFileBytes: 60_000,
      logger: captureLogger().logger,
    });
    spool.append("EGONE", t0, formatAccessLogLine(record("connect", t0)));
    let abandoned = 0;
    const shipper = new LogShipper({
      spool,
      scheduler,
      logger: captureLogger().logger,
      intervalMs: 1_000,
      retryMinMs: 1_000,
      retryMaxMs: 1_000,
      isLogging: () => false,
      deliver: async () => assert.fail("not delivered"),
      observer: { delivered: () => {}, failed: () => {}, abandoned: (n) => (abandoned += n) },
    });
    await shipper.flush();
    assert.equal(abandoned, 1);
    assert.equal(spool.sealed().length, 0);
  });
});

describe("session events (MemoryEdge)", () => {
  const sample = readFileSync(fromRepoRoot("deploy", "local", "media", "videos", "sample.flv"));
  const edges: MemoryEdge[] = [];
  afterEach(async () => {
    for (const edge of edges.splice(0)) await edge.close();
  });

  function loggingEdge(enabled = true): { edge: MemoryEdge; files: LogFileDelivery[] } {
    const files: LogFileDelivery[] = [];
    const edge = new MemoryEdge({
      objects: { "videos/sample.flv": sample },
      remoteAddress: "198.51.100.7",
      env: { STREAMFRONT_EDGE_ACCESS_LOG_SPOOL_DIR: tempDir(), STREAMFRONT_EDGE_LOCATION: "TST1" },
      logging: { enabled, bucket: "logs.s3.amazonaws.com", prefix: "rtmp/" },
      accessLogDelivery: {
        nodeId: "edge-memory",
        isLogging: () => true,
        deliver: async (file) => {
          files.push(file);
        },
      },
    });
    edges.push(edge);
    return { edge, files };
  }

  async function records(edge: MemoryEdge, files: LogFileDelivery[]): Promise<Record<string, string>[]> {
    await edge.server.accessLog!.shipper.flush();
    return files.flatMap((f) => [...parseW3cLog(gunzipSync(f.gzipped).toString()).records]);
  }

  test("connect, play, seek, pause, unpause, stop, disconnect: one line each, with CloudFront's fields", async () => {
    const { edge, files } = loggingEdge();
    const viewer = edge.viewer();
    viewer.handshake();
    const connect = createAmfObject();
    connect.app = "cfx/st";
    connect.tcUrl = `rtmp://${testHost}/cfx/st?token=abc`;
    connect.swfUrl = "http://player.example.com/player.swf";
    connect.pageUrl = "http://www.example.com/page one.html";
    connect.flashVer = "LNX 10,0,32,18";
    viewer.command(0, "connect", connect);
    const txn = viewer.command(0, "createStream", null);
    await edge.scheduler.settle();
    const streamId = viewer.commands().find((c) => c.name === "_result" && c.transactionId === txn)!
      .args[0] as number;
    // A short buffer: media is paced in real time, so the play is still on through the commands below.
    viewer.setBufferLength(streamId, 100);
    viewer.command(streamId, "play", null, "videos/sample?session=9");
    await viewer.runUntil(() => viewer.statuses().includes("NetStream.Play.Start"));
    viewer.command(streamId, "seek", null, 2000);
    await edge.scheduler.settle();
    viewer.command(streamId, "pause", null, true, 2000);
    await edge.scheduler.settle();
    // A second pause changes nothing and logs nothing.
    viewer.command(streamId, "pause", null, true, 2000);
    await edge.scheduler.settle();
    viewer.command(streamId, "pause", null, false, 2000);
    await edge.scheduler.settle();
    viewer.command(streamId, "play", null, false);
    await edge.scheduler.settle();
    viewer.transport.destroy();
    await edge.scheduler.settle();

    const lines = await records(edge, files);
    assert.deepEqual(
      lines.map((l) => l["x-event"]),
      ["connect", "play", "seek", "pause", "unpause", "stop", "disconnect"],
    );
    assert.equal(files.length, 1);
    assert.equal(files[0]!.distributionId, "ETEST");
    assert.equal(files[0]!.hour, "2026-01-01-00");
    const clientIds = new Set(lines.map((l) => l["x-cf-client-id"]));
    assert.equal(clientIds.size, 1);
    assert.ok([...clientIds][0]!.length > 0);
    let previous = 0;
    for (const l of lines) {
      assert.equal(l.date, "2026-01-01");
      assert.equal(l["x-edge-location"], "TST1");
      assert.equal(l["c-ip"], "198.51.100.7");
      assert.equal(l["x-cf-status"], "OK");
      assert.equal(l["cs-uri-stem"], `rtmp://${testHost}/cfx/st`);
      assert.equal(l["cs-uri-query"], "token=abc");
      assert.equal(l["c-referrer"], "http://player.example.com/player.swf");
      assert.equal(l["x-page-url"], "http://www.example.com/page one.html");
      assert.equal(l["c-user-agent"], "LNX 10,0,32,18");
      const bytes = Number(l["sc-bytes"]);
      assert.ok(bytes >= previous, `sc-bytes ${bytes} after ${previous}`);
      previous = bytes;
      const streamEvent = l["x-event"] !== "connect" && l["x-event"] !== "disconnect";
      assert.equal(l["x-sname"], streamEvent ? "videos/sample" : "");
      assert.equal(l["x-sname-query"], streamEvent ? "session=9" : "");
      assert.equal(l["x-file-ext"], streamEvent ? "flv" : "");
      assert.equal(l["x-sid"], streamEvent ? String(streamId) : "");
    }
    assert.ok(Number(lines[0]!["sc-bytes"]) >= 3073, "the handshake's bytes count");
    assert.ok(Number(lines.at(-1)!["sc-bytes"]) > Number(lines[1]!["sc-bytes"]), "media was sent");
    // The raw line escapes what must be escaped.
    const raw = gunzipSync(files[0]!.gzipped).toString();
    assert.match(raw, /\tLNX%2010,0,32,18\t/);
    assert.match(raw, /page%20one\.html/);
  });

  test("a play that completes logs its stop; a reset play stops the one before", async () => {
    const { edge, files } = loggingEdge();
    const viewer = edge.viewer();
    const streamId = await viewer.connectAndCreateStream();
    viewer.command(streamId, "play", null, "videos/sample");
    await viewer.runUntil(() => viewer.statuses().includes("NetStream.Play.Start"));
    viewer.command(streamId, "play", null, "videos/sample", 0, -1, true);
    await viewer.runUntil(() => viewer.statuses().filter((s) => s === "NetStream.Play.Start").length === 2);
    await viewer.runUntil(() => viewer.statuses().includes("NetStream.Play.Stop"), 600_000);
    await edge.scheduler.settle();
    viewer.transport.destroy();
    await edge.scheduler.settle();
    const lines = await records(edge, files);
    assert.deepEqual(
      lines.map((l) => l["x-event"]),
      ["connect", "play", "stop", "play", "stop", "disconnect"],
    );
  });

  test("an appended play logs its play at once and its stop when it has played", async () => {
    const { edge, files } = loggingEdge();
    const viewer = edge.viewer();
    const streamId = await viewer.connectAndCreateStream();
    viewer.command(streamId, "play", null, "videos/sample");
    viewer.command(streamId, "play", null, "videos/sample?second=1", 0, -1, false);
    await viewer.runUntil(() => viewer.statuses().includes("NetStream.Play.Stop"), 600_000);
    await edge.scheduler.settle();
    viewer.transport.destroy();
    await edge.scheduler.settle();
    const lines = await records(edge, files);
    assert.deepEqual(
      lines.map((l) => `${l["x-event"]}:${l["x-sname-query"]}`),
      ["connect:", "play:", "play:second=1", "stop:", "stop:second=1", "disconnect:"],
    );
  });

  test("an edge closing logs its viewers' stops and disconnects and delivers them before it ends", async () => {
    const { edge, files } = loggingEdge();
    const viewer = edge.viewer();
    const streamId = await viewer.connectAndCreateStream(100);
    viewer.command(streamId, "play", null, "videos/sample");
    await viewer.runUntil(() => viewer.statuses().includes("NetStream.Play.Start"));
    const closing = edge.server.close();
    await edge.scheduler.settle();
    await closing;
    const lines = files.flatMap((f) => [...parseW3cLog(gunzipSync(f.gzipped).toString()).records]);
    assert.deepEqual(
      lines.map((l) => l["x-event"]),
      ["connect", "play", "stop", "disconnect"],
    );
    assert.equal(edge.server.accessLog!.spool.bytes, 0);
  });

  test("a distribution without Logging logs nothing", async () => {
    const { edge, files } = loggingEdge(false);
    const viewer = edge.viewer();
    const streamId = await viewer.connectAndCreateStream();
    viewer.command(streamId, "play", null, "videos/sample");
    await viewer.runUntil(() => viewer.statuses().includes("NetStream.Play.Start"));
    viewer.transport.destroy();
    await edge.scheduler.settle();
    assert.deepEqual(await records(edge, files), []);
    assert.equal(edge.server.accessLog!.spool.bytes, 0);
  });
});
