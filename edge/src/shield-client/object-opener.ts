import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { InternalTls } from "../../../lib/grpc/internal-tls.js";
import type { Logger } from "../../../lib/log.js";
import { errorCodeMetadataKey, ShieldErrorCode } from "../../../lib/shield-error-code.js";
import {
  type ReadRangeResponse,
  type ShieldServiceClient,
  type StatObjectResponse,
  StatPurpose,
} from "../../../proto/gen/streamfront/shield/v1/shield.js";
import type { MetadataCache, ObjectMetadata } from "../edge-cache/metadata-cache.js";
import type { SliceCache } from "../edge-cache/slice-cache.js";
import { EdgeError, EdgeErrorCode } from "../errors.js";
import type { RangeSource } from "../media/range-source.js";
import { rankReplicas } from "./rendezvous.js";
import { ShieldPool, ShieldResult } from "./shield-pool.js";

/** Why an object is opened: a play reads it; a lookup (getStreamLength) wants its size only. */
export const OpenPurpose = { Play: "play", Lookup: "lookup" } as const;
export type OpenPurpose = (typeof OpenPurpose)[keyof typeof OpenPurpose];

interface ShieldObjectOpenerCommon {
  readonly logger: Logger;
  /** Deadline of each StatObject and ReadRange call (each attempt on each replica). @default 10000 */
  readonly deadlineMs?: number;
  /**
   * A read that receives nothing for this long (from the call's start or
   * the last piece) gives up on that replica and resumes on the next; a
   * stat unanswered for this long does the same. Keep it well under the
   * viewers' buffer so a hung shield does not stall them. @default 3000
   */
  readonly idleTimeoutMs?: number;
  /** The edge's slice cache; without one every read goes to the shield. */
  readonly cache?: SliceCache;
  /**
   * Remembered object metadata: NOT_FOUND answers for their TTL, and what
   * an open falls back on (with the slice cache) when no replica answers.
   */
  readonly metadata?: MetadataCache;
}

export type ShieldObjectOpenerOptions = ShieldObjectOpenerCommon &
  (
    | {
        /** The shield replicas: `host:port` and `dns:<name>:<port>` entries; the opener makes and closes its pool. */
        readonly address: string | readonly string[];
        /** The edge's internal-link credentials for its pool. */
        readonly tls: InternalTls;
        readonly pool?: undefined;
        /** @see ShieldPoolOptions.penaltyMs */
        readonly penaltyMs?: number;
        /** @see ShieldPoolOptions.dnsRefreshMs */
        readonly dnsRefreshMs?: number;
      }
    | {
        /** A pool the caller made (and closes). */
        readonly pool: ShieldPool;
        readonly address?: undefined;
        readonly tls?: undefined;
      }
  );

/** A shield refuses ranges above this per call (see shield-service.ts); larger reads are split. */
const maxRangePerCall = 64 * 1024 * 1024;
/** Pause before the extra pass over replicas that all just failed (a shield restarting, a blip). */
const retryPassDelayMs = 250;
const empty = Buffer.alloc(0);

/**
 * Outcomes that are the same from every replica, never failed over: the
 * shield's answers about the object, and S3 failing behind it (each
 * replica asks the same bucket; trying them all would only multiply the
 * load on an S3 that is already struggling).
 */
const answers: ReadonlySet<ShieldResult> = new Set([
  ShieldResult.NotFound,
  ShieldResult.Refused,
  ShieldResult.Changed,
  ShieldResult.OriginUnavailable,
]);

/** A failure found on the edge's side of a call (silence, a malformed stream) rather than a gRPC status. */
class ShieldCallError extends EdgeError {
  readonly result: ShieldResult;

  constructor(result: ShieldResult, message: string) {
    super(EdgeErrorCode.ShieldUnavailable, message);
    this.name = "ShieldCallError";
    this.result = result;
  }
}

/**
 * The shield's own code for a failed call: the `streamfront-error-code`
 * trailer a shield sets on every status it raises on purpose. Undefined
 * when the call failed before a shield answered (no connection, a
 * deadline) or the shield sent no code (an internal error).
 */
export function shieldCodeOf(error: unknown): string | undefined {
  const metadata = (error as Partial<ServiceError> | null)?.metadata;
  if (!(metadata instanceof Metadata)) return undefined;
  const value = metadata.get(errorCodeMetadataKey)[0];
  return typeof value === "string" ? value : undefined;
}

/** Which object a call is about, and its replicas in preference order. */
interface Route {
  readonly bucket: string;
  readonly key: string;
  order(): string[];
}

/** The string objects are ranked by: bucket names have no '/', so it is unambiguous. */
export function routeKey(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}

/**
 * How the edge opens objects: read through the regional shield's replicas
 * over gRPC. Each object goes to the replica rendezvous hashing ranks
 * first, so one shield caches it; when that replica fails (an error status,
 * a lost connection, a deadline, or no bytes for idleTimeoutMs) the call
 * moves to the next replica, and a read resumes from the first byte not yet
 * received. open() stats the object once; every read is pinned to that
 * ETag on whichever replica serves it, so a file replaced mid-play fails
 * the play (FAILED_PRECONDITION is an answer, not a failover) instead of
 * splicing two versions together. The shield's code in the
 * `streamfront-error-code` trailer decides between a shield going away
 * (SHIELD_ERR_SHUTTING_DOWN: fail over) and S3 failing behind it
 * (SHIELD_ERR_ORIGIN_UNAVAILABLE: the same from every replica, so no
 * failover; EDGE_ERR_ORIGIN_UNAVAILABLE).
 */
export class ShieldObjectOpener {
  readonly #pool: ShieldPool;
  readonly #ownsPool: boolean;
  readonly #logger: Logger;
  readonly #deadlineMs: number;
  readonly #idleTimeoutMs: number;
  readonly #cache: SliceCache | null;
  readonly #metadata: MetadataCache | null;

  constructor(options: ShieldObjectOpenerOptions) {
    this.#cache = options.cache ?? null;
    this.#metadata = options.metadata ?? null;
    this.#logger = options.logger;
    this.#deadlineMs = options.deadlineMs ?? 10_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 3_000;
    if (options.pool) {
      this.#pool = options.pool;
      this.#ownsPool = false;
    } else {
      this.#pool = new ShieldPool({
        targets: options.address,
        logger: options.logger,
        tls: options.tls,
        ...(options.penaltyMs === undefined ? {} : { penaltyMs: options.penaltyMs }),
        ...(options.dnsRefreshMs === undefined ? {} : { dnsRefreshMs: options.dnsRefreshMs }),
      });
      this.#ownsPool = true;
    }
  }

  /** The replica pool (its stats feed the edge's shield metrics). */
  get pool(): ShieldPool {
    return this.#pool;
  }

  /**
   * The object as a RangeSource, or null when it does not exist. A
   * NOT_FOUND remembered within the negative TTL answers null at once; when
   * every replica fails the stat, metadata remembered within its TTL serves
   * the open (reads then come from the slice cache, and fail as reads do
   * where it lacks a slice).
   */
  async open(
    bucket: string,
    key: string,
    purpose: OpenPurpose = OpenPurpose.Play,
  ): Promise<RangeSource | null> {
    const metadata = this.#metadata;
    if (metadata?.isKnownMissing(bucket, key)) return null;
    await this.#pool.ready();
    const route = this.#route(bucket, key);
    // Every replica failed within its penalty window: a hung one would hold each play for the stat's
    // timeouts before the fallback, so remembered metadata serves without asking until one is due again.
    const info =
      (this.#pool.health().healthy === 0 ? metadata?.fallback(bucket, key, { countMiss: false }) : null) ??
      (await this.#statOrRemembered(route, purpose));
    if (!info) return null;
    const size = info.size;
    const etag = info.etag;
    const fetch = (offset: number, length: number) => this.#read(route, etag, size, offset, length);
    if (this.#cache) return this.#cache.source({ bucket, key, etag, size }, fetch);
    return { size, read: fetch };
  }

  close(): void {
    if (this.#ownsPool) this.#pool.close();
  }

  /** The shield's stat of the object (null: NOT_FOUND), or the remembered metadata when no replica answers. */
  async #statOrRemembered(route: Route, purpose: OpenPurpose): Promise<ObjectMetadata | null> {
    const { bucket, key } = route;
    const metadata = this.#metadata;
    try {
      const info = await this.#withFailover(route, `stat ${bucket}/${key}`, (_replica, client) =>
        this.#stat(client, bucket, key, purpose),
      );
      metadata?.rememberFound(bucket, key, info);
      return info;
    } catch (error) {
      if ((error as ServiceError).code === status.NOT_FOUND) {
        metadata?.rememberMissing(bucket, key);
        return null;
      }
      const failure = unavailable(`stat ${bucket}/${key}`, error);
      // Only when no replica (or S3 behind them) could tell: an answer (a refusal) is the same from every
      // replica and the cache.
      const noAnswer =
        failure.code === EdgeErrorCode.ShieldUnavailable || failure.code === EdgeErrorCode.OriginUnavailable;
      const remembered = noAnswer ? metadata?.fallback(bucket, key) : null;
      if (!remembered) throw failure;
      this.#logger.warn(
        { bucket, key, code: failure.code, etag: remembered.etag, err: failure.message },
        "no shield replica answers; serving the object from the edge cache",
      );
      return remembered;
    }
  }

  /** The object's replicas in preference order; the rendezvous ranking is kept until the set changes. */
  #route(bucket: string, key: string): Route {
    const pool = this.#pool;
    const objectKey = routeKey(bucket, key);
    let generation = -1;
    let ranking: string[] = [];
    return {
      bucket,
      key,
      order() {
        if (generation !== pool.generation) {
          ranking = rankReplicas(objectKey, pool.replicas);
          generation = pool.generation;
        }
        return pool.order(ranking);
      },
    };
  }

  /**
   * Runs a call on the route's replicas in order until one answers: each
   * replica once, then one more pass after a short pause (so a lone shield
   * that restarts, or a blip on every path, does not fail the play).
   * Answers (NOT_FOUND, refusals, an ETag change) and S3 failing behind the
   * shield end it at once.
   */
  async #withFailover<T>(
    route: Route,
    what: string,
    call: (replica: string, client: ShieldServiceClient) => Promise<T>,
  ): Promise<T> {
    const order = route.order();
    if (order.length === 0) {
      throw new EdgeError(
        EdgeErrorCode.ShieldUnavailable,
        `shield ${what} failed (no shield replica is known)`,
      );
    }
    const stats = this.#pool.stats;
    const attempts = order.length + 1;
    const failures: string[] = [];
    let lastError: unknown = null;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt === order.length) await delay(retryPassDelayMs);
      const replica = order[attempt % order.length]!;
      const client = this.#pool.client(replica);
      if (!client) {
        failures.push(`${replica}: left the replica set`);
        continue;
      }
      if (lastError !== null) {
        stats.failovers++;
        this.#logger.warn(
          {
            bucket: route.bucket,
            key: route.key,
            replica,
            failed: failures.at(-1),
            shieldCode: shieldCodeOf(lastError),
          },
          "shield call failed; failing over",
        );
      }
      try {
        const result = await call(replica, client);
        stats.request(replica, ShieldResult.Ok);
        this.#pool.reportSuccess(replica);
        return result;
      } catch (error) {
        const result = classify(error);
        stats.request(replica, result);
        if (answers.has(result)) throw error;
        this.#pool.reportFailure(replica);
        failures.push(`${replica}: ${describe(error)}`);
        lastError = error;
      }
    }
    throw new EdgeError(
      EdgeErrorCode.ShieldUnavailable,
      `shield ${what} failed on every replica (${failures.join("; ")})`,
      { cause: lastError },
    );
  }

  #stat(
    client: ShieldServiceClient,
    bucket: string,
    key: string,
    purpose: OpenPurpose,
  ): Promise<StatObjectResponse> {
    // A stat is one small answer: waiting longer than the idle timeout for it means the replica is hung.
    const deadline = new Date(Date.now() + Math.min(this.#deadlineMs, this.#idleTimeoutMs));
    return new Promise((resolve, reject) => {
      // The shield queues a play's open ahead of lookups, and sheds lookups first when a bucket is busy.
      const request = {
        bucket,
        key,
        purpose:
          purpose === OpenPurpose.Play ? StatPurpose.STAT_PURPOSE_PLAY : StatPurpose.STAT_PURPOSE_LOOKUP,
      };
      client.statObject(request, new Metadata(), { deadline }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  async #read(route: Route, etag: string, size: number, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new EdgeError(EdgeErrorCode.ShieldUnavailable, `invalid read of ${length} bytes at ${offset}`);
    }
    const total = Math.max(0, Math.min(length, size - offset));
    if (total === 0) return empty;
    const parts: Buffer[] = [];
    for (let done = 0; done < total; ) {
      const chunk = Math.min(maxRangePerCall, total - done);
      parts.push(...(await this.#readRange(route, etag, offset + done, chunk)));
      done += chunk;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  }

  /** The bytes [offset, offset+length) as pieces, from one replica or, after failures, several. */
  async #readRange(route: Route, etag: string, offset: number, length: number): Promise<Buffer[]> {
    const { bucket, key } = route;
    const end = offset + length;
    const pieces: Buffer[] = [];
    let next = offset;
    try {
      await this.#withFailover(route, `read ${bucket}/${key}`, (replica, client) =>
        // Each attempt asks for what is still missing, pinned to the ETag open() saw.
        this.#stream(client, replica, { bucket, key, etag, offset: next, length: end - next }, (data) => {
          pieces.push(data);
          next += data.length;
        }),
      );
    } catch (error) {
      throw unavailable(`read ${bucket}/${key} bytes ${offset}+${length}`, error);
    }
    this.#logger.debug({ bucket, key, offset, length, pieces: pieces.length }, "shield range read");
    return pieces;
  }

  /** One ReadRange call; hands over its pieces as they come, checked to be contiguous; resolves when complete. */
  #stream(
    client: ShieldServiceClient,
    replica: string,
    request: { bucket: string; key: string; etag: string; offset: number; length: number },
    onData: (data: Buffer) => void,
  ): Promise<void> {
    const stats = this.#pool.stats;
    const end = request.offset + request.length;
    return new Promise((resolve, reject) => {
      let next = request.offset;
      let settled = false;
      const stream = client.readRange(request, { deadline: new Date(Date.now() + this.#deadlineMs) });
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        stream.cancel();
        // Every byte arrived and only the call's end went wrong (a status or silence after the
        // last piece): the read is whole, and a retry would ask for zero bytes.
        if (next === end) resolve();
        else reject(error);
      };
      const idle = setTimeout(
        () =>
          fail(
            new ShieldCallError(ShieldResult.Idle, `no bytes from ${replica} for ${this.#idleTimeoutMs} ms`),
          ),
        this.#idleTimeoutMs,
      );
      stream.on("data", (piece: ReadRangeResponse) => {
        if (settled) return;
        if (piece.offset !== next || next + piece.data.length > end) {
          fail(
            new ShieldCallError(ShieldResult.Error, `shield sent bytes at ${piece.offset}, expected ${next}`),
          );
          return;
        }
        idle.refresh();
        next += piece.data.length;
        stats.received(replica, piece.data.length);
        onData(piece.data);
      });
      stream.on("error", (error: ServiceError) => fail(error));
      stream.on("end", () => {
        if (settled) return;
        if (next !== end) {
          fail(
            new ShieldCallError(
              ShieldResult.Error,
              `shield ended after ${next - request.offset} of ${request.length} bytes`,
            ),
          );
          return;
        }
        settled = true;
        clearTimeout(idle);
        resolve();
      });
    });
  }
}

/**
 * Whether a failed open or read may work when tried again later: no
 * replica answered (down, shutting down, silent), or S3 failed behind them.
 * Not for answers (not found, refused, an ETag change), which every retry
 * would get again.
 */
export function isShieldOutage(error: unknown): boolean {
  if (!(error instanceof EdgeError)) return false;
  if (error.code === EdgeErrorCode.OriginUnavailable) return true;
  if (error.code !== EdgeErrorCode.ShieldUnavailable) return false;
  return error.cause === undefined || !answers.has(classify(error.cause));
}

function classify(error: unknown): ShieldResult {
  if (error instanceof ShieldCallError) return error.result;
  // The shield's code says more than the status: UNAVAILABLE is both "this shield is going away" and "S3 is down".
  switch (shieldCodeOf(error)) {
    case ShieldErrorCode.ShuttingDown:
      return ShieldResult.ShuttingDown;
    case ShieldErrorCode.OriginUnavailable:
      return ShieldResult.OriginUnavailable;
  }
  switch ((error as Partial<ServiceError>).code) {
    case status.NOT_FOUND:
      return ShieldResult.NotFound;
    case status.PERMISSION_DENIED:
    case status.INVALID_ARGUMENT:
    // The shield is alive and shedding (its lookup lane is full): an answer, not a broken replica to fail over from.
    case status.RESOURCE_EXHAUSTED:
    case status.OUT_OF_RANGE:
      return ShieldResult.Refused;
    case status.FAILED_PRECONDITION:
      return ShieldResult.Changed;
    case status.UNAVAILABLE:
      return ShieldResult.Unavailable;
    case status.DEADLINE_EXCEEDED:
      return ShieldResult.Deadline;
    default:
      // INTERNAL, CANCELLED by the server, UNKNOWN (a broken connection), RESOURCE_EXHAUSTED, …
      return ShieldResult.Error;
  }
}

function describe(error: unknown): string {
  const e = error as Partial<ServiceError>;
  return typeof e.code === "number"
    ? `${status[e.code] ?? e.code}: ${e.details ?? e.message}`
    : String(e.message ?? error);
}

/** A failed call as the edge's error: S3 down behind the shield has its own code, the rest is the shield's. */
function unavailable(what: string, cause: unknown): EdgeError {
  if (cause instanceof EdgeError) return cause;
  const code =
    classify(cause) === ShieldResult.OriginUnavailable
      ? EdgeErrorCode.OriginUnavailable
      : EdgeErrorCode.ShieldUnavailable;
  return new EdgeError(code, `shield ${what} failed (${describe(cause)})`, { cause });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
