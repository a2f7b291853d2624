/**
 * The controller process with a trusted-keys file that does not check out:
 * it exits 1 at start, the file, entry and field named on stderr (the code,
 * CONTROLLER_ERR_TRUSTED_KEYS_FILE, is checked in trusted-keys.test.ts).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = mkdtempSync(join(tmpdir(), "streamfront-trusted-keys-process-"));
after(() => rmSync(root, { recursive: true, force: true }));

it("the controller process refuses a bad trusted-keys file: exit 1, the entry and field named", async () => {
  const path = join(root, "trusted.json");
  const small = generateKeyPairSync("rsa", { modulusLength: 1024 })
    .publicKey.export({ type: "spki", format: "pem" })
    .toString();
  writeFileSync(path, JSON.stringify([{ id: "APKASMALL", accountId: "111122223333", encodedKey: small }]));
  const child = spawn(process.execPath, [fileURLToPath(new URL("../src/main.js", import.meta.url))], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      STREAMFRONT_CONTROLLER_TRUSTED_KEYS_FILE: path,
      STREAMFRONT_CONTROLLER_GRPC_PORT: "0",
      STREAMFRONT_CONTROLLER_API_PORT: "0",
      STREAMFRONT_CONTROLLER_ADMIN_PORT: "0",
      STREAMFRONT_CONTROLLER_LOG_LEVEL: "silent",
    },
  });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 1, stderr);
  assert.ok(
    stderr.includes(`trusted-keys-file ${path}: [0].encodedKey (id APKASMALL) is a 1024-bit RSA key`),
    stderr,
  );
});
