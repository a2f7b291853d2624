import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  CloudFrontClient,
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
  ListStreamingDistributionsCommand,
} from "@aws-sdk/client-cloudfront";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { probeStreams } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { localSettings } from "../local/settings.js";

/** npm start's program with a state folder: what survives a restart, and the media folder picked up live. */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const startScript = fileURLToPath(new URL("../local/start.js", import.meta.url));
const sample = fromRepoRoot("deploy", "local", "media", "videos", "sample.flv");
const children: ChildProcess[] = [];
const temp = mkdtempSync(join(tmpdir(), "streamfront-start-state-"));
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(temp, { recursive: true, force: true });
});

function run(args: string[]) {
  const child = spawn(process.execPath, [startScript, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = once(child, "exit") as Promise<[number | null, string | null]>;
  return { child, exited, out: () => stdout, err: () => stderr };
}

type Started = ReturnType<typeof run>;

async function waitFor(
  started: Started,
  pattern: RegExp,
  what: string,
  timeoutMs = 30_000,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(started.out());
    if (match) return match;
    if (started.child.exitCode !== null) assert.fail(`start exited early (${what}): ${started.err()}`);
    if (Date.now() > deadline)
      assert.fail(`no ${what} within ${timeoutMs} ms: ${started.out()} ${started.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(started: Started): Promise<void> {
  started.child.kill("SIGINT");
  const [code] = await started.exited;
  assert.equal(code, 0, started.err());
}

/** The control API and S3 clients made from what npm start printed. */
function clients(output: string) {
  const api = /export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) AWS_DEFAULT_REGION=us-east-1/.exec(
    output,
  );
  const endpoint = /aws cloudfront list-streaming-distributions --endpoint-url (http:\/\/\S+)/.exec(
    output,
  )?.[1];
  // "Embedded S3 (bucket B; endpoint E):" then its export line (npm start's own lines, as a user copies them).
  const found =
    /Embedded S3 \(bucket (\S+); endpoint (http:\/\/\S+)\):\n\s+export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(
      output,
    );
  const s3 = found ? [found[0], found[3], found[4], found[1], found[2]] : null;
  assert.ok(api && endpoint && s3, output);
  return {
    apiKeys: { accessKeyId: api[1]!, secretAccessKey: api[2]! },
    s3Keys: { accessKeyId: s3[1]!, secretAccessKey: s3[2]! },
    cloudfront: new CloudFrontClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: api[1]!, secretAccessKey: api[2]! },
    }),
    s3: new S3Client({
      endpoint: s3[4]!,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: s3[1]!, secretAccessKey: s3[2]! },
    }),
    bucket: s3[3]!,
  };
}

const quietPorts = ["--rtmp-port=0", "--http-port=-1", "--api-port=0", "--log-level=silent"];

test("npm start keeps its key pairs, distributions and S3 objects in --state-dir across a restart", async () => {
  const state = join(temp, "state");
  const first = run(["--state-dir", state, ...quietPorts]);
  await waitFor(first, /Ctrl-C stops everything/, "ready banner");
  assert.ok(first.out().includes(`State (key pairs, the bucket's objects, distributions): ${state}\n`));
  const one = clients(first.out());
  const created = await one.cloudfront.send(
    new CreateStreamingDistributionCommand({
      StreamingDistributionConfig: {
        CallerReference: "kept-across-restarts",
        S3Origin: { DomainName: `${one.bucket}.s3.amazonaws.com`, OriginAccessIdentity: "" },
        Aliases: { Quantity: 1, Items: ["kept.example"] },
        Comment: "survives",
        TrustedSigners: { Enabled: false, Quantity: 0 },
        Enabled: true,
      },
    }),
  );
  // A second npm start on the same folder is refused while the first runs.
  const twin = run(["--state-dir", state, ...quietPorts]);
  assert.equal((await twin.exited)[0], 1);
  assert.match(twin.err(), /state-dir .* is in use by another npm start \(pid \d+\)/);
  const id = created.StreamingDistribution!.Id!;
  const etag = created.ETag!;
  await one.s3.send(
    new PutObjectCommand({ Bucket: one.bucket, Key: "uploaded/by-s3.txt", Body: "put through the S3 API" }),
  );
  await stop(first);
  for (const name of ["api-keys", "s3-keys"]) assert.equal(statSync(join(state, name)).mode & 0o777, 0o600);
  assert.match(readFileSync(join(state, "distributions.json"), "utf8"), new RegExp(id));

  const second = run(["--state-dir", state, ...quietPorts]);
  await waitFor(second, /Ctrl-C stops everything/, "ready banner after restart");
  const two = clients(second.out());
  assert.deepEqual(two.apiKeys, one.apiKeys, "the same control API key pair");
  assert.deepEqual(two.s3Keys, one.s3Keys, "the same S3 key pair");
  // two.cloudfront signs with the same pair the first run printed.
  const again = await two.cloudfront.send(new GetStreamingDistributionCommand({ Id: id }));
  assert.equal(again.ETag, etag, "same ETag");
  assert.equal(again.StreamingDistribution?.StreamingDistributionConfig?.Comment, "survives");
  const listed = await two.cloudfront.send(new ListStreamingDistributionsCommand({}));
  const items = listed.StreamingDistributionList?.Items ?? [];
  assert.equal(items.length, 2, "the demo and the one made: the demo is not duplicated");
  assert.equal(items.filter((d) => d.Aliases?.Items?.includes("localhost")).length, 1);
  const object = await two.s3.send(new GetObjectCommand({ Bucket: two.bucket, Key: "uploaded/by-s3.txt" }));
  assert.equal(await object.Body?.transformToString(), "put through the S3 API");
  // The demo still plays from the kept bucket.
  const url = /^ {2}(rtmp:\/\/\S+\/cfx\/st\/videos\/sample)$/m.exec(second.out())?.[1];
  assert.ok(url, second.out());
  assert.ok((await probeStreams(url)).length > 0);
  await stop(second);
});

test("a file copied into --media while npm start runs is uploaded once complete, its URL printed and playable; removing it deletes it", async () => {
  const media = join(temp, "media");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(media);
  writeFileSync(join(media, "readme.txt"), "not media");
  const started = run(["--state-dir=none", "--media", media, "--media-poll-ms=200", ...quietPorts]);
  await waitFor(started, /Ctrl-C stops everything/, "ready banner");
  const s3 = clients(started.out());
  // Written in two steps, as a slow copy would: the half file must not be uploaded.
  const bytes = readFileSync(sample);
  const target = join(media, "live", "new clip.flv");
  mkdirSync(join(media, "live"));
  writeFileSync(target, bytes.subarray(0, 1000));
  await new Promise((r) => setTimeout(r, 100));
  writeFileSync(target, bytes);
  const [, url] = await waitFor(
    started,
    /^Added to the media folder, play it:\n {2}(rtmp:\/\/\S+\/cfx\/st\/live\/new%20clip)$/m,
    "added URL",
    10_000,
  );
  const streams = await probeStreams(url!);
  assert.deepEqual(
    streams.map((s) => s.type),
    ["video", "audio"],
  );
  const uploaded = await s3.s3.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "live/new clip.flv" }));
  assert.equal(uploaded.ContentLength, bytes.length, "the whole file, not the half seen first");
  assert.equal(started.out().match(/Added to the media folder/g)?.length, 1, "uploaded once");

  // An unplayable file is named with its reason, as at start.
  writeFileSync(join(media, "notes.md"), "# not media");
  await waitFor(
    started,
    /^Added to the media folder, not playable over RTMP:\n {2}notes\.md: not an FLV, MP4 or MP3 file$/m,
    "unplayable note",
    10_000,
  );
  // Replaced by a rename, as editors and cp --backup do.
  copyFileSync(sample, join(media, "swap.tmp"));
  renameSync(join(media, "swap.tmp"), join(media, "readme.txt"));
  await waitFor(
    started,
    /^Replaced in the media folder, not playable over RTMP:\n {2}readme\.txt: /m,
    "replaced",
    10_000,
  );
  unlinkSync(target);
  await waitFor(
    started,
    /^Removed from the media folder \(deleted from the bucket\):\n {2}live\/new clip\.flv$/m,
    "removed",
    10_000,
  );
  await assert.rejects(
    s3.s3.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "live/new clip.flv" })),
    (error: unknown) => (error as { name?: string }).name === "NoSuchKey",
  );
  await stop(started);
});

test("npm start -- --help lists every setting (flag, variable, default, description) and exits 0 without starting", async () => {
  const help = run(["--help"]);
  const [code] = await help.exited;
  assert.equal(code, 0, help.err());
  const out = help.out();
  assert.match(out, /^usage: npm start -- /);
  for (const s of Object.values(localSettings)) {
    assert.ok(out.includes(`--${s.flag} <value>   ${s.env}   default: `), `${s.flag} in:\n${out}`);
    assert.ok(out.includes(s.doc), s.doc);
  }
  assert.ok(!out.includes("streamfront is running"));
});

test("an unusable --state-dir stops start-up with a message naming the setting", async () => {
  const file = join(temp, "a-file");
  writeFileSync(file, "x");
  const bad = run(["--state-dir", file, ...quietPorts]);
  const [code] = await bad.exited;
  assert.equal(code, 1);
  assert.match(
    bad.err(),
    /could not start: state-dir \(--state-dir, STREAMFRONT_LOCAL_STATE_DIR\): .*a-file/,
  );
});
