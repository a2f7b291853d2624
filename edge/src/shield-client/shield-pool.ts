import { promises as dns } from "node:dns";
import type { InternalTls } from "../../../lib/grpc/internal-tls.js";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import type { Logger } from "../../../lib/log.js";
import { formatAddress } from "../../../lib/net/listen.js";
import { ShieldServiceClient } from "../../../proto/gen/streamfront/shield/v1/shield.js";
import { rankReplicas } from "./rendezvous.js";
import { parseShieldTargets, type ShieldTarget, targetId } from "./shield-targets.js";

/** What the pool needs of a DNS resolver; node:dns's promises Resolver is one. */
export interface DnsResolver {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export interface ShieldPoolOptions {
  /** `host:port` entries and `dns:<name>:<port>` entries, as a list or comma-separated. */
  readonly targets: string | readonly string[];
  readonly logger: Logger;
  /** The edge's internal-link credentials; a shield's certificate must name the shield role. */
  readonly tls: InternalTls;
  /** How long a replica that failed is tried only after the healthy ones. @default 10000 */
  readonly penaltyMs?: number;
  /** How often dns: names are resolved again. @default 10000 */
  readonly dnsRefreshMs?: number;
  /** Resolver for dns: names. @default a node:dns Resolver with the system's servers */
  readonly resolver?: DnsResolver;
}

/** Outcomes of one shield call, a fixed set so the metric label stays small. */
export const ShieldResult = {
  Ok: "ok",
  /** NOT_FOUND: an answer, not a failure. */
  NotFound: "not_found",
  /** PERMISSION_DENIED, INVALID_ARGUMENT, OUT_OF_RANGE: answers, not failures. */
  Refused: "refused",
  /** FAILED_PRECONDITION: the object's ETag moved on; an answer, not a failure. */
  Changed: "changed",
  /** UNAVAILABLE (a shield overloaded, a lost connection, no shield listening). */
  Unavailable: "unavailable",
  /** The shield is closing (SHIELD_ERR_SHUTTING_DOWN): failed over to the next replica. */
  ShuttingDown: "shutting_down",
  /**
   * The shield is up but S3 failed or timed out behind it
   * (SHIELD_ERR_ORIGIN_UNAVAILABLE): every replica reads the same bucket, so
   * it is not failed over and the replica is not penalized.
   */
  OriginUnavailable: "origin_unavailable",
  /** The call's deadline passed. */
  Deadline: "deadline",
  /** Nothing arrived for the idle timeout (a hung replica). */
  Idle: "idle",
  /** INTERNAL, CANCELLED by the server, a malformed stream, anything else. */
  Error: "error",
} as const;
export type ShieldResult = (typeof ShieldResult)[keyof typeof ShieldResult];

interface ReplicaTraffic {
  readonly requests: Record<ShieldResult, number>;
  bytes: number;
}

/** A bound on the series of replicas that have left the set (DNS churn adds new pod IPs). */
const maxRetiredReplicas = 64;

/**
 * Shield traffic counters, plain numbers read at scrape time so a piece
 * received costs an addition. A replica's counts stay after it leaves the
 * set (counters must not go back), up to maxRetiredReplicas of them.
 */
export class ShieldTrafficStats {
  /** Reads and stats moved to another replica after a failure. */
  failovers = 0;
  readonly #replicas = new Map<string, ReplicaTraffic>();

  request(replica: string, result: ShieldResult): void {
    this.#of(replica).requests[result]++;
  }

  received(replica: string, bytes: number): void {
    this.#of(replica).bytes += bytes;
  }

  /** Every replica's counters, for the scrape. */
  *replicas(): IterableIterator<[string, Readonly<ReplicaTraffic>]> {
    yield* this.#replicas;
  }

  /** Forgets the oldest replicas not in `current` beyond the bound. */
  retire(current: ReadonlySet<string>): void {
    let retired = 0;
    for (const replica of this.#replicas.keys()) if (!current.has(replica)) retired++;
    for (const replica of this.#replicas.keys()) {
      if (retired <= maxRetiredReplicas) return;
      if (current.has(replica)) continue;
      this.#replicas.delete(replica);
      retired--;
    }
  }

  #of(replica: string): ReplicaTraffic {
    let traffic = this.#replicas.get(replica);
    if (!traffic) {
      const requests = {} as Record<ShieldResult, number>;
      for (const result of Object.values(ShieldResult)) requests[result] = 0;
      traffic = { requests, bytes: 0 };
      this.#replicas.set(replica, traffic);
    }
    return traffic;
  }
}

interface Replica {
  client: ShieldServiceClient | null;
  /** Date.now() until which the replica ranks after the healthy ones; 0 when healthy. */
  penalizedUntil: number;
}

/**
 * The shield replicas an edge reads from: a fixed list and/or the records
 * of DNS names resolved every dnsRefreshMs (a failed or empty lookup keeps
 * the name's last good set, so a DNS hiccup never empties the pool). Each
 * object ranks the replicas by rendezvous hashing; a replica that failed in
 * the last penaltyMs goes to the end of every ranking, so new reads do not
 * start on a dead shield. One gRPC client per replica, made on first use
 * and closed when the replica leaves the set.
 */
export class ShieldPool {
  readonly stats = new ShieldTrafficStats();
  readonly #logger: Logger;
  readonly #tls: InternalTls;
  readonly #penaltyMs: number;
  readonly #dnsRefreshMs: number;
  readonly #resolver: DnsResolver;
  readonly #static: readonly string[];
  readonly #dnsTargets: readonly Extract<ShieldTarget, { kind: "dns" }>[];
  /** The last good addresses of each dns: target, by target id. */
  readonly #resolved = new Map<string, readonly string[]>();
  readonly #replicas = new Map<string, Replica>();
  /** Current addresses, sorted; rankings are computed over this. */
  #addresses: readonly string[] = [];
  #generation = 0;
  #timer: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> | null = null;
  readonly #firstRefresh: Promise<void>;
  #closed = false;

  constructor(options: ShieldPoolOptions) {
    const targets = parseShieldTargets(options.targets);
    this.#logger = options.logger;
    this.#tls = options.tls;
    this.#penaltyMs = Math.max(0, options.penaltyMs ?? 10_000);
    this.#dnsRefreshMs = Math.max(100, options.dnsRefreshMs ?? 10_000);
    this.#resolver = options.resolver ?? new dns.Resolver({ timeout: 2_000, tries: 2 });
    this.#static = targets.flatMap((t) => (t.kind === "static" ? [t.address] : []));
    this.#dnsTargets = targets.flatMap((t) => (t.kind === "dns" ? [t] : []));
    this.#apply();
    if (this.#dnsTargets.length === 0) {
      this.#firstRefresh = Promise.resolve();
    } else {
      this.#firstRefresh = this.refresh();
      this.#timer = setInterval(() => void this.refresh(), this.#dnsRefreshMs);
      this.#timer.unref();
    }
  }

  /** Resolves once every dns: name has been looked up once (at once for a static list). */
  ready(): Promise<void> {
    return this.#firstRefresh;
  }

  /** The current replica addresses, sorted. */
  get replicas(): readonly string[] {
    return this.#addresses;
  }

  /** Grows each time the replica set changes. */
  get generation(): number {
    return this.#generation;
  }

  /** gRPC clients open now (one per replica used since it joined). */
  get openClients(): number {
    let n = 0;
    for (const replica of this.#replicas.values()) if (replica.client) n++;
    return n;
  }

  /** Replicas in the set now, by health (for the scrape). */
  health(): { readonly healthy: number; readonly penalized: number } {
    const now = Date.now();
    let penalized = 0;
    for (const replica of this.#replicas.values()) if (replica.penalizedUntil > now) penalized++;
    return { healthy: this.#replicas.size - penalized, penalized };
  }

  /** An object's preference list: rendezvous order, with replicas in their penalty window moved last. */
  rank(objectKey: string): string[] {
    return this.order(rankReplicas(objectKey, this.#addresses));
  }

  /** Moves penalized replicas of a ranking to its end, each part in its own order; drops replicas no longer in the set. */
  order(ranking: readonly string[]): string[] {
    const now = Date.now();
    const healthy: string[] = [];
    const penalized: string[] = [];
    for (const address of ranking) {
      const replica = this.#replicas.get(address);
      if (!replica) continue;
      (replica.penalizedUntil > now ? penalized : healthy).push(address);
    }
    return penalized.length === 0 ? healthy : healthy.concat(penalized);
  }

  /** The replica's client, made on first use; null when the address is not in the set (any more). */
  client(address: string): ShieldServiceClient | null {
    const replica = this.#replicas.get(address);
    if (!replica || this.#closed) return null;
    replica.client ??= new ShieldServiceClient(address, this.#tls.channelCredentials(PeerRole.Shield), {
      ...this.#tls.channelOptions(PeerRole.Shield),
      // A shield may send pieces up to 4 MiB (its max-piece-bytes bound).
      "grpc.max_receive_message_length": 5 * 1024 * 1024,
      "grpc.keepalive_time_ms": 20_000,
      "grpc.keepalive_timeout_ms": 5_000,
      // Reconnect soon after a replica comes back instead of after grpc's default backoff (up to 120 s).
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 2_000,
    });
    return replica.client;
  }

  /** A call to the replica failed: rank it last for the penalty window. */
  reportFailure(address: string): void {
    const replica = this.#replicas.get(address);
    if (!replica) return;
    const wasHealthy = replica.penalizedUntil <= Date.now();
    replica.penalizedUntil = Date.now() + this.#penaltyMs;
    if (wasHealthy && this.#penaltyMs > 0) {
      this.#logger.warn(
        { replica: address, penaltyMs: this.#penaltyMs },
        "shield replica failed; ranking it last",
      );
    }
  }

  /** A call to the replica worked: it is healthy again. */
  reportSuccess(address: string): void {
    const replica = this.#replicas.get(address);
    if (!replica || replica.penalizedUntil === 0) return;
    replica.penalizedUntil = 0;
    this.#logger.info({ replica: address }, "shield replica answers again");
  }

  /** Looks up every dns: name once more; keeps a name's last good set when its lookup fails or is empty. */
  refresh(): Promise<void> {
    if (this.#dnsTargets.length === 0 || this.#closed) return Promise.resolve();
    this.#refreshing ??= this.#lookUpAll().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const replica of this.#replicas.values()) replica.client?.close();
    this.#replicas.clear();
    this.#addresses = [];
  }

  async #lookUpAll(): Promise<void> {
    await Promise.all(
      this.#dnsTargets.map(async (target) => {
        const id = targetId(target);
        const [v4, v6] = await Promise.allSettled([
          this.#resolver.resolve4(target.name),
          this.#resolver.resolve6(target.name),
        ]);
        const hosts = [
          ...(v4.status === "fulfilled" ? v4.value : []),
          ...(v6.status === "fulfilled" ? v6.value : []),
        ];
        if (hosts.length === 0) {
          // A name with only A records fails resolve6 with ENODATA; only both failing (or an empty answer) is a failure.
          const reasons = [v4, v6].map((r) => (r.status === "rejected" ? errorText(r.reason) : "no records"));
          this.#logger.warn(
            { target: id, errors: reasons, kept: this.#resolved.get(id)?.length ?? 0 },
            "shield DNS lookup failed; keeping the last good replica set",
          );
          return;
        }
        this.#resolved.set(
          id,
          hosts.map((host) => formatAddress(host, target.port)),
        );
      }),
    );
    if (!this.#closed) this.#apply();
  }

  /** Makes the replica set the union of the static list and the last good DNS answers. */
  #apply(): void {
    const next = new Set(this.#static);
    for (const addresses of this.#resolved.values()) for (const a of addresses) next.add(a);
    const sorted = [...next].sort();
    if (sorted.length === this.#addresses.length && sorted.every((a, i) => a === this.#addresses[i])) return;
    const added = sorted.filter((a) => !this.#replicas.has(a));
    const removed = [...this.#replicas.keys()].filter((a) => !next.has(a));
    for (const address of added) this.#replicas.set(address, { client: null, penalizedUntil: 0 });
    for (const address of removed) {
      // grpc-js lets calls already started on a closed channel finish; only queued ones fail (and fail over).
      this.#replicas.get(address)?.client?.close();
      this.#replicas.delete(address);
    }
    this.#addresses = sorted;
    this.#generation++;
    this.stats.retire(next);
    if (this.#generation > 1 || this.#dnsTargets.length > 0) {
      this.#logger.info({ replicas: sorted, added, removed }, "shield replica set changed");
    }
  }
}

function errorText(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  return typeof e.code === "string" ? e.code : String(e.message ?? error);
}
