import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  experimental,
  Metadata,
  ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { Counter, type Registry } from "prom-client";
import { integer, oneOf, text } from "../config/schemas.js";
import { type Setting, setting } from "../config/settings.js";
import { errorMessage } from "../errors.js";
import { createLogger, type Logger, LogRateLimiter } from "../log.js";
import { errorCodeMetadataKey } from "../shield-error-code.js";
import { checkPeer, type PeerRole, roleOfCertificate, roleUri, TlsError, TlsErrorCode } from "./peer-role.js";

export const internalTlsModes = ["mtls", "plaintext"] as const;
export type InternalTlsMode = (typeof internalTlsModes)[number];

/** The settings of internal-link credentials, the same flags in every component (under its own variables). */
export function internalTlsSettings(envPrefix: string): {
  readonly internalTls: Setting<InternalTlsMode>;
  readonly tlsCaFile: Setting<string>;
  readonly tlsCertFile: Setting<string>;
  readonly tlsKeyFile: Setting<string>;
  readonly tlsRefreshMs: Setting<number>;
} {
  const file = text({ max: 4096 });
  return {
    internalTls: setting({
      env: `${envPrefix}_INTERNAL_TLS`,
      flag: "internal-tls",
      doc: "Internal gRPC links: mtls (mutual TLS with the tls-* files; start fails without them) or plaintext (an explicit opt-out, logged at warn).",
      schema: oneOf(internalTlsModes),
      default: "mtls",
    }),
    tlsCaFile: setting<string>({
      env: `${envPrefix}_TLS_CA_FILE`,
      flag: "tls-ca-file",
      doc: "PEM file of the CA(s) internal peers' certificates are checked against (a Secret's ca.crt).",
      schema: file,
      default: "",
    }),
    tlsCertFile: setting<string>({
      env: `${envPrefix}_TLS_CERT_FILE`,
      flag: "tls-cert-file",
      doc: "PEM certificate (chain) of this process; its URI SAN spiffe://streamfront/<role> names the role (tls.crt).",
      schema: file,
      default: "",
    }),
    tlsKeyFile: setting<string>({
      env: `${envPrefix}_TLS_KEY_FILE`,
      flag: "tls-key-file",
      doc: "PEM private key of tls-cert-file (tls.key).",
      schema: file,
      default: "",
    }),
    tlsRefreshMs: setting({
      env: `${envPrefix}_TLS_REFRESH_MS`,
      flag: "tls-refresh-ms",
      doc: "How often the tls-* files are read again; rotated files are used by new connections without a restart.",
      schema: integer(100, 86_400_000),
      default: 60_000,
    }),
  };
}

/**
 * What a start checks of the internal TLS settings before it binds anything
 * (--check-config): the files are set unless internal-tls is plaintext, are
 * readable, and hold a key matching a certificate of this role from the CA.
 * Throws the TlsError a start would, naming the setting. Nothing is kept:
 * no reread timer starts until a listener is added, and none is.
 */
export function checkInternalTls(config: InternalTlsConfig, role: PeerRole): void {
  InternalTls.fromConfig(config, role, createLogger({ component: "check-config", level: "silent" }));
}

export interface InternalTlsConfig {
  readonly internalTls: InternalTlsMode;
  readonly tlsCaFile: string;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly tlsRefreshMs: number;
}

export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** @default 60000 */
  readonly refreshMs?: number;
}

/** Which roles may call each service, by full service name (e.g. streamfront.shield.v1.ShieldService). */
export type ServiceCallers = Readonly<Record<string, readonly PeerRole[]>>;

/** Refusals by the role check, for the scrape (handshake refusals never reach it). */
export interface RefusalCounts {
  unauthenticated: number;
  wrongRole: number;
}

/**
 * One process's credentials on internal gRPC links: its role, and either
 * mutual TLS from files (a Kubernetes Secret or cert-manager mount, read
 * again every refreshMs so a rotation needs no restart) or plaintext, which
 * only an explicit setting gives. Servers built on it require a client
 * certificate from the CA and check the role it names per service; clients
 * check the server's role instead of its host name.
 */
export class InternalTls {
  readonly role: PeerRole;
  readonly mode: InternalTlsMode;
  readonly refusals: RefusalCounts = { unauthenticated: 0, wrongRole: 0 };
  readonly #provider: FileCertificateProvider | undefined;
  readonly #logger: Logger;
  readonly #limiter = new LogRateLimiter({ maxLines: 5, intervalMs: 60_000 });
  #refusedCounter: Counter<"code"> | undefined;
  readonly #verifiers = new Map<
    PeerRole,
    (host: string, cert: { subjectaltname?: string }) => Error | undefined
  >();

  private constructor(role: PeerRole, logger: Logger, provider?: FileCertificateProvider) {
    this.role = role;
    this.#logger = logger;
    this.#provider = provider;
    this.mode = provider ? "mtls" : "plaintext";
  }

  /** From a component's settings: files for mtls (each must be set), or the plaintext opt-out. */
  static fromConfig(config: InternalTlsConfig, role: PeerRole, logger: Logger): InternalTls {
    if (config.internalTls === "plaintext") return InternalTls.plaintext(role, logger);
    const missing = (
      [
        ["tls-ca-file", config.tlsCaFile],
        ["tls-cert-file", config.tlsCertFile],
        ["tls-key-file", config.tlsKeyFile],
      ] as const
    ).flatMap(([name, value]) => (value === "" ? [name] : []));
    if (missing.length > 0) {
      throw new TlsError(
        TlsErrorCode.NotConfigured,
        `internal gRPC links use mutual TLS and ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set: ` +
          `give tls-ca-file, tls-cert-file and tls-key-file (a certificate naming ${roleUri(role)}), ` +
          "or set internal-tls to plaintext to run without authentication",
      );
    }
    return InternalTls.fromFiles(role, logger, {
      caFile: config.tlsCaFile,
      certFile: config.tlsCertFile,
      keyFile: config.tlsKeyFile,
      refreshMs: config.tlsRefreshMs,
    });
  }

  /**
   * Mutual TLS from PEM files. They are read once now so a wrong path, a
   * key that is not the certificate's or a certificate of another role
   * stops the start with a message, not the first connection.
   */
  static fromFiles(role: PeerRole, logger: Logger, files: TlsFiles): InternalTls {
    const read = (name: string, path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (error) {
        throw new TlsError(
          TlsErrorCode.BadCredentials,
          `cannot read ${name} ${path}: ${errorMessage(error)}`,
        );
      }
    };
    const ca = read("tls-ca-file", files.caFile);
    const cert = read("tls-cert-file", files.certFile);
    const key = read("tls-key-file", files.keyFile);
    const problem = credentialsProblem(ca, cert, key, role);
    if (problem) throw new TlsError(TlsErrorCode.BadCredentials, `bad internal TLS credentials: ${problem}`);
    const provider = new FileCertificateProvider(files, { ca, cert, key }, role, logger);
    return new InternalTls(role, logger, provider);
  }

  /** No TLS: anyone who reaches the port may call. Logged at warn, since it is a choice to run open. */
  static plaintext(role: PeerRole, logger: Logger): InternalTls {
    logger.warn(
      { internalTls: "plaintext", role },
      "internal gRPC links are plaintext (internal-tls=plaintext): callers are not authenticated",
    );
    return new InternalTls(role, logger);
  }

  /**
   * Publishes the role check's refusals as streamfront_<component>_internal_calls_refused_total{code}
   * (TLS_ERR_UNAUTHENTICATED, TLS_ERR_WRONG_ROLE). Handshake failures (no certificate, another CA) end
   * before any call exists, so they are not counted here: the client sees UNAVAILABLE.
   */
  publishMetrics(registry: Registry, component: string): void {
    this.#refusedCounter = new Counter({
      name: `streamfront_${component}_internal_calls_refused_total`,
      help: "Internal gRPC calls refused by the peer-role check, by code (the caller's certificate names no role, or the wrong one).",
      labelNames: ["code"] as const,
      registers: [registry],
    });
    for (const code of [TlsErrorCode.Unauthenticated, TlsErrorCode.WrongRole])
      this.#refusedCounter.inc({ code }, 0);
  }

  /** A server's credentials: a client certificate from the CA is required in the handshake. */
  serverCredentials(): ServerCredentials {
    if (!this.#provider) return ServerCredentials.createInsecure();
    // One provider holds the CA and the identity, so a rotation of either is one read.
    return experimental.createCertificateProviderServerCredentials(this.#provider, this.#provider, true);
  }

  /**
   * A client's credentials for a server of `serverRole`. The server's name
   * is not checked (edges dial resolved pod addresses); its certificate
   * must come from the CA and name the role instead.
   */
  channelCredentials(serverRole: PeerRole): ChannelCredentials {
    if (!this.#provider) return credentials.createInsecure();
    let verify = this.#verifiers.get(serverRole);
    if (!verify) {
      // One function per role: grpc-js shares a connection between channels only when their credentials compare equal.
      verify = (_host, cert) => {
        const named = roleOfCertificate(cert);
        return named === serverRole
          ? undefined
          : new Error(
              `the server's certificate names ${named ? roleUri(named) : "no streamfront role"}, not ${roleUri(serverRole)}`,
            );
      };
      this.#verifiers.set(serverRole, verify);
    }
    return experimental.createCertificateProviderChannelCredentials(this.#provider, this.#provider, {
      checkServerIdentity: verify,
    });
  }

  /** Channel options that go with channelCredentials: the SNI name is the role, never a pod IP. */
  channelOptions(serverRole: PeerRole): ChannelOptions {
    return this.#provider ? { "grpc.ssl_target_name_override": `${serverRole}.streamfront.internal` } : {};
  }

  /**
   * The server interceptor that checks each call's peer role against the
   * service's callers before any handler runs; none with plaintext. A
   * refusal carries its code in the streamfront-error-code trailer.
   */
  serverInterceptors(callers: ServiceCallers): ServerInterceptor[] {
    if (!this.#provider) return [];
    const interceptor: ServerInterceptor = (method, call) =>
      new ServerInterceptingCall(call, {
        start: (next) => {
          next({
            onReceiveMetadata: (metadata, mdNext) => {
              const service = method.path.split("/")[1] ?? method.path;
              const verdict = checkPeer(
                call.getAuthContext().sslPeerCertificate,
                callers[service] ?? [],
                service,
              );
              if (verdict.ok) {
                mdNext(metadata);
                return;
              }
              if (verdict.code === TlsErrorCode.Unauthenticated) this.refusals.unauthenticated++;
              else this.refusals.wrongRole++;
              this.#refusedCounter?.inc({ code: verdict.code });
              this.#limiter.log(
                this.#logger,
                "warn",
                `${verdict.code}:${service}`,
                {
                  code: verdict.code,
                  peer: call.getPeer(),
                  peerRole: verdict.role ?? null,
                  method: method.path,
                },
                `internal call refused: ${verdict.message}`,
              );
              const trailer = new Metadata();
              trailer.set(errorCodeMetadataKey, verdict.code);
              call.sendStatus({ code: verdict.status, details: verdict.message, metadata: trailer });
            },
          });
        },
      });
    return [interceptor];
  }
}

/** Why a CA, certificate and key cannot be this role's credentials, or undefined when they can. */
function credentialsProblem(ca: Buffer, cert: Buffer, key: Buffer, role: PeerRole): string | undefined {
  try {
    new X509Certificate(ca);
    const own = new X509Certificate(cert);
    if (!own.checkPrivateKey(createPrivateKey(key))) return "tls-key-file is not the key of tls-cert-file";
    const named = roleOfCertificate({ subjectaltname: own.subjectAltName });
    if (named !== role) {
      return `the certificate names ${named ? roleUri(named) : "no streamfront role"}, not ${roleUri(role)}`;
    }
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/**
 * The tls-* files as grpc-js's CertificateProvider, read again every
 * refreshMs while a server or channel uses them. In place of grpc-js's
 * FileWatcherCertificateProvider for two reasons: its refresh timer holds
 * the event loop (a process whose channels grpc-js has not released yet
 * never exits), and a failed read replaces the identity with nothing, so a
 * rotation caught half-written (a key that is not the certificate's, a
 * missing file) would fail every new handshake. Here the last good set
 * stays until a complete, matching one is read, and the refusal is logged.
 */
class FileCertificateProvider implements experimental.CertificateProvider {
  readonly #files: TlsFiles;
  readonly #role: PeerRole;
  readonly #logger: Logger;
  readonly #caListeners = new Set<experimental.CaCertificateUpdateListener>();
  readonly #identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  #ca: experimental.CaCertificateUpdate;
  #identity: experimental.IdentityCertificateUpdate;
  #timer: NodeJS.Timeout | undefined;
  #reading = false;

  constructor(
    files: TlsFiles,
    initial: { ca: Buffer; cert: Buffer; key: Buffer },
    role: PeerRole,
    logger: Logger,
  ) {
    this.#files = files;
    this.#role = role;
    this.#logger = logger;
    this.#ca = { caCertificate: initial.ca };
    this.#identity = { certificate: initial.cert, privateKey: initial.key };
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.add(listener);
    process.nextTick(listener, this.#ca);
    this.#watch();
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.delete(listener);
    this.#unwatch();
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.add(listener);
    process.nextTick(listener, this.#identity);
    this.#watch();
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.delete(listener);
    this.#unwatch();
  }

  #watch(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#refresh(), this.#files.refreshMs ?? 60_000);
    // Certificates are no reason to keep a process alive: its servers and sockets are.
    this.#timer.unref();
  }

  #unwatch(): void {
    if (this.#caListeners.size > 0 || this.#identityListeners.size > 0 || !this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #refresh(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      const [ca, cert, key] = await Promise.all([
        readFile(this.#files.caFile),
        readFile(this.#files.certFile),
        readFile(this.#files.keyFile),
      ]);
      const problem = credentialsProblem(ca, cert, key, this.#role);
      if (problem) throw new Error(problem);
      if (!ca.equals(this.#ca.caCertificate)) {
        this.#ca = { caCertificate: ca };
        for (const listener of this.#caListeners) listener(this.#ca);
        this.#logger.info({ file: this.#files.caFile }, "internal TLS CA reloaded");
      }
      if (!cert.equals(this.#identity.certificate) || !key.equals(this.#identity.privateKey)) {
        this.#identity = { certificate: cert, privateKey: key };
        for (const listener of this.#identityListeners) listener(this.#identity);
        this.#logger.info({ file: this.#files.certFile }, "internal TLS certificate reloaded");
      }
    } catch (error) {
      this.#logger.warn(
        { err: errorMessage(error), certFile: this.#files.certFile },
        "internal TLS files could not be reloaded; keeping the last good ones",
      );
    } finally {
      this.#reading = false;
    }
  }
}
