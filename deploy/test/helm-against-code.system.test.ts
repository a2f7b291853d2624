import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CloudFrontClient,
  CreateStreamingDistributionCommand,
  GetStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { assertSamePackets, probePackets, rtmpdump } from "../../lib/testing/ffprobe.js";
import { fromRepoRoot, repoRoot } from "../../lib/testing/paths.js";
import { testPki } from "../../lib/testing/tls.js";
import { eventually } from "../../lib/testing/wait.js";
import { type RenderedDocument, renderChart } from "../helm/renderer.js";
import { EmbeddedS3, embeddedS3Credentials } from "../local/embedded-s3.js";
import {
  dockerfileDefaults,
  outputOf,
  PodNetwork,
  podResolvConf,
  type ResolvedContainer,
  resolveContainer,
  runContainer,
  type SecretStore,
  type StartOptions,
  startContainer,
  stopContainer,
} from "./chart-pods.js";

/**
 * The chart proven against the code: the default values rendered, then every workload's container
 * run as the kubelet would run it — its command (the image's ENTRYPOINT), args and environment as
 * rendered, its volumes at their mount paths, its user, a read-only root — in a network namespace
 * of the test's own whose DNS answers the chart's Service names (chart-pods.ts says what differs from
 * a cluster). First each streamfront container runs with --check-config: every variable the chart sets
 * must be a setting the component reads. Then the pods start, every probe the chart declares must
 * answer, every Service's targetPort must be a port its pod listens on, and an rtmpdump play through
 * the edge Service's port must come from the bucket through the shield, on a distribution made with
 * the chart-generated API keys.
 *
 * Values beyond the defaults: only where the cluster's S3 is (shield.s3.endpoint — an s3rver on the
 * host's end of the veth, by address — forcePathStyle and a credentials Secret), since the default is
 * AWS itself. The role certificates come from the test CA in the Secrets cert-manager would write.
 */

const namespace = "default";
const chartDir = fromRepoRoot("deploy", "helm", "streamfront");
const bucket = "chart-media";
const sample = fromRepoRoot("deploy", "local", "media", "videos", "sample.flv");

const work = mkdtempSync(join(tmpdir(), "helm-against-code-"));
// dnsmasq reads its hosts file as nobody; volume sources are bound as root, then used as the pod's user.
chmodSync(work, 0o755);
const network = new PodNetwork(work);
const image = dockerfileDefaults(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
let s3: EmbeddedS3;
let documents: RenderedDocument[];
const running: ChildProcess[] = [];
const secretValues: string[] = [];
const pods = new Map<string, { workload: IDeployment | IStatefulSet; container: ResolvedContainer }>();

function byKind<T>(kind: string): T[] {
  return documents.map((d) => d.document as { kind?: string }).filter((d) => d.kind === kind) as T[];
}
function labelsMatch(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
function startOptions(pod: string, extraArgs?: readonly string[]): StartOptions {
  return {
    network,
    podRoot: join(work, "pods", pod),
    resolvConf: podResolvConf(namespace),
    cwd: repoRoot,
    ...(extraArgs ? { extraArgs } : {}),
  };
}
/** A container port by the name or number a probe or Service gives. */
function containerPort(container: IContainer, port: string | number): number {
  if (typeof port === "number") return port;
  const found = container.ports?.find((p) => p.name === port);
  assert.ok(found, `${container.name} declares port ${port}`);
  return found.containerPort;
}
function tcpConnects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
async function httpStatus(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}
/** A probe answers as the kubelet judges it: HTTP 200–399, a TCP connect, an exec exiting 0. */
async function probeAnswers(name: string, container: IContainer, probe: IProbe): Promise<boolean> {
  const pod = pods.get(name)!;
  if (probe.httpGet) {
    const port = containerPort(container, probe.httpGet.port);
    const status = await httpStatus(`http://${network.podAddress}:${port}${probe.httpGet.path ?? "/"}`);
    return status >= 200 && status < 400;
  }
  if (probe.tcpSocket) return tcpConnects(network.podAddress, containerPort(container, probe.tcpSocket.port));
  if (probe.exec?.command) {
    const probeRun = {
      ...pod.container,
      argv: probe.exec.command,
      container: `${pod.container.container}-probe`,
    };
    return (await runContainer(probeRun, startOptions(name), 10_000)).code === 0;
  }
  throw new Error(`${name}: a probe of no known kind`);
}

before(async () => {
  s3 = new EmbeddedS3({ directory: join(work, "s3"), host: network.hostAddress, port: 0 });
  await network.create();
  await s3.start();
  await s3.ensureBucket(bucket);
  await s3.uploadFile(bucket, "videos/sample.flv", sample);
  ({ documents } = await renderChart({
    chartDir,
    namespace,
    set: [
      `shield.s3.endpoint=${s3.endpoint}`,
      "shield.s3.forcePathStyle=true",
      "shield.s3.existingSecret=streamfront-s3",
    ],
  }));

  // The cluster's Secrets: those the chart renders, the S3 credentials the values name, and the role
  // certificates cert-manager would issue (from the test CA, each naming its role).
  const secrets = new Map<string, Map<string, Buffer>>();
  for (const secret of byKind<ISecret>("Secret")) {
    const data = new Map(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")]));
    secrets.set(secret.metadata!.name!, data);
  }
  secrets.set(
    "streamfront-s3",
    new Map([
      ["accessKeyId", Buffer.from(embeddedS3Credentials.accessKeyId)],
      ["secretAccessKey", Buffer.from(embeddedS3Credentials.secretAccessKey)],
    ]),
  );
  const pki = testPki();
  for (const role of Object.values(PeerRole)) {
    secrets.set(
      `streamfront-${role}-tls`,
      new Map([
        ["ca.crt", readFileSync(pki.ca.caFile)],
        ["tls.crt", readFileSync(pki.roles[role].certFile)],
        ["tls.key", readFileSync(pki.roles[role].keyFile)],
      ]),
    );
  }
  const store: SecretStore = secrets;
  // What must never show in --check-config: the Redis password, the API secret key (and the S3 one,
  // which here equals its key id, so it is checked by its REDACTED line instead).
  secretValues.push(secrets.get("streamfront-redis")!.get("password")!.toString());
  secretValues.push(
    secrets.get("streamfront-controller-api-keys")!.get("access-keys")!.toString().split(":")[1]!,
  );

  // Cluster DNS: every Service name (short, namespaced and fully qualified). S3 is named by its
  // address (s3rver would read a host name as a virtual-hosted bucket).
  const records = new Map<string, string>();
  for (const service of byKind<IService>("Service")) {
    const name = service.metadata!.name!;
    for (const form of [
      name,
      `${name}.${namespace}`,
      `${name}.${namespace}.svc`,
      `${name}.${namespace}.svc.cluster.local`,
    ])
      records.set(form, network.podAddress);
  }
  await network.startDns(records);

  for (const workload of [...byKind<IDeployment>("Deployment"), ...byKind<IStatefulSet>("StatefulSet")]) {
    const name = workload.metadata!.name!;
    const podName = `${name}-0`;
    const spec = workload.spec!.template.spec!;
    assert.equal(spec.containers.length, 1, `${name}: one container`);
    const container = resolveContainer(spec, spec.containers[0]!, {
      podName,
      podAddress: network.podAddress,
      namespace,
      secrets: store,
      image,
      volumeRoot: join(work, "volumes", podName),
    });
    pods.set(name, { workload, container });
  }
  copyFileSync(sample, join(work, "source.flv"));
});

after(async () => {
  // In the reverse order of their start: the controllers still reach Redis while they stop.
  for (const child of [...running].reverse()) await stopContainer(child);
  await network.destroy();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("the chart's containers, run as rendered", () => {
  it("renders one pod each of redis, controller, shield and edge, the streamfront ones as the image's non-root user", () => {
    assert.deepEqual([...pods.keys()].sort(), [
      "streamfront-controller",
      "streamfront-edge",
      "streamfront-redis",
      "streamfront-shield",
    ]);
    for (const component of ["edge", "shield", "controller"]) {
      const { container } = pods.get(`streamfront-${component}`)!;
      assert.deepEqual(container.argv.slice(0, image.entrypoint.length + 1), [
        ...image.entrypoint,
        `dist/${component}/src/main.js`,
      ]);
      assert.equal(container.uid, 1000);
      assert.equal(container.readOnlyRoot, true);
    }
  });

  for (const component of ["edge", "shield", "controller"]) {
    it(`${component}: --check-config accepts every variable the chart sets, each read from the environment`, async () => {
      const { container } = pods.get(`streamfront-${component}`)!;
      const { code, output } = await runContainer(
        container,
        startOptions(`streamfront-${component}-0-check`, ["--check-config"]),
      );
      assert.equal(code, 0, output);
      const ours = container.envNames.filter((name) => name.startsWith("STREAMFRONT_"));
      if (component === "shield")
        assert.match(output, /STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY\s+REDACTED\s+\(environment\)/);
      assert.ok(ours.length >= 8, `${component} sets ${ours.length} variables`);
      for (const variable of ours) {
        const line = output.split("\n").find((l) => l.includes(` ${variable} `));
        assert.ok(line, `${variable} is a setting of the ${component} (--check-config lists it)`);
        assert.match(line, /\(environment\)$/, `${variable} is read from the environment`);
      }
      for (const secret of secretValues)
        assert.ok(!output.includes(secret), `${component}: a secret in the output`);
    });
  }

  it("the pods start and every probe the chart declares answers", async (t) => {
    for (const name of [
      "streamfront-redis",
      "streamfront-controller",
      "streamfront-shield",
      "streamfront-edge",
    ]) {
      const { workload, container } = pods.get(name)!;
      const child = startContainer(container, startOptions(`${name}-0`));
      running.push(child);
      const spec = workload.spec!.template.spec!.containers[0]!;
      const readiness = spec.readinessProbe;
      assert.ok(readiness, `${name} has a readiness probe`);
      await eventually(
        async () => {
          if (child.exitCode !== null)
            throw new Error(`${name} exited ${child.exitCode}: ${outputOf(child)}`);
          return probeAnswers(name, spec, readiness);
        },
        60_000,
        `${name} ready`,
      );
      for (const [kind, probe] of [
        ["liveness", spec.livenessProbe],
        ["startup", spec.startupProbe],
      ] as const) {
        if (probe) assert.ok(await probeAnswers(name, spec, probe), `${name} ${kind} probe`);
      }
      t.diagnostic(
        `${name}: ready; probes ${["readiness", spec.livenessProbe && "liveness", spec.startupProbe && "startup"].filter(Boolean).join(", ")} answer`,
      );
    }
  });

  it("every Service's targetPort is a port its pod listens on", async (t) => {
    const services = byKind<IService>("Service");
    assert.ok(services.length >= 5);
    for (const service of services) {
      const selector = service.spec?.selector ?? {};
      const backing = [...pods.values()].filter(({ workload }) =>
        labelsMatch(selector, workload.spec!.template.metadata?.labels ?? {}),
      );
      assert.equal(backing.length, 1, `${service.metadata?.name} selects one workload`);
      const spec = backing[0]!.workload.spec!.template.spec!.containers[0]!;
      for (const port of service.spec?.ports ?? []) {
        const target = containerPort(spec, port.targetPort ?? port.port);
        assert.ok(
          await tcpConnects(network.podAddress, target),
          `${service.metadata?.name}:${port.port} → ${port.targetPort} (${target}) listens`,
        );
        t.diagnostic(`${service.metadata?.name} ${port.name} ${port.port} → ${target}: listening`);
      }
    }
  });

  it("an rtmpdump play through the edge Service's port comes from S3 through the shield", async () => {
    const keys = pods.get("streamfront-controller")!;
    const file = keys.container.env.STREAMFRONT_CONTROLLER_API_ACCESS_KEYS_FILE!;
    const mountPath = file.slice(0, file.lastIndexOf("/"));
    const keyFile = join(keys.container.mounts.get(mountPath)!.source, file.slice(mountPath.length + 1));
    const [accessKeyId, secretAccessKey] = readFileSync(keyFile, "utf8").trim().split(":");
    const apiService = byKind<IService>("Service").find(
      (s) => s.metadata?.name === "streamfront-controller-api",
    )!;
    const apiPort = containerPort(
      keys.workload.spec!.template.spec!.containers[0]!,
      apiService.spec!.ports![0]!.targetPort!,
    );
    const api = new CloudFrontClient({
      endpoint: `http://${network.podAddress}:${apiPort}`,
      region: "us-east-1",
      credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
    });
    const created = await api.send(
      new CreateStreamingDistributionCommand({
        StreamingDistributionConfig: {
          CallerReference: "helm-against-code",
          S3Origin: { DomainName: `${bucket}.s3.amazonaws.com`, OriginAccessIdentity: "" },
          Comment: "through the chart",
          TrustedSigners: { Enabled: false, Quantity: 0 },
          Enabled: true,
        },
      }),
    );
    const id = created.StreamingDistribution!.Id!;
    const domainName = created.StreamingDistribution!.DomainName!;
    await eventually(
      async () =>
        (await api.send(new GetStreamingDistributionCommand({ Id: id }))).StreamingDistribution?.Status ===
        "Deployed",
      30_000,
      "the distribution Deployed (edge and shield acknowledged)",
    );
    const edgeService = byKind<IService>("Service").find((s) => s.metadata?.name === "streamfront-edge")!;
    const rtmp = edgeService.spec!.ports!.find((p) => p.name === "rtmp")!;
    const edgePort = containerPort(
      pods.get("streamfront-edge")!.workload.spec!.template.spec!.containers[0]!,
      rtmp.targetPort!,
    );
    const before = s3.requests.filter((r) => r.bucket === bucket && r.method === "GET").length;
    const out = join(work, "played.flv");
    await rtmpdump([
      "-r",
      `rtmp://${network.podAddress}:${edgePort}/cfx/st/`,
      "-t",
      `rtmp://${domainName}/cfx/st`,
      "-y",
      "videos/sample",
      "-o",
      out,
    ]).catch((error: Error) => {
      // What the edge and the shield said explains a failed play better than rtmpdump does.
      const said = running
        .slice(2)
        .map((child) => outputOf(child).slice(-4000))
        .join("\n---\n");
      const requests = s3.requests.map((r) => `${r.method} ${r.bucket}/${r.key} ${r.status}`).join("\n");
      throw new Error(
        `${error.message}\n--- edge and shield output:\n${said}\n--- S3 requests:\n${requests}`,
      );
    });
    assertSamePackets(await probePackets(out), await probePackets(join(work, "source.flv")));
    const reads = s3.requests.filter((r) => r.bucket === bucket && r.method === "GET").length - before;
    assert.ok(reads > 0, "the shield read the object from the bucket");
    api.destroy();
  });

  it("the edge drains and exits 0 on SIGTERM (tini forwards it)", async () => {
    const edge = running[3]!;
    assert.equal(await stopContainer(edge, 30_000), 0, outputOf(edge));
  });
});
