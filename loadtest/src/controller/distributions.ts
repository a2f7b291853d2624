import {
  type CloudFrontClient,
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";

/** The StreamingDistributionConfig every distribution of the benchmark has, but for reference and comment. */
export function config(reference: string, comment: string) {
  return {
    CallerReference: reference,
    S3Origin: { DomainName: "bench-media.s3.amazonaws.com", OriginAccessIdentity: "" },
    Comment: comment,
    TrustedSigners: { Enabled: false, Quantity: 0 },
    Enabled: true,
  };
}

export async function create(
  client: CloudFrontClient,
  reference: string,
): Promise<{ id: string; etag: string }> {
  const out = await client.send(
    new CreateStreamingDistributionCommand({ StreamingDistributionConfig: config(reference, "bench") }),
  );
  return { id: out.StreamingDistribution!.Id!, etag: out.ETag! };
}

export async function isDeployed(client: CloudFrontClient, id: string): Promise<boolean> {
  const got = await client.send(new GetStreamingDistributionCommand({ Id: id }));
  return got.StreamingDistribution?.Status === "Deployed";
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
