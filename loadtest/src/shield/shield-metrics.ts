import type { S3RequestRecord } from "../../../deploy/local/embedded-s3.js";

/**
 * What `bench:shield` reads from the shield's /metrics (shield/src/metrics.ts)
 * and from the embedded S3's request log, before and after each measurement.
 */

/**
 * The sum of a metric's samples whose labels include `labels`; NaN when the
 * shield exports no such metric (a renamed counter shows as n/a, not as 0).
 */
function metricSum(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  let found = false;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, "gm"))) {
    const have = new Map([...(match[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) {
      sum += Number(match[2]);
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

/** The shield's counters a measurement looks at. */
export interface ShieldCounters {
  readonly originGets: number;
  readonly originHeads: number;
  readonly originBytes: number;
  readonly servedBytes: number;
  readonly memoryHits: number;
  readonly misses: number;
  readonly collapsed: number;
  readonly readAhead: number;
  readonly abandoned: number;
  readonly evictions: number;
  readonly cacheBytes: number;
}

function parseCounters(text: string): ShieldCounters {
  return {
    originGets: metricSum(text, "streamfront_shield_origin_requests_total", { operation: "get" }),
    originHeads: metricSum(text, "streamfront_shield_origin_requests_total", { operation: "head" }),
    originBytes: metricSum(text, "streamfront_shield_origin_bytes_total"),
    servedBytes: metricSum(text, "streamfront_shield_served_bytes_total"),
    memoryHits: metricSum(text, "streamfront_shield_cache_hits_total", { tier: "memory" }),
    misses: metricSum(text, "streamfront_shield_cache_misses_total"),
    collapsed: metricSum(text, "streamfront_shield_cache_collapsed_total"),
    readAhead: metricSum(text, "streamfront_shield_cache_readahead_total"),
    abandoned: metricSum(text, "streamfront_shield_cache_abandoned_total"),
    evictions: metricSum(text, "streamfront_shield_cache_evictions_total"),
    cacheBytes: metricSum(text, "streamfront_shield_cache_bytes", { tier: "memory" }),
  };
}

/** after − before for every counter (gauges: the value after). */
export function counterDelta(before: ShieldCounters, after: ShieldCounters): ShieldCounters {
  const out: Record<string, number> = {};
  for (const key of Object.keys(after) as (keyof ShieldCounters)[]) {
    out[key] = key === "cacheBytes" ? after[key] : after[key] - before[key];
  }
  return out as unknown as ShieldCounters;
}

export async function scrapeCounters(adminAddress: string): Promise<ShieldCounters> {
  const response = await fetch(`http://${adminAddress}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`shield /metrics answered ${response.status}`);
  return parseCounters(await response.text());
}

/** What the embedded S3 saw for one key. */
export interface S3Seen {
  readonly gets: number;
  /** GETs the client (the shield) hung up on before the body was sent: abandoned or cancelled fetches. */
  readonly getsAborted: number;
  readonly heads: number;
  /** Sum of the GETs' Range lengths (whole object for a GET without Range). */
  readonly bytesAsked: number;
}

export function s3Seen(records: readonly S3RequestRecord[], key: string, objectSize: number): S3Seen {
  let gets = 0;
  let getsAborted = 0;
  let heads = 0;
  let bytesAsked = 0;
  for (const record of records) {
    if (record.key !== key) continue;
    if (record.method === "HEAD") heads++;
    if (record.method !== "GET") continue;
    gets++;
    if (record.outcome === "aborted") getsAborted++;
    bytesAsked += rangeLength(record.range, objectSize);
  }
  return { gets, getsAborted, heads, bytesAsked };
}

/** Bytes a Range header asks for ("bytes=a-b", "bytes=a-"), cut at the object's end. */
function rangeLength(range: string | undefined, objectSize: number): number {
  if (!range) return objectSize;
  const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!match) return 0;
  const [, a = "", b = ""] = match;
  if (a === "") return Math.min(objectSize, Number(b));
  const start = Number(a);
  const end = b === "" ? objectSize - 1 : Math.min(objectSize - 1, Number(b));
  return Math.max(0, end - start + 1);
}
