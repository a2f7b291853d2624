import { type DashboardSpec, datasourceVariable, distributionVariable, namespaceVariable } from "./common.js";
import { quantile, rate, sel } from "./promql.js";

const d = 'distribution=~"$distribution"';

/** One distribution, chosen by $distribution: what its viewers get (CloudFront billed it by egress). */
export const distribution: DashboardSpec = {
  name: "distribution",
  uid: "streamfront-distribution",
  title: "Streamfront / Distribution",
  description:
    "One distribution's viewers, egress, plays, errors, time to first frame and deployment status.",
  variables: [datasourceVariable(), namespaceVariable(), distributionVariable(true)],
  panels: [
    {
      title: "Viewers",
      description: "The distribution's viewers by protocol.",
      unit: "short",
      targets: [
        { expr: `sum by (protocol) (${sel("streamfront_edge_viewers", d)})`, legend: "{{protocol}}" },
      ],
    },
    {
      title: "Egress",
      description: "Bytes per second written to the distribution's viewers, by protocol.",
      unit: "Bps",
      targets: [
        {
          expr: `sum by (protocol) (${rate("streamfront_edge_egress_bytes_total", d)})`,
          legend: "{{protocol}}",
        },
      ],
    },
    {
      title: "Viewers per edge",
      description: "The distribution's viewers on each edge.",
      unit: "short",
      targets: [
        { expr: `sum by (instance) (${sel("streamfront_edge_viewers", d)})`, legend: "{{instance}}" },
      ],
    },
    {
      title: "Plays by result",
      description: "The distribution's play requests per second by result and container.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (result, container) (${rate("streamfront_edge_plays_total", d)})`,
          legend: "{{result}} {{container}}",
        },
      ],
    },
    {
      title: "Errors",
      description:
        "The distribution's refused or failed plays by result, failed plays by error code, and refused connects by rejection.",
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
          expr: `sum by (rejection) (${rate("streamfront_edge_rejections_total", d)}) or on () vector(0)`,
          legend: "rejected {{rejection}}",
        },
      ],
    },
    {
      title: "Time to first frame",
      description: "The distribution's time to first frame: p50, p95, p99.",
      unit: "s",
      targets: [0.5, 0.95, 0.99].map((q) => ({
        expr: quantile(q, "streamfront_edge_time_to_first_frame_seconds", [], d),
        legend: `p${q * 100}`,
      })),
    },
    {
      title: "Deployment status",
      description: "1 for the distribution's current status (InProgress or Deployed), from the store.",
      unit: "short",
      width: 24,
      targets: [
        {
          expr: `max by (status) (${sel("streamfront_controller_distribution_status", d)})`,
          legend: "{{status}}",
        },
      ],
    },
  ],
};
