import type { ClientDuplexStream } from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { loadConfig } from "../../lib/config/settings.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { createLogger, type Logger } from "../../lib/log.js";
import { testConfigClient, testTls, testTlsEnv } from "../../lib/testing/tls.js";
import type {
  ConfigServiceClient,
  WatchConfigRequest,
  WatchConfigResponse,
} from "../../proto/gen/streamfront/controller/v1/controller.js";
import { controllerSettings } from "../src/config.js";
import { ControllerServer } from "../src/controller-server.js";
import type { DistributionStore } from "../src/store/distribution-store.js";

export function silentLogger(component = "test"): Logger {
  return createLogger({ component, level: process.env.STREAMFRONT_TEST_LOG_LEVEL ?? "silent" });
}

export interface TestControllerOptions {
  readonly store?: DistributionStore;
  readonly port?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly maxQueuedUpdates?: number;
  readonly maxWatchers?: number;
}

/** A ControllerServer on 127.0.0.1 (port 0 unless given). */
export async function startTestController(
  options: TestControllerOptions = {},
): Promise<{ server: ControllerServer; address: string; registry: Registry }> {
  const config = loadConfig(controllerSettings, {
    env: {
      STREAMFRONT_CONTROLLER_HOST: "127.0.0.1",
      ...testTlsEnv("STREAMFRONT_CONTROLLER", PeerRole.Controller),
      STREAMFRONT_CONTROLLER_GRPC_PORT: String(options.port ?? 0),
      STREAMFRONT_CONTROLLER_API_PORT: "0",
      ...options.env,
    },
  });
  const registry = new Registry();
  const server = new ControllerServer({
    tls: testTls(PeerRole.Controller),
    config,
    logger: silentLogger("controller"),
    registry,
    ...(options.store ? { store: options.store } : {}),
    ...(options.maxQueuedUpdates === undefined ? {} : { maxQueuedUpdates: options.maxQueuedUpdates }),
    ...(options.maxWatchers === undefined ? {} : { maxWatchers: options.maxWatchers }),
  });
  const address = await server.start();
  return { server, address, registry };
}

/**
 * A raw WatchConfig stream that records every response, for tests that
 * speak the protocol directly.
 */
export class RawWatch {
  readonly client: ConfigServiceClient;
  readonly call: ClientDuplexStream<WatchConfigRequest, WatchConfigResponse>;
  readonly responses: WatchConfigResponse[] = [];
  readonly ended: Promise<{ code: number; details: string }>;

  /** certRole: whose test certificate the stream is opened with; a hello must name the same role. */
  constructor(address: string, certRole: PeerRole = PeerRole.Edge) {
    this.client = testConfigClient(address, {}, certRole);
    this.call = this.client.watchConfig();
    this.call.on("data", (r: WatchConfigResponse) => this.responses.push(r));
    this.ended = new Promise((resolve) => {
      this.call.on("status", (s: { code: number; details: string }) =>
        resolve({ code: s.code, details: s.details }),
      );
    });
    // Errors arrive as a status too; without a listener they would throw.
    this.call.on("error", () => {});
  }

  hello(nodeId: string, resumeFromVersion = 0, role = 1): void {
    this.call.write({ hello: { nodeId, role: role as 1, resumeFromVersion } });
  }

  ack(version: number): void {
    this.call.write({ ack: { version } });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

export { delay, eventually } from "../../lib/testing/wait.js";
