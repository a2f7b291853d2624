import { status } from "@grpc/grpc-js";
import { StreamfrontError } from "../errors.js";

/**
 * The roles of the processes on internal gRPC links. A process's role is in
 * its certificate as the URI SAN spiffe://streamfront/<role>: a name that
 * says what the peer is, not where it runs (pod IPs and DNS names change;
 * edges reach shields by resolved pod addresses no certificate could list).
 */
export const PeerRole = {
  Edge: "edge",
  Shield: "shield",
  Controller: "controller",
} as const;
export type PeerRole = (typeof PeerRole)[keyof typeof PeerRole];

const roles: ReadonlySet<string> = new Set(Object.values(PeerRole));

/** The SPIFFE trust domain of every streamfront certificate. */
export const trustDomain = "streamfront";

/** The URI SAN that names a role, e.g. spiffe://streamfront/shield. */
export function roleUri(role: PeerRole): string {
  return `spiffe://${trustDomain}/${role}`;
}

/** Stable codes of refused internal-link credentials and peers (README: Error codes). */
export const TlsErrorCode = {
  /** internal-tls is mtls (the default) and a tls-*-file setting is empty. */
  NotConfigured: "TLS_ERR_NOT_CONFIGURED",
  /** A tls-*-file cannot be read or parsed, or the certificate does not name this process's role. */
  BadCredentials: "TLS_ERR_BAD_CREDENTIALS",
  /** The peer's certificate (trusted by the CA) names no streamfront role: UNAUTHENTICATED. */
  Unauthenticated: "TLS_ERR_UNAUTHENTICATED",
  /** The peer's role may not call this service (a shield calling a shield): PERMISSION_DENIED. */
  WrongRole: "TLS_ERR_WRONG_ROLE",
} as const;
export type TlsErrorCode = (typeof TlsErrorCode)[keyof typeof TlsErrorCode];

export class TlsError extends StreamfrontError {
  declare readonly code: TlsErrorCode;

  constructor(code: TlsErrorCode, message: string) {
    super(code, message);
    this.name = "TlsError";
  }
}

/** What the role of a peer is read from: Node's parsed peer certificate (tls.PeerCertificate's field). */
export interface CertificateNames {
  /** e.g. "DNS:a.example, URI:spiffe://streamfront/edge" */
  readonly subjectaltname?: string | undefined;
}

/**
 * The streamfront role a certificate names, or undefined when it names none
 * (no URI SAN in the trust domain, or more than one role: a certificate is
 * one process's, and a two-role certificate would pass either check).
 */
export function roleOfCertificate(cert: CertificateNames | undefined): PeerRole | undefined {
  const names = cert?.subjectaltname;
  if (!names) return undefined;
  const prefix = `URI:spiffe://${trustDomain}/`;
  const found = new Set<string>();
  // Node joins the names with ", "; a comma inside a URI would be percent-encoded.
  for (const entry of names.split(/,\s*/)) {
    if (!entry.startsWith(prefix)) continue;
    found.add(entry.slice(prefix.length));
  }
  if (found.size !== 1) return undefined;
  const [role] = found;
  return role !== undefined && roles.has(role) ? (role as PeerRole) : undefined;
}

export type PeerVerdict =
  | { readonly ok: true; readonly role: PeerRole }
  | {
      readonly ok: false;
      readonly status: status;
      readonly code: TlsErrorCode;
      readonly message: string;
      /** The role the certificate named, when it named one. */
      readonly role: PeerRole | undefined;
    };

/**
 * Whether a peer may call a service: its certificate must name one of the
 * allowed roles. The chain was verified against the CA by the TLS handshake
 * already (a server requires a client certificate), so only the name is
 * checked here.
 */
export function checkPeer(
  cert: CertificateNames | undefined,
  allowed: readonly PeerRole[],
  service: string,
): PeerVerdict {
  const role = roleOfCertificate(cert);
  if (role === undefined) {
    return {
      ok: false,
      status: status.UNAUTHENTICATED,
      code: TlsErrorCode.Unauthenticated,
      message: `${service} needs a client certificate naming ${allowed.map(roleUri).join(" or ")}; the peer's names none`,
      role,
    };
  }
  if (!allowed.includes(role)) {
    return {
      ok: false,
      status: status.PERMISSION_DENIED,
      code: TlsErrorCode.WrongRole,
      message: `${service} accepts ${allowed.join(" or ")} callers only; the peer is ${role}`,
      role,
    };
  }
  return { ok: true, role };
}
