import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ApiObserver } from "./api/api-server.js";
import { type ConfigService, watcherRoles } from "./config-service.js";
import { DeploymentStatus, type DeploymentTracker, statusFor } from "./deployment.js";
import type { DistributionStore } from "./store/distribution-store.js";

/**
 * The controller's metrics, all read at scrape time from the store and the
 * config service, so neither imports prom-client.
 *
 * Metrics read from the store (distribution status, live watchers, config
 * version, distributions) say the same on every replica sharing it:
 * aggregate them with max by (…), not sum. Those of this replica's own
 * connections and requests (watchers, API, deployment seconds) add up.
 */
export function registerControllerMetrics(
  registry: Registry,
  store: DistributionStore,
  configService: ConfigService,
  deployment: DeploymentTracker,
): void {
  new Gauge({
    name: "streamfront_controller_distribution_status",
    help:
      "1 for each distribution's current deployment status (InProgress: some live edge has not applied its config yet; " +
      "Deployed), 0 for the other; read from the store, so the same on every replica (aggregate with max by (distribution, status)).",
    labelNames: ["distribution", "status"] as const,
    registers: [registry],
    async collect() {
      const all = await store.list().catch(() => undefined);
      const minApplied = await deployment.minAppliedVersion().catch(() => undefined);
      // The store is down: keep the last values (store_up says so).
      if (all === undefined || minApplied === undefined) return;
      this.reset();
      for (const d of all) {
        const current = statusFor(d, minApplied);
        for (const status of Object.values(DeploymentStatus))
          this.set({ distribution: d.id, status }, current === status ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "streamfront_controller_live_watchers",
    help:
      "Live edges and shields (heartbeating within watcher-ttl-ms, through any replica), by role and the config version " +
      "they last applied; only versions some watcher is on. Read from the store: aggregate with max.",
    labelNames: ["role", "config_version"] as const,
    registers: [registry],
    async collect() {
      const live = await store.liveWatchers().catch(() => undefined);
      if (live === undefined) return;
      this.reset();
      for (const w of live) this.inc({ role: w.role, config_version: String(w.appliedVersion) });
    },
  });
  new Gauge({
    name: "streamfront_controller_watchers",
    help: "Open WatchConfig streams, by watcher role.",
    labelNames: ["role"] as const,
    registers: [registry],
    collect() {
      const counts = configService.watchers();
      for (const role of watcherRoles) this.set({ role }, counts[role]);
    },
  });
  new Gauge({
    name: "streamfront_controller_config_version",
    help: "The current config version (bumped by every distribution change).",
    registers: [registry],
    async collect() {
      // With the store down the scrape still answers (the API reports the outage).
      const version = await store.version().catch(() => undefined);
      if (version !== undefined) this.set(version);
    },
  });
  new Gauge({
    name: "streamfront_controller_store_up",
    help: "1 when the store (Redis, or the embedded one) answered at scrape time, else 0.",
    registers: [registry],
    async collect() {
      this.set(
        await store.version().then(
          () => 1,
          () => 0,
        ),
      );
    },
  });
  new Gauge({
    name: "streamfront_controller_distributions",
    help: "Distributions, by kind and whether they are enabled.",
    labelNames: ["kind", "enabled"] as const,
    registers: [registry],
    async collect() {
      const all = await store.list().catch(() => undefined);
      // The store is down: keep the last values rather than report zero distributions.
      if (all === undefined) return;
      this.reset();
      for (const kind of ["streaming", "web"]) {
        for (const enabled of ["true", "false"]) this.set({ kind, enabled }, 0);
      }
      for (const d of all) this.inc({ kind: d.kind, enabled: String(d.enabled) });
    },
  });
  new Counter({
    name: "streamfront_controller_config_updates_sent_total",
    help: "Config updates (snapshots and changes) written to watchers.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(configService.counts.updatesSent);
    },
  });
  new Counter({
    name: "streamfront_controller_watch_resyncs_total",
    help: "Times a watcher fell too far behind and was sent a fresh snapshot instead of its backlog.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(configService.counts.resyncs);
    },
  });
}

/** Seconds from a change this replica stored until every live edge applied it (deployment-latency.ts). */
export function registerDeploymentHistogram(registry: Registry): Histogram {
  return new Histogram({
    name: "streamfront_controller_deployment_seconds",
    help:
      "From a create or update this replica stored (InProgress) until every live edge applied it (Deployed); " +
      "each change is observed once, by the replica that stored it, so sums over replicas count each deployment once.",
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
}

/** The control API's request metrics; the API server reports through the returned observer. */
export function registerApiMetrics(registry: Registry): ApiObserver {
  const requests = new Counter({
    name: "streamfront_controller_api_requests_total",
    help: "Control API requests, by operation and answer: OK or the CloudFront error code (cloudfront_code).",
    labelNames: ["operation", "cloudfront_code"] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "streamfront_controller_api_request_seconds",
    help: "Control API request time, from the request line to the response, by operation.",
    labelNames: ["operation"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const connections = new Gauge({
    name: "streamfront_controller_api_connections",
    help: "Open connections to the control API.",
    registers: [registry],
  });
  const refused = new Counter({
    name: "streamfront_controller_api_connections_refused_total",
    help: "Control API connections refused over api-max-connections or api-max-connections-per-address.",
    registers: [registry],
  });
  return {
    request(operation, code, _httpStatus, elapsed) {
      requests.inc({ operation, cloudfront_code: code });
      seconds.observe({ operation }, elapsed);
    },
    connection(event) {
      if (event === "opened") connections.inc();
      else if (event === "closed") connections.dec();
      else refused.inc();
    },
  };
}
