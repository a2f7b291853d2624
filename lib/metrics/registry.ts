import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

const streamfrontVersion = "0.1.0";

/**
 * A registry of one component's metrics: the process defaults (CPU, RSS,
 * event-loop lag, GC) plus `streamfront_<component>_build_info`. Each
 * process owns one; nothing registers in prom-client's global registry, so
 * several components can run in one test process.
 */
export function createRegistry(component: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: `streamfront_${component}_build_info`,
    help: `Always 1; labels carry the ${component} build.`,
    labelNames: ["version", "node_version"] as const,
    registers: [registry],
  });
  info.set({ version: streamfrontVersion, node_version: process.version }, 1);
  return registry;
}
