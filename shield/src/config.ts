import { boolean, hostPort, integer, list, port, text, url } from "../../lib/config/schemas.js";
import {
  type ConfigOf,
  type ConfigSources,
  loadConfig,
  logLevelSetting,
  setting,
} from "../../lib/config/settings.js";

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
  }),
  maxPieceBytes: setting({
    env: "STREAMFRONT_SHIELD_MAX_PIECE_BYTES",
    flag: "max-piece-bytes",
    doc: "Largest data piece in one ReadRange response message (16 KiB to 4 MiB).",
    schema: integer(16 * 1024, 4 * 1024 * 1024),
    default: 256 * 1024,
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
  logLevel: logLevelSetting("STREAMFRONT_SHIELD"),
} as const;

export type ShieldConfig = ConfigOf<typeof shieldSettings>;

export function loadShieldConfig(sources: ConfigSources): ShieldConfig {
  return loadConfig(shieldSettings, sources);
}
