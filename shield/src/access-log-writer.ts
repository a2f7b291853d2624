import { gunzipSync } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { accessLogKey, logBucketName, logKeyProblem } from "../../lib/access-log-key.js";
import type { Logger } from "../../lib/log.js";
import { ShieldError, ShieldErrorCode } from "./errors.js";
import { bucketProblem, keyProblem } from "./object-key.js";

/** A distribution's Logging as this shield's config knows it. */
export interface LoggingTarget {
  readonly enabled: boolean;
  /** As configured: `name` or CloudFront's `name.s3.amazonaws.com`. */
  readonly bucket: string;
  readonly prefix: string;
}

export interface AccessLogDelivery {
  readonly distributionId: string;
  readonly hour: string;
  readonly unique: string;
  readonly gzipped: Buffer;
}

export interface AccessLogWriterOptions {
  readonly client: S3Client;
  /** The distribution's Logging from the pushed config; undefined for a distribution this shield does not know. */
  logging(distributionId: string): LoggingTarget | undefined;
  readonly logger: Logger;
  /** One PUT attempt's deadline. */
  readonly timeoutMs: number;
  /** PUT attempts before the call fails with SHIELD_ERR_ORIGIN_UNAVAILABLE (the edge retries later). */
  readonly maxAttempts: number;
}

/** A delivered file, unzipped, may be at most this large: a spool file is bounded far below. */
const maxLogTextBytes = 4 * 1024 * 1024;
const logMagic = "#Version: 1.0\n";

/**
 * Writes edges' access-log files to logging buckets. Edges hold no S3
 * credentials; the shield does, so it is the one writer, and it writes
 * nowhere an edge chooses: the bucket and prefix come from this shield's
 * own copy of the distribution's config, the rest of the key must be
 * CloudFront's `<DistributionId>.YYYY-MM-DD-HH.<unique>.gz`, and the body
 * must be a gzipped W3C log. An origin bucket is written only when a
 * distribution's Logging names it.
 */
export class AccessLogWriter {
  readonly #options: AccessLogWriterOptions;

  constructor(options: AccessLogWriterOptions) {
    this.#options = options;
  }

  async deliver(
    request: AccessLogDelivery,
    signal: AbortSignal,
  ): Promise<{ readonly bucket: string; readonly key: string }> {
    const { distributionId, hour, unique, gzipped } = request;
    const problem = logKeyProblem(distributionId, hour, unique);
    if (problem) throw new ShieldError(ShieldErrorCode.InvalidArgument, problem);
    const logging = this.#options.logging(distributionId);
    if (!logging?.enabled) {
      throw new ShieldError(
        ShieldErrorCode.LoggingNotEnabled,
        `distribution ${distributionId} has no Logging enabled in this shield's config`,
      );
    }
    const bucket = logBucketName(logging.bucket);
    const badBucket = bucketProblem(bucket);
    if (badBucket) throw new ShieldError(ShieldErrorCode.InvalidArgument, `logging bucket: ${badBucket}`);
    const key = accessLogKey(logging.prefix, distributionId, hour, unique);
    const badKey = keyProblem(key);
    if (badKey) throw new ShieldError(ShieldErrorCode.InvalidKey, `logging prefix: ${badKey}`);
    checkLogBody(gzipped);
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#options.maxAttempts; attempt++) {
      if (signal.aborted) throw new ShieldError(ShieldErrorCode.Aborted, "call cancelled");
      const attemptSignal = AbortSignal.any([signal, AbortSignal.timeout(this.#options.timeoutMs)]);
      try {
        await this.#options.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: gzipped,
            ContentType: "application/x-gzip",
          }),
          { abortSignal: attemptSignal },
        );
        this.#options.logger.debug({ bucket, key, bytes: gzipped.length }, "access log delivered");
        return { bucket, key };
      } catch (error) {
        lastError = error;
      }
    }
    this.#options.logger.warn(
      { bucket, key, code: ShieldErrorCode.OriginUnavailable, err: String(lastError) },
      "access-log PUT failed; the edge keeps the file and tries again",
    );
    throw new ShieldError(ShieldErrorCode.OriginUnavailable, "S3 failed the access-log PUT", {
      cause: lastError,
    });
  }
}

/** The body must be a gzipped W3C log (so an edge cannot store arbitrary bytes), of bounded size. */
function checkLogBody(gzipped: Buffer): void {
  let text: Buffer;
  try {
    text = gunzipSync(gzipped, { maxOutputLength: maxLogTextBytes });
  } catch {
    throw new ShieldError(ShieldErrorCode.InvalidArgument, "body is not gzip of a bounded access log");
  }
  if (!text.subarray(0, logMagic.length).equals(Buffer.from(logMagic))) {
    throw new ShieldError(ShieldErrorCode.InvalidArgument, "body is not a W3C access log (#Version: 1.0)");
  }
}
