import { createHash } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../../lib/errors.js";
import type { Logger } from "../../../lib/log.js";
import type { CacheStats } from "./cache-stats.js";
import type { CachedSlice } from "./memory-tier.js";
import {
  decodeSliceHeader,
  encodeSliceHeader,
  maxSliceIdBytes,
  sliceHeaderFixedBytes,
  verifySliceFile,
} from "./slice-file.js";

export interface DiskTierOptions {
  /** Where slice files live; created if missing. One shield process per directory. */
  readonly directory: string;
  /** Bound on the bytes of all slice files (headers included). */
  readonly maxBytes: number;
  /** Largest slice data a file may hold (the slice size): bounds every read before it allocates. */
  readonly maxSliceBytes: number;
  readonly logger: Logger;
  readonly stats: CacheStats;
  /**
   * Bytes of slices waiting to be written; a slice arriving when the queue
   * is full is not written (counted), so a slow disk never slows a reader
   * or grows memory. @default 8 × maxSliceBytes
   */
  readonly maxQueuedBytes?: number;
  /** Files written at once. @default 2 */
  readonly writeConcurrency?: number;
  /** Files whose headers the start-up scan reads at once. @default 16 */
  readonly scanConcurrency?: number;
}

interface PendingWrite {
  readonly id: string;
  readonly slice: CachedSlice;
}

const sliceSuffix = ".slice";
const tmpSuffix = ".tmp";
const sliceName = /^[0-9a-f]{64}\.slice$/;
const subdirName = /^[0-9a-f]{2}$/;

/**
 * The disk tier: one file per slice (slice-file.ts format) under
 * `<dir>/<first two hex of the name>/<sha256 of the slice id>.slice`,
 * bounded in bytes with least-recently-used eviction.
 *
 * - Survives restarts: open() rebuilds the index by scanning the directory,
 *   ordered by modification time (the write time, as hits are not written
 *   back), deleting temp files left by a crash and files whose header does
 *   not match their size.
 * - Writes are atomic (temp file, then rename) and off the hot path: write()
 *   only queues, a few workers drain the bounded queue.
 * - Every read is verified (id and CRC-32); a file that fails is deleted
 *   and the read is a miss, so the slice is fetched from S3 again.
 *
 * The index holds names and sizes only (about 150 bytes a slice: 16 MB for
 * 100 GiB of 1 MiB slices); ids live in the files and hash to the names.
 */
export class DiskTier {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #maxSliceBytes: number;
  readonly #logger: Logger;
  readonly #stats: CacheStats;
  readonly #maxQueuedBytes: number;
  readonly #writeConcurrency: number;
  readonly #scanConcurrency: number;
  /** name → file bytes, least recently used first. */
  readonly #index = new Map<string, number>();
  readonly #queue: PendingWrite[] = [];
  /** Subdirectories known to exist. */
  readonly #subdirs = new Set<string>();
  /** Names being written, so a slice is not queued twice. */
  readonly #writing = new Set<string>();
  #queuedBytes = 0;
  #bytes = 0;
  #evictions = 0;
  #activeWriters = 0;
  #tmpSeq = 0;
  #open = false;
  #idle: (() => void)[] = [];

  constructor(options: DiskTierOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
      throw new RangeError(`disk maxBytes must be a whole number ≥ 0, got ${options.maxBytes}`);
    }
    this.#dir = options.directory;
    this.#maxBytes = options.maxBytes;
    this.#maxSliceBytes = options.maxSliceBytes;
    this.#logger = options.logger;
    this.#stats = options.stats;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 8 * options.maxSliceBytes;
    this.#writeConcurrency = Math.max(1, options.writeConcurrency ?? 2);
    this.#scanConcurrency = Math.max(1, options.scanConcurrency ?? 16);
  }

  get directory(): string {
    return this.#dir;
  }

  /** Bytes of the indexed files; never above maxBytes once a write or open() returns. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#index.size;
  }

  get evictions(): number {
    return this.#evictions;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Creates the directory and indexes what a previous run left in it. */
  async open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const found: { name: string; bytes: number; mtimeMs: number }[] = [];
    const candidates: { path: string; name: string }[] = [];
    for (const sub of await readdir(this.#dir, { withFileTypes: true })) {
      if (!sub.isDirectory() || !subdirName.test(sub.name)) continue;
      this.#subdirs.add(sub.name);
      const subPath = join(this.#dir, sub.name);
      for (const file of await readdir(subPath)) {
        const path = join(subPath, file);
        if (file.endsWith(tmpSuffix)) {
          // A write that never reached its rename: the process died mid-write.
          await rm(path, { force: true });
        } else if (sliceName.test(file)) {
          candidates.push({ path, name: file.slice(0, -sliceSuffix.length) });
        }
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < candidates.length) {
        const candidate = candidates[next++]!;
        const entry = await this.#scanFile(candidate.path);
        if (entry) found.push({ name: candidate.name, ...entry });
      }
    };
    await Promise.all(Array.from({ length: this.#scanConcurrency }, worker));
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const entry of found) {
      this.#index.set(entry.name, entry.bytes);
      this.#bytes += entry.bytes;
    }
    this.#evict();
    this.#open = true;
    this.#logger.info(
      { directory: this.#dir, slices: this.#index.size, bytes: this.#bytes },
      "disk cache indexed",
    );
  }

  has(id: string): boolean {
    return this.#index.has(nameOf(id));
  }

  /** The slice, verified; undefined when absent or when its file failed verification (then deleted). */
  async read(id: string): Promise<CachedSlice | undefined> {
    const name = nameOf(id);
    const bytes = this.#index.get(name);
    if (bytes === undefined) return undefined;
    this.#index.delete(name);
    this.#index.set(name, bytes);
    const path = this.#pathOf(name);
    let verified: CachedSlice | string;
    try {
      const file = await readBounded(path, sliceHeaderFixedBytes + maxSliceIdBytes + this.#maxSliceBytes);
      verified = verifySliceFile(file, id, this.#maxSliceBytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        // Evicted between the lookup and the read, or deleted by hand: a miss.
        this.#forget(name);
        return undefined;
      }
      verified = errorMessage(error);
    }
    if (typeof verified === "string") {
      this.#stats.diskCorrupt += 1;
      this.#logger.warn({ path, reason: verified }, "disk cache file failed verification; deleted");
      this.#forget(name);
      unlink(path).catch(() => {});
      return undefined;
    }
    return verified;
  }

  /**
   * Queues the slice for writing and returns at once; false when it was
   * not queued (already stored, queue full, too large, or closed).
   */
  write(id: string, slice: CachedSlice): boolean {
    if (!this.#open) return false;
    const name = nameOf(id);
    if (this.#index.has(name) || this.#writing.has(name)) return false;
    const bytes = slice.data.length;
    if (bytes > this.#maxSliceBytes || bytes + sliceHeaderFixedBytes > this.#maxBytes) return false;
    if (this.#queuedBytes + bytes > this.#maxQueuedBytes) {
      this.#stats.diskWritesDropped += 1;
      return false;
    }
    this.#writing.add(name);
    this.#queue.push({ id, slice });
    this.#queuedBytes += bytes;
    this.#pump();
    return true;
  }

  /** Resolves once every queued write has finished (tests, and close()). */
  flush(): Promise<void> {
    if (this.#queue.length === 0 && this.#activeWriters === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops taking writes, drops the queue and waits for the writes already under way. */
  async close(): Promise<void> {
    this.#open = false;
    for (const pending of this.#queue.splice(0)) {
      this.#queuedBytes -= pending.slice.data.length;
      this.#writing.delete(nameOf(pending.id));
    }
    await this.flush();
  }

  #pump(): void {
    while (this.#activeWriters < this.#writeConcurrency && this.#queue.length > 0) {
      const pending = this.#queue.shift()!;
      this.#activeWriters += 1;
      void this.#writeOne(pending).finally(() => {
        this.#activeWriters -= 1;
        this.#queuedBytes -= pending.slice.data.length;
        this.#pump();
        if (this.#queue.length === 0 && this.#activeWriters === 0) {
          for (const resolve of this.#idle.splice(0)) resolve();
        }
      });
    }
  }

  async #writeOne({ id, slice }: PendingWrite): Promise<void> {
    const name = nameOf(id);
    const sub = name.slice(0, 2);
    const path = this.#pathOf(name);
    const tmp = `${path}.${process.pid}.${this.#tmpSeq++}${tmpSuffix}`;
    let handle: FileHandle | undefined;
    try {
      if (!this.#subdirs.has(sub)) {
        await mkdir(join(this.#dir, sub), { recursive: true });
        this.#subdirs.add(sub);
      }
      const header = encodeSliceHeader(id, slice.data, slice.objectSize);
      const total = header.length + slice.data.length;
      handle = await open(tmp, "w");
      const { bytesWritten } = await handle.writev([header, slice.data]);
      if (bytesWritten !== total) throw new Error(`short write (${bytesWritten} of ${total} bytes)`);
      await handle.close();
      handle = undefined;
      await rename(tmp, path);
      if (!this.#open) return;
      const old = this.#index.get(name);
      if (old !== undefined) this.#bytes -= old;
      this.#index.set(name, total);
      this.#bytes += total;
      this.#stats.diskWrites += 1;
      this.#evict();
    } catch (error) {
      this.#stats.diskWriteErrors += 1;
      this.#logger.warn({ path, err: errorMessage(error) }, "disk cache write failed");
      await handle?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
    } finally {
      this.#writing.delete(name);
    }
  }

  /** Drops least recently used files until within the bound. */
  #evict(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#index.entries().next();
      if (oldest.done) return;
      const [name, bytes] = oldest.value;
      this.#index.delete(name);
      this.#bytes -= bytes;
      this.#evictions += 1;
      unlink(this.#pathOf(name)).catch(() => {});
    }
  }

  #forget(name: string): void {
    const bytes = this.#index.get(name);
    if (bytes === undefined) return;
    this.#index.delete(name);
    this.#bytes -= bytes;
  }

  #pathOf(name: string): string {
    return join(this.#dir, name.slice(0, 2), `${name}${sliceSuffix}`);
  }

  /** Size and mtime of a file whose header agrees with its size; deletes any other. */
  async #scanFile(path: string): Promise<{ bytes: number; mtimeMs: number } | undefined> {
    let handle: FileHandle | undefined;
    let problem: string;
    try {
      handle = await open(path, "r");
      const info = await handle.stat();
      const fixed = Buffer.alloc(sliceHeaderFixedBytes);
      const { bytesRead } = await handle.read(fixed, 0, fixed.length, 0);
      const header = decodeSliceHeader(fixed.subarray(0, bytesRead), info.size, this.#maxSliceBytes);
      if (typeof header !== "string") return { bytes: info.size, mtimeMs: info.mtimeMs };
      problem = header;
    } catch (error) {
      problem = errorMessage(error);
    } finally {
      await handle?.close().catch(() => {});
    }
    this.#stats.diskCorrupt += 1;
    this.#logger.warn({ path, reason: problem }, "disk cache file dropped at start-up");
    await rm(path, { force: true }).catch(() => {});
    return undefined;
  }
}

function nameOf(id: string): string {
  return createHash("sha256").update(id).digest("hex");
}

/** The whole file, refusing (before allocating) one larger than maxBytes. */
async function readBounded(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    if (size > maxBytes)
      throw new Error(`file is ${size} bytes, more than a slice file can be (${maxBytes})`);
    const buffer = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(buffer, read, size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return read === size ? buffer : buffer.subarray(0, read);
  } finally {
    await handle.close();
  }
}
