import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** What a poll found about one file: enough to see it changed. */
export interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
}

/** Files of the folder by key (relative path, "/" separators). */
export type FolderListing = ReadonlyMap<string, FileStamp>;

/** One change the mirror hands on to be applied to the bucket. */
export type MediaChange =
  | { readonly kind: "added" | "replaced"; readonly key: string; readonly file: string }
  | { readonly kind: "removed"; readonly key: string };

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface MediaMirrorOptions {
  readonly dir: string;
  /** Milliseconds between polls; 0 never polls. */
  readonly intervalMs: number;
  /** Uploads or deletes; a rejection is reported and the change retried at the next poll. */
  readonly apply: (change: MediaChange) => Promise<void>;
  /** A failed apply (with its change), or a failed listing of the folder (without). */
  readonly onError: (error: unknown, change: MediaChange | undefined) => void;
  /** @default listFolder (the file system) */
  readonly list?: (dir: string) => Promise<FolderListing>;
  /** @default the global timers, unref'ed */
  readonly timers?: Timers;
}

const realTimers: Timers = {
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * Keeps a bucket in step with a folder while `npm start` runs, by polling
 * (fs.watch's recursive mode is not reliable on Linux with Node 20): every
 * interval the folder is listed and each file's size and mtime compared with
 * what was last applied.
 *
 * - A new or changed file is applied only once it is stable: the same size
 *   and mtime at two polls in a row, so a file still being copied is not
 *   uploaded half-written (it is uploaded one interval after its last write).
 * - A file that disappeared is applied as removed.
 * - Changes are applied one at a time, in key order; polls never overlap. A
 *   change whose apply fails is tried again at the next poll.
 */
export class MediaMirror {
  readonly #options: MediaMirrorOptions;
  readonly #timers: Timers;
  readonly #list: (dir: string) => Promise<FolderListing>;
  /** What the bucket has from the folder, as last applied. */
  #applied = new Map<string, FileStamp>();
  /** Changed files seen at the last poll, waiting to be seen unchanged once more. */
  #candidates = new Map<string, FileStamp>();
  #timer: unknown;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(options: MediaMirrorOptions) {
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
    this.#list = options.list ?? listFolder;
  }

  /**
   * Takes baseline (the folder as it was uploaded at start; list it before
   * uploading, so a file changed during the upload differs from it) and
   * starts polling.
   */
  start(baseline: FolderListing): void {
    this.#applied = new Map(baseline);
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops polling and waits for a poll under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One poll now (the timer calls it; tests too). Resolves when its changes are applied. */
  poll(): Promise<void> {
    this.#running ??= this.#poll().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped || this.#options.intervalMs <= 0) return;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      void this.poll().finally(() => this.#schedule());
    }, this.#options.intervalMs);
  }

  async #poll(): Promise<void> {
    let now: FolderListing;
    try {
      now = await this.#list(this.#options.dir);
    } catch (error) {
      this.#options.onError(error, undefined);
      return;
    }
    const candidates = new Map<string, FileStamp>();
    const ready: MediaChange[] = [];
    for (const [key, stamp] of [...now].sort(byKey)) {
      const applied = this.#applied.get(key);
      if (applied && same(applied, stamp)) continue;
      const seen = this.#candidates.get(key);
      if (seen && same(seen, stamp)) {
        ready.push({
          kind: applied ? "replaced" : "added",
          key,
          file: join(this.#options.dir, ...key.split("/")),
        });
      } else {
        candidates.set(key, stamp);
      }
    }
    for (const key of [...this.#applied.keys()].sort()) {
      if (!now.has(key)) ready.push({ kind: "removed", key });
    }
    this.#candidates = candidates;
    for (const change of ready) {
      if (this.#stopped) return;
      try {
        await this.#options.apply(change);
        if (change.kind === "removed") this.#applied.delete(change.key);
        else this.#applied.set(change.key, now.get(change.key)!);
      } catch (error) {
        this.#options.onError(error, change);
        // Seen stable: retried at the next poll without waiting again.
        if (change.kind !== "removed") this.#candidates.set(change.key, now.get(change.key)!);
      }
    }
  }
}

function same(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function byKey(a: [string, FileStamp], b: [string, FileStamp]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Every regular file under dir, by key (as EmbeddedS3.uploadDirectory uploads them). */
export async function listFolder(dir: string): Promise<FolderListing> {
  const out = new Map<string, FileStamp>();
  const walk = async (folder: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      // A subfolder removed while listing is simply gone.
      if (folder !== dir && (error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        try {
          const info = await stat(path);
          out.set(relative(dir, path).split(sep).join("/"), { size: info.size, mtimeMs: info.mtimeMs });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        }
      }
    }
  };
  await walk(dir);
  return out;
}
