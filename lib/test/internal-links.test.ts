import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { connect, type PeerCertificate } from "node:tls";
import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { controllerSettings } from "../../controller/src/config.js";
import { ControllerServer } from "../../controller/src/controller-server.js";
import { ConfigServiceClient, NodeRole } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { ShieldServiceClient } from "../../proto/gen/streamfront/shield/v1/shield.js";
import { shieldSettings } from "../../shield/src/config.js";
import { ShieldServer } from "../../shield/src/shield-server.js";
import { loadConfig } from "../config/settings.js";
import { issueCertificate } from "../grpc/dev-pki.js";
import { InternalTls } from "../grpc/internal-tls.js";
import { checkPeer, PeerRole, roleOfCertificate, TlsErrorCode } from "../grpc/peer-role.js";
import { createLogger, type Logger } from "../log.js";
import { createS3Client } from "../s3-client.js";
import { errorCodeMetadataKey, ShieldErrorCode } from "../shield-error-code.js";
import { type TestPki, testPki, testTls } from "../testing/tls.js";
import { eventually } from "../testing/wait.js";

/** A logger whose JSON lines are kept, to assert what a refusal or an opt-out writes. */
function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n"))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ component: "test", level: "debug", destination }), lines };
}

/** The callers under test, each as credentials and channel options for a server of `serverRole`. */
type Caller = { name: string; credentials: ChannelCredentials; options: ChannelOptions };

function callers(pki: TestPki, serverRole: PeerRole): Record<string, Caller> {
  // Built from grpc-js's ssl credentials, not InternalTls (which refuses such files at start): each trusts the
  // server's CA, so only what the caller presents is wrong.
  const as = (name: string, files: { certFile: string; keyFile: string }): Caller => ({
    name,
    credentials: credentials.createSsl(
      readFileSync(pki.ca.caFile),
      readFileSync(files.keyFile),
      readFileSync(files.certFile),
      { checkServerIdentity: () => undefined },
    ),
    options: { "grpc.ssl_target_name_override": `${serverRole}.streamfront.internal` },
  });
  return {
    plaintext: { name: "plaintext", credentials: credentials.createInsecure(), options: {} },
    otherCa: as("a certificate of another CA", pki.otherCaEdge),
    noRole: as("a certificate naming no role", pki.noRole),
    edge: as("edge", pki.roles.edge),
    shield: as("shield", pki.roles.shield),
    controller: as("controller", pki.roles.controller),
  };
}

interface CallOutcome {
  readonly code: number;
  readonly errorCode: string | undefined;
}

function outcomeOf(error: ServiceError | null): CallOutcome {
  if (!error) return { code: status.OK, errorCode: undefined };
  const value = (error.metadata as Metadata | undefined)?.get(errorCodeMetadataKey)[0];
  return { code: error.code, errorCode: typeof value === "string" ? value : undefined };
}

describe("peer roles (pure)", () => {
  test("the role is the one spiffe://streamfront/<role> URI SAN", () => {
    assert.equal(roleOfCertificate({ subjectaltname: "URI:spiffe://streamfront/edge" }), "edge");
    assert.equal(
      roleOfCertificate({ subjectaltname: "DNS:x.example, URI:spiffe://streamfront/shield" }),
      "shield",
    );
    assert.equal(roleOfCertificate({ subjectaltname: "URI:spiffe://other/edge" }), undefined);
    assert.equal(roleOfCertificate({ subjectaltname: "URI:spiffe://streamfront/admin" }), undefined);
    // Two roles in one certificate would pass either check: it names none.
    assert.equal(
      roleOfCertificate({ subjectaltname: "URI:spiffe://streamfront/edge, URI:spiffe://streamfront/shield" }),
      undefined,
    );
    assert.equal(roleOfCertificate(undefined), undefined);
    assert.equal(roleOfCertificate({}), undefined);
  });

  test("checkPeer answers UNAUTHENTICATED without a role and PERMISSION_DENIED for another role", () => {
    const none = checkPeer({ subjectaltname: "DNS:a" }, [PeerRole.Edge], "S");
    assert.equal(none.ok, false);
    assert.equal(!none.ok && none.status, status.UNAUTHENTICATED);
    assert.equal(!none.ok && none.code, TlsErrorCode.Unauthenticated);
    const wrong = checkPeer({ subjectaltname: "URI:spiffe://streamfront/shield" }, [PeerRole.Edge], "S");
    assert.equal(!wrong.ok && wrong.status, status.PERMISSION_DENIED);
    assert.equal(!wrong.ok && wrong.code, TlsErrorCode.WrongRole);
    assert.match(!wrong.ok ? wrong.message : "", /accepts edge callers only; the peer is shield/);
    assert.deepEqual(checkPeer({ subjectaltname: "URI:spiffe://streamfront/edge" }, [PeerRole.Edge], "S"), {
      ok: true,
      role: "edge",
    });
  });
});

describe("start-up: no silent plaintext", () => {
  const base = { tlsCaFile: "", tlsCertFile: "", tlsKeyFile: "", tlsRefreshMs: 60_000 } as const;

  test("mtls (the default) without files fails naming the settings", () => {
    assert.throws(
      () =>
        InternalTls.fromConfig({ internalTls: "mtls", ...base }, PeerRole.Shield, recordingLogger().logger),
      (error: Error & { code?: string }) =>
        error.code === TlsErrorCode.NotConfigured &&
        /tls-ca-file, tls-cert-file, tls-key-file are not set/.test(error.message) &&
        /internal-tls to plaintext/.test(error.message),
    );
    const config = loadConfig(shieldSettings, { env: {} });
    assert.equal(config.internalTls, "mtls");
  });

  test("a certificate of another role, or files that do not exist, fail with TLS_ERR_BAD_CREDENTIALS", () => {
    const pki = testPki();
    assert.throws(
      () =>
        InternalTls.fromFiles(PeerRole.Shield, recordingLogger().logger, {
          caFile: pki.ca.caFile,
          ...pki.roles.edge,
        }),
      (error: Error & { code?: string }) =>
        error.code === TlsErrorCode.BadCredentials &&
        /names spiffe:\/\/streamfront\/edge, not spiffe:\/\/streamfront\/shield/.test(error.message),
    );
    assert.throws(
      () =>
        InternalTls.fromFiles(PeerRole.Shield, recordingLogger().logger, {
          caFile: join(pki.dir, "missing.crt"),
          ...pki.roles.shield,
        }),
      (error: Error & { code?: string }) =>
        error.code === TlsErrorCode.BadCredentials && /tls-ca-file/.test(error.message),
    );
  });

  test("the plaintext opt-out is logged at warn", () => {
    const { logger, lines } = recordingLogger();
    const tls = InternalTls.fromConfig({ internalTls: "plaintext", ...base }, PeerRole.Edge, logger);
    logger.flush();
    assert.equal(tls.mode, "plaintext");
    const warned = lines.find((l) => l.level === "warn" && l.internalTls === "plaintext");
    assert.ok(warned, JSON.stringify(lines));
    assert.match(String(warned.msg), /callers are not authenticated/);
  });
});

describe("ShieldService accepts edges only", () => {
  const pki = testPki();
  const recorded = recordingLogger();
  const registry = new Registry();
  let shield: ShieldServer;
  let address: string;
  const s3Client = createS3Client({
    // Never reached: every call below is refused before S3, or asks for a bucket outside the allowlist.
    endpoint: "http://127.0.0.1:9",
    region: "us-east-1",
    forcePathStyle: true,
    accessKeyId: "x",
    secretAccessKey: "y",
  });

  before(async () => {
    const config = loadConfig(shieldSettings, {
      env: {
        STREAMFRONT_SHIELD_GRPC_PORT: "0",
        STREAMFRONT_SHIELD_ALLOWED_BUCKETS: "allowed-bucket",
        STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: "0",
      },
    });
    shield = new ShieldServer({
      config,
      logger: createLogger({ component: "shield", level: "silent" }),
      registry,
      s3Client,
      tls: testTls(PeerRole.Shield, recorded.logger),
    });
    address = await shield.start();
  });
  after(async () => {
    await shield.close(100, 100);
    s3Client.destroy();
  });

  const stat = (caller: Caller): Promise<CallOutcome> => {
    const client = new ShieldServiceClient(address, caller.credentials, {
      ...caller.options,
      "grpc.max_reconnect_backoff_ms": 200,
    });
    return new Promise<CallOutcome>((resolve) => {
      client.statObject(
        { bucket: "not-served", key: "k" },
        new Metadata(),
        { deadline: Date.now() + 5_000 },
        (error) => {
          client.close();
          resolve(outcomeOf(error));
        },
      );
    });
  };

  const cases = callers(pki, PeerRole.Shield);

  test("without TLS, and with a certificate of another CA: the handshake fails (UNAVAILABLE)", async () => {
    assert.equal((await stat(cases.plaintext!)).code, status.UNAVAILABLE);
    assert.equal((await stat(cases.otherCa!)).code, status.UNAVAILABLE);
    assert.deepEqual(shield.tls.refusals, { unauthenticated: 0, wrongRole: 0 });
  });

  test("a certificate of the CA naming no role: UNAUTHENTICATED, counted and logged", async () => {
    assert.deepEqual(await stat(cases.noRole!), {
      code: status.UNAUTHENTICATED,
      errorCode: TlsErrorCode.Unauthenticated,
    });
    assert.equal(shield.tls.refusals.unauthenticated, 1);
    recorded.logger.flush();
    const line = recorded.lines.find((l) => l.code === TlsErrorCode.Unauthenticated);
    assert.ok(line, "no refusal line");
    assert.equal(line.method, "/streamfront.shield.v1.ShieldService/StatObject");
  });

  test("a shield or a controller: PERMISSION_DENIED (TLS_ERR_WRONG_ROLE)", async () => {
    assert.deepEqual(await stat(cases.shield!), {
      code: status.PERMISSION_DENIED,
      errorCode: TlsErrorCode.WrongRole,
    });
    assert.deepEqual(await stat(cases.controller!), {
      code: status.PERMISSION_DENIED,
      errorCode: TlsErrorCode.WrongRole,
    });
    assert.equal(shield.tls.refusals.wrongRole, 2);
    const metric = await registry.getSingleMetricAsString("streamfront_shield_internal_calls_refused_total");
    assert.match(metric, /\{code="TLS_ERR_WRONG_ROLE"\} 2$/m);
    assert.match(metric, /\{code="TLS_ERR_UNAUTHENTICATED"\} 1$/m);
    recorded.logger.flush();
    assert.ok(recorded.lines.some((l) => l.code === TlsErrorCode.WrongRole && l.peerRole === "controller"));
  });

  test("an edge is served (the shield itself answers: the bucket is not in its allowlist)", async () => {
    assert.deepEqual(await stat(cases.edge!), {
      code: status.PERMISSION_DENIED,
      errorCode: ShieldErrorCode.BucketNotAllowed,
    });
    const tls = testTls(PeerRole.Edge);
    assert.deepEqual(
      await stat({
        name: "edge",
        credentials: tls.channelCredentials(PeerRole.Shield),
        options: tls.channelOptions(PeerRole.Shield),
      }),
      { code: status.PERMISSION_DENIED, errorCode: ShieldErrorCode.BucketNotAllowed },
    );
  });

  test("an edge does not talk to a server whose certificate is not a shield's", async () => {
    // The controller's ConfigService port stands in for an impostor: same CA, role controller.
    const controller = await startController();
    try {
      const tls = testTls(PeerRole.Edge);
      const client = new ShieldServiceClient(
        controller.address,
        tls.channelCredentials(PeerRole.Shield),
        tls.channelOptions(PeerRole.Shield),
      );
      const outcome = await new Promise<CallOutcome>((resolve) =>
        client.statObject(
          { bucket: "b", key: "k" },
          new Metadata(),
          { deadline: Date.now() + 3_000 },
          (error) => {
            client.close();
            resolve(outcomeOf(error));
          },
        ),
      );
      assert.equal(outcome.code, status.UNAVAILABLE);
    } finally {
      await controller.server.close(100);
    }
  });
});

async function startController(logger?: Logger): Promise<{ server: ControllerServer; address: string }> {
  const config = loadConfig(controllerSettings, {
    env: { STREAMFRONT_CONTROLLER_GRPC_PORT: "0", STREAMFRONT_CONTROLLER_API_PORT: "0" },
  });
  const server = new ControllerServer({
    config,
    logger: createLogger({ component: "controller", level: "silent" }),
    registry: new Registry(),
    tls: testTls(PeerRole.Controller, logger),
  });
  return { server, address: await server.start() };
}

describe("ConfigService accepts edges and shields", () => {
  const pki = testPki();
  const recorded = recordingLogger();
  let controller: { server: ControllerServer; address: string };
  before(async () => {
    controller = await startController(recorded.logger);
  });
  after(async () => {
    await controller.server.close(100);
  });

  /** Opens a watch and says hello: a served watcher gets the snapshot, a refused one a status. */
  const watch = (
    caller: Caller,
    role: NodeRole = caller.name === "shield" ? NodeRole.NODE_ROLE_SHIELD : NodeRole.NODE_ROLE_EDGE,
  ): Promise<CallOutcome & { snapshot: boolean }> => {
    const client = new ConfigServiceClient(controller.address, caller.credentials, {
      ...caller.options,
      "grpc.max_reconnect_backoff_ms": 200,
    });
    const call = client.watchConfig({ deadline: Date.now() + 5_000 });
    return new Promise((resolve) => {
      const done = (outcome: CallOutcome & { snapshot: boolean }) => {
        call.cancel();
        client.close();
        resolve(outcome);
      };
      call.on("data", () => done({ code: status.OK, errorCode: undefined, snapshot: true }));
      call.on("error", (error: ServiceError) => done({ ...outcomeOf(error), snapshot: false }));
      call.write({
        hello: { nodeId: `n-${caller.name}`, role, resumeFromVersion: 0 },
      });
    });
  };
  const cases = callers(pki, PeerRole.Controller);

  test("without TLS, and with a certificate of another CA: refused in the handshake (UNAVAILABLE)", async () => {
    assert.equal((await watch(cases.plaintext!)).code, status.UNAVAILABLE);
    assert.equal((await watch(cases.otherCa!)).code, status.UNAVAILABLE);
  });

  test("no role: UNAUTHENTICATED; a controller: PERMISSION_DENIED; both logged and counted", async () => {
    assert.deepEqual(await watch(cases.noRole!), {
      code: status.UNAUTHENTICATED,
      errorCode: TlsErrorCode.Unauthenticated,
      snapshot: false,
    });
    assert.deepEqual(await watch(cases.controller!), {
      code: status.PERMISSION_DENIED,
      errorCode: TlsErrorCode.WrongRole,
      snapshot: false,
    });
    assert.deepEqual(controller.server.tls.refusals, { unauthenticated: 1, wrongRole: 1 });
    recorded.logger.flush();
    assert.ok(
      recorded.lines.some(
        (l) =>
          l.code === TlsErrorCode.WrongRole &&
          l.method === "/streamfront.controller.v1.ConfigService/WatchConfig",
      ),
    );
  });

  test("an edge and a shield are served their snapshot", async () => {
    assert.equal((await watch(cases.edge!)).snapshot, true);
    assert.equal((await watch(cases.shield!)).snapshot, true);
  });

  test("a watcher whose hello names another role than its certificate is refused (PERMISSION_DENIED)", async () => {
    const shieldAsEdge = await watch(cases.shield!, NodeRole.NODE_ROLE_EDGE);
    assert.equal(shieldAsEdge.code, status.PERMISSION_DENIED);
    assert.equal(shieldAsEdge.snapshot, false);
    const edgeAsShield = await watch(cases.edge!, NodeRole.NODE_ROLE_SHIELD);
    assert.equal(edgeAsShield.code, status.PERMISSION_DENIED);
    assert.equal(
      controller.server.configService.node("n-shield")?.role,
      "shield",
      "the refused hello changed nothing",
    );
  });
});

describe("rotation", () => {
  test("replaced files are used by new connections without a restart", async () => {
    const pki = testPki();
    const dir = mkdtempSync(join(tmpdir(), "streamfront-rotate-"));
    try {
      const files = {
        caFile: join(dir, "ca.crt"),
        certFile: join(dir, "shield.crt"),
        keyFile: join(dir, "shield.key"),
      };
      copyFileSync(pki.ca.caFile, files.caFile);
      copyFileSync(pki.roles.shield.certFile, files.certFile);
      copyFileSync(pki.roles.shield.keyFile, files.keyFile);
      const config = loadConfig(shieldSettings, {
        env: {
          STREAMFRONT_SHIELD_GRPC_PORT: "0",
          STREAMFRONT_SHIELD_CACHE_MEMORY_BYTES: "0",
          STREAMFRONT_SHIELD_ALLOWED_BUCKETS: "b-1",
        },
      });
      const logger = createLogger({ component: "shield", level: "silent" });
      const reloads = recordingLogger();
      const s3Client = createS3Client({
        endpoint: "http://127.0.0.1:9",
        region: "us-east-1",
        forcePathStyle: true,
        accessKeyId: "x",
        secretAccessKey: "y",
      });
      const shield = new ShieldServer({
        config,
        logger,
        registry: new Registry(),
        s3Client,
        tls: InternalTls.fromFiles(PeerRole.Shield, reloads.logger, { ...files, refreshMs: 100 }),
      });
      const address = await shield.start();
      try {
        const [host, port] = [
          address.slice(0, address.lastIndexOf(":")),
          Number(address.slice(address.lastIndexOf(":") + 1)),
        ];
        /** The certificate a new connection is shown, with an edge's client certificate. */
        const served = () =>
          new Promise<PeerCertificate>((resolve, reject) => {
            const socket = connect({
              host,
              port,
              ca: readFileSync(pki.ca.caFile),
              cert: readFileSync(pki.roles.edge.certFile),
              key: readFileSync(pki.roles.edge.keyFile),
              ALPNProtocols: ["h2"],
              servername: "shield.streamfront.internal",
              checkServerIdentity: () => undefined,
            });
            socket.once("secureConnect", () => {
              resolve(socket.getPeerCertificate());
              socket.destroy();
            });
            socket.once("error", reject);
          });
        const before = await served();
        assert.equal(
          before.serialNumber,
          new X509Certificate(readFileSync(pki.roles.shield.certFile)).serialNumber,
        );
        // A rotation caught half-way (a key that is not the certificate's) is refused and the last good pair kept.
        copyFileSync(pki.roles.edge.keyFile, files.keyFile);
        await eventually(
          () => {
            reloads.logger.flush();
            return reloads.lines.some(
              (l) => l.level === "warn" && /keeping the last good ones/.test(String(l.msg)),
            );
          },
          10_000,
          "the refused reload's warning",
        );
        assert.equal((await served()).serialNumber, before.serialNumber);
        // cert-manager renews: a new key and certificate in place of the old (issued straight into the mount).
        const renewed = issueCertificate(pki.ca, dir, "shield", { role: PeerRole.Shield });
        const next = new X509Certificate(readFileSync(renewed.certFile)).serialNumber;
        assert.notEqual(next, before.serialNumber);
        let seen = before.serialNumber;
        await eventually(
          async () => {
            seen = (await served()).serialNumber;
            return seen === next;
          },
          10_000,
          "a new connection to present the renewed certificate",
        );
        // And the renewed server still serves an edge through the real client.
        const tls = testTls(PeerRole.Edge);
        const client = new ShieldServiceClient(
          address,
          tls.channelCredentials(PeerRole.Shield),
          tls.channelOptions(PeerRole.Shield),
        );
        const outcome = await new Promise<CallOutcome>((resolve) =>
          client.statObject(
            { bucket: "not-served", key: "k" },
            new Metadata(),
            { deadline: Date.now() + 5_000 },
            (error) => {
              client.close();
              resolve(outcomeOf(error));
            },
          ),
        );
        assert.equal(outcome.errorCode, ShieldErrorCode.BucketNotAllowed);
      } finally {
        await shield.close(100, 100);
        s3Client.destroy();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
