import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, test } from "node:test";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import type { PublicKey } from "../../lib/config-watcher.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { ManualScheduler } from "./support/manual-scheduler.js";
import { MemoryEdge, type MemoryViewer } from "./support/memory-viewer.js";
import { statusCode } from "./support/rtmp-test-client.js";

/**
 * The signed-URL gate in a whole session, in memory on a manual clock
 * (signed-plays.system.test.ts plays the same with rtmpdump and ffmpeg
 * through a shield): which play events are checked, what the viewer is
 * told, that a refusal never opens the object, and the refusals metric.
 */

const sample = readFileSync(fromRepoRoot("deploy", "local", "media", "videos", "sample.flv"));
const account = "123456789012";
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const keyId = "K2JCJMDEHXQW5F";
const epochMs = Date.UTC(2026, 11, 3, 12);

let edge: MemoryEdge | null = null;
afterEach(async () => {
  await edge?.close();
  edge = null;
});

function signedEdge(keys = new Map<string, PublicKey>([[keyId, pushedKey()]])): MemoryEdge {
  edge = new MemoryEdge({
    objects: { "videos/sample.flv": sample },
    scheduler: new ManualScheduler({ epochMs }),
    trustedAccounts: [account],
    publicKeys: keys,
    remoteAddress: "::ffff:203.0.113.7",
  });
  return edge;
}

function pushedKey(): PublicKey {
  return {
    id: keyId,
    accountId: account,
    encodedKey: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

function signed(name: string, lifetimeSeconds: number, extra: { ipAddress?: string } = {}): string {
  return getSignedUrl({
    url: `rtmp://stest000000000.test/${name}`,
    keyPairId: keyId,
    privateKey: privatePem,
    dateLessThan: new Date(epochMs + lifetimeSeconds * 1000).toISOString(),
    ...extra,
  });
}

function lastStatus(viewer: MemoryViewer, from: number): { code: string | undefined; description: unknown } {
  const onStatus = viewer.commands(from).filter((c) => c.name === "onStatus");
  const last = onStatus.at(-1);
  const info = last?.args[0];
  return {
    code: last ? statusCode(last) : undefined,
    description:
      typeof info === "object" && info !== null && "description" in info ? info.description : undefined,
  };
}

async function refusals(e: MemoryEdge): Promise<string> {
  return (await e.registry.metrics())
    .split("\n")
    .filter((l) => l.startsWith("streamfront_edge_signed_url_refusals_total"))
    .join("\n");
}

describe("signed plays in a session", () => {
  test("an unsigned play is refused at once with Play.Failed 'Access denied', without opening the object", async () => {
    const e = signedEdge();
    const viewer = e.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    const from = viewer.messages.length;
    viewer.command(streamId, "play", null, "videos/sample", -2000, -1, true);
    await viewer.scheduler.settle();
    assert.deepEqual(lastStatus(viewer, from), {
      code: "NetStream.Play.Failed",
      description: "Access denied: this distribution serves signed URLs only",
    });
    assert.equal(viewer.media(9, from).length, 0);
    assert.deepEqual(e.opens, [], "the object was never looked up");
    // A missing object is refused the same way: the answer says nothing about existence.
    viewer.command(streamId, "play", null, "videos/no-such-object", -2000, -1, true);
    await viewer.scheduler.settle();
    assert.equal(
      lastStatus(viewer, from).description,
      "Access denied: this distribution serves signed URLs only",
    );
    assert.deepEqual(e.opens, []);
    assert.match(await refusals(e), /reason="unsigned"\} 2/);
  });

  test("a signed play plays; a seek and an unpause after expiry are refused, the running play goes on to the end", async () => {
    const e = signedEdge();
    const viewer = e.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    const from = viewer.messages.length;
    viewer.command(streamId, "play", null, signed("videos/sample", 2), -2000, -1, true);
    await viewer.scheduler.settle();
    assert.ok(viewer.statuses(from).includes("NetStream.Play.Start"), viewer.trace(from).join(" "));
    await viewer.scheduler.advance(2500); // past Expires
    const beforeSeek = viewer.messages.length;
    viewer.command(streamId, "seek", null, 1000);
    await viewer.scheduler.settle();
    assert.deepEqual(lastStatus(viewer, beforeSeek), {
      code: "NetStream.Seek.Failed",
      description: "Access denied: the URL has expired",
    });
    viewer.command(streamId, "pause", null, true, 2500);
    await viewer.scheduler.settle();
    const beforeUnpause = viewer.messages.length;
    viewer.command(streamId, "pause", null, false, 2500);
    await viewer.scheduler.settle();
    assert.deepEqual(lastStatus(viewer, beforeUnpause), {
      code: "NetStream.Play.Failed",
      description: "Access denied: the URL has expired",
    });
    assert.ok(
      !viewer.statuses(beforeUnpause).includes("NetStream.Unpause.Notify"),
      "the stream stays paused",
    );
    assert.match(await refusals(e), /reason="expired"\} 2/);
  });

  test("the running play continues past its expiry when nothing new is asked", async () => {
    const e = signedEdge();
    const viewer = e.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    const from = viewer.messages.length;
    viewer.command(streamId, "play", null, signed("videos/sample", 1), -2000, -1, true);
    const done = () => viewer.trace(from).includes("data:onPlayStatus:NetStream.Play.Complete");
    assert.ok(await viewer.runUntil(done), viewer.trace(from).join(" "));
    assert.ok(viewer.scheduler.now() > 1000, "the play outlived its URL");
    assert.equal(await refusals(e), "");
  });

  test("a key deleted after signing, a policy for another address, and getStreamLength", async () => {
    const keys = new Map<string, PublicKey>([[keyId, pushedKey()]]);
    const e = signedEdge(keys);
    const viewer = e.viewer();
    const streamId = await viewer.connectAndCreateStream(1000);
    const name = signed("videos/sample", 600);
    // getStreamLength: the length of a signed name; 0 for an unsigned one (which says nothing).
    const lengthOf = async (n: string) => {
      const txn = viewer.command(0, "getStreamLength", null, n);
      await viewer.scheduler.settle();
      return viewer.commands().find((c) => c.name === "_result" && c.transactionId === txn)?.args[0];
    };
    assert.ok(((await lengthOf(name)) as number) > 5);
    assert.equal(await lengthOf("videos/sample"), 0);
    const elsewhere = signed("videos/sample", 600, { ipAddress: "198.51.100.0/24" });
    let from = viewer.messages.length;
    viewer.command(streamId, "play", null, elsewhere, -2000, -1, true);
    await viewer.scheduler.settle();
    assert.equal(
      lastStatus(viewer, from).description,
      "Access denied: the URL is not valid from this address",
    );
    const here = signed("videos/sample", 600, { ipAddress: "203.0.113.0/24" });
    from = viewer.messages.length;
    viewer.command(streamId, "play", null, here, -2000, -1, true);
    await viewer.scheduler.settle();
    assert.ok(viewer.statuses(from).includes("NetStream.Play.Start"), viewer.trace(from).join(" "));
    keys.delete(keyId);
    from = viewer.messages.length;
    viewer.command(streamId, "play", null, name, -2000, -1, true);
    await viewer.scheduler.settle();
    assert.equal(
      lastStatus(viewer, from).description,
      "Access denied: the URL is signed with an unknown key",
    );
    const metrics = await refusals(e);
    assert.match(metrics, /reason="unsigned"\} 1/);
    assert.match(metrics, /reason="ip_mismatch"\} 1/);
    assert.match(metrics, /reason="unknown_key"\} 1/);
  });
});
