import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { loadConfig } from "../../../lib/config/settings.js";
import { PeerRole } from "../../../lib/grpc/peer-role.js";
import { createLogger } from "../../../lib/log.js";
import { fromRepoRoot } from "../../../lib/testing/paths.js";
import {
  silentLogger,
  startTestS3,
  startTestShield,
  type TestS3,
  type TestShield,
} from "../../../lib/testing/shield.js";
import { testTls, testTlsEnv } from "../../../lib/testing/tls.js";
import type { Distribution, PublicKey } from "../../../proto/gen/streamfront/controller/v1/controller.js";
import { edgeSettings } from "../../src/config.js";
import { metadataCacheOf } from "../../src/edge-cache/metadata-cache.js";
import { SliceCache } from "../../src/edge-cache/slice-cache.js";
import { EdgeServer } from "../../src/edge-server.js";
import { ShieldObjectOpener } from "../../src/shield-client/object-opener.js";

/**
 * An edge in the test process in front of a real shield and s3rver, with
 * its log lines captured. The bucket holds the sample media (keys videos/…,
 * audio/…) and the edge test fixtures (keys fixtures/…).
 */
export interface EdgeHarness {
  readonly bucket: string;
  readonly rtmpPort: number;
  readonly httpPort: number;
  readonly edge: EdgeServer;
  readonly s3: TestS3;
  readonly logLines: Record<string, unknown>[];
  /** The edge's /metrics text. */
  metricsText(): Promise<string>;
  /** Sets the distributions the edge sees (the controller's push, in tests). */
  setDistributions(list: readonly Distribution[]): void;
  /** Sets the public keys trusted signers sign with (the controller's push, in tests). */
  setPublicKeys(list: readonly PublicKey[]): void;
  close(): Promise<void>;
}

export function testDistribution(fields: Partial<Distribution>): Distribution {
  return {
    id: "E0",
    domainName: "",
    cnames: [],
    originBucket: "",
    enabled: true,
    kind: 1,
    trustedSigners: undefined,
    logging: undefined,
    ...fields,
  };
}

export interface EdgeHarnessOptions {
  env?: Record<string, string>;
  bucket?: string;
  /** An s3rver the caller started (and closes) instead of the harness's own; the bucket is made in it. */
  s3?: TestS3;
  /**
   * Shield replicas the caller runs (e.g. as processes), as the edge's
   * shield setting takes them; the harness then starts no shield of its own.
   */
  shieldAddress?: string;
  /** ShieldObjectOpener options (idle timeout, penalty, deadline). */
  objects?: { idleTimeoutMs?: number; penaltyMs?: number; deadlineMs?: number };
  /**
   * Give the edge its slice cache and metadata cache, sized by its settings
   * (as main.ts does); without, every read and stat goes to the shield.
   */
  caches?: boolean;
}

export async function startEdgeHarness(options: EdgeHarnessOptions = {}): Promise<EdgeHarness> {
  const bucket = options.bucket ?? "edge-test-media";
  const logLines: Record<string, unknown>[] = [];
  const ownS3 = options.s3 === undefined;
  const s3 = options.s3 ?? (await startTestS3(bucket));
  if (!ownS3) await s3.s3.ensureBucket(bucket);
  let shield: TestShield | undefined;
  let objects: ShieldObjectOpener | undefined;
  let edge: EdgeServer | undefined;
  try {
    await s3.s3.uploadDirectory(bucket, fromRepoRoot("deploy", "local", "media"));
    const fixtureDir = fromRepoRoot("edge", "test", "fixtures");
    for (const name of readdirSync(fixtureDir)) {
      if (name.endsWith(".md")) continue;
      await s3.s3.putObject(bucket, `fixtures/${name}`, readFileSync(join(fixtureDir, name)));
    }
    if (options.shieldAddress === undefined) {
      shield = await startTestShield(s3.s3, { env: { STREAMFRONT_SHIELD_ALLOWED_BUCKETS: bucket } });
    }
    const config = loadConfig(edgeSettings, {
      env: {
        STREAMFRONT_EDGE_HOST: "127.0.0.1",
        ...testTlsEnv("STREAMFRONT_EDGE", PeerRole.Edge),
        STREAMFRONT_EDGE_RTMP_PORT: "0",
        STREAMFRONT_EDGE_HTTP_PORT: "0",
        ...options.env,
      },
    });
    const cache =
      options.caches && config.cacheBytes > 0
        ? new SliceCache({ sliceBytes: config.cacheSliceBytes, maxBytes: config.cacheBytes })
        : undefined;
    const metadata = options.caches ? metadataCacheOf(config) : undefined;
    objects = new ShieldObjectOpener({
      tls: testTls(PeerRole.Edge),
      address: options.shieldAddress ?? shield!.address,
      logger: silentLogger("edge"),
      ...options.objects,
      ...(cache ? { cache } : {}),
      ...(metadata ? { metadata } : {}),
    });
    let distributions = new Map<string, Distribution>([
      [
        "ETEST",
        testDistribution({
          id: "ETEST",
          domainName: "stest000000000.test",
          cnames: ["localhost", "127.0.0.1"],
          originBucket: bucket,
        }),
      ],
    ]);
    let publicKeys = new Map<string, PublicKey>();
    const registry = new Registry();
    edge = new EdgeServer({
      config,
      logger: createLogger({
        component: "edge",
        level: "info",
        destination: {
          write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>),
        },
      }),
      registry,
      distributions: { current: () => distributions, publicKeys: () => publicKeys },
      objects,
      shieldPool: objects.pool,
      ...(cache ? { cache } : {}),
      ...(metadata ? { metadata } : {}),
    });
    const addresses = await edge.start();
    const started = edge;
    const startedShield = shield;
    const startedObjects = objects;
    return {
      bucket,
      rtmpPort: Number(addresses.rtmp!.split(":").pop()),
      httpPort: Number(addresses.http!.split(":").pop()),
      edge: started,
      s3,
      logLines,
      metricsText: () => registry.metrics(),
      setDistributions(list) {
        distributions = new Map(list.map((d) => [d.id, d]));
      },
      setPublicKeys(list) {
        publicKeys = new Map(list.map((k) => [k.id, k]));
      },
      async close() {
        await started.close();
        startedObjects.close();
        await startedShield?.close();
        if (ownS3) await s3.close();
      },
    };
  } catch (error) {
    await edge?.close();
    objects?.close();
    await shield?.close();
    if (ownS3) await s3.close();
    throw error;
  }
}
