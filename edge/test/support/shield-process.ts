import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { embeddedS3Credentials } from "../../../deploy/local/embedded-s3.js";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import { launchComponent } from "../../../lib/process/launcher.js";
import { testTlsEnv } from "../../../lib/testing/tls.js";

/** The shield entry point from the same build as this file (dist/ or any other build folder). */
const shieldMain = fileURLToPath(new URL("../../../shield/src/main.js", import.meta.url));

/** A shield replica as its own process, so SIGKILL and SIGSTOP are real. */
export interface ShieldProcess {
  readonly address: string;
  readonly child: ChildProcess;
  signal(signal: NodeJS.Signals): void;
  /** Ends the process whatever its state (a stopped one is continued first); waits for its exit. */
  stop(): Promise<void>;
}

export interface ShieldProcessOptions {
  /** The S3 endpoint the shield reads (an s3rver, or a fault proxy in front of one). */
  readonly s3Endpoint: string;
  readonly buckets: readonly string[];
  /** More STREAMFRONT_SHIELD_* settings. */
  readonly env?: Readonly<Record<string, string>>;
  /** @default process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent" */
  readonly logLevel?: string;
}

export async function startShieldProcess(options: ShieldProcessOptions): Promise<ShieldProcess> {
  const logLevel = options.logLevel ?? process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent";
  const launched = await launchComponent(shieldMain, {
    stdio: logLevel === "silent" ? "ignore" : "inherit",
    env: {
      STREAMFRONT_SHIELD_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_SHIELD", PeerRole.Shield),
      STREAMFRONT_SHIELD_GRPC_PORT: "0",
      STREAMFRONT_SHIELD_ADMIN_HOST: "127.0.0.1",
      STREAMFRONT_SHIELD_ADMIN_PORT: "0",
      STREAMFRONT_SHIELD_S3_ENDPOINT: options.s3Endpoint,
      STREAMFRONT_SHIELD_S3_FORCE_PATH_STYLE: "true",
      STREAMFRONT_SHIELD_S3_ACCESS_KEY_ID: embeddedS3Credentials.accessKeyId,
      STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY: embeddedS3Credentials.secretAccessKey,
      STREAMFRONT_SHIELD_ALLOWED_BUCKETS: options.buckets.join(","),
      STREAMFRONT_SHIELD_CONTROLLER: "",
      STREAMFRONT_SHIELD_LOG_LEVEL: logLevel,
      ...options.env,
    },
  });
  const child = launched.child;
  const exited = once(child, "exit");
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    address: launched.addresses.grpc ?? "",
    child,
    signal(signal) {
      if (alive()) child.kill(signal);
    },
    async stop() {
      if (!alive()) return;
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await exited;
    },
  };
}
