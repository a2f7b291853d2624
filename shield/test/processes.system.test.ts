import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { type LaunchedComponent, launchComponent } from "../../lib/process/launcher.js";
import { eventually, startTestS3, stat, type TestS3 } from "../../lib/testing/shield.js";
import { testShieldClient, testTlsEnv } from "../../lib/testing/tls.js";

// The entry points of the same build as this test.
const shieldMain = fileURLToPath(new URL("../src/main.js", import.meta.url));
const controllerMain = fileURLToPath(new URL("../../controller/src/main.js", import.meta.url));
const edgeMain = fileURLToPath(new URL("../../edge/src/main.js", import.meta.url));
const clip = Buffer.from("FLV\x01 pretend video");

async function get(address: string, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${address}${path}`);
  return { status: response.status, body: await response.text() };
}

/** Custom metric names (everything but prom-client's process_/nodejs_ defaults). */
function customMetricNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)]
    .map((m) => m[1] ?? "")
    .filter((name) => !name.startsWith("process_") && !name.startsWith("nodejs_"));
}

/** Runs an entry point that should fail at start-up; resolves its exit code and stderr. */
async function runFailing(
  entry: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = fork(entry, [], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stderr };
}

describe("shield and controller as processes", () => {
  let s3: TestS3;
  let controller: LaunchedComponent;
  let shield: LaunchedComponent;
  let controllerOut = "";
  let shieldOut = "";

  before(async () => {
    s3 = await startTestS3("demo-media");
    await s3.s3.putObject("demo-media", "videos/clip.flv", clip);
    controller = await launchComponent(controllerMain, {
      stdio: "pipe",
      env: {
        ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
        STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
        STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
        STREAMFRONT_CONTROLLER_API_PORT: "0",
        STREAMFRONT_CONTROLLER_DEMO_BUCKET: "demo-media",
      },
    });
    controller.child.stdout?.on("data", (chunk: Buffer) => {
      controllerOut += chunk.toString();
    });
    shield = await launchComponent(shieldMain, {
      stdio: "pipe",
      env: {
        ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
        STREAMFRONT_SHIELD_GRPC_PORT: "0",
        STREAMFRONT_SHIELD_ADMIN_PORT: "0",
        STREAMFRONT_SHIELD_S3_ENDPOINT: s3.s3.endpoint,
        STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
        STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: "S3RVER",
        STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: "S3RVER",
        STREAMFRONT_SHIELD_CONTROLLER: controller.addresses.grpc ?? "",
        STREAMFRONT_SHIELD_NODE_ID: "shield-under-test",
      },
    });
    shield.child.stdout?.on("data", (chunk: Buffer) => {
      shieldOut += chunk.toString();
    });
  });

  after(async () => {
    await shield?.stop();
    await controller?.stop();
    await s3?.close();
  });

  it("report their addresses and log a listening line", async () => {
    assert.match(shield.addresses.grpc ?? "", /^127\.0\.0\.1:\d+$/);
    assert.match(shield.addresses.admin ?? "", /^127\.0\.0\.1:\d+$/);
    assert.match(controller.addresses.grpc ?? "", /^127\.0\.0\.1:\d+$/);
    await eventually(() => shieldOut.includes('"msg":"listening"'), 5_000, "the shield's listening line");
    await eventually(
      () => controllerOut.includes("demo distribution ready"),
      5_000,
      "the demo distribution line",
    );
    const listening = JSON.parse(shieldOut.split("\n").find((l) => l.includes('"msg":"listening"')) ?? "{}");
    assert.equal(listening.component, "shield");
    assert.deepEqual(listening.addresses, shield.addresses);
  });

  it("answer /healthz and /readyz, the shield once it has the controller's config", async () => {
    for (const c of [controller, shield]) {
      const admin = c.addresses.admin ?? "";
      assert.equal((await get(admin, "/healthz")).status, 200);
    }
    assert.equal((await get(controller.addresses.admin ?? "", "/readyz")).status, 200);
    const deadline = Date.now() + 5_000;
    let ready = 0;
    while (Date.now() < deadline && ready !== 200)
      ready = (await get(shield.addresses.admin ?? "", "/readyz")).status;
    assert.equal(ready, 200);
  });

  it("serve the demo distribution's bucket through the shield (allowlist from the controller)", async () => {
    const client = testShieldClient(shield.addresses.grpc ?? "");
    try {
      const info = await stat(client, "demo-media", "videos/clip.flv");
      assert.equal(info.size, clip.length);
      await assert.rejects(
        stat(client, "not-configured", "videos/clip.flv"),
        (e: { code: number }) => e.code === 7,
      );
    } finally {
      client.close();
    }
  });

  it("expose only streamfront_<component>_ custom metrics", async () => {
    for (const [component, c] of [
      ["shield", shield],
      ["controller", controller],
    ] as const) {
      const { status, body } = await get(c.addresses.admin ?? "", "/metrics");
      assert.equal(status, 200);
      const names = customMetricNames(body);
      assert.ok(names.length >= 4, `${component}: ${names.join(", ")}`);
      for (const name of names) assert.match(name, new RegExp(`^streamfront_${component}_`), name);
    }
    const controllerMetrics = (await get(controller.addresses.admin ?? "", "/metrics")).body;
    assert.match(controllerMetrics, /^streamfront_controller_watchers\{role="shield"\} 1$/m);
    assert.match(
      controllerMetrics,
      /^streamfront_controller_distributions\{kind="streaming",enabled="true"\} 1$/m,
    );
    const shieldMetrics = (await get(shield.addresses.admin ?? "", "/metrics")).body;
    assert.match(
      shieldMetrics,
      /^streamfront_shield_origin_requests_total\{bucket="[^"]+",operation="head",result="ok"\} 1$/m,
    );
  });

  it("exit 0 quickly on SIGTERM", async () => {
    for (const c of [shield, controller]) {
      const started = Date.now();
      assert.equal(await c.stop(), 0);
      assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
    }
  });

  it("exit non-zero naming the setting when one is invalid", async () => {
    const badShield = await runFailing(shieldMain, { STREAMFRONT_SHIELD_GRPC_PORT: "abc" });
    assert.notEqual(badShield.code, 0);
    assert.match(badShield.stderr, /grpcPort \(STREAMFRONT_SHIELD_GRPC_PORT\): "abc"/);
    const badPiece = await runFailing(shieldMain, { STREAMFRONT_SHIELD_MAX_PIECE_BYTES: "1" });
    assert.notEqual(badPiece.code, 0);
    assert.match(badPiece.stderr, /maxPieceBytes .*must be at least 16384/);
    const badController = await runFailing(controllerMain, {
      STREAMFRONT_CONTROLLER_BASE_DOMAIN: "not a domain!",
    });
    assert.notEqual(badController.code, 0);
    assert.match(badController.stderr, /STREAMFRONT_CONTROLLER_BASE_DOMAIN/);
  });

  it("refuse to start without internal TLS files, naming the settings (no silent plaintext)", async () => {
    for (const [entry, env] of [
      [shieldMain, { STREAMFRONT_SHIELD_GRPC_PORT: "0", STREAMFRONT_SHIELD_ADMIN_PORT: "0" }],
      [controllerMain, { STREAMFRONT_CONTROLLER_GRPC_PORT: "0", STREAMFRONT_CONTROLLER_API_PORT: "0" }],
      [
        edgeMain,
        {
          STREAMFRONT_EDGE_RTMP_PORT: "0",
          STREAMFRONT_EDGE_HTTP_PORT: "-1",
          STREAMFRONT_EDGE_ADMIN_PORT: "0",
        },
      ],
    ] as const) {
      const refused = await runFailing(entry, env);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /tls-ca-file, tls-cert-file, tls-key-file are not set/);
      assert.match(refused.stderr, /internal-tls to plaintext/);
    }
  });

  it("start with internal-tls=plaintext only when asked, and say so at warn", async () => {
    const open = await launchComponent(shieldMain, {
      stdio: "pipe",
      env: {
        STREAMFRONT_SHIELD_GRPC_PORT: "0",
        STREAMFRONT_SHIELD_ADMIN_PORT: "0",
        STREAMFRONT_SHIELD_INTERNAL_TLS: "plaintext",
        STREAMFRONT_SHIELD_LOG_LEVEL: "warn",
      },
    });
    let stdout = "";
    open.child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    try {
      await eventually(
        () => /internal gRPC links are plaintext/.test(stdout),
        5_000,
        "the plaintext warning",
      );
      const line = JSON.parse(
        stdout.split("\n").find((l) => l.includes("internal gRPC links are plaintext")) ?? "{}",
      );
      assert.equal(line.level, "warn");
      assert.equal(line.internalTls, "plaintext");
    } finally {
      assert.equal(await open.stop(), 0);
    }
  });
});
