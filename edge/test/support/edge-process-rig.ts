import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CreateStreamingDistributionCommand } from "@aws-sdk/client-cloudfront";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../../../lib/process/launcher.js";
import { ProcessCluster } from "../../../lib/testing/process-cluster.js";
import { testTlsEnv } from "../../../lib/testing/tls.js";
import { eventually } from "../../../lib/testing/wait.js";

/**
 * One edge as its own process (its main.js, as in a pod) in front of a real
 * controller, shield and embedded S3 (ProcessCluster with no edges of its
 * own), for attack tests that measure the edge's memory from outside:
 * /proc/<pid>/status of the child, not this test process.
 */
/** One edge process and what a test reads from it. */
export interface EdgeProcess {
  readonly launched: LaunchedComponent;
  readonly pid: number;
  readonly rtmpPort: number;
  /** The shared RTMP/HTTP port (RTMPT). */
  readonly httpPort: number;
  /** The edge's JSON log lines (it logs at info). */
  readonly logLines: Record<string, unknown>[];
  metricsText(): Promise<string>;
  stop(): Promise<void>;
}

export interface EdgeProcessRig extends EdgeProcess {
  readonly cluster: ProcessCluster;
  /** The distribution's domain name: the tcUrl host a viewer connects with. */
  readonly domainName: string;
  /** Another edge process on the same controller and shield, with its own settings. */
  startEdge(env: Record<string, string>): Promise<EdgeProcess>;
  close(): Promise<void>;
}

export async function startEdgeProcess(options: {
  bucket: string;
  objects: Record<string, Buffer>;
  edgeEnv?: Record<string, string>;
}): Promise<EdgeProcessRig> {
  const cluster = await ProcessCluster.start({
    controllers: 1,
    shields: 1,
    edges: 0,
    buckets: [options.bucket],
  });
  const edges: EdgeProcess[] = [];
  const stopAll = async () => {
    for (const edge of edges) await edge.stop();
    await cluster.stop();
  };
  try {
    for (const [key, body] of Object.entries(options.objects)) {
      await cluster.s3.putObject(options.bucket, key, body);
    }
    const created = await cluster.cloudfront(0).send(
      new CreateStreamingDistributionCommand({
        StreamingDistributionConfig: {
          CallerReference: "attack-rig",
          S3Origin: { DomainName: `${options.bucket}.s3.amazonaws.com`, OriginAccessIdentity: "" },
          Comment: "attack rig",
          TrustedSigners: { Enabled: false, Quantity: 0 },
          Enabled: true,
        },
      }),
    );
    const domainName = created.StreamingDistribution!.DomainName!;
    const startEdge = async (env: Record<string, string>) => {
      const edge = await launchEdge(cluster, `edge-${edges.length}`, env);
      edges.push(edge);
      return edge;
    };
    const first = await startEdge(options.edgeEnv ?? {});
    return { ...first, cluster, domainName, startEdge, close: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function launchEdge(
  cluster: ProcessCluster,
  nodeId: string,
  env: Record<string, string>,
): Promise<EdgeProcess> {
  const launched = await launchComponent(fileURLToPath(new URL("../../src/main.js", import.meta.url)), {
    env: {
      STREAMFRONT_EDGE_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_EDGE", PeerRole.Edge),
      STREAMFRONT_EDGE_RTMP_PORT: "0",
      STREAMFRONT_EDGE_HTTP_PORT: "0",
      STREAMFRONT_EDGE_ADMIN_PORT: "0",
      STREAMFRONT_EDGE_CONTROLLER: cluster.controllers[0]!.addresses.grpc!,
      STREAMFRONT_EDGE_SHIELD: cluster.shields[0]!.addresses.grpc!,
      STREAMFRONT_EDGE_NODE_ID: nodeId,
      STREAMFRONT_EDGE_LOG_LEVEL: "info",
      ...env,
    },
    stdio: "pipe",
  });
  const logLines: Record<string, unknown>[] = [];
  // Read every line, or the child blocks on a full pipe.
  createInterface({ input: launched.child.stdout! }).on("line", (line) => {
    try {
      logLines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log line (a crash's stack trace): kept, so a failing assertion can show it.
      logLines.push({ raw: line });
    }
  });
  launched.child.stderr?.resume();
  const admin = launched.addresses.admin!;
  const edge: EdgeProcess = {
    launched,
    pid: launched.child.pid!,
    rtmpPort: Number(launched.addresses.rtmp!.split(":").pop()),
    httpPort: Number(launched.addresses.http!.split(":").pop()),
    logLines,
    metricsText: async () => (await fetch(`http://${admin}/metrics`)).text(),
    async stop() {
      await launched.stop();
    },
  };
  try {
    await eventually(
      async () => (await fetch(`http://${admin}/readyz`).catch(() => null))?.status === 200,
      20_000,
      `${nodeId} to be ready`,
    );
  } catch (error) {
    await edge.stop();
    throw error;
  }
  return edge;
}

/** VmRSS and VmHWM (peak RSS since start) of a process, in bytes, from /proc/<pid>/status. */
export function processMemory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!match) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/** The value of a counter or gauge sample in /metrics text, 0 when absent. */
export function metricValue(text: string, name: string, labels = ""): number {
  const wanted = labels === "" ? name : `${name}{${labels}}`;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${wanted} `)) return Number(line.slice(wanted.length + 1));
  }
  return 0;
}

export const mib = 1024 * 1024;
