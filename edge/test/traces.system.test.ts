import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ComponentStartError } from "../../lib/process/launcher.js";
import { rtmpdump } from "../../lib/testing/ffprobe.js";
import { eventually } from "../../lib/testing/wait.js";
import { TraceChannelName, tracerChannels } from "../../lib/trace/channels.js";
import { EdgeProcess, type MediaBackend, startMediaBackend } from "./support/edge-process.js";

/**
 * Tracing an edge without code: a real edge process started with
 * STREAMFRONT_EDGE_TRACE logs the events of the named tracers, a real
 * rtmpdump play shows them in order with the per-play "play ended" line,
 * and a tracer name the edge does not have stops the start (exit 2, the
 * setting named). The shield runs in this process (a real one, on a real
 * s3rver), so its fetch, cache and S3 events are seen by a subscriber here.
 */

const bucket = "trace-media";
let backend: MediaBackend;
let dir: string;
const shieldEvents: { channel: string; message: Record<string, unknown> }[] = [];
const shieldChannels = [
  ...tracerChannels["shield:fetch"],
  ...tracerChannels["shield:cache"],
  ...tracerChannels["shield:s3"],
];
const onShieldEvent = (message: unknown, name: string | symbol) =>
  shieldEvents.push({ channel: String(name), message: message as Record<string, unknown> });

before(async () => {
  // The shield's slice cache on (64 MiB), so its shield:cache events come too.
  backend = await startMediaBackend(bucket, {
    STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: String(64 * 1024 * 1024),
  });
  dir = await mkdtemp(join(tmpdir(), "streamfront-traces-"));
  for (const name of shieldChannels) subscribe(name, onShieldEvent);
});
after(async () => {
  for (const name of shieldChannels) unsubscribe(name, onShieldEvent);
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("STREAMFRONT_EDGE_TRACE", () => {
  test("an rtmpdump play: edge:session and edge:cache trace lines in order, one 'play ended' info line; shield fetch and S3 events", async () => {
    const edge = await EdgeProcess.start(backend, { STREAMFRONT_EDGE_TRACE: "edge:session,edge:cache" });
    try {
      const out = join(dir, "sample.flv");
      await rtmpdump([
        "-r",
        `rtmp://127.0.0.1:${edge.rtmpPort}/cfx/st/`,
        "-y",
        "videos/sample?Signature=not-a-real-signature",
        "-o",
        out,
      ]);
      assert.ok((await stat(out)).size > 100_000);
      await eventually(
        () => edge.logLines.some((l) => l.channel === TraceChannelName.EdgeConnectionClose),
        10_000,
        "the connection's close event",
      );
      const traced = edge.logLines.filter((l) => l.msg === "trace");
      for (const line of traced)
        assert.equal(line.level, "debug", "trace lines are debug, written at level info");
      const session = traced.find((l) => l.channel === TraceChannelName.EdgeConnectionOpen)?.session;
      assert.equal(typeof session, "string");
      const sessionLines = traced.filter((l) => l.tracer === "edge:session" && l.session === session);
      assert.deepEqual(
        sessionLines.map((l) => l.channel),
        [
          TraceChannelName.EdgeConnectionOpen,
          TraceChannelName.EdgePlayStart,
          TraceChannelName.EdgePlayFirstFrame,
          TraceChannelName.EdgePlayEnd,
          TraceChannelName.EdgeConnectionClose,
        ],
      );
      const start = sessionLines[1]!;
      assert.equal(start.distribution, "EPROC");
      assert.equal(start.key, "videos/sample.flv");
      const end = sessionLines[3]!;
      // rtmpdump reads to the end of the stream: the play completes.
      assert.equal(end.result, "completed");
      assert.ok((end.bytes as number) > 100_000, `play bytes ${end.bytes}`);
      // The cache's first lookups of the object were misses, each fetched once from the shield.
      const cache = traced.filter((l) => l.tracer === "edge:cache" && l.key === "videos/sample.flv");
      const lookups = cache.filter((l) => l.channel === TraceChannelName.EdgeCacheLookup);
      const fetches = cache.filter((l) => l.channel === TraceChannelName.EdgeCacheFetch);
      assert.equal(lookups[0]?.outcome, "miss");
      assert.ok(fetches.length > 0 && fetches.every((l) => l.code === null && l.bucket === bucket));
      assert.equal(fetches.length, lookups.filter((l) => l.outcome === "miss").length, "one fetch per miss");

      const played = edge.logLines.filter((l) => l.msg === "play ended");
      assert.equal(played.length, 1);
      const { time: _t, pid: _p, remote: _r, ...line } = played[0]!;
      assert.deepEqual(line, {
        level: "info",
        component: "edge",
        session,
        distribution: "EPROC",
        key: "videos/sample.flv",
        bytes: end.bytes,
        durationMs: end.durationMs,
        result: "completed",
        msg: "play ended",
      });
      assert.ok(
        !JSON.stringify(edge.logLines).includes("not-a-real-signature"),
        "no signed-URL value logged",
      );

      // The shield's side of the same play.
      const reads = shieldEvents.filter(
        (e) => e.channel === TraceChannelName.ShieldFetchEnd && e.message.rpc === "ReadRange",
      );
      assert.ok(
        reads.length > 0 &&
          reads.every((e) => e.message.code === null && e.message.key === "videos/sample.flv"),
      );
      const sliceFetches = shieldEvents.filter((e) => e.channel === TraceChannelName.ShieldCacheFetch);
      assert.ok(sliceFetches.length > 0, "the shield's cache fetched slices");
      for (const e of sliceFetches) {
        assert.equal(e.message.key, "videos/sample.flv");
        assert.equal(e.message.source, "s3", "a cold cache loads from S3");
        assert.equal(e.message.code, null);
      }
      const s3 = shieldEvents.filter((e) => e.channel.startsWith("streamfront:shield:s3:"));
      const request = s3.find((e) => e.channel === TraceChannelName.ShieldS3Request);
      assert.ok(request, "an S3 request");
      assert.equal(request.message.bucket, bucket);
      assert.ok(
        s3.some((e) => e.channel === TraceChannelName.ShieldS3Response && e.message.result === "ok"),
        "an S3 response ok",
      );
    } finally {
      await edge.stop();
    }
  });

  test("a play of an object that does not exist: the edge's play ends not_found, the shield's stat and S3 HEAD say why", async () => {
    const edge = await EdgeProcess.start(backend, { STREAMFRONT_EDGE_TRACE: "edge:session" });
    try {
      // rtmpdump gives up on NetStream.Play.StreamNotFound with a non-zero exit.
      await assert.rejects(
        rtmpdump(
          ["-r", `rtmp://127.0.0.1:${edge.rtmpPort}/cfx/st/`, "-y", "videos/missing", "-o", "/dev/null"],
          30_000,
        ),
      );
      await eventually(
        () => edge.logLines.some((l) => l.msg === "play ended"),
        10_000,
        "the play's end line",
      );
      const ended = edge.logLines.find((l) => l.msg === "play ended")!;
      assert.equal(ended.result, "not_found");
      assert.equal(ended.key, "videos/missing.flv");
      assert.equal(ended.bytes, 0);
      const traced = edge.logLines.find((l) => l.channel === TraceChannelName.EdgePlayEnd);
      assert.equal(traced?.result, "not_found");
      const stat = shieldEvents.find(
        (e) =>
          e.channel === TraceChannelName.ShieldFetchEnd &&
          e.message.rpc === "StatObject" &&
          e.message.key === "videos/missing.flv",
      );
      assert.equal(stat?.message.code, "SHIELD_ERR_OBJECT_NOT_FOUND");
      const head = shieldEvents.find(
        (e) => e.channel === TraceChannelName.ShieldS3Response && e.message.key === "videos/missing.flv",
      );
      assert.equal(head?.message.range, null, "a HEAD has no range");
      assert.equal(head?.message.result, "not_found");
    } finally {
      await edge.stop();
    }
  });

  test("a tracer name the edge does not have: the start fails with exit 2, naming the setting", async () => {
    await assert.rejects(
      EdgeProcess.start(backend, { STREAMFRONT_EDGE_TRACE: "edge:session,shield:s3" }),
      (error: unknown) =>
        error instanceof ComponentStartError &&
        error.exitCode === 2 &&
        error.message.includes("STREAMFRONT_EDGE_TRACE") &&
        error.message.includes('"shield:s3": expected one of edge:session, edge:cache'),
    );
  });
});
