import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { controllerSettings } from "../../controller/src/config.js";
import { edgeSettings } from "../../edge/src/config.js";
import type { Settings } from "../../lib/config/settings.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTlsEnv } from "../../lib/testing/tls.js";
import { shieldSettings } from "../../shield/src/config.js";
import { localSettings } from "../local/settings.js";

/**
 * `--check-config` on each real entry point: a valid configuration is listed
 * (secrets REDACTED) with exit 0, an invalid one exits 2 naming the setting,
 * and nothing is bound — every port a start would listen on is held by this
 * test, so a start would have failed instead of exiting 0.
 */

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(
  script: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<Run> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...argv], {
    stdio: ["ignore", "pipe", "pipe"],
    // Only what the test gives: no STREAMFRONT_* of the machine running it.
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

const held: Server[] = [];
after(async () => {
  await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A loopback port this test listens on until it ends. */
async function heldPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  held.push(server);
  const address = server.address();
  assert.ok(address && typeof address === "object");
  return address.port;
}

const secret = "s3cr3tValueThatMustNotAppear";

interface Component {
  readonly settings: Settings;
  readonly prefix: string;
  readonly role: PeerRole;
  /** The port flags a start binds. */
  readonly ports: readonly string[];
  /** Host flags, pointed at loopback where the ports are held. */
  readonly hosts: readonly string[];
  /** Environment holding a secret value (in the valid run). */
  readonly secretEnv: Readonly<Record<string, string>>;
  /** The setting name a secret's refused value is reported under, with the environment refusing it. */
  readonly badSecret?: { readonly name: string; readonly env: Readonly<Record<string, string>> };
}

const components: Readonly<Record<string, Component>> = {
  edge: {
    settings: edgeSettings,
    prefix: "STREAMFRONT_EDGE",
    role: PeerRole.Edge,
    ports: ["rtmp-port", "http-port", "admin-port"],
    hosts: ["host", "admin-host"],
    // The edge holds no secret setting: a value of another component's is simply not listed.
    secretEnv: { STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: secret },
  },
  shield: {
    settings: shieldSettings,
    prefix: "STREAMFRONT_SHIELD",
    role: PeerRole.Shield,
    ports: ["grpc-port", "admin-port"],
    hosts: ["host", "admin-host"],
    secretEnv: {
      STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: "AKIDSHOWN",
      STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: secret,
    },
    badSecret: {
      name: "s3SecretAccessKey",
      env: { STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: `${secret}${"x".repeat(300)}` },
    },
  },
  controller: {
    settings: controllerSettings,
    prefix: "STREAMFRONT_CONTROLLER",
    role: PeerRole.Controller,
    ports: ["grpc-port", "api-port", "admin-port"],
    hosts: ["host", "admin-host", "api-host"],
    secretEnv: {
      STREAMFRONT_CONTROLLER_API_ACCESS_KEYS: `AKIAEXAMPLEEXAMPLE12:${secret}`,
      STREAMFRONT_CONTROLLER_REDIS_URL: `redis://user:${secret}@127.0.0.1:1/0`,
    },
  },
};

for (const [component, c] of Object.entries(components)) {
  const script = `../../${component}/src/main.js`;

  test(`${component} --check-config: valid → every setting listed with its origin, secrets REDACTED, exit 0, nothing bound`, async () => {
    const argv = ["--check-config"];
    for (const flag of c.ports) argv.push(`--${flag}`, String(await heldPort()));
    for (const flag of c.hosts) argv.push(`--${flag}`, "127.0.0.1");
    const result = await run(script, argv, { ...testTlsEnv(c.prefix, c.role), ...c.secretEnv });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^streamfront ${component}: configuration OK`));
    for (const [name, s] of Object.entries(c.settings)) {
      assert.match(
        result.stdout,
        new RegExp(`\\n {2}${name} +--${s.flag} +${s.env} +.+ {2}\\((flag|environment|default)\\)\\n`),
        `${component} lists ${name}`,
      );
    }
    assert.match(result.stdout, new RegExp(`--${c.ports[0]} +\\S+ +\\d+ +\\(flag\\)`));
    assert.match(
      result.stdout,
      new RegExp(`${c.prefix}_TLS_CA_FILE +"[^"]+test-ca\\.crt" +\\(environment\\)`),
    );
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), "the secret never appears");
    if (component === "shield") {
      assert.match(result.stdout, /STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY +REDACTED +\(environment\)/);
      assert.match(result.stdout, /STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID +"AKIDSHOWN" +\(environment\)/);
    }
    if (component === "controller") {
      assert.match(result.stdout, /STREAMFRONT_CONTROLLER_API_ACCESS_KEYS +REDACTED +\(environment\)/);
      assert.match(result.stdout, /"redis:\/\/user:REDACTED@127\.0\.0\.1:1\/0" +\(environment\)/);
    }
    assert.doesNotMatch(result.stdout, /listening/);
  });

  test(`${component} --check-config: an invalid value → exit 2 naming the setting`, async () => {
    const result = await run(script, ["--check-config", "--admin-port", "abc"], testTlsEnv(c.prefix, c.role));
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `streamfront ${component}: invalid setting adminPort (--admin-port): "abc": expected a whole number\n`,
    );
  });

  test(`${component} --check-config: mutual TLS without the tls-* files → exit 2 naming them`, async () => {
    const result = await run(script, ["--check-config"], {});
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^streamfront ${component}: internal gRPC links use mutual TLS and tls-ca-file, tls-cert-file, tls-key-file are not set`,
      ),
    );
  });

  test(`${component} --check-config: an unreadable tls-ca-file → exit 2 naming it`, async () => {
    const env = { ...testTlsEnv(c.prefix, c.role), [`${c.prefix}_TLS_CA_FILE`]: "/nonexistent/ca.crt" };
    const result = await run(script, ["--check-config"], env);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`^streamfront ${component}: cannot read tls-ca-file /nonexistent/ca\\.crt`),
    );
  });

  const bad = c.badSecret;
  if (bad) {
    test(`${component} --check-config: a refused secret is named, never quoted`, async () => {
      const result = await run(script, ["--check-config"], { ...testTlsEnv(c.prefix, c.role), ...bad.env });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`invalid setting ${bad.name} \\(\\S+\\): REDACTED: `));
      assert.ok(!result.stderr.includes(secret));
    });
  }
}

test("controller --check-config: unreadable API access keys file → exit 2 naming it", async () => {
  const result = await run("../../controller/src/main.js", ["--check-config"], {
    ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
    STREAMFRONT_CONTROLLER_API_ACCESS_KEYS_FILE: "/nonexistent/keys",
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^streamfront controller: .*\/nonexistent\/keys/);
});

test("controller --check-config: a redis-url the store cannot parse → exit 2 naming it, its password redacted", async () => {
  const result = await run("../../controller/src/main.js", ["--check-config"], {
    ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
    STREAMFRONT_CONTROLLER_REDIS_URL: `redis-sentinel://user:${secret}@127.0.0.1:1`,
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /^streamfront controller: invalid setting redisUrl \(STREAMFRONT_CONTROLLER_REDIS_URL, --redis-url\): "redis-sentinel:\/\/user:REDACTED@127\.0\.0\.1:1"/,
  );
  assert.ok(!result.stderr.includes(secret));
});

test("npm start --check-config: valid → every setting listed, exit 0, nothing started; invalid → exit 2", async () => {
  const ports = ["rtmp-port", "http-port", "api-port"];
  const argv = ["--check-config"];
  for (const flag of ports) argv.push(`--${flag}`, String(await heldPort()));
  const ok = await run("../local/start.js", argv, { STREAMFRONT_LOCAL_BUCKET: "checked-bucket" });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^streamfront: configuration OK/);
  for (const [name, s] of Object.entries(localSettings)) {
    assert.match(
      ok.stdout,
      new RegExp(`\\n {2}${name} +--${s.flag} +${s.env} +.+ {2}\\((flag|environment|default)\\)\\n`),
    );
  }
  assert.match(ok.stdout, /STREAMFRONT_LOCAL_BUCKET +"checked-bucket" +\(environment\)/);
  assert.match(ok.stdout, /STREAMFRONT_LOCAL_LOG_LEVEL +"warn" +\(default\)/);
  assert.doesNotMatch(ok.stdout, /rtmp:\/\//, "no URL printed: nothing started");

  const bad = await run("../local/start.js", ["--check-config", "--rtmp-port", "abc"], {});
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(
    bad.stderr,
    'streamfront: invalid setting rtmpPort (--rtmp-port): "abc": expected a whole number\n',
  );
});
