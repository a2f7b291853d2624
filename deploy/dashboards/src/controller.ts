import { type DashboardSpec, datasourceVariable, namespaceVariable } from "./common.js";
import { quantile, rate, sel } from "./promql.js";

/**
 * The control plane: the CloudFront-compatible API, the config watchers, deployments and the store.
 * Series read from the shared store say the same on every replica: those are aggregated with max.
 */
export const controller: DashboardSpec = {
  name: "controller",
  uid: "streamfront-controller",
  title: "Streamfront / Controller",
  description:
    "Control API rate, latency and errors by operation, config watchers, deployment latency, store up.",
  variables: [datasourceVariable(), namespaceVariable()],
  panels: [
    {
      title: "API requests by operation",
      description: "Control API requests per second by operation, over all replicas.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (operation) (${rate("streamfront_controller_api_requests_total")})`,
          legend: "{{operation}}",
        },
      ],
    },
    {
      title: "API latency by operation",
      description: "Control API request time p95 by operation, from the request line to the response.",
      unit: "s",
      targets: [
        {
          expr: quantile(0.95, "streamfront_controller_api_request_seconds", ["operation"]),
          legend: "{{operation}} p95",
        },
      ],
    },
    {
      title: "API errors by operation",
      description:
        "Control API requests per second answered with a CloudFront error code, by operation and code.",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (operation, cloudfront_code) (${rate("streamfront_controller_api_requests_total", 'cloudfront_code!="OK"')})`,
          legend: "{{operation}} {{cloudfront_code}}",
        },
      ],
    },
    {
      title: "Store up",
      description: "1 when the controller replica's store (Redis) answered at scrape time, per replica.",
      unit: "short",
      targets: [
        { expr: `min by (instance) (${sel("streamfront_controller_store_up")})`, legend: "{{instance}}" },
      ],
    },
    {
      title: "Watchers",
      description:
        "Open WatchConfig streams by role (over all replicas), and live edges and shields by the config version they applied (from the store).",
      unit: "short",
      targets: [
        { expr: `sum by (role) (${sel("streamfront_controller_watchers")})`, legend: "streams {{role}}" },
        {
          expr: `max by (role, config_version) (${sel("streamfront_controller_live_watchers")})`,
          legend: "live {{role}} on v{{config_version}}",
        },
      ],
    },
    {
      title: "Config version",
      description: "The current config version (bumped by every distribution change), from the store.",
      unit: "none",
      stat: true,
      width: 6,
      targets: [{ expr: `max (${sel("streamfront_controller_config_version")})` }],
    },
    {
      title: "Deployment latency (range)",
      description:
        "From a create or update stored (InProgress) until every live edge applied it (Deployed): p50 and p95 over the dashboard's time range.",
      unit: "s",
      stat: true,
      width: 6,
      targets: [0.5, 0.95].map((q) => ({
        expr: `histogram_quantile(${q}, sum by (le) (increase(${sel("streamfront_controller_deployment_seconds_bucket")}[$__range])))`,
        legend: `p${q * 100}`,
      })),
    },
    {
      title: "Deployments",
      description:
        "Distribution changes that reached every live edge, per second (each counted once, by the replica that stored it).",
      unit: "ops",
      width: 12,
      targets: [
        { expr: `sum (${rate("streamfront_controller_deployment_seconds_count")})`, legend: "deployed" },
      ],
    },
    {
      title: "Distributions",
      description: "Distributions by kind and whether they are enabled, from the store.",
      unit: "short",
      targets: [
        {
          expr: `max by (kind, enabled) (${sel("streamfront_controller_distributions")})`,
          legend: "{{kind}} enabled={{enabled}}",
        },
      ],
    },
    {
      title: "Config updates sent",
      description: "Config snapshots and changes written to watchers per second, and watch resyncs.",
      unit: "ops",
      targets: [
        { expr: `sum (${rate("streamfront_controller_config_updates_sent_total")})`, legend: "updates" },
        { expr: `sum (${rate("streamfront_controller_watch_resyncs_total")})`, legend: "resyncs" },
      ],
    },
  ],
};
