import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

export interface S3ClientOptions {
  /** http(s) URL of an S3-compatible endpoint; empty or absent means AWS itself. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** bucket in the path (http://host/bucket/key) instead of the host name; needed by most S3 clones. */
  readonly forcePathStyle: boolean;
  /**
   * Static keys, for tests and local S3 clones. Both empty or absent (and
   * anonymous unset): the SDK's default credential chain, see createS3Client.
   */
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
  /**
   * Unsigned requests, for public buckets: no credentials are looked up and
   * no Authorization header is sent. Cannot be combined with static keys.
   * @default false
   */
  readonly anonymous?: boolean | undefined;
  /**
   * Attempts the SDK itself makes per request. The shield retries in its own
   * layer (shield/src/retry.ts: metrics per attempt, resuming a cut body),
   * so the SDK's retry stays off there; with both on, every failure would
   * be retried maxAttempts² times.
   * @default 1
   */
  readonly maxAttempts?: number | undefined;
  /** Milliseconds to establish a connection (TCP, and TLS for https). @default 3000 */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Sockets per host in the client's keep-alive pool (with virtual-hosted
   * addressing every bucket is its own host). Must not be below the shield's
   * per-bucket concurrency, or requests queue inside Node's agent where
   * neither the limiter nor the metrics see them. @default 256
   */
  readonly maxSockets?: number | undefined;
}

const s3ClientDefaults = { maxAttempts: 1, connectTimeoutMs: 3_000, maxSockets: 256 } as const;

/**
 * The one place an S3Client is built, for the shield, the local embedded S3
 * and the tests.
 *
 * Credentials, in order:
 * - static keys when both are given;
 * - anonymous (unsigned) when asked for;
 * - otherwise no `credentials` at all, which makes the SDK use its default
 *   provider chain (@aws-sdk/credential-provider-node `defaultProvider`,
 *   checked in 3.972): environment (AWS_ACCESS_KEY_ID…), SSO, the shared
 *   config/credentials files (AWS_PROFILE), credential_process, web identity
 *   (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: Kubernetes service accounts
 *   on EKS/IRSA), then container (ECS, EKS Pod Identity) and EC2 instance
 *   metadata. It is resolved lazily on the first request and refreshed
 *   before expiry by the SDK.
 *
 * Anonymous access uses the SDK's public `signer` option with a signer that
 * returns the request unchanged, plus a constant empty identity so that the
 * credential chain is never consulted (the SDK resolves an identity before
 * signing, and without one the default chain would fail on a machine with
 * no credentials). v3 has no documented anonymous mode; this is the
 * workaround given in aws-sdk-js-v3#2321 (labelled workaround-available
 * there), using only public options. The alternative, a `smithy.api#noAuth`
 * auth scheme as STS and SSO use internally, is typed @internal in client-s3.
 *
 * Checksums are only computed when an operation requires them: since
 * SDK 3.729 the default adds CRC32 trailers to uploads with aws-chunked
 * encoding, which S3 clones such as s3rver store verbatim (the object grows
 * by the chunk framing). Real S3 accepts either.
 */
export function createS3Client(options: S3ClientOptions): S3Client {
  const hasKeys = Boolean(options.accessKeyId) && Boolean(options.secretAccessKey);
  if (options.anonymous && (options.accessKeyId || options.secretAccessKey)) {
    throw new Error("S3 client: anonymous access and static keys exclude each other");
  }
  const maxSockets = options.maxSockets ?? s3ClientDefaults.maxSockets;
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: options.maxAttempts ?? s3ClientDefaults.maxAttempts,
    // Only the connect timeout lives here. Waiting for headers and for body
    // bytes is timed by S3Origin per attempt: the handler's socket timeout
    // would also count the pauses of a slow viewer's backpressure as
    // silence, and its requestTimeout only warns unless told to throw.
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? s3ClientDefaults.connectTimeoutMs,
      httpAgent: { maxSockets },
      httpsAgent: { maxSockets },
    },
    ...(options.endpoint
      ? { endpoint: options.endpoint }
      : // On AWS a bucket in another region answers 301; follow it rather
        // than fail every read of that bucket.
        { followRegionRedirects: true }),
  };
  if (hasKeys) {
    config.credentials = {
      accessKeyId: options.accessKeyId ?? "",
      secretAccessKey: options.secretAccessKey ?? "",
    };
  } else if (options.anonymous) {
    config.credentials = { accessKeyId: "", secretAccessKey: "" };
    config.signer = { sign: async (request) => request };
  }
  return new S3Client(config);
}

/** Where one origin's objects live: the part of S3ClientOptions that varies per origin. */
export interface S3Target {
  /** Empty or absent: AWS S3 in `region`. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly anonymous?: boolean | undefined;
}

/**
 * One S3Client per (endpoint, region, addressing, anonymous), built on first
 * use and shared after, for origins spread over regions or S3-compatible
 * endpoints. A client signs for one region, so a bucket elsewhere needs its
 * own; sharing keeps one keep-alive pool (and one credential cache) per
 * target instead of per bucket.
 */
export class S3ClientPool {
  readonly #shared: Omit<S3ClientOptions, keyof S3Target>;
  readonly #clients = new Map<string, S3Client>();

  /** `shared` applies to every client: credentials, timeouts, pool size. */
  constructor(shared: Omit<S3ClientOptions, keyof S3Target> = {}) {
    this.#shared = shared;
  }

  client(target: S3Target): S3Client {
    const key = JSON.stringify([
      target.endpoint ?? "",
      target.region,
      target.forcePathStyle,
      Boolean(target.anonymous),
    ]);
    let client = this.#clients.get(key);
    if (!client) {
      client = createS3Client({
        ...this.#shared,
        endpoint: target.endpoint,
        region: target.region,
        forcePathStyle: target.forcePathStyle,
        anonymous: target.anonymous,
        // Public buckets take no keys, even when the pool has some.
        ...(target.anonymous ? { accessKeyId: undefined, secretAccessKey: undefined } : {}),
      });
      this.#clients.set(key, client);
    }
    return client;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Closes every client's sockets. */
  destroy(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
