import { Cluster, Redis, type RedisOptions } from "ioredis";
import { StreamfrontError } from "../../../lib/errors.js";
import { ControllerErrorCode } from "../errors.js";

/** Where the Redis of a RedisStore is, and how it is deployed. */
export const RedisTopology = { Single: "single", Sentinel: "sentinel", Cluster: "cluster" } as const;
export type RedisTopology = (typeof RedisTopology)[keyof typeof RedisTopology];

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** Credentials and transport shared by every topology. */
interface RedisAuth {
  /** ACL user (Redis 6+). */
  readonly username?: string;
  readonly password?: string;
  /** Connect with TLS (rediss://). @default false */
  readonly tls?: boolean;
}

/** One Redis server (or a proxy in front of several). */
export interface SingleRedisConnection {
  readonly topology: typeof RedisTopology.Single;
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS; credentials in the URL win. */
  readonly url: string;
}

/** A primary found through Redis Sentinel, followed across failovers. */
export interface SentinelRedisConnection extends RedisAuth {
  readonly topology: typeof RedisTopology.Sentinel;
  readonly sentinels: readonly RedisNodeAddress[];
  /** The monitored primary's name (sentinel monitor <name> …). */
  readonly masterName: string;
  /** When the sentinels themselves require a password. */
  readonly sentinelPassword?: string;
  /** @default 0 */
  readonly db?: number;
}

/**
 * A Redis Cluster. RedisStore puts every key in one hash slot (a `{sf}` hash
 * tag), because each mutation is one Lua script over several keys.
 */
export interface ClusterRedisConnection extends RedisAuth {
  readonly topology: typeof RedisTopology.Cluster;
  /** Any reachable nodes; the rest of the cluster is discovered from them. */
  readonly startupNodes: readonly RedisNodeAddress[];
}

export type RedisConnectionOptions = SingleRedisConnection | SentinelRedisConnection | ClusterRedisConnection;

/** How a client behaves when Redis is slow or gone. */
export interface RedisClientTuning {
  /** Shown by CLIENT LIST, to tell the store's connections apart. */
  readonly connectionName: string;
  /**
   * "commands" fails fast: no offline queue, no retry or resend of a command
   * after a lost connection (a resent mutation could apply twice), and a
   * reply deadline. "subscriber" may queue its SUBSCRIBE until connected.
   */
  readonly role: "commands" | "subscriber";
  /** A command without a reply after this fails. Ignored for subscribers. */
  readonly commandTimeoutMs: number;
  /** Gives up on a TCP connect (then retries) after this. */
  readonly connectTimeoutMs: number;
  /** Reconnects forever, backing off exponentially from 50 ms up to this. */
  readonly reconnectMaxDelayMs: number;
}

export type RedisClient = Redis | Cluster;

/** The delay before reconnect attempt `times` (1-based): 50 ms doubling, capped, never giving up. */
export function reconnectDelay(times: number, maxDelayMs: number): number {
  return Math.min(50 * 2 ** Math.min(Math.max(times - 1, 0), 16), maxDelayMs);
}

/** A connected (connecting) ioredis client for the options. */
export function createRedisClient(
  connection: RedisConnectionOptions,
  tuning: RedisClientTuning,
): RedisClient {
  const commands = tuning.role === "commands";
  const retry = (times: number) => reconnectDelay(times, tuning.reconnectMaxDelayMs);
  // What every node connection gets, whatever the topology. (Not annotated
  // RedisOptions: its optional replyMapping clashes with the constructors'
  // under exactOptionalPropertyTypes.)
  const perNode = {
    connectionName: tuning.connectionName,
    connectTimeout: tuning.connectTimeoutMs,
    ...(commands ? { commandTimeout: tuning.commandTimeoutMs } : {}),
    // A command caught by a lost connection fails at once instead of being
    // retried after the reconnect: the caller gets StoreUnavailable and
    // decides, and a mutation is never sent twice behind its back.
    maxRetriesPerRequest: commands ? 0 : null,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
  };
  switch (connection.topology) {
    case RedisTopology.Single:
      return new Redis(connection.url, {
        ...perNode,
        enableOfflineQueue: !commands,
        retryStrategy: retry,
      });
    case RedisTopology.Sentinel:
      return new Redis({
        ...perNode,
        ...auth(connection),
        sentinels: connection.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: connection.masterName,
        ...(connection.sentinelPassword === undefined
          ? {}
          : { sentinelPassword: connection.sentinelPassword }),
        ...(connection.tls === true ? { enableTLSForSentinelMode: true } : {}),
        db: connection.db ?? 0,
        enableOfflineQueue: !commands,
        retryStrategy: retry,
        // Sentinels are asked again on every reconnect, forever.
        sentinelRetryStrategy: retry,
      });
    case RedisTopology.Cluster:
      return new Cluster(
        connection.startupNodes.map((n) => ({ host: n.host, port: n.port })),
        {
          enableOfflineQueue: !commands,
          clusterRetryStrategy: retry,
          redisOptions: { ...perNode, ...auth(connection) },
        },
      );
  }
}

function auth(connection: RedisAuth): Pick<RedisOptions, "username" | "password" | "tls"> {
  return {
    ...(connection.username === undefined ? {} : { username: connection.username }),
    ...(connection.password === undefined ? {} : { password: connection.password }),
    ...(connection.tls === true ? { tls: {} } : {}),
  };
}

/** A Redis location that does not parse. */
export class RedisUrlError extends StreamfrontError {
  constructor(message: string) {
    super(ControllerErrorCode.RedisUrl, message);
    this.name = "RedisUrlError";
  }
}

/**
 * Connection options from one string, for a setting or an environment
 * variable:
 * - redis://[user:password@]host:port[/db] or rediss://… (one server)
 * - redis-sentinel://[user:password@]host:port,host:port/masterName[?db=N&sentinelPassword=…&tls=1]
 * - redis-cluster://[user:password@]host:port,host:port[?tls=1]
 * Throws RedisUrlError naming what is wrong.
 */
export function parseRedisUrl(text: string): RedisConnectionOptions {
  const scheme = /^([a-z-]+):\/\//.exec(text)?.[1];
  if (scheme === "redis" || scheme === "rediss") {
    try {
      new URL(text);
    } catch {
      throw new RedisUrlError(`${JSON.stringify(text)} is not a URL`);
    }
    return { topology: RedisTopology.Single, url: text };
  }
  if (scheme !== "redis-sentinel" && scheme !== "redis-cluster") {
    throw new RedisUrlError(
      `${JSON.stringify(text)} must start with redis://, rediss://, redis-sentinel:// or redis-cluster://`,
    );
  }
  // Several host:port pairs are not a URL authority, so split by hand.
  const rest = text.slice(scheme.length + 3);
  const queryAt = rest.indexOf("?");
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = new URLSearchParams(queryAt < 0 ? "" : rest.slice(queryAt + 1));
  const slashAt = beforeQuery.indexOf("/");
  const authority = slashAt < 0 ? beforeQuery : beforeQuery.slice(0, slashAt);
  const path = slashAt < 0 ? "" : decodeURIComponent(beforeQuery.slice(slashAt + 1));
  const atAt = authority.lastIndexOf("@");
  const credentials = atAt < 0 ? "" : authority.slice(0, atAt);
  const hosts = (atAt < 0 ? authority : authority.slice(atAt + 1)).split(",").map((h) => parseHost(h, text));
  if (hosts.length === 0) throw new RedisUrlError(`${JSON.stringify(text)} names no host`);
  const colonAt = credentials.indexOf(":");
  const username = decodeURIComponent(colonAt < 0 ? credentials : credentials.slice(0, colonAt));
  const password = colonAt < 0 ? undefined : decodeURIComponent(credentials.slice(colonAt + 1));
  const common = {
    ...(username === "" ? {} : { username }),
    ...(password === undefined || password === "" ? {} : { password }),
    ...(query.get("tls") === "1" || query.get("tls") === "true" ? { tls: true } : {}),
  };
  if (scheme === "redis-cluster") {
    if (path !== "") throw new RedisUrlError(`${JSON.stringify(text)}: a cluster URL has no path`);
    return { topology: RedisTopology.Cluster, startupNodes: hosts, ...common };
  }
  if (path === "") throw new RedisUrlError(`${JSON.stringify(text)}: the path must be the master name`);
  const db = query.get("db");
  if (db !== null && !/^\d{1,5}$/.test(db))
    throw new RedisUrlError(`${JSON.stringify(text)}: db must be a number`);
  const sentinelPassword = query.get("sentinelPassword");
  return {
    topology: RedisTopology.Sentinel,
    sentinels: hosts,
    masterName: path,
    ...common,
    ...(db === null ? {} : { db: Number(db) }),
    ...(sentinelPassword === null ? {} : { sentinelPassword }),
  };
}

function parseHost(hostPort: string, text: string): RedisNodeAddress {
  // [v6]:port or host:port
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(hostPort);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new RedisUrlError(`${JSON.stringify(text)}: ${JSON.stringify(hostPort)} is not host:port`);
  }
  return { host: match[1] ?? match[2] ?? "", port };
}
