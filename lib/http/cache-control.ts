/**
 * Cache-Control, as the shield and the edge read it (RFC 9111): only the
 * directives that decide how long metadata may be kept.
 */

export interface CacheDirectives {
  /** Seconds; undefined when absent or malformed. */
  readonly maxAge: number | undefined;
  readonly sMaxAge: number | undefined;
  readonly noCache: boolean;
  readonly noStore: boolean;
  readonly private: boolean;
}

/**
 * RFC 9111 §1.2.2: a delta-seconds above 2^31 is taken as 2^31. Anything
 * larger is clamped anyway by max TTL, but the cap keeps the arithmetic
 * exact.
 */
const maxDeltaSeconds = 2 ** 31;
/** S3 metadata values are short; a longer header is cut before parsing rather than split without bound. */
const maxHeaderChars = 4096;

/** Reads the directives freshness depends on; unknown ones are ignored, malformed values count as absent. */
export function parseCacheControl(header: string): CacheDirectives {
  let maxAge: number | undefined;
  let sMaxAge: number | undefined;
  let noCache = false;
  let noStore = false;
  let isPrivate = false;
  for (const part of header.slice(0, maxHeaderChars).split(",")) {
    const eq = part.indexOf("=");
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : part.slice(eq + 1).trim();
    switch (name) {
      case "max-age":
        // RFC 9111 §4.2.1: with a directive given twice the response is
        // treated as stale; taking the smallest is the safe equivalent.
        maxAge = smaller(maxAge, deltaSeconds(value));
        break;
      case "s-maxage":
        sMaxAge = smaller(sMaxAge, deltaSeconds(value));
        break;
      case "no-cache":
        noCache = true;
        break;
      case "no-store":
        noStore = true;
        break;
      case "private":
        isPrivate = true;
        break;
      default:
        break;
    }
  }
  return { maxAge, sMaxAge, noCache, noStore, private: isPrivate };
}

function deltaSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const unquoted =
    value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  if (!/^\d{1,20}$/.test(unquoted)) return undefined;
  return Math.min(Number(unquoted), maxDeltaSeconds);
}

function smaller(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
