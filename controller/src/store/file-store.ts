import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { StreamfrontError } from "../../../lib/errors.js";
import type { Distribution, DistributionPatch } from "../distribution.js";
import { ControllerErrorCode } from "../errors.js";
import type { PublicKeyPatch, PublicKeyRecord } from "../public-key.js";
import type {
  CreateOptions,
  CreatePublicKeyOptions,
  DeleteOptions,
  TagChange,
  UpdateOptions,
} from "./distribution-store.js";
import { MemoryStore, type MemoryStoreOptions, type MemoryStoreState } from "./memory-store.js";
import { checkedDistribution, checkedPublicKey, StoreDataError } from "./store-codec.js";

/** The store file cannot be read (corrupt, not ours) or written. */
export class StoreFileError extends StreamfrontError {
  constructor(message: string, options?: ErrorOptions) {
    super(ControllerErrorCode.StoreFile, message, options);
    this.name = "StoreFileError";
  }
}

const fileFormat = "streamfront-distributions";
const fileFormatVersion = 1;

const fileSchema = z.object({
  format: z.literal(fileFormat),
  formatVersion: z.literal(fileFormatVersion),
  version: z.number().int().nonnegative(),
  distributions: z.array(z.unknown()),
  usedIds: z.array(z.string()),
  usedDomains: z.array(z.string()),
  // Absent in files written before public keys existed.
  publicKeys: z.array(z.unknown()).default([]),
  usedPublicKeyIds: z.array(z.string()).default([]),
});

/** The file's text for a state: one JSON object, distributions one per line for diffs. */
function encodeStoreFile(state: MemoryStoreState): string {
  const head = JSON.stringify({
    format: fileFormat,
    formatVersion: fileFormatVersion,
    version: state.version,
  });
  const lines = state.distributions.map((d) => `    ${JSON.stringify(d)}`);
  const keyLines = (state.publicKeys ?? []).map((k) => `    ${JSON.stringify(k)}`);
  return (
    `${head.slice(0, -1)},\n` +
    `  "usedIds": ${JSON.stringify(state.usedIds)},\n` +
    `  "usedDomains": ${JSON.stringify(state.usedDomains)},\n` +
    `  "usedPublicKeyIds": ${JSON.stringify(state.usedPublicKeyIds ?? [])},\n` +
    `  "publicKeys": [\n${keyLines.join(",\n")}${keyLines.length > 0 ? "\n" : ""}  ],\n` +
    `  "distributions": [\n${lines.join(",\n")}${lines.length > 0 ? "\n" : ""}  ]\n}\n`
  );
}

/** Reads a store file's text back, checking every field; throws StoreFileError naming the file. */
function decodeStoreFile(raw: string, path: string): MemoryStoreState {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new StoreFileError(
      `store file ${path} is not valid JSON (${(error as Error).message}); fix or move it away`,
      { cause: error },
    );
  }
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    throw new StoreFileError(
      `store file ${path} is not a streamfront distributions file: ${z.prettifyError(parsed.error)}`,
    );
  }
  try {
    const distributions: Distribution[] = parsed.data.distributions.map((d, i) =>
      checkedDistribution(d, `distribution ${i}`),
    );
    const publicKeys: PublicKeyRecord[] = parsed.data.publicKeys.map((k, i) =>
      checkedPublicKey(k, `public key ${i}`),
    );
    return {
      version: parsed.data.version,
      distributions,
      usedIds: parsed.data.usedIds,
      usedDomains: parsed.data.usedDomains,
      publicKeys,
      usedPublicKeyIds: parsed.data.usedPublicKeyIds,
    };
  } catch (error) {
    throw new StoreFileError(`store file ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The embedded store of single-machine mode, kept in a JSON file: loaded at
 * start, written after every committed mutation (tag changes too) by write
 * to a temporary file, fsync, rename — so the file is always one whole
 * state, the old or the new. Each mutation resolves only once a write that
 * includes it is on disk; mutations arriving while a write is under way
 * share the next one. close() waits for the last write.
 *
 * Watchers (heartbeats) and the change history are not saved: after a
 * restart the version starts above anything the previous run could have
 * handed out (see open), so a resuming edge gets a full snapshot.
 */
export class FileStore extends MemoryStore {
  readonly path: string;
  /** The write under way or last finished (never rejects). */
  #last: Promise<void> = Promise.resolve();
  /** The write queued behind #last, shared by every mutation made before it starts. */
  #next: Promise<void> | undefined;
  /** A committed change not yet written (a write failed). */
  #dirty = false;

  private constructor(path: string, options: MemoryStoreOptions) {
    super(options);
    this.path = path;
  }

  /**
   * Loads path (a missing file is an empty store) and writes it back at
   * once, so an unwritable folder fails start-up rather than the first API
   * call. Throws StoreFileError naming the file.
   */
  static open(path: string, options: MemoryStoreOptions = {}): FileStore {
    let raw: string | undefined;
    try {
      raw = readFileSync(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new StoreFileError(`cannot read store file ${path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    const saved = raw === undefined ? undefined : decodeStoreFile(raw, path);
    let store: FileStore;
    try {
      store = new FileStore(path, {
        ...options,
        // Above every version the previous run may have pushed to an edge
        // without writing it (a crash between commit and write).
        initialVersion: Math.max(options.initialVersion ?? Date.now(), (saved?.version ?? 0) + 1),
        ...(saved ? { restore: saved } : {}),
      });
    } catch (error) {
      if (error instanceof StoreDataError) {
        throw new StoreFileError(`store file ${path}: ${error.message}`, { cause: error });
      }
      throw error;
    }
    try {
      writeAtomicallySync(path, encodeStoreFile(store.exportState()));
    } catch (error) {
      throw new StoreFileError(`cannot write store file ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return store;
  }

  override async create(distribution: Distribution, options?: CreateOptions): Promise<Distribution> {
    const created = await super.create(distribution, options);
    await this.#persist();
    return created;
  }

  override async update(
    id: string,
    patch: DistributionPatch,
    options?: UpdateOptions,
  ): Promise<Distribution> {
    const updated = await super.update(id, patch, options);
    await this.#persist();
    return updated;
  }

  override async delete(id: string, options?: DeleteOptions): Promise<void> {
    await super.delete(id, options);
    await this.#persist();
  }

  override async changeTags(id: string, change: TagChange, maxTags: number): Promise<Distribution> {
    const tagged = await super.changeTags(id, change, maxTags);
    await this.#persist();
    return tagged;
  }

  override async createPublicKey(
    key: PublicKeyRecord,
    options?: CreatePublicKeyOptions,
  ): Promise<PublicKeyRecord> {
    const created = await super.createPublicKey(key, options);
    await this.#persist();
    return created;
  }

  override async updatePublicKey(
    id: string,
    patch: PublicKeyPatch,
    options?: UpdateOptions,
  ): Promise<PublicKeyRecord> {
    const updated = await super.updatePublicKey(id, patch, options);
    await this.#persist();
    return updated;
  }

  override async deletePublicKey(id: string, options?: UpdateOptions): Promise<void> {
    await super.deletePublicKey(id, options);
    await this.#persist();
  }

  /** Closes the store, then waits for the last write (retrying one that failed). */
  override async close(): Promise<void> {
    await super.close();
    await this.#last;
    if (this.#dirty) await this.#persist();
  }

  #persist(): Promise<void> {
    this.#dirty = true;
    if (this.#next) return this.#next;
    const next = this.#last.then(() => {
      this.#next = undefined;
      return this.#write();
    });
    this.#next = next;
    this.#last = next.catch(() => {});
    return next;
  }

  async #write(): Promise<void> {
    const text = encodeStoreFile(this.exportState());
    this.#dirty = false;
    try {
      await writeAtomically(this.path, text);
    } catch (error) {
      this.#dirty = true;
      throw new StoreFileError(
        `cannot write store file ${this.path} (the change is kept in memory and written with the next one): ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

function tempPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = tempPathOf(path);
  const file = await open(temp, "w", 0o644);
  try {
    await file.writeFile(text, "utf8");
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  // The rename itself survives a power cut once the folder is synced.
  try {
    const folder = await open(dirname(path), "r");
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    // Some file systems refuse fsync on a folder; the rename is still atomic.
  }
}

function writeAtomicallySync(path: string, text: string): void {
  const temp = tempPathOf(path);
  const fd = openSync(temp, "w", 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
