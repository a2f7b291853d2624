import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { StateDir, StateDirError } from "../local/state-dir.js";

const root = mkdtempSync(join(tmpdir(), "streamfront-state-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("StateDir", () => {
  it("generates each key pair once (mode 0600) and reads the same pairs back", async () => {
    const dir = join(root, "kept", "deeper");
    const first = await StateDir.open(dir);
    assert.equal(first.ephemeral, false);
    for (const name of ["api-keys", "s3-keys"]) {
      assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600, name);
    }
    assert.notDeepEqual(first.apiKeys, first.s3Keys);
    assert.equal(
      readFileSync(join(dir, "api-keys"), "utf8"),
      `${first.apiKeys.accessKeyId}:${first.apiKeys.secretAccessKey}\n`,
    );
    assert.ok(statSync(first.s3DataDir).isDirectory());
    assert.equal(first.storeFile, join(dir, "distributions.json"));
    await assert.rejects(StateDir.open(dir), /is in use by another npm start \(pid \d+\)/);
    await first.remove();
    assert.ok(existsSync(dir), "a kept folder stays");
    assert.ok(!existsSync(join(dir, "lock")), "unlocked at stop");
    const second = await StateDir.open(dir);
    assert.deepEqual(second.apiKeys, first.apiKeys);
    assert.deepEqual(second.s3Keys, first.s3Keys);
    await second.remove();
  });

  it("takes over the lock of a process that is gone", async () => {
    const dir = join(root, "stale");
    const state = await StateDir.open(dir);
    // A pid above the kernel's maximum (4194304) belongs to no process.
    writeFileSync(join(dir, "lock"), "99999999\n");
    const again = await StateDir.open(dir);
    assert.equal(readFileSync(join(dir, "lock"), "utf8"), `${process.pid}\n`);
    await again.remove();
    await state.remove();
  });

  it("none is a temporary folder that remove() deletes", async () => {
    const state = await StateDir.open("none");
    assert.equal(state.ephemeral, true);
    assert.ok(existsSync(join(state.dir, "api-keys")));
    await state.remove();
    assert.ok(!existsSync(state.dir));
  });

  it("refuses a file, a path below a file, and a damaged key file, naming the setting", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "x");
    const damaged = join(root, "damaged");
    await (await StateDir.open(damaged)).remove();
    writeFileSync(join(damaged, "api-keys"), "not a key pair");
    for (const [path, reason] of [
      [file, /is a file|is not a folder/],
      [join(file, "below"), /is a file/],
      [damaged, /api-keys does not hold one AKID:SECRET pair/],
    ] as const) {
      await assert.rejects(StateDir.open(path), (error: unknown) => {
        assert.ok(error instanceof StateDirError, String(error));
        assert.equal(error.code, "LOCAL_ERR_STATE_DIR");
        assert.match(error.message, /^state-dir \(--state-dir, STREAMFRONT_LOCAL_STATE_DIR\): /);
        assert.match(error.message, reason);
        return true;
      });
    }
  });
});
