import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { assembleImage, installedPackages } from "../../deploy/image/assemble.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { assertSamePackets, probePackets, rtmpdump } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { ProcessCluster } from "../../lib/testing/process-cluster.js";
import { testTlsEnv } from "../../lib/testing/tls.js";
import { eventually } from "../../lib/testing/wait.js";

/**
 * The production image without docker (which this machine cannot run): the
 * Dockerfile's runtime stage is what deploy/image/assemble.ts puts in a
 * folder — the compiled files the entry points import, the lockfile and
 * `npm ci --omit=dev`. This test performs that same assembly into a clean
 * folder, checks what it holds, and starts the controller, shield and edge
 * from it as an unprivileged user (nobody, as the image's USER is not
 * root), reading S3 and playing through them with rtmpdump.
 */
const nobody = { uid: 65534, gid: 65534 };
const buildRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const work = mkdtempSync(join(tmpdir(), "streamfront-image-"));
const app = join(work, "app");
const source = fromRepoRoot("deploy", "local", "media", "videos", "sample.flv");
let assembled = 0;
let cluster: ProcessCluster | undefined;

/** The role's test certificate files, copied where nobody may read them (the test PKI's are root's, 0600). */
function readableTls(envPrefix: string, role: PeerRole): Record<string, string> {
  const dir = join(work, "tls", role);
  mkdirSync(dir, { recursive: true });
  const env: Record<string, string> = {};
  for (const [name, file] of Object.entries(testTlsEnv(envPrefix, role))) {
    const copy = join(dir, basename(file));
    copyFileSync(file, copy);
    chmodSync(copy, 0o644);
    env[name] = copy;
  }
  return env;
}

/** The work folder is mkdtemp's (0700): nobody must be able to enter it and the assembled app. */
function chmodTree(path: string): void {
  chmodSync(work, 0o755);
  chmodSync(path, 0o755);
}

before(async () => {
  assembled = assembleImage(buildRoot, app).files;
  chmodTree(app);
  mkdirSync(join(work, "tls"), { recursive: true, mode: 0o755 });
  chmodSync(join(work, "tls"), 0o755);
  const state = join(work, "state");
  mkdirSync(state);
  chownSync(state, nobody.uid, nobody.gid);
  cluster = await ProcessCluster.start({
    buckets: ["media"],
    buildRoot: join(app, "dist"),
    runAs: nobody,
    controllerEnv: readableTls("STREAMFRONT_CONTROLLER", PeerRole.Controller),
    shieldEnv: readableTls("STREAMFRONT_SHIELD", PeerRole.Shield),
    edgeEnv: {
      ...readableTls("STREAMFRONT_EDGE", PeerRole.Edge),
      STREAMFRONT_EDGE_CONFIG_STATE_FILE: join(state, "edge.json"),
    },
  });
});
after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("the production image's install, run as nobody", () => {
  test("holds the entry points' files and production dependencies only", () => {
    assert.ok(assembled > 50, `${assembled} files`);
    for (const entry of ["edge", "shield", "controller"]) {
      assert.ok(statSync(join(app, "dist", entry, "src", "main.js")).isFile(), entry);
    }
    const packages = installedPackages(app);
    const production = Object.keys(
      (
        JSON.parse(readFileSync(fromRepoRoot("package.json"), "utf8")) as {
          dependencies: Record<string, string>;
        }
      ).dependencies,
    );
    for (const name of production) assert.ok(packages.includes(name), `${name} installed`);
    for (const dev of [
      "s3rver",
      "typescript",
      "@biomejs/biome",
      "ts-proto",
      "@aws-sdk/client-cloudfront",
      "@bufbuild/buf",
    ]) {
      assert.ok(!packages.includes(dev), `${dev} is not in the image`);
    }
    const outside = listFiles(join(app, "dist")).filter(
      (f) => /(^|\/)(test|testing|deploy|loadtest)\//.test(f) || f.endsWith(".test.js"),
    );
    assert.deepEqual(outside, [], "no test code, deploy/ or loadtest/ in the image");
  });

  test("every component runs as nobody from it, and a play goes S3 → shield → edge", async () => {
    const c = cluster!;
    for (const p of [...c.controllers, ...c.shields, ...c.edges]) {
      const status = readFileSync(`/proc/${p.launched.child.pid}/status`, "utf8");
      assert.match(status, /^Uid:\s+65534\s/m, `${p.name} runs as nobody`);
    }
    await c.s3.uploadFile("media", "videos/sample.flv", source);
    const created = await c.cloudfront(0).send(
      new CreateStreamingDistributionCommand({
        StreamingDistributionConfig: {
          CallerReference: "image",
          S3Origin: { DomainName: "media.s3.amazonaws.com", OriginAccessIdentity: "" },
          Comment: "image",
          TrustedSigners: { Enabled: false, Quantity: 0 },
          Enabled: true,
        },
      }),
    );
    const id = created.StreamingDistribution!.Id!;
    await eventually(
      async () =>
        (await c.cloudfront(0).send(new GetStreamingDistributionCommand({ Id: id }))).StreamingDistribution
          ?.Status === "Deployed",
      20_000,
      "Deployed",
    );
    const out = join(work, "played.flv");
    await rtmpdump([
      "-r",
      `rtmp://${c.rtmpAddress(0)}/cfx/st`,
      "-a",
      "cfx/st",
      "-t",
      `rtmp://${created.StreamingDistribution!.DomainName!}/cfx/st`,
      "-y",
      "videos/sample",
      "-o",
      out,
    ]);
    assertSamePackets(await probePackets(out), await probePackets(source));
  });
});

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out;
}
