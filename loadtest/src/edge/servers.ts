import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { LocalCluster } from "../../../deploy/local/cluster.js";
import { type BenchLifecycle, livePid } from "../harness/lifecycle.js";
import { NginxPeer } from "./nginx-peer.js";
import type { ServerName } from "./options.js";

/** The application both servers serve the benchmark's FLV under. */
export const APP = "cfx/st";

/** A server the viewers load: the streamfront edge, or the nginx-rtmp peer. */
export interface ServerUnderTest {
  readonly name: ServerName;
  readonly port: number;
  readonly tcUrlHost: string;
  /** The process whose CPU is the result: the edge, or nginx's only process. */
  readonly pid: number;
  /** Also measured, reported apart (the edge's shield). */
  readonly helpers: readonly { readonly name: string; readonly pid: number }[];
  /** How this server paces VOD, for the report. */
  readonly pacing: string;
}

/**
 * The whole local cluster (controller, shield over the embedded S3, edge)
 * serving mediaDir, with the edge's connection caps lifted for maxViewers
 * from one address. With `pin`, the edge gets CPU 0 and the rest CPU 1.
 */
export async function startEdge(
  lifecycle: BenchLifecycle,
  mediaDir: string,
  maxViewers: number,
  pin: boolean,
): Promise<ServerUnderTest> {
  // All viewers come from 127.0.0.1: lift the per-IP cap for this cluster's edge only.
  process.env.STREAMFRONT_EDGE_MAX_CONNECTIONS_PER_IP = String(maxViewers + 16);
  // They also start at once, so none may wait on the pre-play cap either.
  process.env.STREAMFRONT_EDGE_MAX_PRE_PLAY_CONNECTIONS_PER_IP = String(maxViewers + 16);
  process.env.STREAMFRONT_EDGE_MAX_CONNECTIONS = String(Math.max(10_000, maxViewers + 16));
  // The demo distribution's CNAME is the cluster's host, and a CNAME must be
  // a host name (not 127.0.0.1); "localhost" binds loopback only.
  const cluster = new LocalCluster({
    mediaDir,
    host: "localhost",
    rtmpPort: 0,
    httpPort: -1,
    apiPort: 0,
    bucket: "streamfront-bench",
    logLevel: "error",
    stdio: "inherit",
  });
  lifecycle.own({
    stop: () => cluster.stop(),
    livePids: () =>
      (["edge", "shield", "controller"] as const).flatMap((name) => {
        try {
          return livePid(cluster[name].child);
        } catch {
          return []; // not started
        }
      }),
  });
  await cluster.start();
  const edgePid = cluster.edge.child.pid!;
  const shieldPid = cluster.shield.child.pid!;
  if (pin) {
    pinTo(0, edgePid);
    pinTo(1, shieldPid);
    for (const c of [cluster.controller.child.pid]) if (c) pinTo(1, c);
  }
  return {
    name: "edge",
    port: cluster.rtmpPort,
    tcUrlHost: "localhost",
    pid: edgePid,
    helpers: [{ name: "shield", pid: shieldPid }],
    pacing:
      "paces each viewer to its buffer: sends while media time ≤ elapsed + SetBufferLength + 1000 ms (send-ahead margin), a 1 MiB socket queue bound;",
  };
}

/** nginx-rtmp (one worker, master_process off) playing mediaDir, the peer of one Node process. */
export async function startNginx(
  lifecycle: BenchLifecycle,
  work: string,
  mediaDir: string,
  maxViewers: number,
  pin: boolean,
): Promise<ServerUnderTest> {
  const nginxDir = join(work, "nginx");
  mkdirSync(nginxDir);
  const nginx = new NginxPeer({
    workDir: nginxDir,
    playDir: mediaDir,
    port: await freePort(),
    app: APP,
    chunkSize: 4096,
    maxConnections: maxViewers + 16,
  });
  lifecycle.own({
    stop: () => nginx.stop(),
    livePids: () => (nginx.runningPid ? [nginx.runningPid] : []),
  });
  await nginx.start();
  if (pin) pinTo(0, nginx.pid);
  return {
    name: "nginx",
    port: nginx.options.port,
    tcUrlHost: "127.0.0.1",
    pid: nginx.pid,
    helpers: [],
    pacing:
      "ngx_rtmp_flv_module sends while tag time ≤ elapsed + buflen (SetBufferLength) + 1000 ms, then arms a timer; a full socket waits for writability;",
  };
}

export function pinTo(cpu: number, pid: number): void {
  const result = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
  if (result.status !== 0) throw new Error(`taskset -a -p -c ${cpu} ${pid} failed`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}
