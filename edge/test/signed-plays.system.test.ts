import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import type { PublicKey } from "../../lib/config-watcher.js";
import { assertSamePackets, probePackets, rtmpdump, runTool } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { cannedPolicyText } from "../src/signed-urls/policy.js";
import { type EdgeHarness, startEdgeHarness, testDistribution } from "./support/edge-harness.js";

/**
 * Signed URLs with real players: an edge (in this process) in front of a
 * real shield and s3rver, a distribution with trusted signers, URLs signed
 * by the official @aws-sdk/cloudfront-signer and by the openssl CLI, played
 * with rtmpdump and ffmpeg — every case of issue 11 item 2. The session-level
 * rules (seek, unpause, getStreamLength) are in signed-plays.test.ts.
 */

const account = "123456789012";
const untrustedAccount = "210987654321";
const work = mkdtempSync(join(tmpdir(), "streamfront-signed-"));

function rsaKey(): { pem: string; publicPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    pem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}
const own = { id: "K2JCJMDEHXQW5F", account, ...rsaKey() };
const foreign = { id: "KUNTRUSTED0001", account: untrustedAccount, ...rsaKey() };
const deleted = { id: "KDELETEDLATER1", account, ...rsaKey() };
const pushed = (k: typeof own): PublicKey => ({ id: k.id, accountId: k.account, encodedKey: k.publicPem });

let edge: EdgeHarness;
const source = fromRepoRoot("deploy", "local", "media", "videos", "sample.flv");

before(async () => {
  edge = await startEdgeHarness({ caches: true });
  edge.setDistributions([
    testDistribution({
      id: "ESIGNED",
      domainName: "stest000000000.test",
      cnames: ["localhost", "127.0.0.1"],
      originBucket: edge.bucket,
      trustedSigners: { enabled: true, accountIds: [account] },
    }),
  ]);
  edge.setPublicKeys([pushed(own), pushed(foreign), pushed(deleted)]);
});
after(async () => {
  await edge?.close();
  rmSync(work, { recursive: true, force: true });
});

const seconds = (fromNow: number) => new Date(Date.now() + fromNow * 1000).toISOString();

/** The play name (with its signed query) the official signer makes for `name`. */
function officialName(
  name: string,
  key = own,
  options: { dateLessThan?: string; dateGreaterThan?: string; ipAddress?: string } = {},
): string {
  return getSignedUrl({
    url: `rtmp://localhost/${name}`,
    keyPairId: key.id,
    privateKey: key.pem,
    dateLessThan: options.dateLessThan ?? seconds(600),
    ...(options.dateGreaterThan ? { dateGreaterThan: options.dateGreaterThan } : {}),
    ...(options.ipAddress ? { ipAddress: options.ipAddress } : {}),
  });
}

/** A canned-policy name signed with `openssl sha1 -sign`, as CloudFront's docs do it. */
function opensslName(name: string, expires: number): string {
  const policyFile = join(work, "policy.json");
  const keyFile = join(work, "key.pem");
  writeFileSync(policyFile, cannedPolicyText(name, expires));
  writeFileSync(keyFile, own.pem, { mode: 0o600 });
  const signature = execFileSync("openssl", ["sha1", "-sign", keyFile, policyFile]);
  const safe = signature.toString("base64").replace(/\+/g, "-").replace(/=/g, "_").replace(/\//g, "~");
  return `${name}?Expires=${expires}&Signature=${safe}&Key-Pair-Id=${own.id}`;
}

let outputs = 0;
async function rtmpdumpPlay(playName: string): Promise<{ ok: boolean; stderr: string; out: string }> {
  const out = join(work, `rtmpdump-${outputs++}.flv`);
  const args = ["-r", `rtmp://127.0.0.1:${edge.rtmpPort}/cfx/st/`, "-y", playName, "-o", out];
  try {
    return { ok: true, stderr: await rtmpdump(args), out };
  } catch (error) {
    return { ok: false, stderr: (error as { stderr?: string }).stderr ?? String(error), out };
  }
}

async function ffmpegPlay(playName: string): Promise<{ ok: boolean; stderr: string; out: string }> {
  const out = join(work, `ffmpeg-${outputs++}.flv`);
  const url = `rtmp://127.0.0.1:${edge.rtmpPort}/cfx/st/${playName}`;
  try {
    const { stderr } = await runTool("ffmpeg", ["-v", "info", "-y", "-i", url, "-c", "copy", out]);
    return { ok: true, stderr, out };
  } catch (error) {
    return { ok: false, stderr: (error as { stderr?: string }).stderr ?? String(error), out };
  }
}

async function refusals(reason: string): Promise<number> {
  const line = (await edge.metricsText())
    .split("\n")
    .find(
      (l) =>
        /^streamfront_edge_signed_url_refusals_total\{distribution="[^"]+",reason="([^"]+)"\}/.exec(
          l,
        )?.[1] === reason,
    );
  return line ? Number(line.split(" ").pop()) : 0;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

describe("signed URLs with rtmpdump and ffmpeg", () => {
  test("valid URLs play whole, packet for packet: canned and custom (IP) by the official signer, canned by openssl", async () => {
    const want = await probePackets(source);
    const names = [
      officialName("videos/sample"),
      officialName("videos/sample", own, { ipAddress: "127.0.0.1/32", dateGreaterThan: seconds(-60) }),
      opensslName("videos/sample", Math.floor(Date.now() / 1000) + 600),
    ];
    for (const name of names) {
      const dumped = await rtmpdumpPlay(name);
      assert.ok(dumped.ok, dumped.stderr);
      assertSamePackets(await probePackets(dumped.out), want);
      const copied = await ffmpegPlay(name);
      assert.ok(copied.ok, copied.stderr);
      assertSamePackets(await probePackets(copied.out), want);
    }
    // mp4: plays with the Resource CloudFront defined: no mp4: prefix, with or without extension.
    const mp4 = await rtmpdumpPlay(
      officialName("videos/sample").replace(/^videos\/sample/, "mp4:videos/sample.mp4"),
    );
    assert.ok(mp4.ok, mp4.stderr);
    assert.ok(sizeOf(mp4.out) > 100_000);
  });

  const refused: [string, string, () => string][] = [
    ["unsigned", "unsigned", () => "videos/sample"],
    ["expired", "expired", () => officialName("videos/sample", own, { dateLessThan: seconds(-5) })],
    [
      "not yet valid",
      "not_yet_valid",
      () =>
        officialName("videos/sample", own, { dateGreaterThan: seconds(600), dateLessThan: seconds(1200) }),
    ],
    [
      "from the wrong address",
      "ip_mismatch",
      () => officialName("videos/sample", own, { ipAddress: "203.0.113.0/24" }),
    ],
    [
      "a tampered name",
      "bad_signature",
      () => officialName("videos/sample").replace(/^videos\/sample/, "mp3:audio/sample"),
    ],
    [
      "a tampered signature",
      "bad_signature",
      () =>
        officialName("videos/sample").replace(
          /Signature=(.)/,
          (_m, c: string) => `Signature=${c === "A" ? "B" : "A"}`,
        ),
    ],
    [
      "an unknown key id",
      "unknown_key",
      () => officialName("videos/sample", { ...own, id: "KNOSUCHKEY0001" }),
    ],
    ["a key of an untrusted account", "untrusted_key", () => officialName("videos/sample", foreign)],
  ];
  for (const [label, reason, make] of refused) {
    test(`${label}: refused at once with NetStream.Play.Failed 'Access denied', no media, counted as ${reason}`, async () => {
      const name = make();
      const before = await refusals(reason);
      const dumped = await rtmpdumpPlay(name);
      assert.ok(!dumped.ok, "rtmpdump reports the failure");
      assert.match(dumped.stderr, /NetStream\.Play\.Failed/);
      assert.match(dumped.stderr, /Access denied/);
      assert.ok(sizeOf(dumped.out) < 1000, `no media written (${sizeOf(dumped.out)} bytes)`);
      assert.equal(await refusals(reason), before + 1, "rtmpdump's play");
      const copied = await ffmpegPlay(name);
      assert.ok(!copied.ok, "ffmpeg fails");
      assert.match(copied.stderr, /Access denied/);
      // ffmpeg asks getStreamLength before it plays: both are refused (the length as 0).
      assert.equal(await refusals(reason), before + 3, "ffmpeg's getStreamLength and play");
    });
  }

  test("a key deleted after signing: what played before is refused once the key is gone", async () => {
    const name = officialName("videos/sample", deleted);
    const first = await rtmpdumpPlay(name);
    assert.ok(first.ok, first.stderr);
    edge.setPublicKeys([pushed(own), pushed(foreign)]);
    const before = await refusals("unknown_key");
    const after = await rtmpdumpPlay(name);
    assert.ok(!after.ok);
    assert.match(after.stderr, /Access denied/);
    const copied = await ffmpegPlay(name);
    assert.ok(!copied.ok);
    assert.equal(
      await refusals("unknown_key"),
      before + 3,
      "rtmpdump's play, ffmpeg's getStreamLength and play",
    );
    edge.setPublicKeys([pushed(own), pushed(foreign), pushed(deleted)]);
  });
});
