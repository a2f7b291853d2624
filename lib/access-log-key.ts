/**
 * The S3 key of a delivered access-log file, CloudFront's pattern
 * `<prefix><DistributionId>.YYYY-MM-DD-HH.<unique>.gz`. The edge names its
 * spool files with it and the shield checks every delivery against it, so
 * an edge can write nowhere but that distribution's log prefix: shared, in
 * lib/.
 */

/** A CloudFront-style distribution id (letters and digits). */
const distributionIdPattern = /^[A-Za-z0-9]{1,64}$/;
/** YYYY-MM-DD-HH, UTC. */
const hourPattern = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])-([01]\d|2[0-3])$/;
/** The unique part: lowercase hex, derived from the edge's node id and its spool sequence. */
const uniquePattern = /^[0-9a-f]{8,40}$/;

/** The UTC hour of a time, as the log file names spell it. */
export function logHourOf(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)}-${iso.slice(11, 13)}`;
}

/** Why the parts cannot name a log file, or null when they can. */
export function logKeyProblem(distributionId: string, hour: string, unique: string): string | null {
  if (!distributionIdPattern.test(distributionId)) return "distribution id must be 1–64 letters and digits";
  if (!hourPattern.test(hour)) return "hour must be YYYY-MM-DD-HH";
  if (!uniquePattern.test(unique)) return "unique must be 8–40 lowercase hex digits";
  return null;
}

/** `<prefix><DistributionId>.YYYY-MM-DD-HH.<unique>.gz`; the parts must have passed logKeyProblem. */
export function accessLogKey(prefix: string, distributionId: string, hour: string, unique: string): string {
  return `${prefix}${distributionId}.${hour}.${unique}.gz`;
}

/**
 * The bucket a Logging.Bucket value names: CloudFront takes
 * `name.s3.amazonaws.com` (the part before `.s3`), and a bare name as is.
 */
export function logBucketName(bucket: string): string {
  const at = bucket.indexOf(".s3");
  return at > 0 ? bucket.slice(0, at) : bucket;
}
