import { ApiError } from "../api-error.js";
import { quoteValue } from "../xml-reader.js";

/** arn:aws:cloudfront::<accountId>:streaming-distribution/<Id>, as on StreamingDistribution/ARN. */
export function streamingDistributionArn(accountId: string, id: string): string {
  return `arn:aws:cloudfront::${accountId}:streaming-distribution/${id}`;
}

// The tagging operations' ResourceARN pattern, from the service model.
const arnPattern = /^arn:aws(?:-cn)?:cloudfront::([0-9]+):(.*)$/;

/**
 * The distribution id in a tagging Resource ARN. InvalidArgument when it is
 * not a CloudFront ARN at all (the model's pattern); AccessDenied when it
 * names another account (AWS answers cross-account resources so, without
 * saying whether they exist); NoSuchResource when it is one of this
 * account's but not a streaming distribution.
 */
export function parseStreamingDistributionArn(arn: string, accountId: string): string {
  const match = arn.length <= 2048 ? arnPattern.exec(arn) : null;
  if (match === null) throw invalid(`The resource ARN ${quoteValue(arn)} is not a CloudFront ARN.`);
  if (match[1] !== accountId) {
    throw new ApiError(
      "AccessDenied",
      `Access denied: the resource ${quoteValue(arn)} belongs to another account.`,
    );
  }
  const id = /^streaming-distribution\/([A-Z0-9]{1,128})$/.exec(match[2] ?? "")?.[1];
  if (id === undefined) {
    throw new ApiError("NoSuchResource", `The resource ${quoteValue(arn)} does not exist.`);
  }
  return id;
}

function invalid(message: string): ApiError {
  return new ApiError("InvalidArgument", message);
}
