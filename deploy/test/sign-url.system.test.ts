import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalCluster } from "../../deploy/local/cluster.js";
import { signUrl, signUrlSettings } from "../../deploy/local/sign-url.js";
import { loadConfig } from "../../lib/config/settings.js";
import { assertSamePackets, probePackets, rtmpdump, runTool } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";

/**
 * Private content end to end, as an operator does it on npm start's
 * cluster (controller, shield and edge processes over the embedded S3):
 * `npm run sign-url` makes a key pair, registers it through the control API
 * (CreatePublicKey), turns on TrustedSigners Self, waits for Deployed, and
 * prints a signed URL — which rtmpdump and ffmpeg play, while an unsigned
 * play of the same name is refused. The key and the signers reach the edge
 * only through the controller's push.
 */
const media = fromRepoRoot("deploy", "local", "media");
const work = mkdtempSync(join(tmpdir(), "streamfront-sign-url-"));
const cluster = new LocalCluster({
  mediaDir: media,
  host: "localhost",
  rtmpPort: 0,
  httpPort: 0,
  apiPort: 0,
  bucket: "sign-url-media",
  logLevel: process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent",
  stdio: "inherit",
});

before(async () => {
  await cluster.start();
});
after(async () => {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
});

function config(extra: Record<string, string> = {}) {
  return loadConfig(signUrlSettings, {
    env: {},
    argv: [
      "--state-dir",
      cluster.stateDir,
      "--api-url",
      `http://${cluster.addresses.controller!.api}`,
      "--rtmp-port",
      String(cluster.rtmpPort),
      ...Object.entries(extra).flatMap(([k, v]) => [`--${k}`, v]),
    ],
  });
}

async function dump(playName: string, out: string): Promise<{ ok: boolean; stderr: string }> {
  try {
    return {
      ok: true,
      stderr: await rtmpdump([
        "-r",
        `rtmp://localhost:${cluster.rtmpPort}/cfx/st/`,
        "-y",
        playName,
        "-o",
        out,
      ]),
    };
  } catch (error) {
    return { ok: false, stderr: (error as { stderr?: string }).stderr ?? String(error) };
  }
}

describe("npm run sign-url against npm start's cluster", () => {
  test("registers a key, makes the distribution private, and its URL plays while an unsigned play is refused", async () => {
    const before = await dump("videos/sample", join(work, "public.flv"));
    assert.ok(before.ok, `the demo distribution starts public: ${before.stderr}`);

    const signed = await signUrl(config({ private: "true", minutes: "30" }));
    assert.equal(signed.madePrivate, true);
    assert.match(signed.keyPairId, /^K[A-Z0-9]{13}$/);
    assert.match(signed.playName, /^videos\/sample\?Expires=\d+&Key-Pair-Id=K[A-Z0-9]{13}&Signature=/);
    assert.equal(signed.url, `rtmp://localhost:${cluster.rtmpPort}/cfx/st/${signed.playName}`);

    const want = await probePackets(join(media, "videos", "sample.flv"));
    const played = await dump(signed.playName, join(work, "signed.flv"));
    assert.ok(played.ok, played.stderr);
    assertSamePackets(await probePackets(join(work, "signed.flv")), want);
    await runTool("ffmpeg", ["-v", "error", "-y", "-i", signed.url, "-c", "copy", join(work, "ffmpeg.flv")]);
    assertSamePackets(await probePackets(join(work, "ffmpeg.flv")), want);

    const refused = await dump("videos/sample", join(work, "refused.flv"));
    assert.ok(!refused.ok);
    assert.match(refused.stderr, /NetStream\.Play\.Failed/);
    assert.match(refused.stderr, /Access denied: this distribution serves signed URLs only/);
    const size = (() => {
      try {
        return statSync(join(work, "refused.flv")).size;
      } catch {
        return 0;
      }
    })();
    assert.ok(size < 1000, `no media for the unsigned play (${size} bytes)`);

    // Again: the same key (CreatePublicKey is idempotent by CallerReference), the distribution already private.
    const again = await signUrl(config({ private: "true", name: "mp4:videos/sample.mp4" }));
    assert.equal(again.keyPairId, signed.keyPairId);
    assert.equal(again.madePrivate, false);
    const mp4 = await dump(again.playName, join(work, "signed-mp4.flv"));
    assert.ok(mp4.ok, mp4.stderr);

    const metrics = await (await fetch(`http://${cluster.addresses.edge!.admin}/metrics`)).text();
    assert.match(
      metrics,
      /^streamfront_edge_signed_url_refusals_total\{distribution="E[0-9A-Z]+",reason="unsigned"\} 1$/m,
    );
  });
});
