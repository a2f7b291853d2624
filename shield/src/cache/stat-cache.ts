import type { Logger } from "../../../lib/log.js";
import { ShieldError, ShieldErrorCode } from "../errors.js";
import { type ObjectInfo, type Origin, StatKind } from "../origin.js";
import type { CacheStats } from "./cache-stats.js";
import { type Freshness, type FreshnessPolicy, freshnessOf } from "./freshness.js";
import { objectId } from "./slice-key.js";

export interface StatCacheOptions {
  readonly origin: Origin;
  readonly policy: FreshnessPolicy;
  /** How long a 404 is remembered (CloudFront's error-caching minimum TTL). 0: not at all. */
  readonly negativeTtlMs: number;
  readonly logger: Logger;
  readonly stats: CacheStats;
  /**
   * Bound on the entries' estimated bytes (keys are up to 1 KiB, so a bound
   * by count would not bound memory). @default 16 MiB
   */
  readonly maxBytes?: number;
  /**
   * After S3 failed a revalidation the stale entry is served (CloudFront
   * serves a stale object when the origin is unreachable) and S3 is asked
   * again after this long. @default 5000
   */
  readonly staleRetryMs?: number;
  /** Milliseconds clock; tests pass their own to cross TTLs without sleeping. */
  readonly now?: () => number;
}

interface FoundEntry {
  readonly kind: "found";
  readonly info: ObjectInfo;
  readonly freshness: Freshness;
  expiresAt: number;
  readonly bytes: number;
}

interface MissingEntry {
  readonly kind: "missing";
  readonly expiresAt: number;
  readonly bytes: number;
}

type Entry = FoundEntry | MissingEntry;

/** One HEAD in flight that several stats wait for. */
interface Lookup {
  readonly promise: Promise<ObjectInfo>;
  readonly controller: AbortController;
  waiters: number;
}

/** Map and object overhead per entry, on top of the strings (UTF-16, so two bytes a character). */
const entryOverheadBytes = 240;

/**
 * ObjectInfo by bucket and key, fresh for the TTL freshness.ts gives. A
 * fresh entry answers without S3; a stale one is revalidated with a
 * conditional HEAD (If-None-Match: the held ETag), so an unchanged object
 * costs a 304 and keeps its entry; a 404 is remembered for the negative TTL.
 * Concurrent stats of one object share one HEAD, which is aborted only when
 * every caller has gone. Bounded in estimated bytes, least recently used
 * out first.
 */
export class StatCache {
  readonly #origin: Origin;
  readonly #policy: FreshnessPolicy;
  readonly #negativeTtlMs: number;
  readonly #logger: Logger;
  readonly #stats: CacheStats;
  readonly #maxBytes: number;
  readonly #staleRetryMs: number;
  readonly #now: () => number;
  /** Least recently used first. */
  readonly #entries = new Map<string, Entry>();
  readonly #lookups = new Map<string, Lookup>();
  #bytes = 0;

  constructor(options: StatCacheOptions) {
    this.#origin = options.origin;
    this.#policy = options.policy;
    this.#negativeTtlMs = options.negativeTtlMs;
    this.#logger = options.logger;
    this.#stats = options.stats;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#staleRetryMs = options.staleRetryMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The object's info: cached while fresh, else from S3 (conditional when
   * an entry is held). `kind` is the HEAD's queue at S3Origin; a caller
   * joining a HEAD already in flight shares its place.
   */
  async get(
    bucket: string,
    key: string,
    signal?: AbortSignal,
    kind: StatKind = StatKind.Lookup,
  ): Promise<ObjectInfo> {
    const id = objectId(bucket, key);
    const entry = this.#entries.get(id);
    if (entry && entry.expiresAt > this.#now()) {
      this.#touch(id, entry);
      if (entry.kind === "missing") {
        this.#stats.statNegativeHits += 1;
        throw notFound(bucket, key);
      }
      this.#stats.statHits += 1;
      return entry.info;
    }
    let lookup = this.#lookups.get(id);
    if (!lookup) {
      this.#stats.statMisses += 1;
      const controller = new AbortController();
      const held = entry?.kind === "found" ? entry : undefined;
      const created: Lookup = {
        controller,
        waiters: 0,
        promise: this.#lookup(id, bucket, key, held, kind, controller.signal).finally(() => {
          if (this.#lookups.get(id) === created) this.#lookups.delete(id);
        }),
      };
      // Callers may all leave; the shared promise must never be an unhandled rejection.
      created.promise.catch(() => {});
      this.#lookups.set(id, created);
      lookup = created;
    }
    return this.#join(id, lookup, signal);
  }

  /** The held info of this exact version, fresh or not (a version's size never changes). */
  peekVersion(
    bucket: string,
    key: string,
    etag: string,
  ): { info: ObjectInfo; freshness: Freshness } | undefined {
    const entry = this.#entries.get(objectId(bucket, key));
    if (entry?.kind !== "found" || entry.info.etag !== etag) return undefined;
    return { info: entry.info, freshness: entry.freshness };
  }

  /**
   * Marks the entry stale when it still names `etag`: S3 just said that
   * version is gone (a pinned GET failed its If-Match), so the next play
   * must not be handed it again for the rest of the TTL.
   */
  invalidate(bucket: string, key: string, etag: string): void {
    const entry = this.#entries.get(objectId(bucket, key));
    if (entry?.kind === "found" && entry.info.etag === etag) entry.expiresAt = 0;
  }

  async #lookup(
    id: string,
    bucket: string,
    key: string,
    held: FoundEntry | undefined,
    kind: StatKind,
    signal: AbortSignal,
  ): Promise<ObjectInfo> {
    let info: ObjectInfo;
    try {
      info = await this.#origin.stat(
        bucket,
        key,
        signal,
        held ? { ifNoneMatch: held.info.etag, kind } : { kind },
      );
    } catch (error) {
      if (error instanceof ShieldError && error.code === ShieldErrorCode.ObjectNotFound) {
        this.#store(id, {
          kind: "missing",
          expiresAt: this.#now() + this.#negativeTtlMs,
          bytes: entryOverheadBytes + 2 * id.length,
        });
        throw error;
      }
      // A revalidation S3 failed, or that was shed because lookups to the
      // bucket are flooded: the held version still serves the play.
      if (
        held &&
        error instanceof ShieldError &&
        (error.code === ShieldErrorCode.OriginUnavailable ||
          error.code === ShieldErrorCode.Overloaded ||
          error.code === ShieldErrorCode.LookupsShed)
      ) {
        this.#stats.statStale += 1;
        this.#logger.warn(
          { bucket, key, err: error, retryInMs: this.#staleRetryMs },
          "S3 failed to revalidate an object; serving what the shield holds",
        );
        held.expiresAt = this.#now() + Math.min(this.#staleRetryMs, Math.max(held.freshness.ttlMs, 1));
        return held.info;
      }
      throw error;
    }
    if (info.notModified && held) {
      this.#stats.statRevalidated += 1;
      held.expiresAt = this.#now() + held.freshness.ttlMs;
      if (this.#entries.get(id) === held) this.#touch(id, held);
      else this.#store(id, held);
      return held.info;
    }
    if (held && held.info.etag !== info.etag) {
      this.#stats.statChanged += 1;
      this.#logger.debug({ bucket, key, from: held.info.etag, to: info.etag }, "object changed in S3");
    }
    const freshness = freshnessOf(info.cacheControl, this.#policy);
    this.#store(id, {
      kind: "found",
      info,
      freshness,
      expiresAt: this.#now() + freshness.ttlMs,
      bytes:
        entryOverheadBytes +
        2 * (id.length + info.etag.length + info.contentType.length + info.cacheControl.length),
    });
    return info;
  }

  /**
   * Waits for a shared lookup. A caller that aborts leaves; the last one out
   * aborts the HEAD and unlists it, so a later stat starts afresh instead of
   * joining a lookup that is being cancelled.
   */
  #join(id: string, lookup: Lookup, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    lookup.waiters += 1;
    return new Promise<ObjectInfo>((resolve, reject) => {
      let settled = false;
      const leave = () => {
        if (settled) return false;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        lookup.waiters -= 1;
        return true;
      };
      const onAbort = () => {
        if (!leave()) return;
        if (lookup.waiters === 0) {
          if (this.#lookups.get(id) === lookup) this.#lookups.delete(id);
          lookup.controller.abort();
        }
        reject(new ShieldError(ShieldErrorCode.Aborted, "stat aborted"));
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      lookup.promise.then(
        (info) => {
          if (leave()) resolve(info);
        },
        (error: unknown) => {
          if (leave()) reject(error);
        },
      );
    });
  }

  #touch(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#entries.set(id, entry);
  }

  #store(id: string, entry: Entry): void {
    const old = this.#entries.get(id);
    if (old) {
      this.#entries.delete(id);
      this.#bytes -= old.bytes;
    }
    if (entry.kind === "missing" && this.#negativeTtlMs <= 0) return;
    this.#entries.set(id, entry);
    this.#bytes += entry.bytes;
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value[0]);
      this.#bytes -= oldest.value[1].bytes;
    }
  }
}

function notFound(bucket: string, key: string): ShieldError {
  return new ShieldError(ShieldErrorCode.ObjectNotFound, `${bucket}/${key}: object does not exist (cached)`);
}
