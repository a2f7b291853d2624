import { isIPv4 } from "node:net";

/** An IPv4 network, as a policy's `AWS:SourceIp` writes it (`a.b.c.d/nn`). */
export interface Ipv4Network {
  /** The network address as an unsigned 32-bit number, host bits cleared. */
  readonly network: number;
  readonly prefixLength: number;
}

/**
 * Parses `a.b.c.d/nn` (0 ≤ nn ≤ 32). CloudFront requires the prefix (a
 * single address is written /32) and speaks IPv4 only; anything else is
 * null, and a policy carrying it is refused as malformed.
 */
export function parseIpv4Cidr(text: string): Ipv4Network | null {
  const slash = text.indexOf("/");
  if (slash === -1) return null;
  const address = ipv4ToNumber(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === null || !/^\d{1,2}$/.test(prefixText)) return null;
  const prefixLength = Number(prefixText);
  if (prefixLength > 32) return null;
  return { network: (address & maskOf(prefixLength)) >>> 0, prefixLength };
}

/**
 * Whether the viewer's address is in the network. Sockets on a dual-stack
 * listener report IPv4 viewers as `::ffff:a.b.c.d`; those are IPv4. A
 * real IPv6 viewer never matches an IPv4 condition.
 */
export function ipv4InNetwork(address: string, network: Ipv4Network): boolean {
  const bare = address.startsWith("::ffff:") ? address.slice(7) : address;
  const value = ipv4ToNumber(bare);
  if (value === null) return false;
  return (value & maskOf(network.prefixLength)) >>> 0 === network.network;
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

function ipv4ToNumber(text: string): number | null {
  if (!isIPv4(text)) return null;
  let value = 0;
  for (const octet of text.split(".")) value = value * 256 + Number(octet);
  return value;
}
