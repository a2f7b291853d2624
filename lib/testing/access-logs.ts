import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { embeddedS3Credentials } from "../../deploy/local/embedded-s3.js";
import { createS3Client } from "../s3-client.js";
import { parseW3cLog, type W3cLog } from "./w3c-log.js";

/** One delivered access-log object, read back and parsed. */
export interface DeliveredLog {
  readonly key: string;
  readonly gzipped: Buffer;
  readonly log: W3cLog;
}

/** Every object under prefix in an embedded S3 bucket, gunzipped and parsed as W3C (throws on any that is not). */
export async function readDeliveredLogs(
  endpoint: string,
  bucket: string,
  prefix = "",
): Promise<DeliveredLog[]> {
  const client = createS3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    ...embeddedS3Credentials,
  });
  try {
    const out: DeliveredLog[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: item.Key! }));
        const gzipped = Buffer.from(await object.Body!.transformToByteArray());
        out.push({ key: item.Key!, gzipped, log: parseW3cLog(gunzipSync(gzipped).toString("utf8")) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => a.key.localeCompare(b.key));
  } finally {
    client.destroy();
  }
}
