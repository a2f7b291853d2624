import assert from "node:assert/strict";
import { test } from "node:test";
import { hostPort, list, port, text } from "../config/schemas.js";
import {
  ConfigError,
  effectiveSettings,
  formatEffectiveConfig,
  loadConfig,
  setting,
  wantsCheckConfig,
  withoutCheckConfig,
} from "../config/settings.js";
import { redactUrlPassword } from "../log.js";

const settings = {
  port: setting({ env: "T_PORT", flag: "port", doc: "a port", schema: port(), default: 1935 }),
  peers: setting({ env: "T_PEERS", flag: "peers", doc: "peers", schema: list(hostPort()), default: [] }),
  name: setting({ env: "T_NAME", flag: "name", doc: "name", schema: text({ max: 20 }), default: "x" }),
  secretKey: setting({
    env: "T_SECRET",
    flag: "secret-key",
    doc: "a secret",
    schema: text({ max: 20 }),
    default: "",
    secret: true,
  }),
  url: setting({
    env: "T_URL",
    flag: "url",
    doc: "a URL that may hold a password",
    schema: text({ max: 100 }),
    default: "",
    secret: redactUrlPassword,
  }),
};

function check(env: Record<string, string>, argv: string[]) {
  const sources = { env, argv };
  return effectiveSettings(settings, loadConfig(settings, sources), sources);
}

test("every setting is listed with its value and where it came from: flag, environment or default", () => {
  const rows = check({ T_PORT: "1936", T_NAME: "from-env" }, ["--name", "from-flag", "--peers", "a:1,b:2"]);
  assert.deepEqual(rows, [
    { name: "port", flag: "port", env: "T_PORT", value: "1936", origin: "environment" },
    { name: "peers", flag: "peers", env: "T_PEERS", value: '"a:1,b:2"', origin: "flag" },
    { name: "name", flag: "name", env: "T_NAME", value: '"from-flag"', origin: "flag" },
    { name: "secretKey", flag: "secret-key", env: "T_SECRET", value: '""', origin: "default" },
    { name: "url", flag: "url", env: "T_URL", value: '""', origin: "default" },
  ]);
});

test("a secret's value is REDACTED, from the environment or a flag; an unset one shows as empty", () => {
  for (const [env, argv] of [
    [{ T_SECRET: "hunter2hunter2" }, []],
    [{}, ["--secret-key=hunter2hunter2"]],
  ] as const) {
    const rows = check({ ...env }, [...argv]);
    assert.equal(rows.find((r) => r.name === "secretKey")?.value, "REDACTED");
    const out = formatEffectiveConfig("header", rows);
    assert.doesNotMatch(out, /hunter2/);
    assert.match(out, /secretKey {2}--secret-key {2}T_SECRET {2}REDACTED/);
  }
});

test("a URL setting shows its password REDACTED and the rest as given", () => {
  const rows = check({ T_URL: "redis://user:s3cret@redis.example:6379/2" }, []);
  assert.equal(rows.find((r) => r.name === "url")?.value, '"redis://user:REDACTED@redis.example:6379/2"');
  const plain = check({ T_URL: "redis://redis.example:6379" }, []);
  assert.equal(plain.find((r) => r.name === "url")?.value, '"redis://redis.example:6379"');
});

test("redactUrlPassword replaces the password of a URL's user info and nothing on text without one", () => {
  assert.equal(redactUrlPassword("redis://:pw@h:1"), "redis://:REDACTED@h:1");
  assert.equal(redactUrlPassword("rediss://u:p@ss:w@h:1/0"), "rediss://u:REDACTED@h:1/0");
  // Up to the last "@" before the path: a second node's password goes too (with the first host).
  assert.equal(redactUrlPassword("redis-cluster://u:a@h:1,u:b@h:2"), "redis-cluster://u:REDACTED@h:2");
  assert.equal(redactUrlPassword("redis://user@h:1"), "redis://user@h:1");
  assert.equal(
    redactUrlPassword("redis-sentinel://h:1,h:2/m?db=1&sentinelPassword=pw&tls=1"),
    "redis-sentinel://h:1,h:2/m?db=1&sentinelPassword=REDACTED&tls=1",
  );
  assert.equal(redactUrlPassword("redis://h:1/path:x@y"), "redis://h:1/path:x@y");
  assert.equal(redactUrlPassword("not a url: a@b"), "not a url: a@b");
});

test("a refused secret is not quoted in the error; a refused URL is quoted with its password redacted", () => {
  assert.throws(
    () => loadConfig(settings, { env: { T_SECRET: "x".repeat(30) }, argv: [] }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.startsWith("invalid setting secretKey (T_SECRET): REDACTED: ") &&
      !error.message.includes("xxxx"),
  );
  assert.throws(
    () => loadConfig(settings, { env: {}, argv: ["--url", `redis://u:pw@${"h".repeat(100)}`] }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.startsWith('invalid setting url (--url): "redis://u:REDACTED@h') &&
      !error.message.includes(":pw@"),
  );
});

test("formatEffectiveConfig aligns the columns under a header", () => {
  const out = formatEffectiveConfig("streamfront test: configuration OK", check({}, ["--port", "0"]));
  const lines = out.split("\n");
  assert.equal(lines[0], "streamfront test: configuration OK");
  assert.equal(lines[1], "");
  assert.equal(lines[2], "  port       --port        T_PORT    0    (flag)");
  assert.equal(lines[3], '  peers      --peers       T_PEERS   ""   (default)');
  assert.equal(lines.length, 2 + 5 + 1);
});

test("--check-config is recognized and left out of the argv the settings are read from", () => {
  assert.equal(wantsCheckConfig(["--port", "1", "--check-config"]), true);
  assert.equal(wantsCheckConfig(["--port", "1"]), false);
  assert.deepEqual(withoutCheckConfig(["--check-config", "--port", "1"]), ["--port", "1"]);
});
