import assert from "node:assert/strict";
import { test } from "node:test";
import { boolean, hostPort, integer, list, oneOf, port, text } from "../config/schemas.js";
import {
  ConfigError,
  describeSettings,
  formatHelp,
  loadConfig,
  setting,
  wantsHelp,
} from "../config/settings.js";

const settings = {
  port: setting({ env: "T_PORT", flag: "port", doc: "a port", schema: port(), default: 1935 }),
  verbose: setting({ env: "T_VERBOSE", flag: "verbose", doc: "chatty", schema: boolean(), default: false }),
  mode: setting({
    env: "T_MODE",
    flag: "mode",
    doc: "mode",
    schema: oneOf(["a", "b"] as const),
    default: "a",
  }),
  peers: setting({ env: "T_PEERS", flag: "peers", doc: "peers", schema: list(hostPort()), default: [] }),
  name: setting({ env: "T_NAME", flag: "name", doc: "name", schema: text({ min: 1, max: 5 }), default: "x" }),
  count: setting({ env: "T_COUNT", flag: "count", doc: "count", schema: integer(-1, 10), default: 3 }),
};

test("defaults apply when nothing is set, and the result is frozen", () => {
  const config = loadConfig(settings, { env: {}, argv: [] });
  assert.deepEqual({ ...config }, { port: 1935, verbose: false, mode: "a", peers: [], name: "x", count: 3 });
  assert.ok(Object.isFrozen(config));
});

test("a flag wins over the environment, which wins over the default", () => {
  const config = loadConfig(settings, {
    env: { T_PORT: "2000", T_VERBOSE: "yes", T_PEERS: "a:1, [::1]:2" },
    argv: ["--port", "3000", "--mode=b", "--count=-1"],
  });
  assert.equal(config.port, 3000);
  assert.equal(config.verbose, true);
  assert.equal(config.mode, "b");
  assert.deepEqual(config.peers, ["a:1", "[::1]:2"]);
  assert.equal(config.count, -1);
});

test("a wrong value names the setting, where it came from and the value", () => {
  const cases: [Record<string, string>, string[], RegExp][] = [
    [{ T_PORT: "abc" }, [], /invalid setting port \(T_PORT\): "abc": expected a whole number/],
    [{}, ["--port", "70000"], /invalid setting port \(--port\): "70000": must be at most 65535/],
    [{ T_VERBOSE: "maybe" }, [], /invalid setting verbose \(T_VERBOSE\): "maybe": expected true or false/],
    [{ T_MODE: "c" }, [], /invalid setting mode \(T_MODE\): "c": expected one of a, b/],
    [
      { T_PEERS: "a:1,nope" },
      [],
      /invalid setting peers \(T_PEERS\): "a:1,nope": "nope": expected host:port/,
    ],
    [{ T_NAME: "toolong" }, [], /invalid setting name \(T_NAME\).*at most 5/],
  ];
  for (const [env, argv, pattern] of cases) {
    assert.throws(
      () => loadConfig(settings, { env, argv }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, pattern);
        return true;
      },
    );
  }
});

test("an unknown flag is refused with the list of known ones", () => {
  assert.throws(
    () => loadConfig(settings, { env: {}, argv: ["--prot", "1"] }),
    /Unknown option '--prot'.*--port/,
  );
  assert.throws(() => loadConfig(settings, { env: {}, argv: ["stray"] }), ConfigError);
});

test("describeSettings gives one README row per setting", () => {
  const rows = describeSettings(settings);
  assert.equal(rows.length, Object.keys(settings).length);
  assert.equal(rows[0], "| `T_PORT` | `--port` | `1935` | a port |");
});

test("a negative number after a flag is that flag's value (--count -1 as --count=-1)", () => {
  assert.equal(loadConfig(settings, { env: {}, argv: ["--count", "-1"] }).count, -1);
  assert.equal(loadConfig(settings, { env: {}, argv: ["--count", "-1", "--port", "7"] }).port, 7);
  // Still validated as any other value, naming the flag.
  assert.throws(
    () => loadConfig(settings, { env: {}, argv: ["--count", "-2"] }),
    /invalid setting count \(--count\): "-2": must be at least -1/,
  );
  // An unknown flag followed by a number is still refused, not swallowed.
  assert.throws(() => loadConfig(settings, { env: {}, argv: ["--nope", "-1"] }), /Unknown option '--nope'/);
});

test("formatHelp lists every setting with its flag, variable, default and description", () => {
  const help = formatHelp(settings, "usage: test [options]");
  assert.match(help, /^usage: test \[options\]/);
  for (const s of Object.values(settings)) {
    assert.ok(help.includes(`--${s.flag} <value>`), s.flag);
    assert.ok(help.includes(s.env), s.env);
    assert.ok(help.includes(s.doc), s.doc);
  }
  assert.match(help, /--port <value> {3}T_PORT {3}default: 1935/);
  assert.match(help, /--peers <value> {3}T_PEERS {3}default: \(none\)/);
  assert.ok(wantsHelp(["--port=1", "--help"]) && wantsHelp(["-h"]) && !wantsHelp(["--port", "1"]));
});
