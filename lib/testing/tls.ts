import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChannelCredentials, ChannelOptions } from "@grpc/grpc-js";
import { ConfigServiceClient } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { ShieldServiceClient } from "../../proto/gen/streamfront/shield/v1/shield.js";
import {
  type CertificateAuthority,
  type CertificateFiles,
  createCertificateAuthority,
  issueCertificate,
} from "../grpc/dev-pki.js";
import { InternalTls, type InternalTlsConfig } from "../grpc/internal-tls.js";
import { PeerRole } from "../grpc/peer-role.js";
import { createLogger, type Logger } from "../log.js";

/** Every role, with its certificate from the test CA. */
export interface TestPki {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly roles: Readonly<Record<PeerRole, CertificateFiles>>;
  /** From the test CA but naming no streamfront role (UNAUTHENTICATED). */
  readonly noRole: CertificateFiles;
  /** Another CA, and an edge certificate it issued: trusted by nothing under test. */
  readonly otherCa: CertificateAuthority;
  readonly otherCaEdge: CertificateFiles;
}

let pki: TestPki | undefined;

/** Set by the first testPki() of a test run, so the processes it starts trust the same CA. */
const pkiDirVariable = "STREAMFRONT_TEST_PKI_DIR";

function filesIn(dir: string): TestPki {
  const pair = (name: string): CertificateFiles => ({
    certFile: join(dir, `${name}.crt`),
    keyFile: join(dir, `${name}.key`),
  });
  const ca = (name: string): CertificateAuthority => ({ caFile: join(dir, `${name}.crt`), ...pair(name) });
  const roles = {} as Record<PeerRole, CertificateFiles>;
  for (const role of Object.values(PeerRole)) roles[role] = pair(role);
  return {
    dir,
    ca: ca("test-ca"),
    roles,
    noRole: pair("no-role"),
    otherCa: ca("other-ca"),
    otherCaEdge: pair("other-ca-edge"),
  };
}

/**
 * The test PKI, made once per test process with the openssl CLI (a few
 * milliseconds per certificate) in a temporary directory removed at exit.
 */
export function testPki(): TestPki {
  if (pki) return pki;
  const inherited = process.env[pkiDirVariable];
  if (inherited && existsSync(join(inherited, "other-ca-edge.key"))) {
    pki = filesIn(inherited);
    return pki;
  }
  const dir = mkdtempSync(join(tmpdir(), "streamfront-pki-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  process.env[pkiDirVariable] = dir;
  const ca = createCertificateAuthority(dir, "test-ca");
  const roles = {} as Record<PeerRole, CertificateFiles>;
  for (const role of Object.values(PeerRole)) roles[role] = issueCertificate(ca, dir, role, { role });
  const otherCa = createCertificateAuthority(dir, "other-ca");
  pki = {
    dir,
    ca,
    roles,
    noRole: issueCertificate(ca, dir, "no-role"),
    otherCa,
    otherCaEdge: issueCertificate(otherCa, dir, "other-ca-edge", { role: PeerRole.Edge }),
  };
  return pki;
}

const silent = createLogger({ component: "test", level: "silent" });

/** A role's mutual-TLS credentials from the test PKI. */
export function testTls(role: PeerRole, logger: Logger = silent): InternalTls {
  const { ca, roles } = testPki();
  return InternalTls.fromFiles(role, logger, { caFile: ca.caFile, ...roles[role] });
}

/** A role's tls-* settings as a config object, for tests that build a component's config by hand. */
export function testTlsConfig(role: PeerRole): InternalTlsConfig {
  const { ca, roles } = testPki();
  return {
    internalTls: "mtls",
    tlsCaFile: ca.caFile,
    tlsCertFile: roles[role].certFile,
    tlsKeyFile: roles[role].keyFile,
    tlsRefreshMs: 60_000,
  };
}

/** A role's tls-* settings as environment variables under a component's prefix (e.g. STREAMFRONT_SHIELD). */
export function testTlsEnv(envPrefix: string, role: PeerRole): Record<string, string> {
  const config = testTlsConfig(role);
  return {
    [`${envPrefix}_TLS_CA_FILE`]: config.tlsCaFile,
    [`${envPrefix}_TLS_CERT_FILE`]: config.tlsCertFile,
    [`${envPrefix}_TLS_KEY_FILE`]: config.tlsKeyFile,
  };
}

/** A test client's credentials and channel options: `role` calling a server of `serverRole`. */
export function testChannel(
  serverRole: PeerRole,
  role: PeerRole = PeerRole.Edge,
): { credentials: ChannelCredentials; options: ChannelOptions } {
  const tls = testTls(role);
  return { credentials: tls.channelCredentials(serverRole), options: tls.channelOptions(serverRole) };
}

/** A ShieldService client with an edge's test certificate (or `role`'s). */
export function testShieldClient(
  address: string,
  options: ChannelOptions = {},
  role: PeerRole = PeerRole.Edge,
) {
  const channel = testChannel(PeerRole.Shield, role);
  return new ShieldServiceClient(address, channel.credentials, { ...channel.options, ...options });
}

/** A ConfigService client with an edge's test certificate (or `role`'s). */
export function testConfigClient(
  address: string,
  options: ChannelOptions = {},
  role: PeerRole = PeerRole.Edge,
) {
  const channel = testChannel(PeerRole.Controller, role);
  return new ConfigServiceClient(address, channel.credentials, { ...channel.options, ...options });
}
