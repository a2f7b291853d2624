import { integerOption, parseBenchArgs } from "../harness/options.js";

const usage = `usage: node dist/loadtest/src/bench-controller.js [options]
  --edges N          simulated edge watchers (default 100)
  --creates N        distributions timed from Create to Deployed (default 100)
  --concurrency N    API requests in flight in the throughput runs (default 16)
  --seconds S        length of each throughput run (default 5)
  --store redis|memory  the controller's store (default redis: a redis-server started for the run)
  --out FILE         also write the results as JSON`;

export interface ControllerBenchOptions {
  edges: number;
  creates: number;
  concurrency: number;
  seconds: number;
  store: "redis" | "memory";
  out: string | null;
}

export function parseControllerBenchOptions(argv: readonly string[]): ControllerBenchOptions {
  const values = parseBenchArgs(argv, usage, {
    edges: { type: "string" },
    creates: { type: "string" },
    concurrency: { type: "string" },
    seconds: { type: "string" },
    store: { type: "string" },
    out: { type: "string" },
  });
  const count = (name: string, text: string | undefined, fallback: number, max: number) =>
    integerOption(name, text, fallback, 1, max);
  const store = values.store ?? "redis";
  if (store !== "redis" && store !== "memory") throw new Error("--store must be redis or memory");
  return {
    edges: count("edges", values.edges, 100, 2000),
    creates: count("creates", values.creates, 100, 10_000),
    concurrency: count("concurrency", values.concurrency, 16, 512),
    seconds: count("seconds", values.seconds, 5, 120),
    store,
    out: values.out ?? null,
  };
}
