import { type DashboardSpec, datasourceVariable, edgeVariable, namespaceVariable } from "./common.js";
import { onEdges, rate, ratio, sel } from "./promql.js";

const e = 'instance=~"$edge"';

/** One edge or all of them: connections, egress, the cache, the shields behind them, and the process. */
export const edge: DashboardSpec = {
  name: "edge",
  uid: "streamfront-edge",
  title: "Streamfront / Edge",
  description:
    "Per-edge connections, egress, slow viewers, cache, shield failovers, event-loop lag and memory.",
  variables: [datasourceVariable(), namespaceVariable(), edgeVariable()],
  panels: [
    {
      title: "Connections by protocol",
      description: "Open viewer connections per edge and protocol.",
      unit: "short",
      targets: [
        {
          expr: `sum by (instance, protocol) (${sel("streamfront_edge_connections", e)})`,
          legend: "{{instance}} {{protocol}}",
        },
      ],
    },
    {
      title: "Viewers by protocol",
      description: "Connections that started a play, per edge and protocol.",
      unit: "short",
      targets: [
        {
          expr: `sum by (instance, protocol) (${sel("streamfront_edge_viewers", e)})`,
          legend: "{{instance}} {{protocol}}",
        },
      ],
    },
    {
      title: "Egress",
      description: "Bytes per second written to viewers, per edge.",
      unit: "Bps",
      targets: [
        {
          expr: `sum by (instance) (${rate("streamfront_edge_egress_bytes_total", e)})`,
          legend: "{{instance}}",
        },
      ],
    },
    {
      title: "New connections",
      description: "Viewer connections accepted per second, per edge and protocol.",
      unit: "cps",
      targets: [
        {
          expr: `sum by (instance, protocol) (${rate("streamfront_edge_connections_total", e)})`,
          legend: "{{instance}} {{protocol}}",
        },
      ],
    },
    {
      title: "Slow-viewer drops",
      description: "Viewers dropped per second because they read slower than their stream plays.",
      unit: "cps",
      targets: [
        {
          expr: `sum by (instance) (${rate("streamfront_edge_slow_viewer_drops_total", e)})`,
          legend: "{{instance}}",
        },
      ],
    },
    {
      title: "Cache hit ratio",
      description: "Bytes of slices looked up in the edge cache that were there, per edge.",
      unit: "percentunit",
      targets: [
        {
          expr: ratio(
            rate("streamfront_edge_cache_read_bytes_total", e, 'result="hit"'),
            rate("streamfront_edge_cache_read_bytes_total", e),
            ["instance"],
          ),
          legend: "{{instance}}",
        },
      ],
    },
    {
      title: "Cache lookups",
      description:
        "Slice lookups per second by result: hit, miss (fetched from a shield), collapsed (joined a fetch).",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (instance, result) (${rate("streamfront_edge_cache_requests_total", e)})`,
          legend: "{{instance}} {{result}}",
        },
      ],
    },
    {
      title: "Cache size",
      description: "Bytes held by each edge's slice cache.",
      unit: "bytes",
      targets: [
        { expr: `sum by (instance) (${sel("streamfront_edge_cache_bytes", e)})`, legend: "{{instance}}" },
      ],
    },
    {
      title: "Shield failovers",
      description:
        "Shield calls moved to the next replica per second, after a replica failed, timed out or went silent.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (instance) (${rate("streamfront_edge_shield_failovers_total", e)})`,
          legend: "{{instance}}",
        },
      ],
    },
    {
      title: "Shield calls by result",
      description: "StatObject and ReadRange calls to the shields per second, by result.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (instance, result) (${rate("streamfront_edge_shield_requests_total", e)})`,
          legend: "{{instance}} {{result}}",
        },
      ],
    },
    {
      title: "Shield replicas",
      description: "Shield replicas each edge knows, healthy or penalized.",
      unit: "short",
      targets: [
        {
          expr: `sum by (instance, state) (${sel("streamfront_edge_shield_replicas", e)})`,
          legend: "{{instance}} {{state}}",
        },
      ],
    },
    {
      title: "Event-loop lag",
      description: "The edge process's event-loop lag (prom-client's monitorEventLoopDelay): p50 and p99.",
      unit: "s",
      targets: [
        {
          expr: onEdges(sel("nodejs_eventloop_lag_p50_seconds", e)),
          legend: "{{instance}} p50",
        },
        {
          expr: onEdges(sel("nodejs_eventloop_lag_p99_seconds", e)),
          legend: "{{instance}} p99",
        },
      ],
    },
    {
      title: "Resident memory",
      description: "The edge process's resident set size.",
      unit: "bytes",
      targets: [{ expr: onEdges(sel("process_resident_memory_bytes", e)), legend: "{{instance}}" }],
    },
    {
      title: "CPU",
      description: "CPU seconds per second the edge process used (user and system).",
      unit: "percentunit",
      targets: [{ expr: onEdges(rate("process_cpu_seconds_total", e)), legend: "{{instance}}" }],
    },
  ],
};
