/**
 * The trusted-keys file: parsed and checked field by field, loaded at start
 * (a bad file stops start-up), pushed to a real ConfigWatcher with the
 * account's own keys, reloaded when it changes (a bad reload keeps the old
 * keys), and never listed by the API.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreatePublicKeyCommand,
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
  ListPublicKeysCommand,
} from "@aws-sdk/client-cloudfront";
import { ConfigWatcher } from "../../lib/config-watcher.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { testTls } from "../../lib/testing/tls.js";
import { ControllerErrorCode } from "../src/errors.js";
import { parseTrustedKeys } from "../src/trusted-keys.js";
import { type ApiController, startApiController, testAccountId, until } from "./api-e2e-support.js";
import { silentLogger } from "./helpers.js";
import { hasCode } from "./store-contract.js";

const pem = (bits: number) =>
  generateKeyPairSync("rsa", { modulusLength: bits })
    .publicKey.export({ type: "spki", format: "pem" })
    .toString();
const keyA = pem(2048);
const keyB = pem(2048);
const otherAccount = "111122223333";
const root = mkdtempSync(join(tmpdir(), "streamfront-trusted-keys-"));
after(() => rmSync(root, { recursive: true, force: true }));

const entry = (id: string, encodedKey = keyA, accountId = otherAccount) => ({ id, accountId, encodedKey });

describe("parseTrustedKeys", () => {
  const parse = (value: unknown) => parseTrustedKeys(JSON.stringify(value), "keys.json", testAccountId);
  const refuses = (value: unknown, message: RegExp) =>
    assert.throws(
      () => (typeof value === "string" ? parseTrustedKeys(value, "keys.json", testAccountId) : parse(value)),
      (error: unknown) => hasCode(ControllerErrorCode.TrustedKeysFile)(error) && message.test(String(error)),
    );

  it("reads [{id, accountId, encodedKey}]", () => {
    assert.deepEqual(parse([entry("APKAEIBAERJR2EXAMPLE")]), [entry("APKAEIBAERJR2EXAMPLE")]);
    assert.deepEqual(parse([]), []);
  });

  it("names the file, the entry and the field at fault", () => {
    refuses("{", /keys\.json: not valid JSON/);
    refuses({ id: "X" }, /keys\.json: the top level/);
    refuses([entry("lower-case")], /\[0\]\.id: expected 1-64 upper-case/);
    refuses([entry("K1", keyA, "12")], /\[0\]\.accountId: expected 12 digits/);
    refuses([{ ...entry("K1"), extra: 1 }], /\[0\]/);
    refuses([{ id: "K1", accountId: otherAccount }], /\[0\]\.encodedKey/);
    refuses([entry("K1"), entry("K1", keyB)], /\[1\]\.id: K1 appears twice/);
    refuses([entry("K1", keyA, testAccountId)], /\[0\]\.accountId: .*own account/);
    refuses([entry("K1"), entry("K2", pem(1024))], /\[1\]\.encodedKey \(id K2\) is a 1024-bit RSA key/);
    refuses([entry("K1", "nope")], /\[0\]\.encodedKey \(id K1\) is not a PEM public key/);
  });
});

describe("a controller with a trusted-keys file", () => {
  const path = join(root, "trusted.json");
  const write = (value: unknown) => {
    // Replaced by a rename, as a config-management tool does.
    const temp = `${path}.tmp`;
    writeFileSync(temp, JSON.stringify(value));
    renameSync(temp, path);
  };
  let controller: ApiController;
  let edge: ConfigWatcher;

  before(async () => {
    write([entry("APKATRUSTED1"), entry("APKATRUSTED2", keyB, "444455556666")]);
    controller = await startApiController({
      env: { STREAMFRONT_CONTROLLER_TRUSTED_KEYS_FILE: path },
      trustedKeysPollMs: 50,
    });
    edge = new ConfigWatcher({
      tls: testTls(PeerRole.Edge),
      address: controller.server.address,
      nodeId: "edge-trusted-1",
      role: "edge",
      logger: silentLogger("edge"),
    });
    edge.start();
    await until(async () => edge.isSynced(), "the edge to sync");
  });

  after(async () => {
    edge.stop();
    await controller.close();
  });

  it("pushes the file's keys with the account's own, and lists only the own ones", async () => {
    const client = controller.client();
    const own = await client.send(
      new CreatePublicKeyCommand({
        PublicKeyConfig: { CallerReference: "own-1", Name: "own", EncodedKey: keyA },
      }),
    );
    const ownId = own.PublicKey?.Id ?? "";
    await until(async () => edge.publicKeys().has(ownId), "the own key to reach the edge");
    assert.deepEqual(
      [...edge.publicKeys().values()].map((k) => [k.id, k.accountId]).sort(),
      [
        ["APKATRUSTED1", otherAccount],
        ["APKATRUSTED2", "444455556666"],
        [ownId, testAccountId],
      ].sort(),
    );
    const listed = await client.send(new ListPublicKeysCommand({}));
    assert.deepEqual(
      listed.PublicKeyList?.Items?.map((k) => k.Id),
      [ownId],
    );

    // ActiveTrustedSigners: self signs with the own key, the other accounts with the file's.
    const made = await client.send(
      new CreateStreamingDistributionCommand({
        StreamingDistributionConfig: {
          CallerReference: "signed-1",
          S3Origin: { DomainName: "media.s3.amazonaws.com", OriginAccessIdentity: "" },
          Comment: "",
          TrustedSigners: { Enabled: true, Quantity: 3, Items: ["self", otherAccount, "999999999999"] },
          Enabled: true,
        },
      }),
    );
    const expected = {
      Enabled: true,
      Quantity: 3,
      Items: [
        { AwsAccountNumber: "self", KeyPairIds: { Quantity: 1, Items: [ownId] } },
        { AwsAccountNumber: otherAccount, KeyPairIds: { Quantity: 1, Items: ["APKATRUSTED1"] } },
        { AwsAccountNumber: "999999999999", KeyPairIds: { Quantity: 0 } },
      ],
    };
    assert.deepEqual(made.StreamingDistribution?.ActiveTrustedSigners, expected);
    const got = await client.send(
      new GetStreamingDistributionCommand({ Id: made.StreamingDistribution?.Id }),
    );
    assert.deepEqual(got.StreamingDistribution?.ActiveTrustedSigners, expected);
  });

  it("reloads a changed file and pushes the new set; a bad file keeps the keys loaded before", async () => {
    const trusted = controller.server.trustedKeys;
    assert.ok(trusted);
    write([entry("APKATRUSTED1"), entry("APKATRUSTED3", keyB)]);
    // Not waiting for the poll: reload() is what the poll calls.
    trusted.reload();
    await until(
      async () => edge.publicKeys().has("APKATRUSTED3") && !edge.publicKeys().has("APKATRUSTED2"),
      "the edge to get the reloaded keys",
    );
    write([entry("bad id")]);
    trusted.reload();
    assert.deepEqual(
      trusted.current().map((k) => k.id),
      ["APKATRUSTED1", "APKATRUSTED3"],
    );
    assert.ok(edge.publicKeys().has("APKATRUSTED3"));
  });

  it("notices a change by itself (polling the file)", async () => {
    const trusted = controller.server.trustedKeys;
    assert.ok(trusted);
    write([entry("APKATRUSTED4")]);
    await until(async () => edge.publicKeys().has("APKATRUSTED4"), "the poll to reload the file", 15_000);
    assert.ok(!edge.publicKeys().has("APKATRUSTED1"));
  });

  it("a watcher that resumes gets the keys of the file as it is now (a snapshot)", async () => {
    const second = new ConfigWatcher({
      tls: testTls(PeerRole.Edge),
      address: controller.server.address,
      nodeId: "edge-trusted-2",
      role: "edge",
      logger: silentLogger("edge"),
    });
    second.start();
    await until(async () => second.isSynced(), "the second edge to sync");
    second.stop();
    write([entry("APKATRUSTED5")]);
    controller.server.trustedKeys?.reload();
    second.start();
    await until(
      async () => second.publicKeys().has("APKATRUSTED5"),
      "the resumed edge to get the new file keys",
    );
    assert.ok(!second.publicKeys().has("APKATRUSTED4"));
    second.stop();
  });

  it("a bad file stops start-up, naming the field", async () => {
    const bad = join(root, "bad.json");
    writeFileSync(bad, JSON.stringify([entry("K1", pem(1024))]));
    await assert.rejects(
      startApiController({ env: { STREAMFRONT_CONTROLLER_TRUSTED_KEYS_FILE: bad } }),
      (error: unknown) =>
        hasCode(ControllerErrorCode.TrustedKeysFile)(error) && /\[0\]\.encodedKey/.test(String(error)),
    );
  });
});
