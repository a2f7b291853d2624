import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "./redis-server.js";
import { eventually } from "./wait.js";

/**
 * A real Prometheus (Debian's `prometheus`) for tests: its own process in its own temporary folder
 * (config and TSDB), listening on a free loopback port, scraping static targets every second. Its HTTP
 * API is what the tests read, as Grafana would. Killed by PID when stopped, or when the test process exits.
 */

export interface ScrapeJob {
  readonly job: string;
  /** host:port of each target's /metrics. */
  readonly targets: readonly string[];
}

export interface PrometheusOptions {
  readonly jobs: readonly ScrapeJob[];
  /** Rules files Prometheus loads and evaluates every second. */
  readonly ruleFiles?: readonly string[];
}

/** One sample of an instant query's vector: its labels and value (a string, as the API sends it). */
export interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: readonly [number, string];
}

export interface QueryAnswer {
  readonly status: "success" | "error";
  readonly error?: string;
  readonly errorType?: string;
  readonly data?: { readonly resultType: string; readonly result: readonly VectorSample[] | unknown };
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export class PrometheusServer {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #exited: Promise<unknown>;

  private constructor(url: string, child: ChildProcess, dir: string) {
    this.url = url;
    this.#child = child;
    this.#dir = dir;
    this.#exited = once(child, "exit");
  }

  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    const dir = await mkdtemp(join(tmpdir(), "streamfront-prometheus-"));
    const config = {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: options.jobs.map((j) => ({
        job_name: j.job,
        static_configs: [{ targets: j.targets }],
      })),
    };
    // JSON is YAML: no YAML writer needed.
    await writeFile(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
    const port = await freeLoopbackPort();
    const child = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    live.add(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, dir);
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${stderr}`);
          try {
            return (await fetch(`${server.url}/-/ready`)).ok;
          } catch {
            return false;
          }
        },
        30_000,
        `prometheus ready on ${server.url}`,
      );
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** GET /api/v1/<path>?<params>, parsed (an error answer too: it says why). */
  async api(path: string, params: Record<string, string | readonly string[]>): Promise<QueryAnswer> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params))
      for (const v of typeof value === "string" ? [value] : value) search.append(key, v);
    const response = await fetch(`${this.url}/api/v1/${path}?${search}`);
    return (await response.json()) as QueryAnswer;
  }

  /** An instant query's vector; throws on an error answer or a non-vector result. */
  async vector(query: string): Promise<readonly VectorSample[]> {
    const answer = await this.api("query", { query });
    if (answer.status !== "success") throw new Error(`${query}: ${answer.errorType}: ${answer.error}`);
    if (answer.data?.resultType !== "vector") throw new Error(`${query}: ${answer.data?.resultType}`);
    return answer.data.result as readonly VectorSample[];
  }

  /** The value of a query that yields one sample, else undefined. */
  async scalar(query: string): Promise<number | undefined> {
    const result = await this.vector(query);
    return result.length === 1 ? Number(result[0]!.value[1]) : undefined;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill("SIGTERM");
      await this.#exited;
    }
    live.delete(this.#child);
    await rm(this.#dir, { recursive: true, force: true });
  }
}
