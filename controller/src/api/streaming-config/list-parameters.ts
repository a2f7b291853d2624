import { ApiError } from "../api-error.js";
import { quoteValue } from "../xml-reader.js";

const defaultListMaxItems = 100;
const maxListMaxItems = 1000;

/**
 * The Marker and MaxItems query parameters of ListStreamingDistributions
 * (both optional strings on the wire); InvalidArgument when malformed.
 * Marker is the Id of the last item of the previous page ("" = from the start).
 */
export function parseListParameters(
  marker: string | undefined,
  maxItems: string | undefined,
): { marker: string; maxItems: number } {
  const from = marker ?? "";
  if (!/^[A-Z0-9]{0,128}$/.test(from)) throw invalid(`The marker ${quoteValue(from)} is not valid.`);
  if (maxItems === undefined || maxItems === "") return { marker: from, maxItems: defaultListMaxItems };
  const count = /^[0-9]{1,4}$/.test(maxItems) ? Number(maxItems) : Number.NaN;
  if (!(count >= 1 && count <= maxListMaxItems)) {
    throw invalid(`MaxItems ${quoteValue(maxItems)} must be an integer from 1 to ${maxListMaxItems}.`);
  }
  return { marker: from, maxItems: count };
}

function invalid(message: string): ApiError {
  return new ApiError("InvalidArgument", message);
}
