import { connect, type Socket } from "node:net";
import { Prng } from "../../../lib/testing/prng.js";
import { createAmfObject } from "../../src/rtmp/amf0.js";
import { encodeMessage } from "../../src/rtmp/chunk-encoder.js";
import { encodeCommand } from "../../src/rtmp/command.js";
import { MessageType } from "../../src/rtmp/message-types.js";
import { EdgeProcess, type MediaBackend, startMediaBackend } from "../support/edge-process.js";
import { RtmpTestClient, statusCode } from "../support/rtmp-test-client.js";
import { mutate, randomBytes } from "./mutators.js";

/*
 * The server-level fuzz target: byte streams, random and structured, sent
 * over real TCP to a live edge process's RTMP port and its shared RTMP/HTTP
 * port, many connections at once. The edge is the real dist/edge/src/main.js
 * with a real shield and s3rver behind it. What it asserts is liveness, not
 * any one answer: the process never exits, its RSS stays under a bound, and
 * every `probeEvery` cases a real viewer plays the sample and /healthz
 * answers. Each case is a pure function of (seed, index), so a failure
 * names what replays it.
 */

/** Which of the edge's ports a case is sent to. */
export const ServerPort = { Rtmp: "rtmp", Shared: "shared" } as const;
export type ServerPort = (typeof ServerPort)[keyof typeof ServerPort];

/** The shapes of case, for the report. */
export const ServerCaseKind = {
  Random: "random",
  Handshake: "handshake",
  ChunkStream: "chunk-stream",
  Commands: "commands",
  Rtmpe: "rtmpe",
  Rtmpt: "rtmpt",
  Http: "http",
} as const;
export type ServerCaseKind = (typeof ServerCaseKind)[keyof typeof ServerCaseKind];

export interface ServerCase {
  readonly index: number;
  readonly kind: ServerCaseKind;
  readonly port: ServerPort;
  /** Written in order, `gapMs` apart (0: back to back). */
  readonly pieces: readonly Buffer[];
  readonly gapMs: number;
  /** Cut the connection with a TCP reset after the last piece instead of waiting. */
  readonly reset: boolean;
  /** Loopback source address, so per-address limits see several clients. */
  readonly localAddress: string;
}

const handshakeLength = 1 + 1536 + 1536;

/** C0 (version 3), C1 (time 0, zero 0, random) and C2: the edge accepts any C2. */
function plainHandshake(rng: Prng): Buffer {
  const out = Buffer.alloc(handshakeLength);
  out[0] = 3;
  rng.bytes(1528).copy(out, 1 + 8);
  rng.bytes(1536).copy(out, 1 + 1536);
  return out;
}

function connectCommand(rng: Prng, port: number): Buffer {
  const obj = createAmfObject();
  obj.app = rng.pick([
    "cfx/st",
    "cfx/st/videos",
    "cfx/st/_definst_",
    "cfx",
    "",
    "x".repeat(rng.int(0, 3000)),
  ]);
  obj.tcUrl = `rtmp://${rng.pick(["127.0.0.1", "localhost", "unknown.example"])}:${port}/${obj.app}`;
  obj.flashVer = "LNX 10,0,32,18";
  obj.objectEncoding = rng.pick([0, 3]);
  return encodeMessage(
    {
      chunkStreamId: 3,
      messageTypeId: MessageType.CommandAmf0,
      messageStreamId: 0,
      timestamp: 0,
      payload: encodeCommand("connect", 1, obj),
    },
    128,
  );
}

function command(rng: Prng, streamId: number): Buffer {
  const name = rng.pick([
    "createStream",
    "play",
    "play2",
    "seek",
    "pause",
    "getStreamLength",
    "_checkbw",
    "FCSubscribe",
    "deleteStream",
    "receiveVideo",
    "closeStream",
    "unknownCall",
  ]);
  const stream = rng.pick([
    "videos/sample",
    "mp4:videos/sample.mp4",
    "mp3:audio/sample",
    "../x",
    "a".repeat(600),
  ]);
  const args: (string | number | boolean | null)[] = [stream, rng.int(-3000, 60_000), rng.int(-2, 60_000)];
  return encodeMessage(
    {
      chunkStreamId: rng.pick([3, 4, 8]),
      messageTypeId: rng.pick([MessageType.CommandAmf0, MessageType.CommandAmf0, MessageType.CommandAmf3]),
      messageStreamId: streamId,
      timestamp: rng.int(0, 100_000),
      payload: encodeCommand(name, rng.int(0, 10), null, ...args),
    },
    128,
  );
}

/** A control message: set chunk size, ack, window, ping, user control. */
function control(rng: Prng): Buffer {
  const type = rng.pick([1, 2, 3, 4, 5, 6]);
  const payload = type === 4 ? rng.bytes(rng.pick([2, 6, 10])) : rng.bytes(4);
  if (type === 1) payload.writeUInt32BE(rng.pick([1, 2, 128, 4096, 65_536, 0x7fffffff]), 0);
  return encodeMessage(
    { chunkStreamId: 2, messageTypeId: type, messageStreamId: 0, timestamp: 0, payload },
    128,
  );
}

function httpRequest(rng: Prng, rtmpt: boolean): Buffer {
  const method = rng.pick(["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH", "BREW", "G"]);
  const path = rtmpt
    ? rng.pick([
        "/fcs/ident2",
        "/open/1",
        `/send/${rng.int(0, 1e9)}/${rng.int(0, 5)}`,
        `/idle/${rng.int(0, 1e9)}/${rng.int(0, 5)}`,
        `/close/${rng.int(0, 1e9)}/1`,
        "/open/1/../../x",
      ])
    : rng.pick(["/", "/crossdomain.xml", "/index.html", `/${"a".repeat(rng.int(0, 9000))}`, "*", "/%00"]);
  const body = rng.bool(0.6) ? randomBytes(rng, rng.pick([0, 1, 1536, 4096, 70_000])) : Buffer.alloc(0);
  const headers = [`${method} ${path} HTTP/1.${rng.int(0, 1)}`, "Host: 127.0.0.1"];
  if (rtmpt) headers.push("Content-Type: application/x-fcs");
  if (rng.bool(0.2)) headers.push("Transfer-Encoding: chunked");
  else headers.push(`Content-Length: ${rng.bool(0.8) ? body.length : rng.int(0, 1e9)}`);
  if (rng.bool(0.2)) headers.push(`X-Junk: ${"j".repeat(rng.int(0, 20_000))}`);
  const head = Buffer.from(`${headers.join("\r\n")}\r\n\r\n`, "latin1");
  const request = Buffer.concat([head, body]);
  return rng.bool(0.4) ? mutate(rng, request, 3) : request;
}

/** Splits `bytes` into a few pieces at random points. */
function split(rng: Prng, bytes: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  const count = rng.int(1, 6);
  for (let i = 1; i < count && at < bytes.length; i++) {
    const next = rng.int(at + 1, bytes.length);
    pieces.push(bytes.subarray(at, next));
    at = next;
  }
  if (at < bytes.length) pieces.push(bytes.subarray(at));
  return pieces;
}

/** Case `index` of campaign `seed`: the same bytes every time. */
export function serverCase(seed: number, index: number, ports: { rtmp: number; shared: number }): ServerCase {
  const rng = new Prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const kind = rng.pick(Object.values(ServerCaseKind));
  const onShared = kind === ServerCaseKind.Rtmpt || kind === ServerCaseKind.Http ? true : rng.bool();
  const port = onShared ? ServerPort.Shared : ServerPort.Rtmp;
  const portNumber = onShared ? ports.shared : ports.rtmp;
  let bytes: Buffer;
  switch (kind) {
    case ServerCaseKind.Random:
      bytes = randomBytes(rng, rng.pick([1, 2, 16, 1537, 3073, 5000, 70_000]));
      break;
    case ServerCaseKind.Handshake:
      bytes = mutate(rng, plainHandshake(rng), 4);
      break;
    case ServerCaseKind.ChunkStream: {
      const stream = Buffer.concat([
        control(rng),
        connectCommand(rng, portNumber),
        control(rng),
        command(rng, 1),
      ]);
      bytes = Buffer.concat([plainHandshake(rng), mutate(rng, stream, 6)]);
      break;
    }
    case ServerCaseKind.Commands: {
      const messages = [connectCommand(rng, portNumber)];
      for (let i = rng.int(1, 12); i > 0; i--)
        messages.push(rng.bool(0.3) ? control(rng) : command(rng, rng.int(0, 3)));
      bytes = Buffer.concat([plainHandshake(rng), ...messages]);
      break;
    }
    case ServerCaseKind.Rtmpe: {
      const c1 = randomBytes(rng, 1536);
      bytes = Buffer.concat([
        Buffer.from([rng.pick([6, 8, 9])]),
        c1,
        randomBytes(rng, rng.pick([0, 1536, 3000])),
      ]);
      break;
    }
    case ServerCaseKind.Rtmpt: {
      const requests: Buffer[] = [];
      for (let i = rng.int(1, 4); i > 0; i--) requests.push(httpRequest(rng, true));
      bytes = Buffer.concat(requests);
      break;
    }
    case ServerCaseKind.Http:
      bytes = httpRequest(rng, false);
      break;
  }
  // Mostly back to back; some dribbled a few bytes at a time (slow peers).
  const dribble = rng.bool(0.1);
  const pieces = dribble
    ? split(rng, bytes.subarray(0, Math.min(bytes.length, 64))).slice(0, 8)
    : split(rng, bytes);
  return {
    index,
    kind,
    port,
    pieces,
    gapMs: dribble ? rng.int(5, 40) : 0,
    reset: rng.bool(0.15),
    localAddress: `127.0.${rng.int(1, 4)}.${rng.int(1, 8)}`,
  };
}

export interface ServerCampaignOptions {
  readonly seed: number;
  readonly cases: number;
  readonly firstCase?: number;
  /** Connections open at once. */
  readonly concurrency?: number;
  /** A case's connection is closed from this side after this long. */
  readonly caseTimeoutMs?: number;
  /** A real play and /healthz every this many cases. */
  readonly probeEvery?: number;
  /** The edge's RSS may grow this much over its warmed baseline. */
  readonly rssGrowthLimitBytes?: number;
  readonly log?: (message: string) => void;
}

export interface ServerFailure {
  readonly what: string;
  /** Cases in flight when it was seen (any of them may be the cause). */
  readonly inFlight: readonly number[];
}

export interface ServerReport {
  readonly seed: number;
  readonly cases: number;
  readonly byKind: Readonly<Record<string, number>>;
  /** Cases the edge closed before this side gave up. */
  readonly closedByEdge: number;
  readonly probes: number;
  readonly baselineRss: number;
  readonly peakRss: number;
  readonly elapsedMs: number;
  readonly failures: readonly ServerFailure[];
}

async function runCase(c: ServerCase, port: number, timeoutMs: number): Promise<boolean> {
  const socket: Socket = connect({ port, host: "127.0.0.1", localAddress: c.localAddress });
  socket.on("error", () => {});
  socket.on("data", () => {});
  let closed = false;
  const done = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.once("close", () => {
    closed = true;
  });
  // A frozen edge stops accepting: its backlog fills and a connect would wait
  // for the kernel's SYN retries (minutes). Bounded, and the probe says why.
  const connectTimer = setTimeout(() => socket.destroy(), connectTimeoutMs);
  const connected = await new Promise<boolean>((resolve) => {
    socket.once("connect", () => resolve(true));
    socket.once("close", () => resolve(false));
  });
  clearTimeout(connectTimer);
  if (!connected) return true;
  for (const piece of c.pieces) {
    if (closed) break;
    socket.write(piece);
    if (c.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, c.gapMs));
  }
  if (c.reset && !closed) {
    socket.resetAndDestroy();
    await done;
    return false;
  }
  if (closed) return true;
  let gaveUp = false;
  const timer = setTimeout(() => {
    gaveUp = true;
    socket.destroy();
  }, timeoutMs);
  await done;
  clearTimeout(timer);
  return !gaveUp;
}

/** How long a case's connect may take; a live edge accepts in well under a millisecond. */
const connectTimeoutMs = 10_000;
/** How long a liveness probe (a whole play's start, or /healthz) may take before the edge counts as hung. */
const probeTimeoutMs = 30_000;

/** Rejects when `work` has not settled within ms: every wait of the campaign is bounded, a hung edge included. */
async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (edge hung?)`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A real play of the sample through the edge, then /healthz, bounded in time. */
async function probeEdge(edge: EdgeProcess): Promise<void> {
  await within(probePlay(edge.rtmpPort), probeTimeoutMs, "liveness play");
  const health = await fetch(`http://127.0.0.1:${edge.adminPort}/healthz`, {
    signal: AbortSignal.timeout(probeTimeoutMs),
  });
  if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
}

/** A real play of the sample through the edge: connect, createStream, play, first video. */
async function probePlay(port: number): Promise<void> {
  const client = await RtmpTestClient.handshake(port, "127.0.0.1", "127.0.9.9");
  try {
    const result = await client.connectApp(`rtmp://127.0.0.1:${port}/cfx/st`);
    if (statusCode(result) !== "NetConnection.Connect.Success")
      throw new Error(`probe connect answered ${statusCode(result)}`);
    const streamId = await client.createStream();
    client.command(streamId, "play", null, "videos/sample", 0, -1);
    await client.waitFor((m) => m.messageTypeId === MessageType.Video && m.payload.length > 5, {
      timeoutMs: 30_000,
    });
  } finally {
    client.close();
  }
}

/** Runs the campaign against an edge already started by the caller. */
export async function fuzzEdge(edge: EdgeProcess, options: ServerCampaignOptions): Promise<ServerReport> {
  const concurrency = options.concurrency ?? 32;
  const timeoutMs = options.caseTimeoutMs ?? 250;
  const probeEvery = options.probeEvery ?? 2000;
  const growthLimit = options.rssGrowthLimitBytes ?? 192 * 1024 * 1024;
  const first = options.firstCase ?? 0;
  const ports = { rtmp: edge.rtmpPort, shared: edge.httpPort };
  const failures: ServerFailure[] = [];
  const byKind: Record<string, number> = {};
  const inFlight = new Set<number>();
  let closedByEdge = 0;
  let probes = 0;

  await probeEdge(edge);
  const baselineRss = (await edge.memory()).rss;
  let peakRss = baselineRss;
  const fail = (what: string) => failures.push({ what, inFlight: [...inFlight].sort((a, b) => a - b) });
  const checkMemory = async () => {
    if (!edge.alive) return;
    const { rss } = await edge.memory();
    peakRss = Math.max(peakRss, rss);
    if (rss - baselineRss > growthLimit && failures.length === 0)
      fail(
        `edge RSS ${(rss / 2 ** 20).toFixed(1)} MiB is over baseline + ${(growthLimit / 2 ** 20).toFixed(0)} MiB`,
      );
  };
  const sampler = setInterval(() => void checkMemory().catch(() => {}), 250);
  const started = Date.now();
  let next = first;
  const end = first + options.cases;
  let sinceProbe = 0;
  try {
    const worker = async () => {
      while (next < end && failures.length === 0) {
        const index = next++;
        const c = serverCase(options.seed, index, ports);
        byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
        inFlight.add(index);
        if (await runCase(c, c.port === ServerPort.Rtmp ? ports.rtmp : ports.shared, timeoutMs))
          closedByEdge++;
        inFlight.delete(index);
        if (!edge.alive)
          fail(
            `edge exited (code ${edge.launched.child.exitCode}, signal ${edge.launched.child.signalCode})`,
          );
        if (++sinceProbe >= probeEvery) {
          sinceProbe = 0;
          probes++;
          try {
            await probeEdge(edge);
          } catch (error) {
            fail(`liveness probe failed: ${error instanceof Error ? error.message : String(error)}`);
          }
          options.log?.(
            `server: ${index + 1 - first}/${options.cases} cases, RSS peak ${(peakRss / 2 ** 20).toFixed(1)} MiB`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    if (failures.length === 0) {
      probes++;
      try {
        await probeEdge(edge);
      } catch (error) {
        fail(`final liveness probe failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    await checkMemory();
  } finally {
    clearInterval(sampler);
  }
  return {
    seed: options.seed,
    cases: next - first,
    byKind,
    closedByEdge,
    probes,
    baselineRss,
    peakRss,
    elapsedMs: Date.now() - started,
    failures,
  };
}

/**
 * Starts the edge with short timeouts (so slow cases do not pile up past
 * what a campaign can wait for) and default limits otherwise.
 */
export async function startFuzzEdge(): Promise<{ edge: EdgeProcess; backend: MediaBackend }> {
  const backend = await startMediaBackend("fuzz-media");
  try {
    const edge = await EdgeProcess.start(backend, {
      STREAMFRONT_EDGE_LOG_LEVEL: "error",
      STREAMFRONT_EDGE_HANDSHAKE_TIMEOUT_MS: "2000",
      STREAMFRONT_EDGE_PRE_PLAY_TIMEOUT_MS: "3000",
      STREAMFRONT_EDGE_HTTP_HEADERS_TIMEOUT_MS: "2000",
      STREAMFRONT_EDGE_HTTP_REQUEST_TIMEOUT_MS: "3000",
    });
    edge.launched.child.stdout?.resume();
    return { edge, backend };
  } catch (error) {
    await backend.close();
    throw error;
  }
}

export async function runServerCampaign(options: ServerCampaignOptions): Promise<ServerReport> {
  const { edge, backend } = await startFuzzEdge();
  try {
    return await fuzzEdge(edge, options);
  } finally {
    await edge.stop();
    await backend.close();
  }
}

export function formatServerReport(report: ServerReport): string {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const rate = report.cases / Math.max(report.elapsedMs / 1000, 0.001);
  const kinds = Object.entries(report.byKind)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return [
    `server     ${report.cases} cases in ${(report.elapsedMs / 1000).toFixed(1)} s (${rate.toFixed(0)}/s), ${report.failures.length} failure(s)`,
    `           closed by the edge ${report.closedByEdge}; liveness probes ${report.probes}; RSS baseline ${mib(report.baselineRss)}, peak ${mib(report.peakRss)}`,
    `           kinds: ${kinds}`,
    ...report.failures.map(
      (f) =>
        `  FAILURE: ${f.what}; cases in flight: ${f.inFlight.join(", ") || "none"} (replay: npm run fuzz -- --target server --seed ${report.seed} --first ${f.inFlight[0] ?? 0} --cases 64)`,
    ),
  ].join("\n");
}
