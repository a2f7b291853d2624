import { aliasProblem } from "../../controller/src/alias.js";
import { integer, port, text } from "../../lib/config/schemas.js";
import { logLevelSetting, setting } from "../../lib/config/settings.js";

/** Settings of `npm start` (the single-machine cluster). */
export const localSettings = {
  media: setting({
    env: "STREAMFRONT_LOCAL_MEDIA",
    flag: "media",
    doc: "Folder to serve; its files become the demo bucket's objects (keys = relative paths). Empty: the bundled samples in deploy/local/media.",
    schema: text({ min: 1, max: 4096 }),
    default: "",
  }),
  stateDir: setting({
    env: "STREAMFRONT_LOCAL_STATE_DIR",
    flag: "state-dir",
    doc:
      "Folder kept across runs: the control API and embedded S3 key pairs (generated once, mode 0600), the " +
      "bucket's objects and the distributions. A relative path is below the repository; none: a temporary " +
      "folder removed at stop.",
    schema: text({ min: 1, max: 4096 }),
    default: ".streamfront",
  }),
  mediaPollMs: setting({
    env: "STREAMFRONT_LOCAL_MEDIA_POLL_MS",
    flag: "media-poll-ms",
    doc:
      "How often the media folder is compared with what was uploaded (size and mtime): new or replaced " +
      "files are uploaded once their size holds for one interval, removed ones deleted. 0: never.",
    schema: integer(0, 3_600_000),
    default: 2000,
  }),
  host: setting({
    env: "STREAMFRONT_LOCAL_HOST",
    flag: "host",
    doc: "Host in the printed URLs; it is the demo distribution's CNAME, so a host name (localhost, the machine's name), not an IP address.",
    // The controller's rule for CNAMEs (alias.ts): refused here, naming this
    // setting, rather than by the controller as its demo-cname.
    schema: text({ min: 1, max: 253 }).superRefine((value, context) => {
      const problem = aliasProblem(value.toLowerCase());
      if (problem !== undefined)
        context.addIssue({ code: "custom", message: `expected a host name: ${problem}` });
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
  apiPort: setting({
    env: "STREAMFRONT_LOCAL_API_PORT",
    flag: "api-port",
    doc: "The controller's CloudFront control API port (--endpoint-url http://127.0.0.1:<port>). 0 picks a free port.",
    schema: port(),
    default: 7003,
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
  logLevel: logLevelSetting("STREAMFRONT_LOCAL", "warn"),
} as const;
