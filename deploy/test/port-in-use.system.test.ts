import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { controllerSettings } from "../../controller/src/config.js";
import { edgeSettings } from "../../edge/src/config.js";
import type { Settings } from "../../lib/config/settings.js";
import type { PeerRole } from "../../lib/grpc/peer-role.js";
import { ComponentStartError, launchComponent } from "../../lib/process/launcher.js";
import { testTlsEnv } from "../../lib/testing/tls.js";
import { shieldSettings } from "../../shield/src/config.js";

/**
 * Issue 9 item 13: a component whose port is taken must exit non-zero at
 * once, naming the port and the setting, instead of running on without its
 * listener (the edge used to keep running: its controller watch held the
 * event loop open, and `npm start` waited 21 s). Every port setting of every
 * component is tried, read from the config modules, so a new port is covered
 * without editing this test.
 */
const components: Readonly<Record<string, Settings>> = {
  edge: edgeSettings,
  shield: shieldSettings,
  controller: controllerSettings,
};

const holders: Server[] = [];
after(() => {
  for (const holder of holders) holder.close();
});

/** A port on 127.0.0.1 that this process holds (the "other program"). */
async function takenPort(): Promise<number> {
  const holder = createServer();
  holders.push(holder);
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const address = holder.address();
  assert.ok(address && typeof address === "object");
  return address.port;
}

/** Every port on 0 and every host on loopback, so only the port under test collides. */
function loopbackEnv(settings: Settings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of Object.values(settings)) {
    if (s.flag.endsWith("-port")) env[s.env] = "0";
    if (s.flag === "host" || s.flag.endsWith("-host")) env[s.env] = "127.0.0.1";
  }
  return env;
}

for (const [component, settings] of Object.entries(components)) {
  for (const s of Object.values(settings).filter((s) => s.flag.endsWith("-port"))) {
    test(`${component} exits 1 at once when its --${s.flag} is taken, naming the port and ${s.env}`, async (t) => {
      const port = await takenPort();
      const entry = fileURLToPath(new URL(`../../${component}/src/main.js`, import.meta.url));
      const began = performance.now();
      // A start timeout far past the test's own: the rejection must come from the component's exit.
      const launched = launchComponent(entry, {
        env: {
          ...loopbackEnv(settings),
          // The component names are the roles (edge, shield, controller): each starts with its own certificate.
          ...testTlsEnv(settingsPrefix(s.env), component as PeerRole),
          [s.env]: String(port),
          [`${settingsPrefix(s.env)}_LOG_LEVEL`]: "silent",
        },
        stdio: "ignore",
        startTimeoutMs: 600_000,
      });
      const error = await launched.then(
        async (running) => {
          await running.stop();
          assert.fail(`${component} started although ${s.env}=${port} is taken`);
        },
        (e: unknown) => e,
      );
      assert.ok(error instanceof ComponentStartError, String(error));
      assert.equal(error.code, "LISTEN_ERR_ADDRESS_IN_USE");
      assert.equal(error.exitCode, 1);
      assert.ok(error.message.includes(`port ${port} is already in use`), error.message);
      assert.ok(error.message.includes(`127.0.0.1:${port} (--${s.flag}, ${s.env})`), error.message);
      t.diagnostic(
        `${component} --${s.flag}: exited ${Math.round(performance.now() - began)} ms after launch`,
      );
    });
  }
}

/** STREAMFRONT_EDGE_RTMP_PORT → STREAMFRONT_EDGE */
function settingsPrefix(env: string): string {
  return env.split("_").slice(0, 2).join("_");
}

test("npm start exits 1 promptly when its RTMP port is taken, and says which port and setting", async (t) => {
  const port = await takenPort();
  const began = performance.now();
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL("../local/start.js", import.meta.url)),
      `--rtmp-port=${port}`,
      "--http-port=-1",
      "--api-port=0",
      "--state-dir=none",
      "--log-level=silent",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 1, stderr);
  assert.match(stderr, new RegExp(`could not start: .*port ${port} is already in use`));
  assert.match(stderr, /--rtmp-port, STREAMFRONT_EDGE_RTMP_PORT/);
  t.diagnostic(`npm start exited ${Math.round(performance.now() - began)} ms after launch`);
});
