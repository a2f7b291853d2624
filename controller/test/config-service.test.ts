import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import type { ControllerServer } from "../src/controller-server.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { eventually, RawWatch, startTestController } from "./helpers.js";

describe("ConfigService.WatchConfig", () => {
  const servers: ControllerServer[] = [];
  const watches: RawWatch[] = [];
  after(async () => {
    for (const w of watches) w.close();
    for (const s of servers) await s.close(500);
  });

  async function controller(options: Parameters<typeof startTestController>[0] = {}) {
    const started = await startTestController(options);
    servers.push(started.server);
    return started;
  }

  function watch(address: string, certRole: PeerRole = PeerRole.Edge): RawWatch {
    const w = new RawWatch(address, certRole);
    watches.push(w);
    return w;
  }

  it("sends a snapshot, then each change, and records acks", async () => {
    const { server, address } = await controller({ store: new MemoryStore({ initialVersion: 10 }) });
    const a = await server.createDistribution({ originBucket: "media-bucket", cnames: ["a.example.com"] });
    const w = watch(address);
    w.hello("edge-1");
    await eventually(() => w.responses.length === 1, 5_000, "the snapshot");
    const snapshot = w.responses[0]!;
    assert.equal(snapshot.snapshot, true);
    assert.equal(snapshot.version, 11);
    assert.deepEqual(snapshot.upserts, [
      {
        id: a.id,
        domainName: a.domainName,
        cnames: ["a.example.com"],
        originBucket: "media-bucket",
        enabled: true,
        kind: 1,
        trustedSigners: { enabled: false, accountIds: [] },
        logging: { enabled: false, bucket: "", prefix: "" },
      },
    ]);
    w.ack(11);

    const b = await server.createDistribution({ originBucket: "other-bucket" });
    await server.store.update(a.id, { enabled: false });
    await server.store.delete(b.id);
    await eventually(() => w.responses.length === 4, 5_000, "three changes");
    assert.deepEqual(
      w.responses
        .slice(1)
        .map((r) => [r.version, r.snapshot, r.upserts.map((d) => [d.id, d.enabled]), r.removedIds]),
      [
        [12, false, [[b.id, true]], []],
        [13, false, [[a.id, false]], []],
        [14, false, [], [b.id]],
      ],
    );
    w.ack(14);
    await eventually(() => server.configService.node("edge-1")?.lastAckedVersion === 14, 5_000, "the ack");
    const node = server.configService.node("edge-1");
    assert.equal(node?.role, "edge");
    assert.equal(node?.streams, 1);
    assert.ok((node?.lastSeenMs ?? 0) > 0);
    assert.deepEqual(server.configService.watchers(), { edge: 1, shield: 0, unspecified: 0 });
  });

  it("sends trusted signers with Self resolved to the controller's account id, and logging as configured", async () => {
    const { server, address } = await controller({ store: new MemoryStore({ initialVersion: 0 }) });
    const accountId = server.accountId;
    const d = await server.createDistribution({
      originBucket: "media-bucket",
      trustedSigners: { enabled: true, accounts: ["self", "210987654321", accountId] },
      logging: { enabled: true, bucket: "logs.s3.amazonaws.com", prefix: "rtmp/" },
    });
    const w = watch(address);
    w.hello("edge-signers");
    await eventually(() => w.responses.length === 1, 5_000, "the snapshot");
    const sent = w.responses[0]!.upserts.find((u) => u.id === d.id);
    assert.deepEqual(sent?.trustedSigners, { enabled: true, accountIds: [accountId, "210987654321"] });
    assert.deepEqual(sent?.logging, { enabled: true, bucket: "logs.s3.amazonaws.com", prefix: "rtmp/" });
    assert.deepEqual(w.responses[0]!.publicKeyUpserts, []);
  });

  it("resumes a watcher that reconnects with only what changed", async () => {
    const { server, address } = await controller({ store: new MemoryStore({ initialVersion: 0 }) });
    const a = await server.createDistribution({ originBucket: "media-bucket" });
    const first = watch(address, PeerRole.Shield);
    first.hello("shield-1", 0, 2);
    await eventually(() => first.responses.length === 1);
    first.ack(1);
    first.close();
    await eventually(() => server.configService.node("shield-1")?.streams === 0, 5_000, "the disconnect");

    const b = await server.createDistribution({ originBucket: "media-bucket" });
    await server.store.update(a.id, { comment: "edited" });
    const second = watch(address, PeerRole.Shield);
    second.hello("shield-1", 1, 2);
    await eventually(() => second.responses.length === 1);
    const resumed = second.responses[0]!;
    assert.equal(resumed.snapshot, false);
    assert.equal(resumed.version, 3);
    assert.deepEqual(resumed.upserts.map((d) => d.id).sort(), [a.id, b.id].sort());

    // Already up to date: an empty change at the current version.
    const third = watch(address, PeerRole.Shield);
    third.hello("shield-2", 3, 2);
    await eventually(() => third.responses.length === 1);
    assert.deepEqual(third.responses[0], {
      version: 3,
      snapshot: false,
      upserts: [],
      removedIds: [],
      publicKeyUpserts: [],
      removedPublicKeyIds: [],
    });

    // A version this store never had (a previous controller run): a snapshot.
    const fourth = watch(address, PeerRole.Shield);
    fourth.hello("shield-3", 999, 2);
    await eventually(() => fourth.responses.length === 1);
    assert.equal(fourth.responses[0]?.snapshot, true);
    assert.equal(fourth.responses[0]?.upserts.length, 2);
  });

  it("ends a stream whose first message is not hello with INVALID_ARGUMENT", async () => {
    const { server, address } = await controller();
    const w = watch(address);
    w.ack(5);
    const ended = await w.ended;
    assert.equal(ended.code, status.INVALID_ARGUMENT);
    assert.match(ended.details, /first message of WatchConfig must be hello/);
    assert.equal(w.responses.length, 0);

    const badId = watch(address);
    badId.hello("");
    assert.equal((await badId.ended).code, status.INVALID_ARGUMENT);

    const twice = watch(address);
    twice.hello("edge-9");
    twice.hello("edge-9");
    const twiceEnded = await twice.ended;
    assert.equal(twiceEnded.code, status.INVALID_ARGUMENT);
    assert.match(twiceEnded.details, /only be sent once/);

    // The service keeps serving after bad streams.
    const good = watch(address);
    good.hello("edge-10");
    await eventually(() => good.responses.length === 1);
    await eventually(
      () => server.configService.watchers().edge === 1,
      5_000,
      "only the good stream to remain",
    );
  });

  it("resyncs a watcher that falls behind with one snapshot instead of its backlog", async () => {
    const { server, address } = await controller({ maxQueuedUpdates: 4 });
    const w = watch(address);
    w.hello("slow-edge");
    await eventually(() => w.responses.length === 1);
    w.call.pause();
    // Large updates fill HTTP/2's window while the watcher reads nothing.
    const comment = "c".repeat(128);
    const cnames = Array.from({ length: 100 }, (_, i) => `host-${i}.example-with-a-long-name.com`);
    const d = await server.createDistribution({ originBucket: "media-bucket", cnames, comment });
    for (let i = 0; i < 600; i++) await server.store.update(d.id, { comment: `${i}`.padEnd(100, "x") });
    // Waits for the coalescing itself rather than a fixed 200 ms a loaded machine can outrun.
    await eventually(() => server.configService.counts.resyncs >= 1, 10_000, "the backlog to be coalesced");
    w.call.resume();
    const finalVersion = await server.store.version();
    await eventually(() => w.responses.at(-1)?.version === finalVersion, 10_000, "the watcher to catch up");
    assert.ok(w.responses.length < 600, `received ${w.responses.length} updates`);
    assert.ok(w.responses.slice(1).some((r) => r.snapshot));
    assert.ok(
      w.responses.every((r, i) => i === 0 || r.version > w.responses[i - 1]!.version),
      "versions only grow",
    );
  });
});
