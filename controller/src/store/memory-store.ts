import { checkDistribution, type Distribution, type DistributionPatch } from "../distribution.js";
import { ControllerError, ControllerErrorCode } from "../errors.js";
import type {
  ChangeListener,
  ConfigSnapshot,
  DistributionChange,
  DistributionStore,
} from "./distribution-store.js";

export interface MemoryStoreOptions {
  /** Milliseconds since the epoch, for lastModifiedMs. @default Date.now */
  readonly clock?: () => number;
  /**
   * The version before the first mutation. Defaults to the start time in
   * milliseconds: versions then keep growing across controller restarts
   * (the memory store forgets everything), so a watcher resuming from a
   * version of the previous run never matches one of this run and gets a
   * fresh snapshot instead of a wrong "nothing changed".
   */
  readonly initialVersion?: number;
  /** Changes kept for changesSince; older resumes get a snapshot. @default 1000 */
  readonly historyLimit?: number;
}

/** The embedded DistributionStore of single-machine mode: everything in this process. */
export class MemoryStore implements DistributionStore {
  readonly #clock: () => number;
  readonly #historyLimit: number;
  readonly #byId = new Map<string, Distribution>();
  /** CNAME and domain name → owning distribution id. */
  readonly #hosts = new Map<string, string>();
  readonly #history: DistributionChange[] = [];
  readonly #listeners = new Set<ChangeListener>();
  #version: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#version = options.initialVersion ?? Date.now();
    this.#historyLimit = Math.max(1, options.historyLimit ?? 1000);
  }

  async create(distribution: Distribution): Promise<Distribution> {
    const d = checkDistribution(distribution);
    if (this.#byId.has(d.id) || this.#hosts.has(d.domainName)) {
      throw new ControllerError(
        ControllerErrorCode.DistributionExists,
        `distribution ${d.id} or domain ${d.domainName} already exists`,
      );
    }
    this.#checkCnames(d.id, d.cnames);
    this.#index(d);
    this.#commit({ upserts: [d], removedIds: [] });
    return d;
  }

  async get(id: string): Promise<Distribution | undefined> {
    return this.#byId.get(id);
  }

  async list(): Promise<readonly Distribution[]> {
    return this.#sorted();
  }

  async update(id: string, patch: DistributionPatch): Promise<Distribution> {
    const current = this.#require(id);
    const next = checkDistribution({
      ...current,
      ...definedOnly(patch),
      id: current.id,
      domainName: current.domainName,
      lastModifiedMs: this.#clock(),
    });
    this.#checkCnames(id, next.cnames);
    this.#unindex(current);
    this.#index(next);
    this.#commit({ upserts: [next], removedIds: [] });
    return next;
  }

  async delete(id: string): Promise<void> {
    const current = this.#require(id);
    this.#unindex(current);
    this.#commit({ upserts: [], removedIds: [id] });
  }

  async version(): Promise<number> {
    return this.#version;
  }

  async snapshot(): Promise<ConfigSnapshot> {
    return { version: this.#version, distributions: this.#sorted() };
  }

  async changesSince(version: number): Promise<DistributionChange | undefined> {
    if (version === this.#version) return { version, upserts: [], removedIds: [] };
    if (version > this.#version) return undefined;
    const oldest = this.#history[0];
    // The history must hold the change right after `version`.
    if (!oldest || oldest.version > version + 1) return undefined;
    const touched = new Set<string>();
    for (const change of this.#history) {
      if (change.version <= version) continue;
      for (const d of change.upserts) touched.add(d.id);
      for (const removed of change.removedIds) touched.add(removed);
    }
    const upserts: Distribution[] = [];
    const removedIds: string[] = [];
    for (const id of [...touched].sort()) {
      const d = this.#byId.get(id);
      if (d) upserts.push(d);
      else removedIds.push(id);
    }
    return { version: this.#version, upserts, removedIds };
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #require(id: string): Distribution {
    const d = this.#byId.get(id);
    if (!d) throw new ControllerError(ControllerErrorCode.DistributionNotFound, `no distribution ${id}`);
    return d;
  }

  #checkCnames(id: string, cnames: readonly string[]): void {
    for (const cname of cnames) {
      const owner = this.#hosts.get(cname);
      if (owner !== undefined && owner !== id) {
        throw new ControllerError(
          ControllerErrorCode.CnameInUse,
          `CNAME ${cname} is already used by distribution ${owner}`,
        );
      }
    }
  }

  #index(d: Distribution): void {
    this.#byId.set(d.id, d);
    this.#hosts.set(d.domainName, d.id);
    for (const cname of d.cnames) this.#hosts.set(cname, d.id);
  }

  #unindex(d: Distribution): void {
    this.#byId.delete(d.id);
    this.#hosts.delete(d.domainName);
    for (const cname of d.cnames) this.#hosts.delete(cname);
  }

  #commit(change: Omit<DistributionChange, "version">): void {
    this.#version += 1;
    const full: DistributionChange = Object.freeze({ version: this.#version, ...change });
    this.#history.push(full);
    if (this.#history.length > this.#historyLimit) this.#history.shift();
    for (const listener of this.#listeners) listener(full);
  }

  #sorted(): Distribution[] {
    return [...this.#byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/** Drops keys whose value is undefined, so a patch never erases a field. */
function definedOnly(patch: DistributionPatch): DistributionPatch {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as DistributionPatch;
}
