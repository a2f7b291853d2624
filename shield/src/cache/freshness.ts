/**
 * How long the shield trusts what it learned about an object, by the rules
 * CloudFront applies to a cache behaviour's Minimum, Default and Maximum TTL
 * (Developer Guide, "Manage how long content stays in the cache"):
 *
 * - No Cache-Control max-age or s-maxage: the default TTL.
 * - max-age (or s-maxage, which wins: the shield is a shared cache) within
 *   [min, max] as it is; below min → min; above max → max.
 * - no-cache, no-store or private: with min TTL 0 the object is not cached:
 *   every stat goes back to S3 (a conditional HEAD when the shield still
 *   holds the ETag); with min TTL above 0 CloudFront caches such objects for
 *   the min TTL, and so does the shield.
 *
 * The TTL governs the object's metadata — above all which ETag a new play
 * gets. Slices need no TTL of their own: they are keyed by ETag, so a slice
 * is correct for its version forever; once revalidation finds a new ETag,
 * new plays read new slices and the old ones age out by eviction.
 */

export interface FreshnessPolicy {
  readonly defaultTtlMs: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
}

export interface CacheDirectives {
  /** Seconds; undefined when absent or malformed. */
  readonly maxAge: number | undefined;
  readonly sMaxAge: number | undefined;
  readonly noCache: boolean;
  readonly noStore: boolean;
  readonly private: boolean;
}

export interface Freshness {
  /** How long the metadata is fresh. 0: revalidate on every use. */
  readonly ttlMs: number;
  /**
   * Whether the object's bytes may be kept. False only for no-store or
   * private with min TTL 0, where CloudFront would not cache the object at
   * all: reads then go straight to S3, uncollapsed and uncached.
   */
  readonly storable: boolean;
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

/** The freshness of an object whose Cache-Control header is `cacheControl` (may be empty). */
export function freshnessOf(cacheControl: string, policy: FreshnessPolicy): Freshness {
  const d = parseCacheControl(cacheControl);
  if (d.noCache || d.noStore || d.private) {
    if (policy.minTtlMs > 0) return { ttlMs: policy.minTtlMs, storable: true };
    return { ttlMs: 0, storable: !(d.noStore || d.private) };
  }
  const seconds = d.sMaxAge ?? d.maxAge;
  if (seconds === undefined) return { ttlMs: policy.defaultTtlMs, storable: true };
  return { ttlMs: clamp(seconds * 1000, policy.minTtlMs, policy.maxTtlMs), storable: true };
}

/** Throws RangeError unless 0 ≤ min ≤ default ≤ max, as CloudFront requires of a cache behaviour. */
export function checkFreshnessPolicy(policy: FreshnessPolicy): void {
  const { minTtlMs, defaultTtlMs, maxTtlMs } = policy;
  if (!(minTtlMs >= 0 && minTtlMs <= defaultTtlMs && defaultTtlMs <= maxTtlMs)) {
    throw new RangeError(
      `TTLs must satisfy 0 ≤ min (${minTtlMs} ms) ≤ default (${defaultTtlMs} ms) ≤ max (${maxTtlMs} ms)`,
    );
  }
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

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
