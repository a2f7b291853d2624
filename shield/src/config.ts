import { boolean, hostPort, integer, list, port, text, url } from "../../lib/config/schemas.js";
import {
  ConfigError,
  type ConfigOf,
  type ConfigSources,
  loadConfig,
  logLevelSetting,
  setting,
} from "../../lib/config/settings.js";
import { internalTlsSettings } from "../../lib/grpc/internal-tls.js";
import { shieldTracers } from "../../lib/trace/channels.js";
import { traceSetting } from "../../lib/trace/trace-log.js";

/** S3 bucket names as AWS allows them for new buckets. */
const bucketName = text({
  min: 3,
  max: 63,
  pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
  hint: "expected an S3 bucket name (lower-case letters, digits, '.', '-')",
});

/** Every setting of a shield pod. The README's table repeats these docs. */
export const shieldSettings = {
  host: setting({
    env: "STREAMFRONT_SHIELD_HOST",
    flag: "host",
    doc: "Address the gRPC listener binds to.",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  grpcPort: setting({
    env: "STREAMFRONT_SHIELD_GRPC_PORT",
    flag: "grpc-port",
    doc: "gRPC listener port (ShieldService). 0 picks a free port.",
    schema: port(),
    default: 7002,
  }),
  adminHost: setting({
    env: "STREAMFRONT_SHIELD_ADMIN_HOST",
    flag: "admin-host",
    doc: "Address of the admin listener (/metrics, /healthz, /readyz).",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  adminPort: setting({
    env: "STREAMFRONT_SHIELD_ADMIN_PORT",
    flag: "admin-port",
    doc: "Admin listener port. 0 picks a free port.",
    schema: port(),
    default: 9102,
  }),
  s3Endpoint: setting<string>({
    env: "STREAMFRONT_SHIELD_S3_ENDPOINT",
    flag: "s3-endpoint",
    doc: "URL of an S3-compatible endpoint (MinIO, s3rver, …); empty means AWS S3 in s3-region.",
    schema: url(),
    default: "",
  }),
  s3Region: setting({
    env: "STREAMFRONT_SHIELD_S3_REGION",
    flag: "s3-region",
    doc: "Region the S3 client signs for.",
    schema: text({ min: 1, max: 64, pattern: /^[a-z0-9-]+$/, hint: "expected a region such as us-east-1" }),
    default: "us-east-1",
  }),
  s3ForcePathStyle: setting({
    env: "STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE",
    flag: "s3-force-path-style",
    doc: "Address buckets as http://endpoint/bucket instead of http://bucket.endpoint (needed by most S3 clones).",
    schema: boolean(),
    default: false,
  }),
  s3AccessKeyId: setting<string>({
    env: "STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID",
    flag: "s3-access-key-id",
    doc: "Static S3 access key; when this or the secret is empty the AWS default credential chain is used.",
    schema: text({ max: 128 }),
    default: "",
  }),
  s3SecretAccessKey: setting<string>({
    env: "STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY",
    flag: "s3-secret-access-key",
    doc: "Static S3 secret key, paired with s3-access-key-id. Prefer the environment over the flag (flags show in ps).",
    schema: text({ max: 256 }),
    default: "",
    secret: true,
  }),
  s3MaxAttempts: setting({
    env: "STREAMFRONT_SHIELD_S3_MAX_ATTEMPTS",
    flag: "s3-max-attempts",
    doc: "Tries of one S3 request (the first one included) before the shield gives up on it.",
    schema: integer(1, 20),
    default: 4,
  }),
  s3TimeoutMs: setting({
    env: "STREAMFRONT_SHIELD_S3_TIMEOUT_MS",
    flag: "s3-timeout-ms",
    doc: "Time S3 has to answer one request attempt.",
    schema: integer(100, 600_000),
    default: 10_000,
  }),
  s3MaxConcurrencyPerBucket: setting({
    env: "STREAMFRONT_SHIELD_S3_MAX_CONCURRENCY_PER_BUCKET",
    flag: "s3-max-concurrency-per-bucket",
    doc: "Most S3 requests the shield has open to one bucket at a time; more wait their turn.",
    schema: integer(1, 10_000),
    default: 64,
  }),
  s3MaxLookupsPerBucket: setting({
    env: "STREAMFRONT_SHIELD_S3_MAX_LOOKUPS_PER_BUCKET",
    flag: "s3-max-lookups-per-bucket",
    doc:
      "Most S3 HEADs (metadata lookups: a play's open, getStreamLength, revalidations) in flight to one bucket, " +
      "out of s3-max-concurrency-per-bucket; range reads always go ahead of waiting lookups.",
    schema: integer(1, 10_000),
    default: 16,
  }),
  s3MaxQueuedLookupsPerBucket: setting({
    env: "STREAMFRONT_SHIELD_S3_MAX_QUEUED_LOOKUPS_PER_BUCKET",
    flag: "s3-max-queued-lookups-per-bucket",
    doc:
      "S3 HEADs that may wait for a slot per bucket; more are refused at once with RESOURCE_EXHAUSTED " +
      "(SHIELD_ERR_LOOKUPS_SHED) instead of queueing, so lookups of names that do not exist cannot delay plays.",
    schema: integer(0, 100_000),
    default: 64,
  }),
  grpcIdleTimeoutMs: setting({
    env: "STREAMFRONT_SHIELD_GRPC_IDLE_TIMEOUT_MS",
    flag: "grpc-idle-timeout-ms",
    doc:
      "A gRPC connection with no call for this long is closed (edges reconnect on their next call); " +
      "also ends connections that never send anything.",
    schema: integer(1_000, 24 * 3_600_000),
    default: 300_000,
  }),
  maxPieceBytes: setting({
    env: "STREAMFRONT_SHIELD_MAX_PIECE_BYTES",
    flag: "max-piece-bytes",
    doc: "Largest data piece in one ReadRange response message (16 KiB to 4 MiB).",
    schema: integer(16 * 1024, 4 * 1024 * 1024),
    default: 256 * 1024,
  }),
  cacheSliceBytes: setting({
    env: "STREAMFRONT_SHIELD_CACHE_SLICE_BYTES",
    flag: "cache-slice-bytes",
    doc:
      "Size of one cached slice (64 KiB to 16 MiB): the unit of caching, request collapsing and S3 range GETs. " +
      "Slices are aligned, keyed by bucket, key, ETag and index.",
    schema: integer(64 * 1024, 16 * 1024 * 1024),
    default: 1024 * 1024,
  }),
  cacheMemoryBytes: setting({
    env: "STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES",
    flag: "cache-memory-bytes",
    doc:
      "Memory for cached slices (S3-FIFO eviction); at least 4 slices. 0 with no cache-disk-dir turns the cache " +
      "off: every read goes to S3, uncollapsed.",
    schema: integer(0, 2 ** 42),
    default: 512 * 1024 * 1024,
  }),
  cacheDiskDir: setting<string>({
    env: "STREAMFRONT_SHIELD_CACHE_DISK_DIR",
    flag: "cache-disk-dir",
    doc:
      "Directory of the disk cache tier (one file per slice, checksummed, kept across restarts); empty: no disk " +
      "tier. One shield per directory.",
    schema: text({ max: 4096 }),
    default: "",
  }),
  cacheDiskBytes: setting({
    env: "STREAMFRONT_SHIELD_CACHE_DISK_BYTES",
    flag: "cache-disk-bytes",
    doc: "Bound on the disk tier's files (least recently used out first); used when cache-disk-dir is set.",
    schema: integer(0, 2 ** 50),
    default: 10 * 1024 * 1024 * 1024,
  }),
  readAheadSlices: setting({
    env: "STREAMFRONT_SHIELD_READ_AHEAD_SLICES",
    flag: "read-ahead-slices",
    doc: "Slices fetched ahead of a reader that reads an object sequentially; 0 turns read-ahead off.",
    schema: integer(0, 64),
    default: 2,
  }),
  defaultTtlSeconds: setting({
    env: "STREAMFRONT_SHIELD_DEFAULT_TTL_SECONDS",
    flag: "default-ttl-seconds",
    doc:
      "How long an object's metadata (its ETag, so the version new plays get) is trusted when S3 sends no " +
      "Cache-Control max-age or s-maxage (CloudFront's Default TTL). Then a conditional HEAD revalidates it.",
    schema: integer(0, 3_153_600_000),
    default: 86_400,
  }),
  minTtlSeconds: setting({
    env: "STREAMFRONT_SHIELD_MIN_TTL_SECONDS",
    flag: "min-ttl-seconds",
    doc:
      "Shortest TTL, whatever Cache-Control says (CloudFront's Minimum TTL); also the TTL of no-cache, no-store " +
      "and private objects. With 0 those are not cached.",
    schema: integer(0, 3_153_600_000),
    default: 3_600,
  }),
  maxTtlSeconds: setting({
    env: "STREAMFRONT_SHIELD_MAX_TTL_SECONDS",
    flag: "max-ttl-seconds",
    doc: "Longest TTL, whatever Cache-Control max-age or s-maxage says (CloudFront's Maximum TTL).",
    schema: integer(0, 3_153_600_000),
    default: 31_536_000,
  }),
  negativeTtlSeconds: setting({
    env: "STREAMFRONT_SHIELD_NEGATIVE_TTL_SECONDS",
    flag: "negative-ttl-seconds",
    doc: "How long a missing object (S3 404) is remembered before S3 is asked again; 0: not at all.",
    schema: integer(0, 86_400),
    default: 10,
  }),
  controller: setting<string>({
    env: "STREAMFRONT_SHIELD_CONTROLLER",
    flag: "controller",
    doc:
      "host:port of the controller's config service. When set, the shield serves the origin buckets of the " +
      "configured distributions (plus allowed-buckets) and is ready only once it has the config; when empty, " +
      "only allowed-buckets.",
    schema: hostPort(),
    default: "",
  }),
  allowedBuckets: setting<readonly string[]>({
    env: "STREAMFRONT_SHIELD_ALLOWED_BUCKETS",
    flag: "allowed-buckets",
    doc:
      "Comma-separated buckets the shield always serves. With neither this nor controller set, the shield " +
      "refuses every request (PERMISSION_DENIED): it never reads a bucket nobody configured.",
    schema: list(bucketName),
    default: [],
  }),
  nodeId: setting({
    env: "STREAMFRONT_SHIELD_NODE_ID",
    flag: "node-id",
    doc: "Name this shield reports to the controller (the pod name); the host name when empty.",
    schema: text({ max: 253, pattern: /^[A-Za-z0-9._-]*$/, hint: "letters, digits, '.', '_' and '-' only" }),
    default: "",
  }),
  controllerHeartbeatMs: setting({
    env: "STREAMFRONT_SHIELD_CONTROLLER_HEARTBEAT_MS",
    flag: "controller-heartbeat-ms",
    doc: "How often the shield re-acknowledges its applied config version to the controller (its heartbeat).",
    schema: integer(100, 600_000),
    default: 5_000,
  }),
  configStateFile: setting({
    env: "STREAMFRONT_SHIELD_CONFIG_STATE_FILE",
    flag: "config-state-file",
    doc:
      "File the last applied distribution config (hence the bucket allowlist) is kept in and read at start, " +
      "so a shield restarted while the controller is unreachable serves the buckets it served before. Empty: memory only.",
    schema: text({ max: 4096 }),
    default: "",
  }),
  ...internalTlsSettings("STREAMFRONT_SHIELD"),
  logLevel: logLevelSetting("STREAMFRONT_SHIELD"),
  trace: traceSetting("STREAMFRONT_SHIELD", shieldTracers),
} as const;

export type ShieldConfig = ConfigOf<typeof shieldSettings>;

export function loadShieldConfig(sources: ConfigSources): ShieldConfig {
  const config = loadConfig(shieldSettings, sources);
  checkShieldConfig(config);
  return config;
}

/**
 * Checks what no single setting can: the TTLs' order and that the cache
 * tiers hold enough slices to work. Throws a ConfigError naming the
 * settings.
 */
function checkShieldConfig(config: ShieldConfig): void {
  const s = shieldSettings;
  if (
    !(config.minTtlSeconds <= config.defaultTtlSeconds && config.defaultTtlSeconds <= config.maxTtlSeconds)
  ) {
    throw new ConfigError(
      `invalid settings: TTLs must satisfy ${s.minTtlSeconds.env} (${config.minTtlSeconds}) ≤ ` +
        `${s.defaultTtlSeconds.env} (${config.defaultTtlSeconds}) ≤ ${s.maxTtlSeconds.env} (${config.maxTtlSeconds})`,
    );
  }
  if (config.cacheMemoryBytes !== 0 && config.cacheMemoryBytes < 4 * config.cacheSliceBytes) {
    throw new ConfigError(
      `invalid settings: ${s.cacheMemoryBytes.env} (${config.cacheMemoryBytes}) must be 0 or at least 4 slices ` +
        `of ${s.cacheSliceBytes.env} (${4 * config.cacheSliceBytes})`,
    );
  }
  if (config.cacheDiskDir !== "" && config.cacheDiskBytes < 4 * config.cacheSliceBytes) {
    throw new ConfigError(
      `invalid settings: ${s.cacheDiskBytes.env} (${config.cacheDiskBytes}) must be at least 4 slices ` +
        `of ${s.cacheSliceBytes.env} (${4 * config.cacheSliceBytes}) when ${s.cacheDiskDir.env} is set`,
    );
  }
}
