import { z } from "zod";
import { boolean, hostPort, integer, port, text } from "../../lib/config/schemas.js";
import {
  ConfigError,
  type ConfigOf,
  loadConfig,
  logLevelSetting,
  setting,
} from "../../lib/config/settings.js";
import { internalTlsSettings } from "../../lib/grpc/internal-tls.js";
import { edgeTracers } from "../../lib/trace/channels.js";
import { traceSetting } from "../../lib/trace/trace-log.js";
import { parseShieldTargets, targetId } from "./shield-client/shield-targets.js";

/** Every setting of an edge pod. The README's table repeats these docs. */
export const edgeSettings = {
  host: setting({
    env: "STREAMFRONT_EDGE_HOST",
    flag: "host",
    doc: "Address the RTMP and HTTP listeners bind to.",
    schema: text({ min: 1, max: 255 }),
    default: "0.0.0.0",
  }),
  rtmpPort: setting({
    env: "STREAMFRONT_EDGE_RTMP_PORT",
    flag: "rtmp-port",
    doc: "RTMP listener (CloudFront: 1935). 0 picks a free port.",
    schema: port(),
    default: 1935,
  }),
  httpPort: setting({
    env: "STREAMFRONT_EDGE_HTTP_PORT",
    flag: "http-port",
    doc: "Port that speaks RTMP and HTTP on one socket, told apart by the first byte (CloudFront: 80). 0 picks a free port; -1 turns it off.",
    schema: integer(-1, 65535),
    default: 8080,
  }),
  adminHost: setting({
    env: "STREAMFRONT_EDGE_ADMIN_HOST",
    flag: "admin-host",
    doc: "Address of the admin listener (/metrics, /healthz, /readyz).",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  adminPort: setting({
    env: "STREAMFRONT_EDGE_ADMIN_PORT",
    flag: "admin-port",
    doc: "Admin listener port. 0 picks a free port.",
    schema: port(),
    default: 9100,
  }),
  controller: setting({
    env: "STREAMFRONT_EDGE_CONTROLLER",
    flag: "controller",
    doc: "host:port of the controller's gRPC config service.",
    schema: hostPort(),
    default: "127.0.0.1:7001",
  }),
  shield: setting({
    env: "STREAMFRONT_EDGE_SHIELD",
    flag: "shield",
    doc: "The regional shield's gRPC replicas: host:port entries separated by commas, and/or dns:NAME:PORT (a headless service, resolved again every shield-dns-refresh-ms). Each object is read from one replica by rendezvous hashing.",
    schema: shieldTargets(),
    default: ["127.0.0.1:7002"],
  }),
  shieldIdleTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_SHIELD_IDLE_TIMEOUT_MS",
    flag: "shield-idle-timeout-ms",
    doc: "A shield read that receives nothing for this long (or a stat unanswered) fails over to the next replica; keep it under the viewers' buffer.",
    schema: integer(100, 600_000),
    default: 3000,
  }),
  shieldPenaltyMs: setting({
    env: "STREAMFRONT_EDGE_SHIELD_PENALTY_MS",
    flag: "shield-penalty-ms",
    doc: "After a shield replica fails, it is tried only after the healthy ones for this long.",
    schema: integer(0, 3_600_000),
    default: 10_000,
  }),
  shieldDnsRefreshMs: setting({
    env: "STREAMFRONT_EDGE_SHIELD_DNS_REFRESH_MS",
    flag: "shield-dns-refresh-ms",
    doc: "How often dns: shield names are resolved again; a failed lookup keeps the last good replica set.",
    schema: integer(100, 3_600_000),
    default: 10_000,
  }),
  nodeId: setting({
    env: "STREAMFRONT_EDGE_NODE_ID",
    flag: "node-id",
    doc: "Name this edge reports to the controller (the pod name); the host name when empty.",
    schema: text({ max: 253, pattern: /^[A-Za-z0-9._-]*$/, hint: "letters, digits, '.', '_' and '-' only" }),
    default: "",
  }),
  controllerHeartbeatMs: setting({
    env: "STREAMFRONT_EDGE_CONTROLLER_HEARTBEAT_MS",
    flag: "controller-heartbeat-ms",
    doc:
      "How often the edge re-acknowledges its applied config version: the heartbeat that keeps it in the " +
      "controller's live set (keep it well under the controller's watcher-ttl-ms).",
    schema: integer(100, 600_000),
    default: 5_000,
  }),
  configStateFile: setting({
    env: "STREAMFRONT_EDGE_CONFIG_STATE_FILE",
    flag: "config-state-file",
    doc:
      "File the last applied distribution config is kept in and read at start, so an edge restarted while " +
      "the controller is unreachable serves what it served before. Empty: memory only.",
    schema: text({ max: 4096 }),
    default: "",
  }),
  ...internalTlsSettings("STREAMFRONT_EDGE"),
  logLevel: logLevelSetting("STREAMFRONT_EDGE"),
  trace: traceSetting("STREAMFRONT_EDGE", edgeTracers),
  outChunkSize: setting({
    env: "STREAMFRONT_EDGE_OUT_CHUNK_SIZE",
    flag: "out-chunk-size",
    doc: "RTMP chunk size the edge sends with (announced by Set Chunk Size).",
    schema: integer(128, 65536),
    default: 4096,
  }),
  maxMessageBytes: setting({
    env: "STREAMFRONT_EDGE_MAX_MESSAGE_BYTES",
    flag: "max-message-bytes",
    doc: "Largest RTMP message a viewer may send; a larger one closes the connection.",
    schema: integer(1024, 16 * 1024 * 1024),
    default: 64 * 1024,
  }),
  maxChunkStreams: setting({
    env: "STREAMFRONT_EDGE_MAX_CHUNK_STREAMS",
    flag: "max-chunk-streams",
    doc: "Most chunk streams a viewer may open on one connection.",
    schema: integer(4, 65599),
    // What partial messages hold is bounded in bytes by max-reassembly-bytes.
    default: 16,
  }),
  maxConnectBytes: setting({
    env: "STREAMFRONT_EDGE_MAX_CONNECT_BYTES",
    flag: "max-connect-bytes",
    doc:
      "Until its connect is accepted, the largest RTMP message a connection may send and the most bytes its " +
      "partial messages may hold; max-message-bytes and max-reassembly-bytes apply after.",
    schema: integer(1024, 16 * 1024 * 1024),
    default: 16 * 1024,
  }),
  maxReassemblyBytes: setting({
    env: "STREAMFRONT_EDGE_MAX_REASSEMBLY_BYTES",
    flag: "max-reassembly-bytes",
    doc:
      "Most bytes one connection's partly received RTMP messages may hold together (all chunk streams); " +
      "more closes the connection. At least max-message-bytes.",
    schema: integer(1024, 1024 * 1024 * 1024),
    default: 256 * 1024,
  }),
  reassemblyBudgetBytes: setting({
    env: "STREAMFRONT_EDGE_REASSEMBLY_BUDGET_BYTES",
    flag: "reassembly-budget-bytes",
    doc:
      "Most bytes the partly received RTMP messages of all connections may hold together; a connection " +
      "that needs more while it is spent is closed. At least max-reassembly-bytes.",
    schema: integer(64 * 1024, 64 * 1024 * 1024 * 1024),
    default: 64 * 1024 * 1024,
  }),
  maxDistributionLabels: setting({
    env: "STREAMFRONT_EDGE_MAX_DISTRIBUTION_LABELS",
    flag: "max-distribution-labels",
    doc: 'Most distributions that get their own value of the metrics\' distribution label (in the order the config lists them); the rest share distribution="other".',
    schema: integer(1, 100_000),
    default: 1000,
  }),
  maxConnections: setting({
    env: "STREAMFRONT_EDGE_MAX_CONNECTIONS",
    flag: "max-connections",
    doc: "Most open viewer connections on this edge.",
    schema: integer(1, 1_000_000),
    default: 10_000,
  }),
  maxConnectionsPerIp: setting({
    env: "STREAMFRONT_EDGE_MAX_CONNECTIONS_PER_IP",
    flag: "max-connections-per-ip",
    doc:
      "Most open connections (and RTMPT sessions) from one client address, playing or not. Loose on purpose: " +
      "a campus or carrier-grade NAT puts hundreds of viewers behind one address.",
    schema: integer(1, 1_000_000),
    default: 1000,
  }),
  maxPrePlayConnectionsPerIp: setting({
    env: "STREAMFRONT_EDGE_MAX_PRE_PLAY_CONNECTIONS_PER_IP",
    flag: "max-pre-play-connections-per-ip",
    doc:
      "Most connections from one client address that have not started a play yet (handshaking, connecting, " +
      "plain HTTP requests, RTMPT sessions not playing). Tight: they serve no one, and slow clients hold them.",
    schema: integer(1, 1_000_000),
    default: 50,
  }),
  prePlayTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_PRE_PLAY_TIMEOUT_MS",
    flag: "pre-play-timeout-ms",
    doc: "A connection or RTMPT session that has not started a play this long after it was accepted is closed.",
    schema: integer(100, 3_600_000),
    default: 60_000,
  }),
  drainTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_DRAIN_TIMEOUT_MS",
    flag: "drain-timeout-ms",
    doc: "On SIGTERM, how long plays under way may go on (no new connections are taken) before they are ended with NetStream.Play.Stop and the edge exits; 0 ends them at once.",
    schema: integer(0, 3_600_000),
    default: 30_000,
  }),
  httpHeadersTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_HTTP_HEADERS_TIMEOUT_MS",
    flag: "http-headers-timeout-ms",
    doc: "An HTTP connection on the shared port must send its request headers within this long of its first byte.",
    schema: integer(100, 600_000),
    default: 10_000,
  }),
  httpRequestTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_HTTP_REQUEST_TIMEOUT_MS",
    flag: "http-request-timeout-ms",
    doc: "From an HTTP request's headers to its body read and its answer written; past it the connection is closed.",
    schema: integer(100, 600_000),
    default: 30_000,
  }),
  httpIdleTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_HTTP_IDLE_TIMEOUT_MS",
    flag: "http-idle-timeout-ms",
    doc: "A kept-alive HTTP connection whose next request headers are not complete this long after an answer is closed.",
    schema: integer(100, 600_000),
    default: 5_000,
  }),
  logRepeatLines: setting({
    env: "STREAMFRONT_EDGE_LOG_REPEAT_LINES",
    flag: "log-repeat-lines",
    doc:
      "Per-connection warnings (refused, timed out, closed for a protocol error) of one kind written per " +
      "log-repeat-interval-ms; the rest are counted in metrics and summed up in one line.",
    schema: integer(1, 1_000_000),
    default: 5,
  }),
  logRepeatIntervalMs: setting({
    env: "STREAMFRONT_EDGE_LOG_REPEAT_INTERVAL_MS",
    flag: "log-repeat-interval-ms",
    doc: "The interval of log-repeat-lines.",
    schema: integer(10, 3_600_000),
    default: 10_000,
  }),
  handshakeTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_HANDSHAKE_TIMEOUT_MS",
    flag: "handshake-timeout-ms",
    doc: "Time a viewer has to finish the handshake and connect.",
    schema: integer(100, 600_000),
    default: 10_000,
  }),
  idleTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_IDLE_TIMEOUT_MS",
    flag: "idle-timeout-ms",
    doc: "A connection that neither plays nor sends anything for this long is closed.",
    schema: integer(1000, 86_400_000),
    default: 120_000,
  }),
  sendAheadMarginMs: setting({
    env: "STREAMFRONT_EDGE_SEND_AHEAD_MARGIN_MS",
    flag: "send-ahead-margin-ms",
    doc: "How far past the viewer's buffer length media is sent ahead of real time.",
    schema: integer(0, 600_000),
    default: 1000,
  }),
  defaultBufferMs: setting({
    env: "STREAMFRONT_EDGE_DEFAULT_BUFFER_MS",
    flag: "default-buffer-ms",
    doc: "Buffer length assumed until the viewer sends SetBufferLength.",
    schema: integer(0, 3_600_000),
    default: 3000,
  }),
  maxBufferMs: setting({
    env: "STREAMFRONT_EDGE_MAX_BUFFER_MS",
    flag: "max-buffer-ms",
    doc: "Cap on the buffer length a viewer may ask for (rtmpdump asks for 10 h); beyond it media is paced in real time.",
    schema: integer(0, 36_000_000),
    default: 3_600_000,
  }),
  maxQueuedBytes: setting({
    env: "STREAMFRONT_EDGE_MAX_QUEUED_BYTES",
    flag: "max-queued-bytes",
    doc:
      "Bytes queued for one viewer and not yet sent (media, command replies, acknowledgements and ping " +
      "answers alike, RTMPT included): at this the edge stops reading the viewer's requests and sending it " +
      "media until it drains; a viewer over it for slow-viewer-timeout-ms, or at any time over twice it plus 2 MiB " +
      "(room for one media batch), is dropped. " +
      "It also bounds an RTMPT client's request bodies not yet read.",
    schema: integer(16 * 1024, 256 * 1024 * 1024),
    default: 1024 * 1024,
  }),
  slowViewerTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_SLOW_VIEWER_TIMEOUT_MS",
    flag: "slow-viewer-timeout-ms",
    doc: "A viewer whose unsent bytes stay above max-queued-bytes this long is dropped (it reads slower than it plays).",
    schema: integer(1000, 600_000),
    default: 20_000,
  }),
  cacheBytes: setting({
    env: "STREAMFRONT_EDGE_CACHE_BYTES",
    flag: "cache-bytes",
    doc: "Memory for the edge's slice cache of objects read through the shield; 0 turns it off.",
    schema: integer(0, 64 * 1024 * 1024 * 1024),
    default: 256 * 1024 * 1024,
  }),
  cacheSliceBytes: setting({
    env: "STREAMFRONT_EDGE_CACHE_SLICE_BYTES",
    flag: "cache-slice-bytes",
    doc: "Size of one cached slice; reads from the shield are whole, aligned slices.",
    schema: integer(64 * 1024, 64 * 1024 * 1024),
    default: 1024 * 1024,
  }),
  fmsDataStart: setting({
    env: "STREAMFRONT_EDGE_FMS_DATA_START",
    flag: "fms-data-start",
    doc:
      "Send FMS's onStatus NetStream.Data.Start data message after each Play.Start, as FMS 3.5 did. Off by " +
      "default: Flash players ignore it, and players built on ffmpeg, VLC and GStreamer show it as an extra " +
      "data track.",
    schema: boolean(),
    default: false,
  }),
  metadataCacheEntries: setting({
    env: "STREAMFRONT_EDGE_METADATA_CACHE_ENTRIES",
    flag: "metadata-cache-entries",
    doc: "Objects whose metadata (size, ETag) the edge remembers, so plays of objects in the slice cache go on while no shield answers; 0 turns it off.",
    schema: integer(0, 10_000_000),
    default: 10_000,
  }),
  metadataDefaultTtlMs: setting({
    env: "STREAMFRONT_EDGE_METADATA_DEFAULT_TTL_MS",
    flag: "metadata-default-ttl-ms",
    doc: "How long remembered metadata may serve plays while no shield answers, when the object's Cache-Control gives no s-maxage or max-age (those win; no-cache, no-store and private are not remembered).",
    schema: integer(0, 3_153_600_000_000),
    default: 86_400_000,
  }),
  negativeCacheEntries: setting({
    env: "STREAMFRONT_EDGE_NEGATIVE_CACHE_ENTRIES",
    flag: "negative-cache-entries",
    doc: "Missing objects (the shield's NOT_FOUND) the edge remembers; 0 turns it off.",
    schema: integer(0, 10_000_000),
    default: 10_000,
  }),
  negativeTtlMs: setting({
    env: "STREAMFRONT_EDGE_NEGATIVE_TTL_MS",
    flag: "negative-ttl-ms",
    doc: "How long a missing object is answered not found without asking the shield; 0: always ask.",
    schema: integer(0, 86_400_000),
    default: 10_000,
  }),
  playStallMinMs: setting({
    env: "STREAMFRONT_EDGE_PLAY_STALL_MIN_MS",
    flag: "play-stall-min-ms",
    doc: "A play whose reads fail on every shield replica retries for as long as the viewer has media buffered, and at least this long (a cold play has none), before NetStream.Play.Failed.",
    schema: integer(0, 600_000),
    default: 3_000,
  }),
  playStallMaxMs: setting({
    env: "STREAMFRONT_EDGE_PLAY_STALL_MAX_MS",
    flag: "play-stall-max-ms",
    doc: "The longest a play retries failing reads, however much the viewer has buffered.",
    schema: integer(0, 3_600_000),
    default: 30_000,
  }),
  failedPlayIdleTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_FAILED_PLAY_IDLE_TIMEOUT_MS",
    flag: "failed-play-idle-timeout-ms",
    doc: "After a play fails or is not found, a connection that plays nothing and sends no command for this long is closed (it may play again before).",
    schema: integer(100, 86_400_000),
    default: 10_000,
  }),
  lookupBurst: setting({
    env: "STREAMFRONT_EDGE_LOOKUP_BURST",
    flag: "lookup-burst",
    doc: "Metadata lookups (getStreamLength, plays of names that are not found) a connection may make at once; beyond it they are refused until lookups-per-second refills the budget.",
    schema: integer(1, 1_000_000),
    default: 20,
  }),
  lookupsPerSecond: setting({
    env: "STREAMFRONT_EDGE_LOOKUPS_PER_SECOND",
    flag: "lookups-per-second",
    doc: "Rate at which a connection's lookup budget refills.",
    schema: integer(1, 1_000_000),
    default: 2,
  }),
  rtmptMaxSessions: setting({
    env: "STREAMFRONT_EDGE_RTMPT_MAX_SESSIONS",
    flag: "rtmpt-max-sessions",
    doc: "Most open RTMPT (HTTP tunnel) sessions on this edge; /open beyond it is answered 503.",
    schema: integer(1, 1_000_000),
    default: 10_000,
  }),
  rtmptMaxSessionsPerIp: setting({
    env: "STREAMFRONT_EDGE_RTMPT_MAX_SESSIONS_PER_IP",
    flag: "rtmpt-max-sessions-per-ip",
    doc: "Most open RTMPT sessions opened from one client address (those not playing yet also count against max-pre-play-connections-per-ip).",
    schema: integer(1, 1_000_000),
    default: 1000,
  }),
  rtmptIdleTimeoutMs: setting({
    env: "STREAMFRONT_EDGE_RTMPT_IDLE_TIMEOUT_MS",
    flag: "rtmpt-idle-timeout-ms",
    doc: "An RTMPT session with no request for this long is closed.",
    schema: integer(1000, 3_600_000),
    default: 30_000,
  }),
  rtmptMaxBodyBytes: setting({
    env: "STREAMFRONT_EDGE_RTMPT_MAX_BODY_BYTES",
    flag: "rtmpt-max-body-bytes",
    doc: "Largest RTMPT request body; a larger one is answered 413 before it is read.",
    schema: integer(2048, 16 * 1024 * 1024),
    default: 64 * 1024,
  }),
  rtmptMaxResponseBytes: setting({
    env: "STREAMFRONT_EDGE_RTMPT_MAX_RESPONSE_BYTES",
    flag: "rtmpt-max-response-bytes",
    doc: "Largest RTMPT answer body: the polling byte and the server bytes queued for the viewer.",
    schema: integer(1024, 16 * 1024 * 1024),
    default: 64 * 1024,
  }),
  rtmptMaxQueuedBytes: setting({
    env: "STREAMFRONT_EDGE_RTMPT_MAX_QUEUED_BYTES",
    flag: "rtmpt-max-queued-bytes",
    doc: "Bytes an RTMPT session may hold for its polls before it is closed; keep it above STREAMFRONT_EDGE_MAX_QUEUED_BYTES.",
    schema: integer(64 * 1024, 1024 * 1024 * 1024),
    default: 4 * 1024 * 1024,
  }),
  edgeLocation: setting({
    env: "STREAMFRONT_EDGE_LOCATION",
    flag: "edge-location",
    doc: "The access log's x-edge-location (CloudFront: e.g. SEA4); the node id when empty.",
    schema: text({ max: 64, pattern: /^[A-Za-z0-9._-]*$/, hint: "letters, digits, '.', '_' and '-' only" }),
    default: "",
  }),
  accessLogSpoolDir: setting({
    env: "STREAMFRONT_EDGE_ACCESS_LOG_SPOOL_DIR",
    flag: "access-log-spool-dir",
    doc:
      "Directory access-log lines of distributions with Logging enabled are spooled in (one file per " +
      "distribution per UTC hour) until a shield has written them to the logging bucket; files a killed edge " +
      "left are delivered at the next start. Keep it on a persistent volume. Empty: this edge writes no access logs.",
    schema: text({ max: 4096 }),
    default: "",
  }),
  accessLogSpoolBytes: setting({
    env: "STREAMFRONT_EDGE_ACCESS_LOG_SPOOL_BYTES",
    flag: "access-log-spool-bytes",
    doc:
      "Most bytes the spool's files may hold together; while it is full (deliveries failing) new lines are " +
      "dropped, counted and logged once (EDGE_ERR_ACCESS_LOG_SPOOL_FULL).",
    schema: integer(1024 * 1024, 1024 * 1024 * 1024 * 1024),
    default: 1024 * 1024 * 1024,
  }),
  accessLogIntervalMs: setting({
    env: "STREAMFRONT_EDGE_ACCESS_LOG_INTERVAL_MS",
    flag: "access-log-interval-ms",
    doc: "How often the open access-log files are sealed and delivered (CloudFront: several times an hour).",
    schema: integer(100, 86_400_000),
    default: 300_000,
  }),
  accessLogMaxFileBytes: setting({
    env: "STREAMFRONT_EDGE_ACCESS_LOG_MAX_FILE_BYTES",
    flag: "access-log-max-file-bytes",
    doc:
      "Largest access-log file before it is sealed early; one file travels to the shield in one gRPC request, " +
      "which the shield bounds at 64 KiB.",
    // At least the longest line (w3c-line.ts maxFieldChars) and the header: every line fits an empty file.
    schema: integer(48 * 1024, 60_000),
    default: 60_000,
  }),
  accessLogRetryMaxMs: setting({
    env: "STREAMFRONT_EDGE_ACCESS_LOG_RETRY_MAX_MS",
    flag: "access-log-retry-max-ms",
    doc: "Longest wait between tries of a delivery that keeps failing (the wait doubles from 1 s, or the interval if shorter).",
    schema: integer(100, 3_600_000),
    default: 60_000,
  }),
} as const;

export type EdgeConfig = ConfigOf<typeof edgeSettings>;

/** The shield setting: every entry checked (host:port or dns:<name>:<port>), none repeated. */
function shieldTargets(): z.ZodType<readonly string[], string> {
  return z.string().transform((text, ctx) => {
    try {
      return parseShieldTargets(text).map(targetId);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  });
}

export function loadEdgeConfig(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
): EdgeConfig {
  const config = loadConfig(edgeSettings, { env, argv });
  // A tunnel must hold at least what a session may queue before it waits,
  // or every busy RTMPT viewer would be closed instead of paced.
  if (config.maxReassemblyBytes < config.maxMessageBytes) {
    throw new ConfigError(
      `invalid settings: maxReassemblyBytes (${edgeSettings.maxReassemblyBytes.env}=${config.maxReassemblyBytes}) ` +
        `must be at least maxMessageBytes (${edgeSettings.maxMessageBytes.env}=${config.maxMessageBytes})`,
    );
  }
  if (config.reassemblyBudgetBytes < config.maxReassemblyBytes) {
    throw new ConfigError(
      `invalid settings: reassemblyBudgetBytes (${edgeSettings.reassemblyBudgetBytes.env}=${config.reassemblyBudgetBytes}) ` +
        `must be at least maxReassemblyBytes (${edgeSettings.maxReassemblyBytes.env}=${config.maxReassemblyBytes})`,
    );
  }
  if (config.rtmptMaxQueuedBytes <= config.maxQueuedBytes) {
    throw new ConfigError(
      `invalid settings: rtmptMaxQueuedBytes (${edgeSettings.rtmptMaxQueuedBytes.env}=${config.rtmptMaxQueuedBytes}) ` +
        `must be larger than maxQueuedBytes (${edgeSettings.maxQueuedBytes.env}=${config.maxQueuedBytes})`,
    );
  }
  if (config.maxPrePlayConnectionsPerIp > config.maxConnectionsPerIp) {
    throw new ConfigError(
      `invalid settings: maxPrePlayConnectionsPerIp (${edgeSettings.maxPrePlayConnectionsPerIp.env}=${config.maxPrePlayConnectionsPerIp}) ` +
        `must not be larger than maxConnectionsPerIp (${edgeSettings.maxConnectionsPerIp.env}=${config.maxConnectionsPerIp})`,
    );
  }
  if (config.playStallMaxMs < config.playStallMinMs) {
    throw new ConfigError(
      `invalid settings: playStallMaxMs (${edgeSettings.playStallMaxMs.env}=${config.playStallMaxMs}) ` +
        `must be at least playStallMinMs (${edgeSettings.playStallMinMs.env}=${config.playStallMinMs})`,
    );
  }
  return config;
}
