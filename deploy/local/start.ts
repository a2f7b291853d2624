import { integer, logLevels, oneOf, port, text } from "../../lib/config/schemas.js";
import { ConfigError, loadConfig, type Setting } from "../../lib/config/settings.js";
import { errorMessage } from "../../lib/errors.js";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { LocalCluster } from "./cluster.js";

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** Settings of `npm start` (the single-machine cluster). */
export const localSettings = {
  media: setting({
    env: "STREAMFRONT_LOCAL_MEDIA",
    flag: "media",
    doc: "Folder to serve; its files become the demo bucket's objects (keys = relative paths).",
    schema: text({ min: 1, max: 4096 }),
    default: fromRepoRoot("deploy", "local", "media"),
  }),
  host: setting({
    env: "STREAMFRONT_LOCAL_HOST",
    flag: "host",
    doc: "Host in the printed URLs; it is the demo distribution's CNAME.",
    schema: text({
      min: 1,
      max: 253,
      pattern: /^[A-Za-z0-9.-]+$/,
      hint: "expected a host name or IPv4 address",
    }),
    default: "localhost",
  }),
  rtmpPort: setting({
    env: "STREAMFRONT_LOCAL_RTMP_PORT",
    flag: "rtmp-port",
    doc: "The edge's RTMP port.",
    schema: port(),
    default: 1935,
  }),
  httpPort: setting({
    env: "STREAMFRONT_LOCAL_HTTP_PORT",
    flag: "http-port",
    doc: "The edge's shared RTMP/HTTP port (CloudFront used 80, which needs root); -1 for none.",
    schema: integer(-1, 65535),
    default: 8080,
  }),
  bucket: setting({
    env: "STREAMFRONT_LOCAL_BUCKET",
    flag: "bucket",
    doc: "Name of the embedded S3 bucket.",
    schema: text({
      min: 3,
      max: 63,
      pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
      hint: "expected an S3 bucket name",
    }),
    default: "streamfront-media",
  }),
  logLevel: setting({
    env: "STREAMFRONT_LOCAL_LOG_LEVEL",
    flag: "log-level",
    doc: "Log level of the three components.",
    schema: oneOf(logLevels),
    default: "warn",
  }),
} as const;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig<typeof localSettings>>;
  try {
    config = loadConfig(localSettings, { env: process.env, argv: process.argv.slice(2) });
  } catch (error) {
    process.stderr.write(`streamfront: ${errorMessage(error)}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
    return;
  }
  const cluster = new LocalCluster({ ...config, mediaDir: config.media, stdio: "inherit" });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping streamfront…\n`);
    cluster.stop().then(
      () => {
        process.stdout.write("stopped.\n");
        process.exitCode = 0;
      },
      (error: unknown) => {
        process.stderr.write(`streamfront: stop failed: ${errorMessage(error)}\n`);
        process.exit(1);
      },
    );
  };
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
    ...cluster.objects.map((o) => `  ${o.url}`),
    "",
  ];
  const first = cluster.objects[0];
  if (first) {
    const app = first.url.slice(0, first.url.indexOf("/cfx/st") + "/cfx/st".length);
    lines.push(
      "Try:",
      `  ffplay "${first.url}"`,
      `  ffmpeg -i "${first.url}" -c copy out.flv`,
      `  rtmpdump -r "${app}/" -y "${first.playName}" -o out.flv`,
      "",
    );
  }
  if (cluster.httpPort > 0) {
    lines.push(
      `Shared RTMP/HTTP port: ${a.edge?.http}   (crossdomain: http://${config.host}:${cluster.httpPort}/crossdomain.xml)`,
      "",
    );
  }
  lines.push(
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

await main();
