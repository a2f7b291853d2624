import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../lib/config/settings.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTlsEnv } from "../../lib/testing/tls.js";
import { loadControllerConfig } from "../src/config.js";
import { ControllerErrorCode } from "../src/errors.js";
import { FileStore, StoreFileError } from "../src/store/file-store.js";
import { startTestController } from "./helpers.js";
import { describePublicKeyStoreContract, makePublicKey } from "./public-key-store-contract.js";
import { describeStoreContract, hasCode, makeDistribution, type StoreHarness } from "./store-contract.js";

const root = mkdtempSync(join(tmpdir(), "streamfront-file-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
function newPath(): string {
  files += 1;
  return join(root, `store-${files}.json`);
}

async function harness(): Promise<StoreHarness> {
  let now = 1_700_000_000_000;
  return {
    async makeStore(options = {}) {
      return FileStore.open(newPath(), {
        clock: options.clock ?? (() => now),
        ...(options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit }),
        ...(options.random === undefined ? {} : { random: options.random }),
        ...(options.onListenerError === undefined ? {} : { onListenerError: options.onListenerError }),
      });
    },
    watcherTtlMs: 10_000,
    now: () => now,
    async elapse(ms) {
      now += ms;
    },
    expiryToleranceMs: 0,
    async close() {},
  };
}

describeStoreContract("FileStore", harness);
describePublicKeyStoreContract("FileStore", harness);

describe("FileStore", () => {
  it("a reopened store holds the same public keys, ETags and used key ids", async () => {
    const path = newPath();
    const first = FileStore.open(path);
    const kept = await first.createPublicKey(makePublicKey({ comment: "kept" }));
    const gone = await first.createPublicKey(makePublicKey());
    await first.deletePublicKey(gone.id);
    const updated = await first.updatePublicKey(kept.id, { comment: "updated" }, { ifMatch: kept.etag });
    const version = await first.version();
    await first.close();

    const second = FileStore.open(path);
    assert.deepEqual(await second.listPublicKeys(), [updated]);
    assert.deepEqual(await second.getPublicKeyByCallerReference(kept.callerReference), updated);
    assert.ok((await second.version()) > version);
    await assert.rejects(
      second.createPublicKey(makePublicKey({ id: gone.id })),
      hasCode(ControllerErrorCode.PublicKeyExists),
    );
    await second.close();
  });

  it("a reopened store holds the same distributions, ETags, tags, CallerReferences and used ids", async () => {
    const path = newPath();
    const first = FileStore.open(path);
    const kept = await first.create(makeDistribution({ cnames: ["kept.example"], comment: "kept" }));
    const tagged = await first.changeTags(kept.id, { set: [{ key: "team", value: "video" }] }, 50);
    const gone = await first.create(makeDistribution({ cnames: ["gone.example"] }));
    await first.delete(gone.id);
    const updated = await first.update(kept.id, { comment: "updated" }, { ifMatch: tagged.etag });
    const version = await first.version();
    await first.close();

    const second = FileStore.open(path);
    const [again] = await second.list();
    assert.deepEqual(again, { ...updated, tags: [{ key: "team", value: "video" }] });
    assert.equal((await second.list()).length, 1);
    assert.equal((await second.getByCallerReference(kept.callerReference))?.id, kept.id);
    assert.ok((await second.version()) > version, "versions keep growing across restarts");
    // The deleted one's id and domain stay used; the kept CNAME stays owned.
    await assert.rejects(
      second.create({ ...gone, cnames: [] }),
      hasCode(ControllerErrorCode.DistributionExists),
    );
    await assert.rejects(
      second.create(makeDistribution({ cnames: ["kept.example"] })),
      hasCode(ControllerErrorCode.CnameInUse),
    );
    await assert.rejects(
      second.create(makeDistribution({ callerReference: kept.callerReference })),
      hasCode(ControllerErrorCode.CallerReferenceInUse),
    );
    // The deleted one's CNAME is free again.
    await second.create(makeDistribution({ cnames: ["gone.example"] }));
    await second.close();
  });

  it("writes by rename (a new inode each time, no temporary file left) before a mutation resolves", async () => {
    const dir = join(root, "atomic");
    mkdirSync(dir);
    const path = join(dir, "distributions.json");
    const store = FileStore.open(path);
    let inode = statSync(path).ino;
    for (let i = 0; i < 3; i++) {
      const d = await store.create(makeDistribution({ comment: `n${i}` }));
      // Resolved: already on disk.
      assert.ok(readFileSync(path, "utf8").includes(d.etag));
      const next = statSync(path).ino;
      assert.notEqual(next, inode, "the file was replaced, not written in place");
      inode = next;
    }
    assert.deepEqual(readdirSync(dir), ["distributions.json"]);
    await store.close();
  });

  it("coalesces a burst into few writes, and close() flushes mutations still being written", async () => {
    const path = newPath();
    const store = FileStore.open(path);
    const before = statSync(path).ino;
    const pending = Array.from({ length: 50 }, (_, i) =>
      store.create(makeDistribution({ comment: `b${i}` })),
    );
    const created = await Promise.all(pending);
    assert.notEqual(statSync(path).ino, before);
    // Not awaited: close must still write it.
    const last = store.create(makeDistribution({ comment: "last" }));
    await store.close();
    await last;
    const reopened = FileStore.open(path);
    const ids = new Set((await reopened.list()).map((d) => d.id));
    assert.equal(ids.size, 51);
    for (const d of created) assert.ok(ids.has(d.id));
    await reopened.close();
  });

  it("a corrupt or foreign file stops opening with a coded error naming the file, and is left as it was", () => {
    for (const [content, reason] of [
      ['{"format": "streamfront-distributions", "formatVer', /is not valid JSON/],
      ["", /is not valid JSON/],
      ['{"hello": 1}', /is not a streamfront distributions file/],
      [
        JSON.stringify({
          format: "streamfront-distributions",
          formatVersion: 1,
          version: 5,
          usedIds: [],
          usedDomains: [],
          distributions: [{ id: "E1" }],
        }),
        /distribution 0 is malformed/,
      ],
      [
        JSON.stringify({
          format: "streamfront-distributions",
          formatVersion: 1,
          version: 5,
          usedIds: [],
          usedDomains: [],
          distributions: [],
          publicKeys: [{ id: "K1" }],
        }),
        /public key 0 is malformed/,
      ],
    ] as const) {
      const path = newPath();
      writeFileSync(path, content);
      assert.throws(
        () => FileStore.open(path),
        (error: unknown) => {
          assert.ok(error instanceof StoreFileError, String(error));
          assert.equal(error.code, "CONTROLLER_ERR_STORE_FILE");
          assert.ok(error.message.includes(path), error.message);
          assert.match(error.message, reason);
          return true;
        },
      );
      assert.equal(readFileSync(path, "utf8"), content, "not discarded");
    }
  });

  it("two distributions claiming one CNAME in the file are refused", async () => {
    const a = FileStore.open(newPath());
    const d = await a.create(makeDistribution({ cnames: ["dup.example"] }));
    await a.close();
    const text = readFileSync(a.path, "utf8").replace(
      `"distributions": [\n    ${JSON.stringify(d)}`,
      `"distributions": [\n    ${JSON.stringify(d)},\n    ${JSON.stringify({ ...d, id: "EOTHER0000000", domainName: "sother.streamfront.local", callerReference: "other" })}`,
    );
    writeFileSync(a.path, text);
    assert.throws(() => FileStore.open(a.path), /dup\.example belongs to both/);
  });

  it("an unwritable folder fails at open, not at the first change", () => {
    assert.throws(
      () => FileStore.open(join(root, "no-such-folder", "distributions.json")),
      (error: unknown) => error instanceof StoreFileError && /cannot write store file/.test(error.message),
    );
  });
});

describe("the demo distribution with a store-file", () => {
  const env = (path: string) => ({
    STREAMFRONT_CONTROLLER_STORE_FILE: path,
    STREAMFRONT_CONTROLLER_DEMO_BUCKET: "demo-media",
    STREAMFRONT_CONTROLLER_DEMO_CNAME: "localhost",
  });

  it("is made once; a restart finds it, disabled or renamed, and leaves it as it is; a deleted one is made again", async () => {
    const path = newPath();
    const first = await startTestController({ env: env(path) });
    const demo = first.server.demoDistribution!;
    assert.equal(demo.callerReference, "streamfront-demo");
    // The operator disables it and moves it to another CNAME.
    await first.server.store.update(demo.id, { enabled: false, cnames: ["demo.example"] });
    await first.server.close();

    const second = await startTestController({ env: env(path) });
    const list = await second.server.store.list();
    assert.equal(list.length, 1, "not duplicated");
    assert.equal(second.server.demoDistribution?.id, demo.id);
    assert.equal(list[0]!.enabled, false, "stays disabled");
    assert.deepEqual(list[0]!.cnames, ["demo.example"]);
    await second.server.store.delete(demo.id);
    await second.server.close();

    const third = await startTestController({ env: env(path) });
    const remade = await third.server.store.list();
    assert.equal(remade.length, 1);
    assert.notEqual(remade[0]!.id, demo.id, "a new one, under a new id");
    assert.deepEqual(remade[0]!.cnames, ["localhost"]);
    await third.server.close();
  });
});

describe("store-file setting", () => {
  it("with redis-url is a config error naming both", () => {
    assert.throws(
      () =>
        loadControllerConfig({
          env: { STREAMFRONT_CONTROLLER_REDIS_URL: "redis://127.0.0.1:6379" },
          argv: ["--store-file", "/tmp/x.json"],
        }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /redis-url \(STREAMFRONT_CONTROLLER_REDIS_URL/.test(error.message) &&
        /store-file \(STREAMFRONT_CONTROLLER_STORE_FILE/.test(error.message),
    );
    assert.equal(loadControllerConfig({ argv: ["--store-file", "/tmp/x.json"] }).storeFile, "/tmp/x.json");
  });

  it("the controller process refuses a corrupt store file: exit 1, the file named on stderr", async () => {
    const path = newPath();
    writeFileSync(path, "{not json");
    const child = spawn(process.execPath, [fileURLToPath(new URL("../src/main.js", import.meta.url))], {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        STREAMFRONT_CONTROLLER_STORE_FILE: path,
        ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
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
    assert.ok(stderr.includes(`store file ${path} is not valid JSON`), stderr);
  });
});
