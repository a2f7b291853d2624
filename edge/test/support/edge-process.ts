import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../../../lib/process/launcher.js";
import { fromRepoRoot } from "../../../lib/testing/paths.js";
import type { TestS3, TestShield } from "../../../lib/testing/shield.js";
import { startTestS3, startTestShield } from "../../../lib/testing/shield.js";
import { testTlsEnv } from "../../../lib/testing/tls.js";

/**
 * The sample media in a real s3rver behind a real shield (both in the test
 * process), for edge processes to play from.
 */
export interface MediaBackend {
  readonly bucket: string;
  readonly s3: TestS3;
  readonly shield: TestShield;
  close(): Promise<void>;
}

/** `shieldEnv`: more STREAMFRONT_SHIELD_* settings of the shield. */
export async function startMediaBackend(
  bucket: string,
  shieldEnv: Readonly<Record<string, string>> = {},
): Promise<MediaBackend> {
  const s3 = await startTestS3(bucket);
  try {
    await s3.s3.uploadDirectory(bucket, fromRepoRoot("deploy", "local", "media"));
    const shield = await startTestShield(s3.s3, {
      env: { STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket, ...shieldEnv },
    });
    return {
      bucket,
      s3,
      shield,
      async close() {
        await shield.close();
        await s3.close();
      },
    };
  } catch (error) {
    await s3.close();
    throw error;
  }
}

/** Memory of a process from /proc/<pid>/status, in bytes. */
export interface ProcessMemory {
  readonly rss: number;
  /** The peak RSS so far (VmHWM). */
  readonly peakRss: number;
}

/**
 * A real edge process (dist/edge/src/main.js) serving one distribution
 * (CNAMEs localhost and 127.0.0.1) from a config state file, so it needs no
 * controller: the controller address it is given answers nothing. Its JSON
 * log lines are collected from stdout.
 */
export class EdgeProcess {
  readonly launched: LaunchedComponent;
  readonly rtmpPort: number;
  readonly httpPort: number;
  readonly adminPort: number;
  readonly logLines: Record<string, unknown>[] = [];
  readonly #dir: string;
  readonly #exited: Promise<unknown>;

  private constructor(launched: LaunchedComponent, dir: string) {
    this.launched = launched;
    this.#dir = dir;
    this.#exited = once(launched.child, "exit");
    const port = (name: string) => Number(launched.addresses[name]!.split(":").pop());
    this.rtmpPort = port("rtmp");
    this.httpPort = port("http");
    this.adminPort = port("admin");
    let pending = "";
    launched.child.stdout?.on("data", (bytes: Buffer) => {
      pending += bytes.toString("utf8");
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          this.logLines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logLines.push({ raw: line });
        }
        newline = pending.indexOf("\n");
      }
    });
  }

  static async start(
    backend: MediaBackend,
    env: Readonly<Record<string, string>> = {},
  ): Promise<EdgeProcess> {
    const dir = await mkdtemp(join(tmpdir(), "streamfront-edge-process-"));
    const stateFile = join(dir, "config.json");
    await writeFile(
      stateFile,
      JSON.stringify({
        format: "streamfront-config/1",
        version: 1,
        distributions: [
          {
            id: "EPROC",
            domainName: "sproc000000000.test",
            cnames: ["localhost", "127.0.0.1"],
            originBucket: backend.bucket,
            enabled: true,
            kind: 1,
          },
        ],
      }),
    );
    const launched = await launchComponent(fileURLToPath(new URL("../../src/main.js", import.meta.url)), {
      stdio: "pipe",
      env: {
        STREAMFRONT_EDGE_HOST: "127.0.0.1",
        ...testTlsEnv("STREAMFRONT_EDGE", PeerRole.Edge),
        STREAMFRONT_EDGE_RTMP_PORT: "0",
        STREAMFRONT_EDGE_HTTP_PORT: "0",
        STREAMFRONT_EDGE_ADMIN_PORT: "0",
        // Nothing listens there: the state file is the config.
        STREAMFRONT_EDGE_CONTROLLER: "127.0.0.1:9",
        STREAMFRONT_EDGE_SHIELD: backend.shield.address,
        STREAMFRONT_EDGE_CONFIG_STATE_FILE: stateFile,
        STREAMFRONT_EDGE_LOG_LEVEL: "info",
        ...env,
      },
    });
    launched.child.stderr?.resume();
    return new EdgeProcess(launched, dir);
  }

  get pid(): number {
    return this.launched.child.pid!;
  }

  get alive(): boolean {
    return this.launched.child.exitCode === null && this.launched.child.signalCode === null;
  }

  async memory(): Promise<ProcessMemory> {
    const status = await readFile(`/proc/${this.pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rss: kb("VmRSS") * 1024, peakRss: kb("VmHWM") * 1024 };
  }

  async metricsText(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.adminPort}/metrics`)).text();
  }

  /** One sample's value from /metrics, 0 when absent. */
  async metric(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const text = await this.metricsText();
    for (const line of text.split("\n")) {
      if (!line.startsWith(name)) continue;
      const match = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const found = new Map(
        [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const),
      );
      if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(match[3]);
    }
    return 0;
  }

  async stop(): Promise<void> {
    if (this.alive) {
      this.launched.child.kill("SIGKILL");
      await this.#exited;
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}
