import { join, resolve } from "node:path";
import {
  ConfigError,
  formatHelp,
  loadConfig,
  wantsCheckConfig,
  wantsHelp,
} from "../../lib/config/settings.js";
import { errorMessage } from "../../lib/errors.js";
import { checkConfig } from "../../lib/process/run-component.js";
import { fromRepoRoot, repoRoot } from "../../lib/testing/paths.js";
import { type ClusterEvent, formatMediaUpdate, LocalCluster } from "./cluster.js";
import { localSettings } from "./settings.js";
import { signUrlSettings } from "./sign-url.js";
import { ephemeralStateDir } from "./state-dir.js";

async function main(): Promise<void> {
  if (wantsHelp(process.argv.slice(2))) {
    process.stdout.write(formatHelp(localSettings, "usage: npm start -- [--setting value]…"));
    return;
  }
  // --check-config: the settings validated and listed; no S3, controller, shield or edge is started.
  if (wantsCheckConfig(process.argv.slice(2))) {
    checkConfig("streamfront", localSettings, (sources) => loadConfig(localSettings, sources));
    return;
  }
  let config: ReturnType<typeof loadConfig<typeof localSettings>>;
  try {
    config = loadConfig(localSettings, { env: process.env, argv: process.argv.slice(2) });
  } catch (error) {
    process.stderr.write(`streamfront: ${errorMessage(error)}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
    return;
  }
  // The AWS SDK warns on every Node 20 process that its releases after
  // January 2027 need Node 22; the lockfile pins a release that runs here,
  // so the demo keeps its terminal for the URLs. (README: Node versions.)
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  let stopping = false;
  const stop = (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${reason}: stopping streamfront…\n`);
    cluster.stop().then(
      () => {
        process.stdout.write("stopped.\n");
        process.exitCode = exitCode;
      },
      (error: unknown) => {
        process.stderr.write(`streamfront: stop failed: ${errorMessage(error)}\n`);
        process.exit(1);
      },
    );
  };
  const cluster = new LocalCluster({
    ...config,
    mediaDir: config.media || fromRepoRoot("deploy", "local", "media"),
    stateDir: config.stateDir === ephemeralStateDir ? config.stateDir : resolve(repoRoot, config.stateDir),
    onMediaUpdate: (update) => process.stdout.write(formatMediaUpdate(update)),
    onMediaError: (error, key) =>
      process.stderr.write(`streamfront: media folder${key ? ` (${key})` : ""}: ${errorMessage(error)}\n`),
    stdio: "inherit",
    onEvent: (event) => {
      process.stderr.write(`streamfront: ${describeEvent(event)}\n`);
      if (event.type === "gave-up") stop(`${event.component} gave up`, 1);
    },
  });
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  try {
    await cluster.start();
  } catch (error) {
    process.stderr.write(`streamfront: could not start: ${errorMessage(error)}\n`);
    process.exitCode = 1;
    return;
  }
  const a = cluster.addresses;
  const lines = [
    "",
    "streamfront is running: S3 → shield → edge, with one demo streaming distribution.",
    "",
    "Play these (one URL per object):",
    ...cluster.objects.map((o) => `  ${o.url}${o.note ? `   (${o.note})` : ""}`),
    "",
    ...(cluster.unplayable.length > 0
      ? ["Not playable over RTMP:", ...cluster.unplayable.map((u) => `  ${u.key}: ${u.reason}`), ""]
      : []),
  ];
  const first = cluster.objects[0];
  if (first) {
    lines.push(
      "Try:",
      `  ffplay "${first.url}"`,
      `  ffmpeg -i "${first.url}" -c copy out.flv`,
      // librtmp connects to application cfx/st/<folder> with this URL, which the edge takes as the key's front.
      `  rtmpdump -r "${first.url}" -o out.flv`,
      "",
    );
  }
  if (cluster.httpPort > 0) {
    lines.push(
      `Shared RTMP/HTTP port: ${a.edge?.http}   (crossdomain: http://${config.host}:${cluster.httpPort}/crossdomain.xml)`,
      "",
    );
  }
  const keys = cluster.apiKeys;
  lines.push(
    "CloudFront control API (streaming distributions; AWS SDK/CLI, SigV4, region us-east-1):",
    `  export AWS_ACCESS_KEY_ID=${keys.accessKeyId} AWS_SECRET_ACCESS_KEY=${keys.secretAccessKey} AWS_DEFAULT_REGION=us-east-1`,
    `  aws cloudfront list-streaming-distributions --endpoint-url http://${a.controller?.api}`,
    "",
    `State (key pairs, the bucket's objects, distributions): ${cluster.stateDir}${cluster.stateIsTemporary ? "   (temporary: removed at stop)" : ""}`,
    `Internal gRPC links: mutual TLS with a development CA and role certificates in ${join(cluster.stateDir, "tls")}`,
    "",
    `Embedded S3 (bucket ${config.bucket}; endpoint ${cluster.s3.endpoint}):`,
    `  export AWS_ACCESS_KEY_ID=${cluster.s3.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${cluster.s3.credentials.secretAccessKey}`,
    `  aws s3 cp clip.flv s3://${config.bucket}/videos/clip.flv --endpoint-url ${cluster.s3.endpoint}   # add media`,
    `  aws s3 ls --recursive s3://${config.bucket} --endpoint-url ${cluster.s3.endpoint}                  # list it`,
    `  aws s3 ls s3://${config.bucket}/logs/ --endpoint-url ${cluster.s3.endpoint}   # access logs, once a distribution's Logging is Bucket ${config.bucket}.s3.amazonaws.com, Prefix logs/`,
    "",
    "Private content (signed URLs): make a key pair, register it (CreatePublicKey), print a signed play URL:",
    `  ${signUrlCommand(config, cluster.stateDir, a.controller?.api ?? "", cluster.rtmpPort)}`,
    "  (add --private true to make the distribution refuse unsigned plays)",
    "",
    "Metrics:",
    `  edge        http://${a.edge?.admin}/metrics`,
    `  shield      http://${a.shield?.admin}/metrics`,
    `  controller  http://${a.controller?.admin}/metrics`,
    "",
    "Ctrl-C stops everything.",
    "",
  );
  process.stdout.write(lines.join("\n"));
}

/** One line per supervision event (printed on stderr, beside the components' own logs). */
function describeEvent(event: ClusterEvent): string {
  switch (event.type) {
    case "exited": {
      const how = event.signal ? `was killed (${event.signal})` : `exited with code ${event.code}`;
      return `${event.component} ${how}; restarting it in ${formatMs(event.restartInMs)} (restart ${event.attempt})`;
    }
    case "restarted":
      return `${event.component} restarted (pid ${event.pid}), on the same ports`;
    case "restart-failed":
      return `${event.component} could not be restarted: ${event.message}`;
    case "gave-up":
      return `${event.component} died ${event.deaths} times within ${formatMs(event.windowMs)}; not restarting it again`;
  }
}

/** The npm run sign-url line for this cluster: the settings that differ from its defaults. */
function signUrlCommand(
  config: { readonly host: string },
  stateDir: string,
  apiAddress: string,
  rtmpPort: number,
): string {
  const parts = ["npm run sign-url -- --name videos/sample"];
  if (resolve(repoRoot, signUrlSettings.stateDir.default) !== stateDir)
    parts.push(`--state-dir ${JSON.stringify(stateDir)}`);
  const apiUrl = `http://${apiAddress}`;
  if (apiUrl !== signUrlSettings.apiUrl.default) parts.push(`--api-url ${apiUrl}`);
  if (config.host !== signUrlSettings.host.default) parts.push(`--host ${config.host}`);
  if (rtmpPort !== signUrlSettings.rtmpPort.default) parts.push(`--rtmp-port ${rtmpPort}`);
  return parts.join(" ");
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

await main();
