import type { Distribution } from "../../../proto/gen/streamfront/controller/v1/controller.js";

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

/** What the viewer reads after the reason in NetConnection.Connect.Rejected, per failure. */
export function lookupFailureDetail(failure: LookupFailure, host: string): string {
  switch (failure) {
    case LookupFailure.DistributionDisabled:
      return `the streaming distribution for ${host} is disabled`;
    case LookupFailure.DistributionTypeMismatch:
      return `${host} belongs to a web distribution, not a streaming one`;
    case LookupFailure.DistributionNotFound:
      return `no streaming distribution serves ${host}`;
  }
}

/** Longest host name looked up (DNS's bound); longer ones name no distribution. */
const maxHostChars = 253;

/**
 * Host → distribution, rebuilt whole from each config the controller pushes
 * (the config is small; lookups happen on every connect). Host names are
 * compared lower-case, without port.
 *
 * A CNAME `*.example.com` (the controller allows one leading `*.` label,
 * as CloudFront does) matches every host below example.com at any depth
 * (a.example.com, b.a.example.com) but not example.com itself. As at
 * CloudFront, the most specific name wins: an exact domain name or CNAME
 * first, then the wildcard with the longest domain.
 */
export class DistributionTable {
  readonly #byHost: ReadonlyMap<string, Distribution>;
  /** "example.com" for the CNAME *.example.com. */
  readonly #byWildcardDomain: ReadonlyMap<string, Distribution>;

  constructor(distributions: Iterable<Distribution>) {
    const byHost = new Map<string, Distribution>();
    const byWildcardDomain = new Map<string, Distribution>();
    for (const d of distributions) {
      byHost.set(d.domainName.toLowerCase(), d);
      for (const raw of d.cnames) {
        const cname = raw.toLowerCase();
        if (cname.startsWith("*.")) byWildcardDomain.set(cname.slice(2), d);
        else byHost.set(cname, d);
      }
    }
    this.#byHost = byHost;
    this.#byWildcardDomain = byWildcardDomain;
  }

  get size(): number {
    return this.#byHost.size + this.#byWildcardDomain.size;
  }

  lookup(host: string): Distribution | LookupFailure {
    const d = this.#find(host.toLowerCase());
    if (!d) return LookupFailure.DistributionNotFound;
    if (d.kind !== streamingKind) return LookupFailure.DistributionTypeMismatch;
    if (!d.enabled) return LookupFailure.DistributionDisabled;
    return d;
  }

  /** As lookup, with the id of the distribution a failure found (a disabled or web one), for the metrics. */
  resolve(host: string): Distribution | { readonly failure: LookupFailure; readonly id?: string } {
    const d = this.#find(host.toLowerCase());
    if (!d) return { failure: LookupFailure.DistributionNotFound };
    if (d.kind !== streamingKind) return { failure: LookupFailure.DistributionTypeMismatch, id: d.id };
    if (!d.enabled) return { failure: LookupFailure.DistributionDisabled, id: d.id };
    return d;
  }

  #find(host: string): Distribution | undefined {
    if (host.length > maxHostChars) return undefined;
    const exact = this.#byHost.get(host);
    if (exact || this.#byWildcardDomain.size === 0) return exact;
    // Drop one leading label at a time: the first wildcard domain found is
    // the longest, i.e. the most specific.
    for (let dot = host.indexOf("."); dot !== -1; dot = host.indexOf(".", dot + 1)) {
      const d = this.#byWildcardDomain.get(host.slice(dot + 1));
      if (d) return d;
    }
    return undefined;
  }
}
