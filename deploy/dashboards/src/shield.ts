import { type DashboardSpec, datasourceVariable, namespaceVariable } from "./common.js";
import { quantile, rate, ratio, sel } from "./promql.js";

/** S3's retriable failures: each such attempt is retried (README: the shield's origin_requests_total). */
const retried = 'result=~"throttled|server_error|reset|timeout"';
const failed = 'result=~"throttled|server_error|reset|timeout|error"';

/** The shield tier: where the slices readers use come from, and S3 behind it, by bucket. */
export const shield: DashboardSpec = {
  name: "shield",
  uid: "streamfront-shield",
  title: "Streamfront / Shield",
  description:
    "Shield cache hit ratio by tier, collapsed fetches, S3 latency, errors and retries by bucket, bytes served.",
  variables: [datasourceVariable(), namespaceVariable()],
  panels: [
    {
      title: "Hit ratio by tier",
      description:
        "Share of the bytes readers used by where they came from: memory_hit, disk_hit, collapsed (joined a fetch in flight), miss (their own S3 GET).",
      unit: "percentunit",
      targets: [
        {
          expr: `sum by (result) (${rate("streamfront_shield_cache_read_bytes_total")}) / ignoring (result) group_left () sum (${rate("streamfront_shield_cache_read_bytes_total")})`,
          legend: "{{result}}",
        },
      ],
    },
    {
      title: "Collapse ratio",
      description:
        "Slices not in a cache tier that a reader took from a fetch already in flight instead of starting its own S3 GET.",
      unit: "percentunit",
      targets: [
        {
          expr: `sum (${rate("streamfront_shield_cache_collapsed_total")}) / (sum (${rate("streamfront_shield_cache_collapsed_total")}) + sum (${rate("streamfront_shield_cache_misses_total")}))`,
          legend: "collapsed",
        },
      ],
    },
    {
      title: "Bytes served",
      description: "Object bytes per second sent to edges, and body bytes per second read from S3 by bucket.",
      unit: "Bps",
      targets: [
        { expr: `sum (${rate("streamfront_shield_served_bytes_total")})`, legend: "served to edges" },
        {
          expr: `sum by (bucket) (${rate("streamfront_shield_origin_bytes_total")})`,
          legend: "from S3 {{bucket}}",
        },
      ],
    },
    {
      title: "S3 latency by bucket",
      description: "Time until S3 answered (headers), p50 and p99, by bucket and operation.",
      unit: "s",
      targets: [0.5, 0.99].map((q) => ({
        expr: quantile(q, "streamfront_shield_origin_request_duration_seconds", ["bucket", "operation"]),
        legend: `{{bucket}} {{operation}} p${q * 100}`,
      })),
    },
    {
      title: "S3 requests by result",
      description: "Requests to S3 per second (each retry counts), by bucket, operation and result.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (bucket, operation, result) (${rate("streamfront_shield_origin_requests_total")})`,
          legend: "{{bucket}} {{operation}} {{result}}",
        },
      ],
    },
    {
      title: "S3 error ratio by bucket",
      description: "S3 requests that failed (throttled, 5xx, reset, timeout, error) per request, by bucket.",
      unit: "percentunit",
      targets: [
        {
          expr: ratio(
            rate("streamfront_shield_origin_requests_total", failed),
            rate("streamfront_shield_origin_requests_total"),
            ["bucket"],
          ),
          legend: "{{bucket}}",
        },
      ],
    },
    {
      title: "S3 retries by bucket",
      description:
        "S3 attempts per second that failed retriably (throttled, 5xx, reset, timeout) and were tried again, by bucket; 0 where none.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (bucket) (${rate("streamfront_shield_origin_requests_total", retried)}) or sum by (bucket) (${rate("streamfront_shield_origin_requests_total")}) * 0`,
          legend: "{{bucket}}",
        },
      ],
    },
    {
      title: "S3 queue",
      description:
        "S3 requests waiting for a bucket slot, by lane (read, open, lookup), and ReadRange calls streaming.",
      unit: "short",
      targets: [
        {
          expr: `sum by (lane) (${sel("streamfront_shield_origin_queued_requests")})`,
          legend: "queued {{lane}}",
        },
        { expr: `sum (${sel("streamfront_shield_active_range_reads")})`, legend: "active range reads" },
      ],
    },
    {
      title: "Cache tier size",
      description: "Bytes of slices held by each cache tier.",
      unit: "bytes",
      targets: [{ expr: `sum by (tier) (${sel("streamfront_shield_cache_bytes")})`, legend: "{{tier}}" }],
    },
    {
      title: "Metadata lookups",
      description:
        "Object metadata lookups per second by result (hit, miss, revalidated, changed, negative_hit, stale).",
      unit: "reqps",
      targets: [
        { expr: `sum by (result) (${rate("streamfront_shield_stat_cache_total")})`, legend: "{{result}}" },
      ],
    },
  ],
};
