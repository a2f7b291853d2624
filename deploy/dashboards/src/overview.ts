import { type DashboardSpec, datasourceVariable, distributionVariable, namespaceVariable } from "./common.js";
import { quantile, rate, ratio, sel } from "./promql.js";

const d = 'distribution=~"$distribution"';

/** The whole service at a glance: what viewers get and whether the control plane keeps up. */
export const overview: DashboardSpec = {
  name: "overview",
  uid: "streamfront-overview",
  title: "Streamfront / Overview",
  description:
    "Viewers, egress, plays, errors, time to first frame and distribution deployments over all edges.",
  variables: [datasourceVariable(), namespaceVariable(), distributionVariable()],
  panels: [
    {
      title: "Viewers",
      description: "Open connections that started a play, over all edges.",
      unit: "short",
      stat: true,
      targets: [{ expr: `sum(${sel("streamfront_edge_viewers", d)})` }],
    },
    {
      title: "Egress",
      description: "Bytes per second written to viewers, over all edges.",
      unit: "Bps",
      stat: true,
      targets: [{ expr: `sum(${rate("streamfront_edge_egress_bytes_total", d)})` }],
    },
    {
      title: "Play failure ratio",
      description: "Play requests refused or failed (failed, not_found, denied) per play request.",
      unit: "percentunit",
      stat: true,
      targets: [
        {
          expr: ratio(
            rate("streamfront_edge_plays_total", d, 'result=~"failed|not_found|denied"'),
            rate("streamfront_edge_plays_total", d, 'result!="completed"'),
            [],
          ),
        },
      ],
    },
    {
      title: "Edges up",
      description: "Edges Prometheus scraped successfully at the last scrape.",
      unit: "short",
      stat: true,
      width: 6,
      targets: [{ expr: `sum(up and on (job, instance) ${sel("streamfront_edge_build_info")})` }],
    },
    {
      title: "Edge cache hit ratio",
      description: "Bytes of the slices looked up in the edges' caches that were there (by bytes).",
      unit: "percentunit",
      stat: true,
      width: 6,
      targets: [
        {
          expr: ratio(
            rate("streamfront_edge_cache_read_bytes_total", 'result="hit"'),
            rate("streamfront_edge_cache_read_bytes_total"),
            [],
          ),
        },
      ],
    },
    {
      title: "Egress by protocol",
      description: "Bytes per second written to viewers, by protocol.",
      unit: "Bps",
      targets: [
        {
          expr: `sum by (protocol) (${rate("streamfront_edge_egress_bytes_total", d)})`,
          legend: "{{protocol}}",
        },
      ],
    },
    {
      title: "Viewers by distribution",
      description: "Viewers per distribution.",
      unit: "short",
      targets: [
        {
          expr: `sum by (distribution) (${sel("streamfront_edge_viewers", d)})`,
          legend: "{{distribution}}",
        },
      ],
    },
    {
      title: "Plays per second",
      description: "Play requests by result: started, completed, not_found, failed, denied.",
      unit: "reqps",
      targets: [
        { expr: `sum by (result) (${rate("streamfront_edge_plays_total", d)})`, legend: "{{result}}" },
      ],
    },
    {
      title: "Errors",
      description:
        "Plays refused or failed by result, failed plays by error code (README: Error codes), connections closed by a protocol or shield error.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (result) (${rate("streamfront_edge_plays_total", d, 'result=~"failed|not_found|denied"')})`,
          legend: "play {{result}}",
        },
        {
          expr: `sum by (code) (${rate("streamfront_edge_play_failures_total", d)}) or on () vector(0)`,
          legend: "failed {{code}}",
        },
        {
          expr: `sum by (code) (${rate("streamfront_edge_session_errors_total")}) or on () vector(0)`,
          legend: "session {{code}}",
        },
      ],
    },
    {
      title: "Time to first frame",
      description: "From the play command to the first media message written: p50, p95, p99.",
      unit: "s",
      targets: [0.5, 0.95, 0.99].map((q) => ({
        expr: quantile(q, "streamfront_edge_time_to_first_frame_seconds", [], d),
        legend: `p${q * 100}`,
      })),
    },
    {
      title: "Distributions Deployed vs InProgress",
      description:
        "Distributions by deployment status (InProgress: some live edge has not applied its config yet); read from the store, so max over controller replicas.",
      unit: "short",
      width: 24,
      targets: [
        {
          expr: `sum by (status) (max by (distribution, status) (${sel("streamfront_controller_distribution_status")}))`,
          legend: "{{status}}",
        },
      ],
    },
  ],
};
