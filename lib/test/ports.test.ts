import assert from "node:assert/strict";
import { test } from "node:test";
import { controllerSettings } from "../../controller/src/config.js";
import { localSettings } from "../../deploy/local/settings.js";
import { edgeSettings } from "../../edge/src/config.js";
import { shieldSettings } from "../../shield/src/config.js";
import type { Settings } from "../config/settings.js";

/**
 * The README's three entry points (`node dist/<component>/src/main.js`) run
 * with their defaults on one host: every listening port's default must
 * differ from every other's, and each default peer address must be where
 * that peer listens by default. The ports are read from the config modules,
 * so a new port setting is checked without editing this test.
 */
const components: Readonly<Record<string, Settings>> = {
  edge: edgeSettings,
  shield: shieldSettings,
  controller: controllerSettings,
};

function defaultPorts(): { name: string; port: number }[] {
  const out: { name: string; port: number }[] = [];
  for (const [component, settings] of Object.entries(components)) {
    for (const s of Object.values(settings)) {
      if (!s.flag.endsWith("-port")) continue;
      assert.equal(typeof s.default, "number", `${component} --${s.flag}`);
      out.push({ name: `${component} --${s.flag}`, port: s.default as number });
    }
  }
  return out;
}

test("every listening port of every component has its own default (they run together on one host)", (t) => {
  const ports = defaultPorts();
  // edge rtmp/http/admin, shield grpc/admin, controller grpc/admin/api at least.
  assert.ok(ports.length >= 8, ports.map((p) => p.name).join(", "));
  const owner = new Map<number, string>();
  for (const { name, port } of ports) {
    assert.ok(port > 0, `${name} defaults to a fixed port, not ${port}`);
    const other = owner.get(port);
    assert.equal(other, undefined, `${name} and ${other} both default to ${port}`);
    owner.set(port, name);
  }
  t.diagnostic(ports.map((p) => `${p.name}=${p.port}`).join(" "));
});

test("each component's default peer address is where that peer listens by default", () => {
  assert.deepEqual(edgeSettings.controller.default, `127.0.0.1:${controllerSettings.grpcPort.default}`);
  assert.deepEqual(edgeSettings.shield.default, [`127.0.0.1:${shieldSettings.grpcPort.default}`]);
  // npm start prints the API endpoint on the controller's own default port.
  assert.equal(localSettings.apiPort.default, controllerSettings.apiPort.default);
  assert.equal(localSettings.rtmpPort.default, edgeSettings.rtmpPort.default);
  assert.equal(localSettings.httpPort.default, edgeSettings.httpPort.default);
});
