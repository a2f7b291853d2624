import { Protocol } from "./vocabulary.js";

/** The distribution label of a connection not (yet) routed to a distribution: handshaking, refused at connect, plain HTTP. */
export const noDistribution = "none";
/** The distribution label shared by the distributions past max-distribution-labels. */
export const otherDistributions = "other";

type PerProtocol = Record<Protocol, number>;

function perProtocol(): PerProtocol {
  const counts = {} as PerProtocol;
  for (const protocol of Object.values(Protocol)) counts[protocol] = 0;
  return counts;
}

/** Something prom-client created for one distribution (a labelled child), and how to remove it. */
type Remover = () => void;

/**
 * One distribution label's live numbers. Sessions add to `egress` and
 * `viewers` directly (one addition per write, no prom-client call); the
 * scrape reads them. Labelled prom-client children made for this label are
 * remembered so that they can be removed with it.
 */
export class DistributionCell {
  readonly label: string;
  /** Bytes written to viewers of this distribution, by protocol. */
  readonly egress: PerProtocol = perProtocol();
  /** Connections of this distribution that started a play and are still open, by protocol. */
  readonly viewers: PerProtocol = perProtocol();
  /** Sessions counting against this cell now; a cell is removed only at zero. */
  sessions = 0;
  /** Its distribution left the table while sessions still used it: removed when the last one goes. */
  retired = false;
  readonly #series = new Map<string, Remover>();

  constructor(label: string) {
    this.label = label;
  }

  /** Remembers a labelled series of this cell (once per distinct key). */
  track(key: string, remove: Remover): void {
    if (!this.#series.has(key)) this.#series.set(key, remove);
  }

  removeSeries(): void {
    for (const remove of this.#series.values()) remove();
    this.#series.clear();
  }
}

/**
 * The bounded set of `distribution` label values: "none", the ids of the
 * distributions in the edge's current table (at most `maxLabels`, in table
 * order; later ones share "other"), and the ids of deleted distributions
 * while a connection of theirs is still open. When a distribution leaves
 * the table (and its last connection closed) its cell and every series made
 * for it are removed, so /metrics does not grow with every distribution
 * ever served.
 */
export class DistributionLabels {
  readonly #maxLabels: number;
  readonly #cells = new Map<string, DistributionCell>();
  /** The table the labels were last synced to (compared by identity). */
  #source: ReadonlyMap<string, unknown> | null = null;
  #table: (() => ReadonlyMap<string, unknown>) | null = null;
  readonly none: DistributionCell;
  readonly other: DistributionCell;

  constructor(maxLabels: number) {
    this.#maxLabels = maxLabels;
    this.none = new DistributionCell(noDistribution);
    this.other = new DistributionCell(otherDistributions);
  }

  /** Where cells() reads the current table from before each scrape. */
  syncOnScrape(table: () => ReadonlyMap<string, unknown>): void {
    this.#table = table;
  }

  /** Every cell with series to publish (synced to the table first): none, other, and each labelled distribution. */
  *cells(): IterableIterator<DistributionCell> {
    if (this.#table) this.sync(this.#table());
    yield this.none;
    yield this.other;
    yield* this.#cells.values();
  }

  /** Distributions with their own label now. */
  get labelled(): number {
    if (this.#table) this.sync(this.#table());
    return this.#cells.size;
  }

  /** The cell of a distribution id; "other" when it has no label of its own (past the cap). */
  cell(id: string): DistributionCell {
    return this.#cells.get(id) ?? this.other;
  }

  /**
   * Follows the edge's distribution table (keyed by distribution id): new
   * ids get a label while under the cap; ids that left it lose theirs (at
   * once, or when their last session detaches). Cheap when the table is
   * the one seen last.
   */
  sync(table: ReadonlyMap<string, unknown>): void {
    if (table === this.#source) return;
    this.#source = table;
    for (const [id, cell] of this.#cells) {
      if (table.has(id)) {
        cell.retired = false;
        continue;
      }
      if (cell.sessions === 0) this.#remove(id, cell);
      else cell.retired = true;
    }
    for (const id of table.keys()) {
      if (this.#cells.size >= this.#maxLabels) break;
      if (!this.#cells.has(id) && id !== noDistribution && id !== otherDistributions)
        this.#cells.set(id, new DistributionCell(id));
    }
  }

  attach(cell: DistributionCell): void {
    cell.sessions++;
  }

  detach(cell: DistributionCell): void {
    cell.sessions--;
    if (cell.sessions === 0 && cell.retired) this.#remove(cell.label, cell);
  }

  #remove(id: string, cell: DistributionCell): void {
    this.#cells.delete(id);
    cell.removeSeries();
  }
}
