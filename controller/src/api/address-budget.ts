/**
 * Counts what each client address holds (connections, requests) against a
 * bound per address and a bound in total, so one address cannot take what
 * every client shares. Pure bookkeeping: the HTTP layer asks before it
 * admits and releases when done.
 */
export class AddressBudget {
  readonly #perAddress: number;
  readonly #total: number;
  readonly #held = new Map<string, number>();
  #sum = 0;

  constructor(limits: { readonly perAddress: number; readonly total: number }) {
    this.#perAddress = limits.perAddress;
    this.#total = limits.total;
  }

  /** Takes one unit for address when both bounds allow; false (and nothing taken) otherwise. */
  tryTake(address: string): boolean {
    const held = this.#held.get(address) ?? 0;
    if (held >= this.#perAddress || this.#sum >= this.#total) return false;
    this.#held.set(address, held + 1);
    this.#sum++;
    return true;
  }

  release(address: string): void {
    const held = this.#held.get(address);
    if (held === undefined) return;
    // The map holds only addresses that hold something, so it never
    // outgrows the total bound.
    if (held <= 1) this.#held.delete(address);
    else this.#held.set(address, held - 1);
    this.#sum--;
  }

  get total(): number {
    return this.#sum;
  }

  heldBy(address: string): number {
    return this.#held.get(address) ?? 0;
  }
}

/**
 * The address a budget is kept by: an IPv4 client reached over a dual-stack
 * socket (::ffff:1.2.3.4) counts as 1.2.3.4.
 */
export function clientAddress(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return "unknown";
  return remoteAddress.startsWith("::ffff:") && remoteAddress.includes(".")
    ? remoteAddress.slice("::ffff:".length)
    : remoteAddress;
}
