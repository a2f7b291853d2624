import { Metadata, type ServerDuplexStream, status } from "@grpc/grpc-js";
import { roleOfCertificate } from "../../lib/grpc/peer-role.js";
import type { Logger } from "../../lib/log.js";
import {
  type ConfigServiceServer,
  NodeRole,
  type WatchConfigRequest,
  type WatchConfigResponse,
  type WatchHello,
} from "../../proto/gen/streamfront/controller/v1/controller.js";
import { toWire } from "./distribution.js";
import { type PublicKeyRecord, publicKeyToWire } from "./public-key.js";
import type { DistributionChange, DistributionStore } from "./store/distribution-store.js";
import type { TrustedKeySource } from "./trusted-keys.js";

export type WatcherRole = "edge" | "shield" | "unspecified";
export const watcherRoles: readonly WatcherRole[] = ["edge", "shield", "unspecified"];

/** What the controller knows of one watching node, for deployment tracking. */
export interface NodeStatus {
  readonly nodeId: string;
  readonly role: WatcherRole;
  /** Highest version the node acknowledged having applied; 0 for none. */
  readonly lastAckedVersion: number;
  /** Last hello or ack, ms since the epoch. */
  readonly lastSeenMs: number;
  /** Open watch streams of this node (0 once it went away). */
  readonly streams: number;
}

export interface ConfigServiceOptions {
  readonly store: DistributionStore;
  readonly logger: Logger;
  /** This installation's account id: what TrustedSigners' Self resolves to for watchers. */
  readonly accountId: string;
  /**
   * Keys of other accounts (the trusted-keys file), pushed with the store's
   * own. When given, a watcher that resumes gets a snapshot rather than the
   * changes since its version (the file may have changed meanwhile, and
   * the version does not count file changes), and every watcher gets a
   * fresh snapshot when the keys change.
   */
  readonly trustedKeys?: TrustedKeySource;
  /**
   * Updates queued for one watcher that is not reading (HTTP/2 flow control
   * holds them). Past this the queue is dropped and the watcher gets one
   * fresh snapshot when it catches up. @default 64
   */
  readonly maxQueuedUpdates?: number;
  /** A stream that sends no hello within this is ended. @default 10000 */
  readonly helloTimeoutMs?: number;
  /**
   * Open watch streams in all; more are refused with RESOURCE_EXHAUSTED
   * (the watcher retries with backoff). Each holds a store subscription and
   * a bounded queue, so this bounds the service's memory. @default 10000
   */
  readonly maxWatchers?: number;
  /** Nodes remembered (disconnected ones are forgotten oldest first). @default 10000 */
  readonly maxNodes?: number;
  /**
   * Each hello and ack is recorded in the store as a heartbeat that keeps the
   * node in the live set (deployment tracking) this long; watchers re-send
   * their ack more often than this. @default 15000
   */
  readonly watcherTtlMs?: number;
  readonly clock?: () => number;
}

interface MutableNode {
  nodeId: string;
  role: WatcherRole;
  lastAckedVersion: number;
  lastSeenMs: number;
  streams: number;
  /** The store write of its heartbeat: none, one under way, or one under way and another due. */
  heartbeat: "idle" | "writing" | "again";
}

type Call = ServerDuplexStream<WatchConfigRequest, WatchConfigResponse>;

/**
 * ConfigService.WatchConfig: after a hello, each watcher gets a snapshot (or
 * only what changed since the version it resumes from), then one update per
 * config change, and acknowledges what it applied.
 */
export class ConfigService {
  readonly #store: DistributionStore;
  readonly #logger: Logger;
  readonly #maxQueued: number;
  readonly #accountId: string;
  readonly #helloTimeoutMs: number;
  readonly #maxNodes: number;
  readonly #maxWatchers: number;
  readonly #clock: () => number;
  readonly #watcherTtlMs: number;
  #lastHeartbeatErrorMs = 0;
  readonly #nodes = new Map<string, MutableNode>();
  readonly #sessions = new Set<WatchSession>();
  readonly #trustedKeys: TrustedKeySource | undefined;
  readonly #unsubscribeTrusted: (() => void) | undefined;
  /** Updates sent, and times a lagging watcher was resynced with a snapshot; read by the metrics. */
  readonly counts = { updatesSent: 0, resyncs: 0 };

  constructor(options: ConfigServiceOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#maxQueued = Math.max(1, options.maxQueuedUpdates ?? 64);
    this.#accountId = options.accountId;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.#maxNodes = options.maxNodes ?? 10_000;
    this.#maxWatchers = options.maxWatchers ?? 10_000;
    this.#clock = options.clock ?? Date.now;
    this.#watcherTtlMs = options.watcherTtlMs ?? 15_000;
    this.#trustedKeys = options.trustedKeys;
    this.#unsubscribeTrusted = options.trustedKeys?.subscribe(() => {
      for (const session of this.#sessions) session.resync();
    });
  }

  handlers(): ConfigServiceServer {
    return { watchConfig: (call) => this.#watch(call) };
  }

  /** Every node seen, with its acknowledged version. */
  nodes(): readonly NodeStatus[] {
    return [...this.#nodes.values()].map(nodeStatus);
  }

  node(nodeId: string): NodeStatus | undefined {
    const n = this.#nodes.get(nodeId);
    return n ? nodeStatus(n) : undefined;
  }

  /** Open watch streams by role. */
  watchers(): Record<WatcherRole, number> {
    const out: Record<WatcherRole, number> = { edge: 0, shield: 0, unspecified: 0 };
    for (const session of this.#sessions) if (session.role) out[session.role] += 1;
    return out;
  }

  /** Ends every watch stream (UNAVAILABLE: watchers reconnect elsewhere or later). */
  closeAll(): void {
    this.#unsubscribeTrusted?.();
    for (const session of [...this.#sessions])
      session.fail(status.UNAVAILABLE, "the controller is shutting down");
  }

  #watch(call: Call): void {
    if (this.#sessions.size >= this.#maxWatchers) {
      call.on("error", () => {});
      call.emit("error", {
        code: status.RESOURCE_EXHAUSTED,
        details: `the controller serves at most ${this.#maxWatchers} watchers`,
        metadata: new Metadata(),
      });
      return;
    }
    const session = new WatchSession(call, {
      store: this.#store,
      logger: this.#logger,
      maxQueued: this.#maxQueued,
      accountId: this.#accountId,
      trustedKeys: this.#trustedKeys,
      counts: this.counts,
      onHello: (hello, role) => this.#hello(hello, role),
      onAck: (nodeId, version) => this.#ack(nodeId, version),
      onEnd: (s) => this.#ended(s),
    });
    this.#sessions.add(session);
    session.start(this.#helloTimeoutMs);
  }

  #hello(hello: WatchHello, role: WatcherRole): void {
    let node = this.#nodes.get(hello.nodeId);
    if (!node) {
      node = {
        nodeId: hello.nodeId,
        role,
        lastAckedVersion: 0,
        lastSeenMs: 0,
        streams: 0,
        heartbeat: "idle",
      };
      this.#nodes.set(hello.nodeId, node);
      this.#forgetOldNodes();
    }
    node.role = role;
    node.streams += 1;
    node.lastSeenMs = this.#clock();
    // What it applied before (it resumes from there) is all it has applied now.
    node.lastAckedVersion = Math.max(node.lastAckedVersion, Number(hello.resumeFromVersion));
    this.#heartbeat(node);
  }

  #ack(nodeId: string, version: number): void {
    const node = this.#nodes.get(nodeId);
    if (!node) return;
    node.lastAckedVersion = Math.max(node.lastAckedVersion, version);
    node.lastSeenMs = this.#clock();
    this.#heartbeat(node);
  }

  #ended(session: WatchSession): void {
    this.#sessions.delete(session);
    if (session.nodeId === undefined) return;
    const node = this.#nodes.get(session.nodeId);
    if (!node) return;
    node.streams = Math.max(0, node.streams - 1);
    node.lastSeenMs = this.#clock();
    // A node with no stream gets no config: deployments stop waiting for it.
    if (node.streams === 0 && node.role !== "unspecified") {
      this.#store.dropWatcher(node.nodeId).catch((error: unknown) => this.#heartbeatFailed(error));
    }
  }

  /**
   * Records the node as live with what it applied, in the store every
   * controller replica reads. One write per node at a time: acks that
   * arrive while one is under way are folded into one more write with the
   * newest version, so a burst of changes to a large fleet does not queue a
   * store write per ack.
   */
  #heartbeat(node: MutableNode): void {
    if (node.role === "unspecified") return;
    if (node.heartbeat === "writing" || node.heartbeat === "again") {
      node.heartbeat = "again";
      return;
    }
    node.heartbeat = "writing";
    this.#store
      .heartbeat(node.nodeId, node.role, node.lastAckedVersion, this.#watcherTtlMs)
      .catch((error: unknown) => this.#heartbeatFailed(error))
      .finally(() => {
        const again = node.heartbeat === "again";
        node.heartbeat = "idle";
        if (again) this.#heartbeat(node);
      });
  }

  #heartbeatFailed(error: unknown): void {
    // The store being down is reported by the API and metrics; one line a minute here is enough.
    const now = this.#clock();
    if (now - this.#lastHeartbeatErrorMs < 60_000) return;
    this.#lastHeartbeatErrorMs = now;
    this.#logger.warn({ err: error }, "could not record a watcher heartbeat in the store");
  }

  #forgetOldNodes(): void {
    if (this.#nodes.size <= this.#maxNodes) return;
    const gone = [...this.#nodes.values()]
      .filter((n) => n.streams === 0)
      .sort((a, b) => a.lastSeenMs - b.lastSeenMs);
    for (const n of gone.slice(0, this.#nodes.size - this.#maxNodes)) this.#nodes.delete(n.nodeId);
  }
}

interface SessionDeps {
  readonly store: DistributionStore;
  readonly accountId: string;
  readonly trustedKeys: TrustedKeySource | undefined;
  readonly logger: Logger;
  readonly maxQueued: number;
  readonly counts: { updatesSent: number; resyncs: number };
  readonly onHello: (hello: WatchHello, role: WatcherRole) => void;
  readonly onAck: (nodeId: string, version: number) => void;
  readonly onEnd: (session: WatchSession) => void;
}

/** One WatchConfig stream. */
class WatchSession {
  nodeId: string | undefined;
  role: WatcherRole | undefined;
  readonly #call: Call;
  readonly #deps: SessionDeps;
  #log: Logger;
  /** Store changes not yet written; undefined until the first update is sent. */
  #queue: DistributionChange[] = [];
  #needSnapshot = false;
  #initialSent = false;
  #lastSentVersion = 0;
  #pumping = false;
  #ended = false;
  #unsubscribe: (() => void) | undefined;
  #helloTimer: NodeJS.Timeout | undefined;

  constructor(call: Call, deps: SessionDeps) {
    this.#call = call;
    this.#deps = deps;
    this.#log = deps.logger.child({ peer: call.getPeer() });
  }

  start(helloTimeoutMs: number): void {
    this.#helloTimer = setTimeout(
      () => this.fail(status.DEADLINE_EXCEEDED, "no hello received in time"),
      helloTimeoutMs,
    );
    this.#helloTimer.unref();
    this.#call.on("data", (message: WatchConfigRequest) => this.#onMessage(message));
    this.#call.on("end", () => this.#finish("the watcher closed its side"));
    this.#call.on("cancelled", () => this.#finish("cancelled"));
    this.#call.on("error", () => this.#finish("stream error"));
    this.#call.on("close", () => this.#finish("closed"));
  }

  /** Ends the stream with a status (the watcher sees it as an error). */
  fail(code: status, details: string): void {
    if (this.#ended) return;
    this.#log.info({ code: status[code], details }, "ending config watch");
    const metadata = new Metadata();
    this.#call.emit("error", { code, details, metadata });
    this.#finish(details);
  }

  #onMessage(message: WatchConfigRequest): void {
    if (this.#ended) return;
    if (this.nodeId === undefined) {
      const hello = message.hello;
      if (!hello) {
        this.fail(status.INVALID_ARGUMENT, "the first message of WatchConfig must be hello");
        return;
      }
      if (!/^[A-Za-z0-9._-]{1,253}$/.test(hello.nodeId)) {
        this.fail(status.INVALID_ARGUMENT, "hello.node_id must be 1-253 letters, digits, '.', '_' or '-'");
        return;
      }
      clearTimeout(this.#helloTimer);
      const declared = roleOf(hello.role);
      // Under mutual TLS the certificate says what the caller is: a shield's may not watch as an edge
      // (its acks would count toward an edge's deployment). Plaintext (the opt-out) has no certificate.
      const certified = roleOfCertificate(this.#call.getAuthContext?.()?.sslPeerCertificate);
      if (certified !== undefined && certified !== declared) {
        this.fail(
          status.PERMISSION_DENIED,
          `hello.role ${declared} does not match the caller's certificate, which is a ${certified}'s`,
        );
        return;
      }
      this.nodeId = hello.nodeId;
      this.role = declared;
      this.#log = this.#log.child({ nodeId: hello.nodeId, role: this.role });
      this.#deps.onHello(hello, this.role);
      this.#log.info({ resumeFrom: hello.resumeFromVersion }, "config watcher connected");
      void this.#begin(hello.resumeFromVersion);
      return;
    }
    if (message.hello) {
      this.fail(status.INVALID_ARGUMENT, "hello may only be sent once");
      return;
    }
    if (message.ack) this.#deps.onAck(this.nodeId, message.ack.version);
  }

  async #begin(resumeFrom: number): Promise<void> {
    // Subscribe before reading the store so no change falls between the
    // read and the subscription; changes already covered are skipped by
    // version when the queue is sent.
    this.#unsubscribe = this.#deps.store.subscribe((change) => this.#enqueue(change));
    try {
      const resumable = resumeFrom > 0 && this.#deps.trustedKeys === undefined;
      const since = resumable ? await this.#deps.store.changesSince(resumeFrom) : undefined;
      const first = since ? this.#changeMessage(since) : await this.#snapshotMessage();
      if (this.#ended) return;
      this.#initialSent = true;
      await this.#send(first);
      await this.#pump();
    } catch (error) {
      this.#log.error({ err: error }, "config watch failed");
      this.fail(status.INTERNAL, "the controller could not read its config");
    }
  }

  #enqueue(change: DistributionChange): void {
    if (this.#ended) return;
    if (this.#queue.length >= this.#deps.maxQueued) {
      // The watcher is far behind: one snapshot replaces the backlog.
      if (!this.#needSnapshot) {
        this.#deps.counts.resyncs += 1;
        this.#log.warn({ queued: this.#queue.length }, "config watcher fell behind; will resend a snapshot");
      }
      this.#queue = [];
      this.#needSnapshot = true;
      return;
    }
    this.#queue.push(change);
    if (this.#initialSent) void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#ended) {
        if (this.#needSnapshot) {
          this.#needSnapshot = false;
          this.#queue = [];
          await this.#send(await this.#snapshotMessage());
          continue;
        }
        const change = this.#queue.shift();
        if (!change) break;
        if (change.version <= this.#lastSentVersion) continue;
        await this.#send(this.#changeMessage(change));
      }
    } catch (error) {
      this.#log.error({ err: error }, "config watch failed");
      this.fail(status.INTERNAL, "the controller could not read its config");
    } finally {
      this.#pumping = false;
    }
  }

  /** Sends a fresh snapshot next (the trusted keys changed). */
  resync(): void {
    if (this.#ended) return;
    this.#needSnapshot = true;
    if (this.#initialSent) void this.#pump();
  }

  #changeMessage(change: DistributionChange): WatchConfigResponse {
    return {
      version: change.version,
      snapshot: false,
      upserts: change.upserts.map((d) => toWire(d, this.#deps.accountId)),
      removedIds: [...change.removedIds],
      publicKeyUpserts: change.publicKeyUpserts.map((k) => this.#keyToWire(k)),
      removedPublicKeyIds: [...change.removedPublicKeyIds],
    };
  }

  /** This account's keys belong to account-id: what TrustedSigners Self resolves to (toWire). */
  #keyToWire(key: PublicKeyRecord) {
    return publicKeyToWire(key, this.#deps.accountId);
  }

  async #snapshotMessage(): Promise<WatchConfigResponse> {
    const snapshot = await this.#deps.store.snapshot();
    // The file's keys first: an own key of the same id (unlikely: own ids
    // are K + 13 characters) wins.
    const keys = new Map((this.#deps.trustedKeys?.current() ?? []).map((k) => [k.id, k]));
    for (const k of snapshot.publicKeys) keys.set(k.id, this.#keyToWire(k));
    return {
      version: snapshot.version,
      snapshot: true,
      upserts: snapshot.distributions.map((d) => toWire(d, this.#deps.accountId)),
      removedIds: [],
      publicKeyUpserts: [...keys.values()],
      removedPublicKeyIds: [],
    };
  }

  /** Writes one update; waits for 'drain' when gRPC's buffer is full. */
  async #send(message: WatchConfigResponse): Promise<void> {
    if (this.#ended) return;
    this.#lastSentVersion = message.version;
    this.#deps.counts.updatesSent += 1;
    if (this.#call.write(message)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#call.off("drain", done);
        this.#call.off("close", done);
        resolve();
      };
      this.#call.on("drain", done);
      this.#call.on("close", done);
    });
  }

  #finish(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#helloTimer);
    this.#unsubscribe?.();
    this.#queue = [];
    if (this.nodeId !== undefined) this.#log.info({ reason }, "config watcher disconnected");
    if (!this.#call.writableEnded) this.#call.end();
    this.#deps.onEnd(this);
  }
}

function roleOf(role: NodeRole): WatcherRole {
  if (role === NodeRole.NODE_ROLE_EDGE) return "edge";
  if (role === NodeRole.NODE_ROLE_SHIELD) return "shield";
  return "unspecified";
}

function nodeStatus(n: MutableNode): NodeStatus {
  return Object.freeze({
    nodeId: n.nodeId,
    role: n.role,
    lastAckedVersion: n.lastAckedVersion,
    lastSeenMs: n.lastSeenMs,
    streams: n.streams,
  });
}
