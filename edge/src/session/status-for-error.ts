import { errorCode } from "../../../lib/errors.js";
import { EdgeErrorCode } from "../errors.js";

/**
 * Which status a viewer is told when something fails, in one table: the
 * NetStream onStatus code a play that failed on an edge error ends with.
 * Codes not listed end the play with NetStream.Play.Failed. (A name with no
 * object is NetStream.Play.StreamNotFound, which is no error; a connect the
 * edge refuses is NetConnection.Connect.Rejected with the CloudFront reason,
 * fms-messages.ts connectRejected; a protocol error closes the connection
 * without a status.)
 */
export type PlayFailureStatus = "NetStream.Play.Failed" | "NetStream.Play.FileStructureInvalid";

export const playFailureStatus: { readonly [code in EdgeErrorCode]?: PlayFailureStatus } = {
  // The object is there but no player could play it: Flash's own words for a broken file.
  [EdgeErrorCode.MediaInvalid]: "NetStream.Play.FileStructureInvalid",
  [EdgeErrorCode.MediaTooLarge]: "NetStream.Play.FileStructureInvalid",
  [EdgeErrorCode.ShieldUnavailable]: "NetStream.Play.Failed",
  [EdgeErrorCode.PlayStalled]: "NetStream.Play.Failed",
  [EdgeErrorCode.LookupRateLimited]: "NetStream.Play.Failed",
};

const byCode: ReadonlyMap<string, PlayFailureStatus> = new Map(Object.entries(playFailureStatus));

/** The status a play that failed with this edge code ends with. */
export function statusForCode(code: string | undefined): PlayFailureStatus {
  return (code === undefined ? undefined : byCode.get(code)) ?? "NetStream.Play.Failed";
}

/** The status a play failing with `error` ends with. */
export function statusForPlayError(error: unknown): PlayFailureStatus {
  return statusForCode(errorCode(error));
}
