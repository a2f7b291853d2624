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

import { parseCacheControl } from "../../../lib/http/cache-control.js";

// Parsing is shared with the edge, which keeps object metadata by the same header.
export { type CacheDirectives, parseCacheControl } from "../../../lib/http/cache-control.js";

export interface FreshnessPolicy {
  readonly defaultTtlMs: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
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

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
