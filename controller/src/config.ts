import { port, text } from "../../lib/config/schemas.js";
import {
  type ConfigOf,
  type ConfigSources,
  loadConfig,
  logLevelSetting,
  setting,
} from "../../lib/config/settings.js";

const hostName = text({
  min: 1,
  max: 253,
  pattern: /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/,
  hint: "expected a host name such as streamfront.local",
});

/** Every setting of the controller. The README's table repeats these docs. */
export const controllerSettings = {
  host: setting({
    env: "STREAMFRONT_CONTROLLER_HOST",
    flag: "host",
    doc: "Address the gRPC listener binds to.",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  grpcPort: setting({
    env: "STREAMFRONT_CONTROLLER_GRPC_PORT",
    flag: "grpc-port",
    doc: "gRPC listener port (ConfigService for edges and shields). 0 picks a free port.",
    schema: port(),
    default: 7001,
  }),
  adminHost: setting({
    env: "STREAMFRONT_CONTROLLER_ADMIN_HOST",
    flag: "admin-host",
    doc: "Address of the admin listener (/metrics, /healthz, /readyz).",
    schema: text({ min: 1, max: 255 }),
    default: "127.0.0.1",
  }),
  adminPort: setting({
    env: "STREAMFRONT_CONTROLLER_ADMIN_PORT",
    flag: "admin-port",
    doc: "Admin listener port. 0 picks a free port.",
    schema: port(),
    default: 9101,
  }),
  baseDomain: setting({
    env: "STREAMFRONT_CONTROLLER_BASE_DOMAIN",
    flag: "base-domain",
    doc: "Domain under which distributions get their names (sXXXXXXXXXXXXX.<base-domain>).",
    schema: hostName,
    default: "streamfront.local",
  }),
  demoBucket: setting<string>({
    env: "STREAMFRONT_CONTROLLER_DEMO_BUCKET",
    flag: "demo-bucket",
    doc:
      "When set, the controller creates at start-up one enabled streaming distribution with this origin " +
      "bucket and the demo-cname, so rtmp://<demo-cname>/cfx/st works without an API call.",
    schema: text({
      min: 3,
      max: 63,
      pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
      hint: "expected an S3 bucket name",
    }),
    default: "",
  }),
  demoCname: setting({
    env: "STREAMFRONT_CONTROLLER_DEMO_CNAME",
    flag: "demo-cname",
    doc: "CNAME of the demo distribution (only with demo-bucket).",
    schema: hostName,
    default: "localhost",
  }),
  logLevel: logLevelSetting("STREAMFRONT_CONTROLLER"),
} as const;

export type ControllerConfig = ConfigOf<typeof controllerSettings>;

export function loadControllerConfig(sources: ConfigSources): ControllerConfig {
  return loadConfig(controllerSettings, sources);
}
