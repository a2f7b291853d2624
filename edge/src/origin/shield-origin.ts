import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "../../../lib/log.js";
import {
  type ReadRangeResponse,
  ShieldServiceClient,
  type StatObjectResponse,
} from "../../../proto/gen/streamfront/shield/v1/shield.js";
import { EdgeError, EdgeErrorCode } from "../errors.js";
import type { RangeSource } from "../media/range-source.js";
import type { SliceCache } from "./slice-cache.js";

export interface ShieldOriginOptions {
  /** host:port of the regional shield. */
  readonly address: string;
  readonly logger: Logger;
  /** Deadline of each StatObject and ReadRange call. @default 10000 */
  readonly deadlineMs?: number;
  /** The edge's slice cache; without one every read goes to the shield. */
  readonly cache?: SliceCache;
}

/** A shield refuses ranges above this per call (see shield-service.ts); larger reads are split. */
const maxRangePerCall = 64 * 1024 * 1024;
const empty = Buffer.alloc(0);

/**
 * The edge's origin: objects read through the regional shield over gRPC.
 * open() stats the object once; the returned RangeSource's reads are pinned
 * to that ETag, so a file replaced mid-play fails the play instead of
 * splicing two versions together.
 */
export class ShieldOrigin {
  readonly #client: ShieldServiceClient;
  readonly #logger: Logger;
  readonly #deadlineMs: number;
  readonly #cache: SliceCache | null;

  constructor(options: ShieldOriginOptions) {
    this.#cache = options.cache ?? null;
    this.#logger = options.logger;
    this.#deadlineMs = options.deadlineMs ?? 10_000;
    this.#client = new ShieldServiceClient(options.address, credentials.createInsecure(), {
      // A shield may send pieces up to 4 MiB (its max-piece-bytes bound).
      "grpc.max_receive_message_length": 5 * 1024 * 1024,
      "grpc.keepalive_time_ms": 20_000,
      "grpc.keepalive_timeout_ms": 5_000,
    });
  }

  /** The object as a RangeSource, or null when it does not exist. */
  async open(bucket: string, key: string): Promise<RangeSource | null> {
    let info: StatObjectResponse;
    try {
      info = await this.#stat(bucket, key);
    } catch (error) {
      if ((error as ServiceError).code === status.NOT_FOUND) return null;
      throw unavailable(`stat ${bucket}/${key}`, error);
    }
    const size = info.size;
    const etag = info.etag;
    const fetch = (offset: number, length: number) => this.#read(bucket, key, etag, size, offset, length);
    if (this.#cache) return this.#cache.source({ bucket, key, etag, size }, fetch);
    return { size, read: fetch };
  }

  close(): void {
    this.#client.close();
  }

  #stat(bucket: string, key: string): Promise<StatObjectResponse> {
    return new Promise((resolve, reject) => {
      this.#client.statObject(
        { bucket, key },
        new Metadata(),
        { deadline: this.#deadline() },
        (error, response) => (error ? reject(error) : resolve(response)),
      );
    });
  }

  async #read(
    bucket: string,
    key: string,
    etag: string,
    size: number,
    offset: number,
    length: number,
  ): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new EdgeError(EdgeErrorCode.OriginUnavailable, `invalid read of ${length} bytes at ${offset}`);
    }
    const total = Math.max(0, Math.min(length, size - offset));
    if (total === 0) return empty;
    const parts: Buffer[] = [];
    for (let done = 0; done < total; ) {
      const chunk = Math.min(maxRangePerCall, total - done);
      parts.push(...(await this.#readRange(bucket, key, etag, offset + done, chunk)));
      done += chunk;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  }

  /** One ReadRange call; resolves its pieces, checked to be contiguous and complete. */
  #readRange(bucket: string, key: string, etag: string, offset: number, length: number): Promise<Buffer[]> {
    const what = `read ${bucket}/${key} bytes ${offset}+${length}`;
    return new Promise((resolve, reject) => {
      const pieces: Buffer[] = [];
      let next = offset;
      let failed = false;
      const stream = this.#client.readRange(
        { bucket, key, offset, length, etag },
        { deadline: this.#deadline() },
      );
      stream.on("data", (piece: ReadRangeResponse) => {
        if (failed) return;
        if (piece.offset !== next || next + piece.data.length > offset + length) {
          failed = true;
          stream.cancel();
          reject(unavailable(what, new Error(`shield sent bytes at ${piece.offset}, expected ${next}`)));
          return;
        }
        pieces.push(piece.data);
        next += piece.data.length;
      });
      stream.on("error", (error: ServiceError) => {
        if (failed) return;
        failed = true;
        reject(unavailable(what, error));
      });
      stream.on("end", () => {
        if (failed) return;
        if (next !== offset + length) {
          reject(unavailable(what, new Error(`shield ended after ${next - offset} of ${length} bytes`)));
          return;
        }
        this.#logger.debug({ bucket, key, offset, length, pieces: pieces.length }, "shield range read");
        resolve(pieces);
      });
    });
  }

  #deadline(): Date {
    return new Date(Date.now() + this.#deadlineMs);
  }
}

function unavailable(what: string, cause: unknown): EdgeError {
  const e = cause as Partial<ServiceError>;
  const detail =
    typeof e.code === "number"
      ? `${status[e.code] ?? e.code}: ${e.details ?? e.message}`
      : String(e.message ?? cause);
  return new EdgeError(EdgeErrorCode.OriginUnavailable, `shield ${what} failed (${detail})`, { cause });
}
