import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";

export const LookupFailure = {
  /** No distribution has this host as its domain name or a CNAME. */
  DistributionNotFound: "DistributionNotFound",
  /** The host belongs to a web (non-streaming) distribution. */
  DistributionTypeMismatch: "DistributionTypeMismatch",
  /** The distribution exists but is disabled. */
  DistributionDisabled: "DistributionDisabled",
} as const;
export type LookupFailure = (typeof LookupFailure)[keyof typeof LookupFailure];

/** Streaming distributions (kind 1 in the proto). */
const streamingKind = 1;

/**
 * Host → distribution, rebuilt whole from each config the controller pushes
 * (the config is small; lookups happen on every connect). Host names are
 * compared lower-case, without port.
 */
export class DistributionTable {
  readonly #byHost: ReadonlyMap<string, Distribution>;

  constructor(distributions: Iterable<Distribution>) {
    const byHost = new Map<string, Distribution>();
    for (const d of distributions) {
      byHost.set(d.domainName.toLowerCase(), d);
      for (const cname of d.cnames) byHost.set(cname.toLowerCase(), d);
    }
    this.#byHost = byHost;
  }

  get size(): number {
    return this.#byHost.size;
  }

  lookup(host: string): Distribution | LookupFailure {
    const d = this.#byHost.get(host.toLowerCase());
    if (!d) return LookupFailure.DistributionNotFound;
    if (d.kind !== streamingKind) return LookupFailure.DistributionTypeMismatch;
    if (!d.enabled) return LookupFailure.DistributionDisabled;
    return d;
  }
}
