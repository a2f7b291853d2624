import { EdgeError, EdgeErrorCode } from "../errors.js";

/**
 * Where an edge finds its shield replicas: fixed host:port addresses, or a
 * DNS name (a Kubernetes headless service) whose A and AAAA records are the
 * replicas, all on one port. Parsed here without I/O so the config can
 * validate every entry at start-up.
 */
export type ShieldTarget =
  | { readonly kind: "static"; readonly address: string }
  | { readonly kind: "dns"; readonly name: string; readonly port: number };

const hostPattern = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/;
const dnsNamePattern =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

export class ShieldTargetError extends EdgeError {
  constructor(message: string) {
    super(EdgeErrorCode.ShieldTargetInvalid, message);
    this.name = "ShieldTargetError";
  }
}

/** One entry: `host:port`, `[v6]:port` or `dns:<name>:<port>`. Throws ShieldTargetError naming what is wrong. */
function parseShieldTarget(text: string): ShieldTarget {
  const entry = text.trim();
  if (entry.startsWith("dns:")) {
    const rest = entry.slice(4);
    const colon = rest.lastIndexOf(":");
    if (colon <= 0) throw new ShieldTargetError(`${JSON.stringify(entry)}: expected dns:<name>:<port>`);
    const name = rest.slice(0, colon);
    if (!dnsNamePattern.test(name)) {
      throw new ShieldTargetError(`${JSON.stringify(entry)}: ${JSON.stringify(name)} is not a DNS name`);
    }
    return { kind: "dns", name, port: parsePort(entry, rest.slice(colon + 1)) };
  }
  const colon = entry.lastIndexOf(":");
  const host = colon > 0 ? entry.slice(0, colon) : "";
  if (!hostPattern.test(host)) {
    throw new ShieldTargetError(`${JSON.stringify(entry)}: expected host:port or dns:<name>:<port>`);
  }
  return { kind: "static", address: `${host}:${parsePort(entry, entry.slice(colon + 1))}` };
}

/**
 * A comma-separated list (or the entries of one). Empty entries are skipped;
 * an empty list or a repeated entry is an error, as a repeat would give one
 * replica two votes in every ranking.
 */
export function parseShieldTargets(spec: string | readonly string[]): ShieldTarget[] {
  const entries = (typeof spec === "string" ? spec.split(",") : spec)
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entries.length === 0) throw new ShieldTargetError("expected at least one shield address");
  const seen = new Set<string>();
  const targets: ShieldTarget[] = [];
  for (const entry of entries) {
    const target = parseShieldTarget(entry);
    const id = targetId(target);
    if (seen.has(id)) throw new ShieldTargetError(`${JSON.stringify(entry)} is listed twice`);
    seen.add(id);
    targets.push(target);
  }
  return targets;
}

/** The entry as written in config, normalised. */
export function targetId(target: ShieldTarget): string {
  return target.kind === "static" ? target.address : `dns:${target.name}:${target.port}`;
}

function parsePort(entry: string, text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ShieldTargetError(`${JSON.stringify(entry)}: port must be a number from 1 to 65535`);
  }
  return port;
}
