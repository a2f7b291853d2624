import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../lib/config/settings.js";
import { loadEdgeConfig } from "../src/config.js";

test("the edge's defaults load and are frozen", () => {
  const config = loadEdgeConfig({}, []);
  assert.equal(config.rtmpPort, 1935);
  assert.equal(config.httpPort, 8080);
  assert.ok(Object.isFrozen(config));
});

test("an RTMPT queue no larger than the session queue is refused, naming both settings", () => {
  assert.throws(
    () =>
      loadEdgeConfig(
        {
          STREAMFRONT_EDGE_MAX_QUEUED_BYTES: String(4 * 1024 * 1024),
          STREAMFRONT_EDGE_RTMPT_MAX_QUEUED_BYTES: String(1024 * 1024),
        },
        [],
      ),
    (error: unknown) =>
      error instanceof ConfigError &&
      /STREAMFRONT_EDGE_RTMPT_MAX_QUEUED_BYTES=1048576/.test(error.message) &&
      /STREAMFRONT_EDGE_MAX_QUEUED_BYTES=4194304/.test(error.message),
  );
});

test("a wrong edge setting names itself", () => {
  assert.throws(
    () => loadEdgeConfig({}, ["--out-chunk-size", "64"]),
    /invalid setting outChunkSize \(--out-chunk-size\): "64": must be at least 128/,
  );
});

test("the NAT-friendly limits: loose per address, tight before a play; a pre-play cap above the per-address cap is refused", () => {
  const config = loadEdgeConfig({}, []);
  assert.ok(config.maxConnectionsPerIp >= 500, "hundreds of viewers behind one NAT must fit");
  assert.ok(config.maxPrePlayConnectionsPerIp < config.maxConnectionsPerIp / 10);
  assert.ok(config.prePlayTimeoutMs >= config.handshakeTimeoutMs);
  assert.ok(
    config.httpHeadersTimeoutMs > 0 && config.httpIdleTimeoutMs > 0 && config.httpRequestTimeoutMs > 0,
  );
  assert.throws(
    () =>
      loadEdgeConfig(
        {
          STREAMFRONT_EDGE_MAX_CONNECTIONS_PER_IP: "10",
          STREAMFRONT_EDGE_MAX_PRE_PLAY_CONNECTIONS_PER_IP: "11",
        },
        [],
      ),
    (error: unknown) =>
      error instanceof ConfigError &&
      /STREAMFRONT_EDGE_MAX_PRE_PLAY_CONNECTIONS_PER_IP=11/.test(error.message) &&
      /STREAMFRONT_EDGE_MAX_CONNECTIONS_PER_IP=10/.test(error.message),
  );
  assert.throws(
    () => loadEdgeConfig({ STREAMFRONT_EDGE_HTTP_HEADERS_TIMEOUT_MS: "0" }, []),
    (error: unknown) => error instanceof ConfigError && /HTTP_HEADERS_TIMEOUT_MS/.test(error.message),
  );
});

test("a play stall maximum under its minimum is refused, naming both settings", () => {
  assert.throws(
    () =>
      loadEdgeConfig(
        { STREAMFRONT_EDGE_PLAY_STALL_MIN_MS: "5000", STREAMFRONT_EDGE_PLAY_STALL_MAX_MS: "4000" },
        [],
      ),
    (error: unknown) =>
      error instanceof ConfigError &&
      /STREAMFRONT_EDGE_PLAY_STALL_MAX_MS=4000/.test(error.message) &&
      /STREAMFRONT_EDGE_PLAY_STALL_MIN_MS=5000/.test(error.message),
  );
  assert.throws(() => loadEdgeConfig({}, ["--lookup-burst", "0"]), /lookupBurst \(--lookup-burst\)/);
});

test("reassembly bounds must hold one largest message and one connection's worth", () => {
  assert.throws(
    () =>
      loadEdgeConfig(
        { STREAMFRONT_EDGE_MAX_MESSAGE_BYTES: "65536", STREAMFRONT_EDGE_MAX_REASSEMBLY_BYTES: "65535" },
        [],
      ),
    (error: unknown) =>
      error instanceof ConfigError &&
      /STREAMFRONT_EDGE_MAX_REASSEMBLY_BYTES=65535/.test(error.message) &&
      /STREAMFRONT_EDGE_MAX_MESSAGE_BYTES=65536/.test(error.message),
  );
  assert.throws(
    () =>
      loadEdgeConfig(
        {
          STREAMFRONT_EDGE_MAX_REASSEMBLY_BYTES: String(1024 * 1024),
          STREAMFRONT_EDGE_REASSEMBLY_BUDGET_BYTES: String(512 * 1024),
        },
        [],
      ),
    (error: unknown) =>
      error instanceof ConfigError && /STREAMFRONT_EDGE_REASSEMBLY_BUDGET_BYTES=524288/.test(error.message),
  );
  const defaults = loadEdgeConfig({}, []);
  assert.equal(defaults.maxConnectBytes, 16 * 1024);
  assert.equal(defaults.maxReassemblyBytes, 256 * 1024);
  assert.equal(defaults.reassemblyBudgetBytes, 64 * 1024 * 1024);
});
