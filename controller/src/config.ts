import { integer, list, port, text } from "../../lib/config/schemas.js";
import {
  ConfigError,
  type ConfigOf,
  type ConfigSources,
  loadConfig,
  logLevelSetting,
  setting,
} from "../../lib/config/settings.js";
import { internalTlsSettings } from "../../lib/grpc/internal-tls.js";
import { redactUrlPassword } from "../../lib/log.js";
import { aliasProblem } from "./alias.js";
import { accessKeySettings } from "./api/auth/access-keys.js";

const hostName = text({
  min: 1,
  max: 253,
  pattern: /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/,
  hint: "expected a host name such as streamfront.local",
});

/** A CNAME as the API takes it (alias.ts), any case; it is stored lower case. */
function aliasName() {
  return text({ min: 1, max: 253 }).superRefine((value, context) => {
    const problem = aliasProblem(value.toLowerCase());
    if (problem !== undefined)
      context.addIssue({ code: "custom", message: `expected a host name: ${problem}` });
  });
}

/** Every setting of the controller. The README's table repeats these docs. */
export const controllerSettings = {
  host: setting({
    env: "STREAMFRONT_CONTROLLER_HOST",
    flag: "host",
    doc: "Address the gRPC listener binds to.",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  grpcPort: setting({
    env: "STREAMFRONT_CONTROLLER_GRPC_PORT",
    flag: "grpc-port",
    doc: "gRPC listener port (ConfigService for edges and shields). 0 picks a free port.",
    schema: port(),
    default: 7001,
  }),
  adminHost: setting({
    env: "STREAMFRONT_CONTROLLER_ADMIN_HOST",
    flag: "admin-host",
    doc: "Address of the admin listener (/metrics, /healthz, /readyz).",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  adminPort: setting({
    env: "STREAMFRONT_CONTROLLER_ADMIN_PORT",
    flag: "admin-port",
    doc: "Admin listener port. 0 picks a free port.",
    schema: port(),
    default: 9101,
  }),
  baseDomain: setting({
    env: "STREAMFRONT_CONTROLLER_BASE_DOMAIN",
    flag: "base-domain",
    doc: "Domain under which distributions get their names (sXXXXXXXXXXXXX.<base-domain>).",
    schema: hostName,
    default: "streamfront.local",
  }),
  demoBucket: setting<string>({
    env: "STREAMFRONT_CONTROLLER_DEMO_BUCKET",
    flag: "demo-bucket",
    doc:
      "When set, the controller creates at start-up one enabled streaming distribution with this origin " +
      "bucket and the demo-cname, so rtmp://<demo-cname>/cfx/st works without an API call.",
    schema: text({
      min: 3,
      max: 63,
      pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
      hint: "expected an S3 bucket name",
    }),
    default: "",
  }),
  demoCname: setting({
    env: "STREAMFRONT_CONTROLLER_DEMO_CNAME",
    flag: "demo-cname",
    doc:
      "CNAME of the demo distribution (only with demo-bucket): a host name (one label such as localhost " +
      "will do) or *.domain, never an IP address, by the same rule as the API's CNAMEs.",
    schema: aliasName(),
    default: "localhost",
  }),
  apiHost: setting({
    env: "STREAMFRONT_CONTROLLER_API_HOST",
    flag: "api-host",
    doc: "Address the CloudFront control API (HTTP) binds to.",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  apiPort: setting({
    env: "STREAMFRONT_CONTROLLER_API_PORT",
    flag: "api-port",
    doc: "CloudFront control API port (the AWS SDK's/CLI's --endpoint-url). 0 picks a free port.",
    schema: port(),
    default: 7003,
  }),
  apiPublicUrl: setting<string>({
    env: "STREAMFRONT_CONTROLLER_API_PUBLIC_URL",
    flag: "api-public-url",
    doc: "Base URL of the API as clients reach it, for Location headers; empty uses the request's Host.",
    schema: text({ min: 0, max: 2048, pattern: /^(https?:\/\/\S+)?$/, hint: "expected an http(s):// URL" }),
    default: "",
  }),
  accountId: setting({
    env: "STREAMFRONT_CONTROLLER_ACCOUNT_ID",
    flag: "account-id",
    doc:
      "The 12-digit account number of this installation: in distribution ARNs, what TrustedSigners Self " +
      "means, and the owner of the public keys made with CreatePublicKey.",
    schema: text({ min: 12, max: 12, pattern: /^[0-9]{12}$/, hint: "expected 12 digits" }),
    default: "000000000000",
  }),
  ...accessKeySettings,
  maxDistributions: setting({
    env: "STREAMFRONT_CONTROLLER_MAX_DISTRIBUTIONS",
    flag: "max-distributions",
    doc: "Quota of streaming distributions (CloudFront: 100); more get TooManyStreamingDistributions.",
    schema: integer(1, 1_000_000),
    default: 100,
  }),
  maxPublicKeys: setting({
    env: "STREAMFRONT_CONTROLLER_MAX_PUBLIC_KEYS",
    flag: "max-public-keys",
    doc: "Quota of public keys (CreatePublicKey; CloudFront: 10); more get TooManyPublicKeys.",
    schema: integer(1, 100_000),
    default: 10,
  }),
  trustedKeysFile: setting<string>({
    env: "STREAMFRONT_CONTROLLER_TRUSTED_KEYS_FILE",
    flag: "trusted-keys-file",
    doc:
      "A JSON file of public keys of other trusted accounts, [{id, accountId, encodedKey}], pushed to " +
      "edges with this account's keys and reloaded when it changes; never listed by the API. Empty: none.",
    schema: text({ min: 0, max: 4096 }),
    default: "",
  }),
  maxCnames: setting({
    env: "STREAMFRONT_CONTROLLER_MAX_CNAMES",
    flag: "max-cnames",
    doc: "CNAMEs per streaming distribution (CloudFront: 10).",
    schema: integer(0, 100),
    default: 10,
  }),
  maxTags: setting({
    env: "STREAMFRONT_CONTROLLER_MAX_TAGS",
    flag: "max-tags",
    doc: "Tags per distribution (CloudFront: 50).",
    schema: integer(0, 1000),
    default: 50,
  }),
  trustedSignerAccounts: setting<readonly string[]>({
    env: "STREAMFRONT_CONTROLLER_TRUSTED_SIGNER_ACCOUNTS",
    flag: "trusted-signer-accounts",
    doc:
      "Comma-separated 12-digit accounts that may be named as trusted signers; any other gets " +
      "TrustedSignerDoesNotExist. Empty accepts any 12-digit account.",
    schema: list(text({ min: 12, max: 12, pattern: /^[0-9]{12}$/, hint: "expected 12 digits" })),
    default: [],
  }),
  maxBodyBytes: setting({
    env: "STREAMFRONT_CONTROLLER_MAX_BODY_BYTES",
    flag: "max-body-bytes",
    doc: "Largest API request body; larger ones are refused (EntityTooLarge) before they are read.",
    schema: integer(1024, 10 * 1024 * 1024),
    default: 65_536,
  }),
  apiMaxConnections: setting({
    env: "STREAMFRONT_CONTROLLER_API_MAX_CONNECTIONS",
    flag: "api-max-connections",
    doc: "Open connections to the control API in total; more are answered Throttling and closed.",
    schema: integer(1, 1_000_000),
    default: 1024,
  }),
  apiMaxConnectionsPerAddress: setting({
    env: "STREAMFRONT_CONTROLLER_API_MAX_CONNECTIONS_PER_ADDRESS",
    flag: "api-max-connections-per-address",
    doc:
      "Open connections to the control API from one client address (operators behind one NAT share it); " +
      "more are answered Throttling and closed.",
    schema: integer(1, 1_000_000),
    default: 64,
  }),
  apiMaxConcurrentRequests: setting({
    env: "STREAMFRONT_CONTROLLER_API_MAX_CONCURRENT_REQUESTS",
    flag: "api-max-concurrent-requests",
    doc:
      "Authenticated API requests handled at once; more get Throttling. A request counts only once its " +
      "headers are authenticated, so unsigned clients cannot fill it.",
    schema: integer(1, 100_000),
    default: 256,
  }),
  apiHeadersTimeoutMs: setting({
    env: "STREAMFRONT_CONTROLLER_API_HEADERS_TIMEOUT_MS",
    flag: "api-headers-timeout-ms",
    doc: "Time a client has from connecting (or from a request's first byte) to the end of its headers; then 408 and close.",
    schema: integer(1000, 600_000),
    default: 10_000,
  }),
  apiBodyTimeoutMs: setting({
    env: "STREAMFRONT_CONTROLLER_API_BODY_TIMEOUT_MS",
    flag: "api-body-timeout-ms",
    doc: "Time a request's body has to arrive once its headers are authenticated; then RequestTimeout and close.",
    schema: integer(1000, 600_000),
    default: 10_000,
  }),
  redisUrl: setting<string>({
    env: "STREAMFRONT_CONTROLLER_REDIS_URL",
    flag: "redis-url",
    doc:
      "Where distributions live: empty for the embedded in-process store (single machine), else " +
      "redis://host:port[/db], rediss://…, redis-sentinel://host:port,host:port/master or " +
      "redis-cluster://host:port,host:port. Several controller replicas share one Redis.",
    schema: text({ min: 0, max: 4096 }),
    default: "",
    // A password in the URL (redis://user:pass@host) is never shown.
    secret: redactUrlPassword,
  }),
  storeFile: setting<string>({
    env: "STREAMFRONT_CONTROLLER_STORE_FILE",
    flag: "store-file",
    doc:
      "Without redis-url: a JSON file that keeps the embedded store's distributions across restarts " +
      "(loaded at start, rewritten atomically after every change; a corrupt file stops start-up). " +
      "Empty: in memory only.",
    schema: text({ min: 0, max: 4096 }),
    default: "",
  }),
  redisPrefix: setting({
    env: "STREAMFRONT_CONTROLLER_REDIS_PREFIX",
    flag: "redis-prefix",
    doc: "Prefix of every Redis key, so several installations can share one Redis.",
    schema: text({ min: 1, max: 64, pattern: /^[A-Za-z0-9:_.-]+$/, hint: "letters, digits and : _ . -" }),
    default: "streamfront:",
  }),
  watcherTtlMs: setting({
    env: "STREAMFRONT_CONTROLLER_WATCHER_TTL_MS",
    flag: "watcher-ttl-ms",
    doc:
      "An edge that has not acknowledged or heartbeated for this long leaves the live set, and " +
      "distributions stop waiting for it to become Deployed.",
    schema: integer(1000, 3_600_000),
    default: 15_000,
  }),
  ...internalTlsSettings("STREAMFRONT_CONTROLLER"),
  logLevel: logLevelSetting("STREAMFRONT_CONTROLLER"),
} as const;

export type ControllerConfig = ConfigOf<typeof controllerSettings>;

export function loadControllerConfig(sources: ConfigSources): ControllerConfig {
  const config = loadConfig(controllerSettings, sources);
  if (config.redisUrl !== "" && config.storeFile !== "") {
    const { redisUrl, storeFile } = controllerSettings;
    throw new ConfigError(
      `set only one of redis-url (${redisUrl.env}, --${redisUrl.flag}) and store-file ` +
        `(${storeFile.env}, --${storeFile.flag}): distributions live in Redis or in the file`,
    );
  }
  return config;
}
