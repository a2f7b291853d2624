import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { type PeerRole, roleUri, TlsError, TlsErrorCode } from "./peer-role.js";

/**
 * A certificate authority and role certificates made with the openssl CLI,
 * for `npm start` and tests: what cert-manager or an operator's own PKI
 * gives a real deployment. P-256 keys; long validity, since nothing renews
 * them.
 */

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface CertificateAuthority extends CertificateFiles {
  /** The CA's certificate: the tls-ca-file of every process it issued for. */
  readonly caFile: string;
}

/** Validity of a development CA and of its certificates, in days. */
const caDays = 3650;
const leafDays = 825;

function openssl(args: readonly string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new TlsError(
      TlsErrorCode.BadCredentials,
      `openssl ${args[0] ?? ""} failed making development credentials: ${stderr || errorMessage(error)}`,
    );
  }
}

const p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Makes a CA in dir (<name>.crt, <name>.key). */
export function createCertificateAuthority(dir: string, name: string): CertificateAuthority {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  openssl([
    "req",
    "-x509",
    ...p256,
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    String(caDays),
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { caFile: certFile, certFile, keyFile };
}

export interface IssueOptions {
  /** The role the certificate names (URI SAN spiffe://streamfront/<role>); absent: no streamfront name at all. */
  readonly role?: PeerRole;
  /** Validity in days. @default 825 */
  readonly days?: number;
}

/** Issues <name>.crt and <name>.key in dir, signed by ca, usable as client and server certificate. */
export function issueCertificate(
  ca: CertificateAuthority,
  dir: string,
  name: string,
  options: IssueOptions = {},
): CertificateFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  openssl([
    "req",
    "-x509",
    ...p256,
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    String(options.days ?? leafDays),
    "-subj",
    `/CN=${name}`,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "-addext",
    "extendedKeyUsage=serverAuth,clientAuth",
    ...(options.role ? ["-addext", `subjectAltName=${`URI:${roleUri(options.role)}`}`] : []),
  ]);
  return { certFile, keyFile };
}

export interface RoleCredentials {
  readonly caFile: string;
  readonly roles: Readonly<Record<PeerRole, CertificateFiles>>;
}

/**
 * The development PKI in dir: a CA and one certificate per role, made on
 * the first call and reused afterwards (a kept state directory keeps the
 * same CA, so nothing that trusted it before has to change).
 */
export function ensureRoleCredentials(dir: string, roles: readonly PeerRole[]): RoleCredentials {
  const caFile = join(dir, "ca.crt");
  const ca: CertificateAuthority =
    existsSync(caFile) && existsSync(join(dir, "ca.key"))
      ? { caFile, certFile: caFile, keyFile: join(dir, "ca.key") }
      : createCertificateAuthority(dir, "ca");
  const out: Partial<Record<PeerRole, CertificateFiles>> = {};
  for (const role of roles) {
    const files = { certFile: join(dir, `${role}.crt`), keyFile: join(dir, `${role}.key`) };
    out[role] =
      existsSync(files.certFile) && existsSync(files.keyFile)
        ? files
        : issueCertificate(ca, dir, role, { role });
  }
  return { caFile: ca.caFile, roles: out as Record<PeerRole, CertificateFiles> };
}
