import { AuthError, AuthFailure } from "./auth-error.js";

/** Supplies the current time in epoch milliseconds; tests inject a fixed one. */
export type Clock = () => number;

/**
 * How far a request's date may be from the server's clock, either way.
 * AWS allows 5 minutes for most services and 15 for S3 and STS; the wider
 * window suits self-hosted machines whose clocks are less well kept.
 */
export const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

/** YYYYMMDDTHHMMSSZ, SigV4's x-amz-date ("ISO 8601 basic format"). */
const amzDatePattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
/** RFC 1123 (and the RFC 822 form without weekday), with GMT/UT/UTC/Z or a numeric zone. */
const rfc1123Pattern =
  /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UTC|UT|Z|[+-]\d{4})$/;
/** ISO 8601 extended, e.g. 2009-12-01T10:00:00Z or with fraction and offset. */
const isoExtendedPattern =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch ms of an x-amz-date value, or undefined when it is not exactly YYYYMMDDTHHMMSSZ. */
export function parseAmzDate(text: string): number | undefined {
  const m = amzDatePattern.exec(text);
  if (!m) return undefined;
  return utc(m[1], m[2], m[3], m[4], m[5], m[6], 0);
}

/**
 * Epoch ms of a legacy-scheme date (Date or x-amz-date header): RFC 1123 as
 * right_aws and fog sent it, or ISO 8601 in extended or basic form. Anything
 * else, including impossible dates such as 31 Feb, is undefined. Stricter
 * than Date.parse, whose accepted forms are engine-defined.
 */
export function parseHttpDate(text: string): number | undefined {
  const basic = parseAmzDate(text);
  if (basic !== undefined) return basic;
  const rfc = rfc1123Pattern.exec(text);
  if (rfc) {
    const month = months.indexOf(rfc[2] as (typeof months)[number]) + 1;
    return utc(rfc[3], String(month), rfc[1], rfc[4], rfc[5], rfc[6], zoneOffsetMinutes(rfc[7] ?? ""));
  }
  const iso = isoExtendedPattern.exec(text);
  if (iso) return utc(iso[1], iso[2], iso[3], iso[4], iso[5], iso[6], zoneOffsetMinutes(iso[7] ?? ""));
  return undefined;
}

/** 20261122T045845Z */
function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
}

/**
 * Refuses a request whose date lies outside now ± maxSkewMs, in the words
 * AWS uses, so people searching the message find the usual advice (fix the
 * clock; the JS SDK also corrects itself from the response's Date header).
 */
export function checkClockSkew(requestMs: number, nowMs: number, maxSkewMs: number): void {
  const window = formatWindow(maxSkewMs);
  if (requestMs < nowMs - maxSkewMs) {
    throw new AuthError(
      AuthFailure.Expired,
      `Signature expired: ${formatAmzDate(requestMs)} is now earlier than ` +
        `${formatAmzDate(nowMs - maxSkewMs)} (${formatAmzDate(nowMs)} - ${window})`,
    );
  }
  if (requestMs > nowMs + maxSkewMs) {
    throw new AuthError(
      AuthFailure.NotYetValid,
      `Signature not yet current: ${formatAmzDate(requestMs)} is still later than ` +
        `${formatAmzDate(nowMs + maxSkewMs)} (${formatAmzDate(nowMs)} + ${window})`,
    );
  }
}

function formatWindow(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min.`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

/** Minutes east of UTC for GMT/UTC/UT/Z, +hhmm or +hh:mm. */
function zoneOffsetMinutes(zone: string): number {
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === "-" ? -minutes : minutes;
}

/** Epoch ms, or undefined when a field is out of range (Date.UTC would roll it over). */
function utc(
  year: string | undefined,
  month: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
  offsetMinutes: number,
): number | undefined {
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi ||
    back.getUTCSeconds() !== s
  ) {
    return undefined;
  }
  return ms - offsetMinutes * 60_000;
}
