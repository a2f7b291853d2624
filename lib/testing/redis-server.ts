import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { delay } from "./wait.js";

/**
 * A real redis-server (or Sentinel) for tests: its own process on a free
 * loopback port, in its own temporary folder, never the machine's Redis on
 * 6379. Tests that need outages stop, kill, pause and restart it by PID.
 * Every process started here is killed when the test process exits, even
 * when a test forgot to stop it or an after hook never ran.
 */

export interface RedisServerOptions {
  /**
   * Keep an append-only file (fsync on every write), so data survives
   * stop()/kill() and restart(). @default false: no persistence at all
   */
  readonly appendOnly?: boolean;
  /**
   * Run as a one-node Redis Cluster owning every slot, so ioredis's Cluster
   * client (and the hash-slot rules for multi-key scripts) can be tested.
   * @default false
   */
  readonly cluster?: boolean;
  /** More redis-server arguments, e.g. ["--maxmemory", "10mb"]. */
  readonly extraArgs?: readonly string[];
  /** Listen here (a port the test reserved) instead of on a fresh free one. */
  readonly port?: number;
}

const binary = "redis-server";
const startTimeoutMs = 10_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills what is still running when the process goes, whichever way it goes. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of live) child.kill("SIGKILL");
    live.clear();
  };
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAll();
      // Let the signal do what it would have done without this hook.
      process.kill(process.pid, signal);
    });
  }
}

/** A loopback port nobody listened on a moment ago (the OS picks it). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

type Reply = string | number | null | Reply[] | Error;

/**
 * One command over a fresh connection (RESP2), for start-up checks without
 * a client library: PING until it answers, CLUSTER ADDSLOTSRANGE, INFO.
 */
async function rawRedisCommand(port: number, args: readonly string[], timeoutMs = 1000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no reply from 127.0.0.1:${port} to ${args[0]}`)));
    socket.once("error", fail);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseReply(buffer, 0);
      if (parsed) {
        socket.destroy();
        resolve(parsed.value);
      }
    });
    socket.connect(port, "127.0.0.1", () => {
      const parts = [`*${args.length}\r\n`];
      for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
      socket.write(parts.join(""));
    });
  });
}

/** A complete reply at offset, or undefined when more bytes are needed. */
function parseReply(buffer: Buffer, offset: number): { value: Reply; end: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd < 0) return undefined;
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  switch (String.fromCharCode(buffer[offset] ?? 0)) {
    case "+":
      return { value: line, end: lineEnd + 2 };
    case "-":
      return { value: new Error(line), end: lineEnd + 2 };
    case ":":
      return { value: Number(line), end: lineEnd + 2 };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: lineEnd + 2 };
      if (buffer.length < lineEnd + 2 + length + 2) return undefined;
      return {
        value: buffer.toString("utf8", lineEnd + 2, lineEnd + 2 + length),
        end: lineEnd + 2 + length + 2,
      };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: lineEnd + 2 };
      const items: Reply[] = [];
      let at = lineEnd + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP reply ${JSON.stringify(buffer.toString("utf8", offset, lineEnd))}`);
  }
}

class PortInUse extends Error {}

/** The process side shared by RedisServer and RedisSentinel. */
abstract class RedisProcess {
  readonly dir: string;
  #port: number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = "";
  #paused = false;

  protected constructor(dir: string, port: number) {
    this.dir = dir;
    this.#port = port;
  }

  get port(): number {
    return this.#port;
  }

  get host(): string {
    return "127.0.0.1";
  }

  /** The PID of the running process, undefined while stopped. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last lines the server wrote (for failure messages). */
  get output(): string {
    return this.#output;
  }

  protected abstract args(port: number): Promise<string[]>;

  /** After PING answers: anything else needed before it is usable. */
  protected async prepare(): Promise<void> {}

  /** Starts the process on the current port and waits until it answers PING. */
  protected async launch(): Promise<void> {
    if (this.#port === 6379) throw new Error("refusing to run a test Redis on 6379, the machine's own");
    const args = await this.args(this.#port);
    const child = spawn(binary, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    this.#paused = false;
    this.#output = "";
    live.add(child);
    installExitHook();
    const record = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString("utf8")).slice(-4000);
    };
    child.stdout?.on("data", record);
    child.stderr?.on("data", record);
    let spawnError: Error | undefined;
    this.#exited = new Promise((resolve) => {
      child.once("error", (error) => {
        spawnError = error;
        live.delete(child);
        resolve();
      });
      child.once("exit", () => {
        live.delete(child);
        resolve();
      });
    });
    const until = Date.now() + startTimeoutMs;
    for (;;) {
      if (spawnError) {
        this.#child = undefined;
        if ((spawnError as NodeJS.ErrnoException).code === "ENOENT") {
          throw new Error(
            "redis-server is not installed; the Redis store tests run a real one. " +
              "Install it: apt-get install redis-server (npm test does so through lib/testing/ensure-system-tools.ts)",
          );
        }
        throw spawnError;
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        this.#child = undefined;
        if (/Address already in use/i.test(this.#output)) throw new PortInUse();
        throw new Error(
          `${binary} ${args.join(" ")} exited (${child.exitCode ?? child.signalCode}):\n${this.#output}`,
        );
      }
      const pong = await rawRedisCommand(this.#port, ["PING"], 500).catch(() => undefined);
      if (pong === "PONG") break;
      if (Date.now() > until) {
        await this.kill();
        throw new Error(
          `${binary} did not answer PING on ${this.#port} within ${startTimeoutMs} ms:\n${this.#output}`,
        );
      }
      await delay(20);
    }
    await this.prepare();
  }

  protected async launchOn(port: number): Promise<void> {
    this.#port = port;
    await this.launch();
  }

  /** Starts on a fresh free port, trying another when one is taken in between. */
  protected async launchOnFreePort(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.#port = await freeLoopbackPort();
      try {
        await this.launch();
        return;
      } catch (error) {
        if (!(error instanceof PortInUse) || attempt >= 5) throw error;
      }
    }
  }

  /** SIGTERM (Redis saves the AOF and exits), then waits for the exit; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (this.#paused) this.resume();
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await this.#exited;
    clearTimeout(timer);
    this.#child = undefined;
  }

  /** SIGKILL: a crash, nothing saved beyond what is already written. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill("SIGKILL");
    await this.#exited;
    this.#child = undefined;
    this.#paused = false;
  }

  /** SIGSTOP: the server keeps its connections but answers nothing. */
  pause(): void {
    if (!this.#child || this.#paused) return;
    this.#child.kill("SIGSTOP");
    this.#paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (!this.#child || !this.#paused) return;
    this.#child.kill("SIGCONT");
    this.#paused = false;
  }

  /** Stops (if running) and starts again on the same port and folder. */
  async restart(): Promise<void> {
    await this.stop();
    // The port was ours a moment ago; wait out anyone grabbing it in between.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launch();
        return;
      } catch (error) {
        if (!(error instanceof PortInUse) || attempt >= 50) throw error;
        await delay(100);
      }
    }
  }

  /** Stops the process and removes its folder. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A redis-server process. Start with RedisServer.start(). */
export class RedisServer extends RedisProcess {
  readonly #options: RedisServerOptions;

  private constructor(dir: string, options: RedisServerOptions) {
    super(dir, 0);
    this.#options = options;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = await mkdtemp(join(tmpdir(), "streamfront-redis-"));
    const server = new RedisServer(dir, options);
    try {
      if (options.port === undefined) await server.launchOnFreePort();
      else await server.launchOn(options.port);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  /** redis://127.0.0.1:<port> */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected async args(port: number): Promise<string[]> {
    const appendOnly = this.#options.appendOnly === true;
    return [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--protected-mode",
      "yes",
      "--daemonize",
      "no",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      appendOnly ? "yes" : "no",
      ...(appendOnly ? ["--appendfsync", "always"] : []),
      ...(this.#options.cluster === true
        ? [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(this.dir, "nodes.conf"),
            // A lone node does not know its address and announces "", which
            // clients cannot route to.
            "--cluster-announce-ip",
            "127.0.0.1",
          ]
        : []),
      ...(this.#options.extraArgs ?? []),
    ];
  }

  protected override async prepare(): Promise<void> {
    if (this.#options.cluster !== true) return;
    // On restart nodes.conf already gives this node every slot.
    const info = await rawRedisCommand(this.port, ["CLUSTER", "INFO"]);
    if (typeof info === "string" && /cluster_slots_assigned:16384/.test(info)) return this.#waitClusterOk();
    const added = await rawRedisCommand(this.port, ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    if (added instanceof Error) throw added;
    await this.#waitClusterOk();
  }

  async #waitClusterOk(): Promise<void> {
    const until = Date.now() + startTimeoutMs;
    for (;;) {
      const info = await rawRedisCommand(this.port, ["CLUSTER", "INFO"]);
      if (typeof info === "string" && /cluster_state:ok/.test(info)) return;
      if (Date.now() > until)
        throw new Error(`the one-node cluster on ${this.port} never became ok: ${String(info)}`);
      await delay(20);
    }
  }
}

/** A Redis Sentinel watching one primary. Start with RedisSentinel.start(). */
export class RedisSentinel extends RedisProcess {
  readonly masterName: string;
  readonly #masterPort: number;

  private constructor(dir: string, masterName: string, masterPort: number) {
    super(dir, 0);
    this.masterName = masterName;
    this.#masterPort = masterPort;
  }

  static async start(master: RedisServer, masterName = "streamfront"): Promise<RedisSentinel> {
    const dir = await mkdtemp(join(tmpdir(), "streamfront-sentinel-"));
    const sentinel = new RedisSentinel(dir, masterName, master.port);
    try {
      await sentinel.launchOnFreePort();
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return sentinel;
  }

  protected async args(port: number): Promise<string[]> {
    // Sentinel rewrites its config file, so it gets one of its own.
    const config = join(this.dir, "sentinel.conf");
    await writeFile(
      config,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${this.dir}`,
        `sentinel monitor ${this.masterName} 127.0.0.1 ${this.#masterPort} 1`,
        `sentinel down-after-milliseconds ${this.masterName} 60000`,
        "",
      ].join("\n"),
    );
    return [config, "--sentinel"];
  }
}
