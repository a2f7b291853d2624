import { S3Client } from "@aws-sdk/client-s3";

export interface S3ClientOptions {
  /** http(s) URL of an S3-compatible endpoint; empty or absent means AWS itself. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** bucket in the path (http://host/bucket/key) instead of the host name; needed by most S3 clones. */
  readonly forcePathStyle: boolean;
  /** Both empty or absent: the SDK's default credential chain (env, profile, IRSA, instance role). */
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
}

/**
 * The one place an S3Client is built, for the shield, the local embedded S3
 * and the tests.
 *
 * Checksums are only computed when an operation requires them: since
 * SDK 3.729 the default adds CRC32 trailers to uploads with aws-chunked
 * encoding, which S3 clones such as s3rver store verbatim (the object grows
 * by the chunk framing). Real S3 accepts either.
 */
export function createS3Client(options: S3ClientOptions): S3Client {
  const hasKeys = Boolean(options.accessKeyId) && Boolean(options.secretAccessKey);
  return new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(hasKeys
      ? {
          credentials: {
            accessKeyId: options.accessKeyId ?? "",
            secretAccessKey: options.secretAccessKey ?? "",
          },
        }
      : {}),
  });
}
