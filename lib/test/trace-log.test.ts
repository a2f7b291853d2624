import assert from "node:assert/strict";
import { test } from "node:test";
import { loadEdgeConfig } from "../../edge/src/config.js";
import { loadShieldConfig } from "../../shield/src/config.js";
import { ConfigError } from "../config/settings.js";
import { createLogger } from "../log.js";
import { TraceChannelName, tracerChannels, traces } from "../trace/channels.js";
import { startTraceLog } from "../trace/trace-log.js";

/** The built-in trace subscriber (STREAMFRONT_*_TRACE) and its setting. */

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    component: "edge",
    level,
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { lines, logger };
}

test("each event of a named tracer is one debug line, even at log level info; other tracers stay silent; stop unsubscribes", () => {
  const { lines, logger } = capture("info");
  const stop = startTraceLog(logger, ["edge:cache"]);
  assert.equal(traces.cacheLookup.hasSubscribers, true);
  assert.equal(traces.playEnd.hasSubscribers, false, "edge:session was not named");
  traces.cacheLookup.publish({ bucket: "media", key: "a.flv", slice: 3, outcome: "miss" });
  stop();
  assert.equal(traces.cacheLookup.hasSubscribers, false);
  traces.cacheLookup.publish({ bucket: "media", key: "a.flv", slice: 4, outcome: "miss" });
  assert.equal(lines.length, 1);
  const { time: _t, pid: _p, ...line } = lines[0]!;
  assert.deepEqual(line, {
    level: "debug",
    component: "edge",
    tracer: "edge:cache",
    channel: TraceChannelName.EdgeCacheLookup,
    bucket: "media",
    key: "a.flv",
    slice: 3,
    outcome: "miss",
    msg: "trace",
  });
});

test("every channel belongs to exactly one tracer", () => {
  const all = Object.values(tracerChannels).flat();
  assert.deepEqual([...all].sort(), Object.values(TraceChannelName).sort());
  assert.equal(new Set(all).size, all.length);
});

test("the trace setting takes the component's tracers and refuses any other name, naming the setting", () => {
  assert.deepEqual(loadEdgeConfig({ STREAMFRONT_EDGE_TRACE: "edge:session, edge:cache" }, []).trace, [
    "edge:session",
    "edge:cache",
  ]);
  assert.deepEqual(loadEdgeConfig({}, []).trace, []);
  assert.throws(
    () => loadEdgeConfig({ STREAMFRONT_EDGE_TRACE: "edge:session,edge:nope" }, []),
    (error: unknown) =>
      error instanceof ConfigError &&
      /STREAMFRONT_EDGE_TRACE/.test(error.message) &&
      /"edge:nope": expected one of edge:session, edge:cache/.test(error.message),
  );
  assert.throws(() => loadEdgeConfig({}, ["--trace", "shield:s3"]), /--trace.*shield:s3/);
  assert.deepEqual(loadShieldConfig({ env: { STREAMFRONT_SHIELD_TRACE: "shield:s3" }, argv: [] }).trace, [
    "shield:s3",
  ]);
  assert.throws(
    () => loadShieldConfig({ env: { STREAMFRONT_SHIELD_TRACE: "edge:cache" }, argv: [] }),
    /STREAMFRONT_SHIELD_TRACE/,
  );
});
