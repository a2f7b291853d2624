import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { ICertificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import { Ajv, type ValidateFunction } from "ajv";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IIngress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parse } from "yaml";
import { controllerSettings } from "../../controller/src/config.js";
import { edgeSettings } from "../../edge/src/config.js";
import type { Settings } from "../../lib/config/settings.js";
import { shieldSettings } from "../../shield/src/config.js";
import { type RenderedDocument, renderChart, renderNotes } from "../helm/renderer.js";
import { chartOwnedSettings, settingsEnvText, valuesSchemaText } from "../helm/values-schema.js";
import { validateManifest } from "./helm-manifests.js";

/**
 * The chart rendered offline (deploy/helm/renderer: Go text/template + sprig, as Helm) with its defaults
 * and every ci/*-values.yaml: each document validates against the Kubernetes (and prometheus-operator,
 * cert-manager) schemas, the merged values against values.schema.json, a typo'd values file fails, and
 * what each values file is for shows in what it renders.
 */

const chartDir = fileURLToPath(new URL("../../../deploy/helm/streamfront", import.meta.url));
const ciDir = join(chartDir, "ci");
const alertRulesFile = fileURLToPath(
  new URL("../../../deploy/alerts/streamfront.rules.yaml", import.meta.url),
);
const dashboardsDir = join(chartDir, "dashboards");
const renderDefaults = async () => (await renderChart({ chartDir })).documents;
const ciFiles = readdirSync(ciDir)
  .filter((name) => name.endsWith("-values.yaml"))
  .sort();

type Values = Record<string, unknown>;
type Workload = IDeployment | IStatefulSet | IDaemonSet;
type Kinds = {
  Deployment: IDeployment;
  StatefulSet: IStatefulSet;
  DaemonSet: IDaemonSet;
  Service: IService;
  Secret: ISecret;
  ServiceAccount: IServiceAccount;
  NetworkPolicy: INetworkPolicy;
  HorizontalPodAutoscaler: IHorizontalPodAutoscaler;
  PodDisruptionBudget: IPodDisruptionBudget;
  Ingress: IIngress;
  Certificate: ICertificate;
  ConfigMap: IConfigMap;
  ServiceMonitor: { metadata?: { name?: string } };
  PodMonitor: { metadata?: { name?: string } };
  PrometheusRule: {
    metadata?: { name?: string; labels?: Record<string, string> };
    spec?: { groups?: unknown };
  };
};

function isObject(value: unknown): value is Values {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Helm's merge of values files: maps merge key by key, anything else replaces, null deletes. */
function mergeValues(base: Values, over: Values): Values {
  const merged: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete merged[key];
    else if (isObject(value) && isObject(merged[key]))
      merged[key] = mergeValues(merged[key] as Values, value);
    else merged[key] = value;
  }
  return merged;
}

const readYaml = (path: string): Values => (parse(readFileSync(path, "utf8")) ?? {}) as Values;
const defaults = readYaml(join(chartDir, "values.yaml"));

/** The rendered documents of one kind (and name), typed by the Kubernetes models. */
function find<K extends keyof Kinds>(
  documents: readonly RenderedDocument[],
  kind: K,
  name?: string,
): Kinds[K][] {
  return documents
    .map((d) => d.document as { kind?: string; metadata?: { name?: string } })
    .filter((d) => d.kind === kind && (name === undefined || d.metadata?.name === name)) as Kinds[K][];
}
function one<K extends keyof Kinds>(documents: readonly RenderedDocument[], kind: K, name: string): Kinds[K] {
  const found = find(documents, kind, name);
  assert.equal(found.length, 1, `one ${kind} ${name}: found ${found.length}`);
  return found[0]!;
}
function podSpec(workload: Workload): IPodSpec {
  return workload.spec!.template.spec!;
}
/** A workload's (first) container. */
function container(workload: Workload): IContainer {
  return podSpec(workload).containers[0]!;
}
function env(c: IContainer): Map<string, IEnvVar> {
  return new Map((c.env ?? []).map((e) => [e.name, e]));
}
function kindsOf(documents: readonly RenderedDocument[]): string {
  const counts = new Map<string, number>();
  for (const d of documents) {
    const kind = String(d.document.kind);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([kind, n]) => `${kind}×${n}`).join(", ");
}

let validateValues: ValidateFunction;
let scratch: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "helm-chart-"));
  const ajv = new Ajv({ allErrors: true, strict: false });
  validateValues = ajv.compile(JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8")));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the chart's values schema", () => {
  it("is what deploy/helm/values-schema.ts builds (npm run helm:schema regenerates it)", () => {
    assert.equal(
      readFileSync(join(chartDir, "values.schema.json"), "utf8"),
      valuesSchemaText(),
      "values.schema.json is stale: run npm run helm:schema",
    );
    assert.equal(
      readFileSync(join(chartDir, "files", "settings.json"), "utf8"),
      settingsEnvText(),
      "files/settings.json is stale: run npm run helm:schema",
    );
    assert.equal(
      readFileSync(join(chartDir, "files", "streamfront.rules.yaml"), "utf8"),
      readFileSync(alertRulesFile, "utf8"),
      "files/streamfront.rules.yaml is not deploy/alerts/streamfront.rules.yaml: run npm run helm:schema",
    );
  });

  it("names only settings that exist as the chart-owned ones", () => {
    const all: Record<string, Settings> = {
      edge: edgeSettings,
      shield: shieldSettings,
      controller: controllerSettings,
    };
    for (const [component, owned] of Object.entries(chartOwnedSettings)) {
      for (const name of owned) assert.ok(name in (all[component] as Settings), `${component}.${name}`);
    }
  });

  it("accepts the defaults and every ci values file", () => {
    assert.ok(validateValues(defaults), JSON.stringify(validateValues.errors));
    for (const file of ciFiles) {
      const merged = mergeValues(defaults, readYaml(join(ciDir, file)));
      assert.ok(validateValues(merged), `${file}: ${JSON.stringify(validateValues.errors)}`);
    }
  });
});

describe("rendering every values file", () => {
  for (const file of ["(defaults)", ...ciFiles]) {
    it(`${file}: every document is valid against the Kubernetes schemas`, async (t) => {
      const valuesFiles = file === "(defaults)" ? [] : [join(ciDir, file)];
      const { documents } = await renderChart({ chartDir, valuesFiles });
      assert.ok(documents.length > 0);
      for (const { source, document } of documents) {
        const problems = await validateManifest(document);
        const { kind, metadata } = document as { kind?: string; metadata?: { namespace?: string } };
        assert.deepEqual(problems, [], `${source} ${kind}: ${problems.join("; ")}`);
        assert.equal(metadata?.namespace, "default", source);
      }
      t.diagnostic(`${file}: ${documents.length} documents: ${kindsOf(documents)}`);
    });
  }
});

describe("a values file with a mistake", () => {
  const mistakes: readonly { name: string; values: string; path: RegExp }[] = [
    { name: "a misspelt key", values: "edge:\n  kidn: DaemonSet\n", path: /kidn/ },
    {
      name: "a misspelt nested key",
      values: "edge:\n  resources:\n    reqests:\n      cpu: 1\n",
      path: /reqests/,
    },
    {
      name: "an unknown setting",
      values: "edge:\n  settings:\n    maxConnection: 10\n",
      path: /maxConnection/,
    },
    { name: "a chart-owned setting", values: "edge:\n  settings:\n    rtmpPort: 1936\n", path: /rtmpPort/ },
    { name: "a value outside its enum", values: "edge:\n  kind: Daemonset\n", path: /kind/ },
    {
      name: "a misspelt traffic policy",
      values: "edge:\n  service:\n    externalTrafficPolicy: Locale\n",
      path: /externalTrafficPolicy/,
    },
    {
      name: "a setting of the wrong type",
      values: "shield:\n  settings:\n    readAheadSlices: two\n",
      path: /readAheadSlices/,
    },
    { name: "a port out of range", values: "controller:\n  ports:\n    api: 70000\n", path: /api/ },
  ];
  for (const mistake of mistakes) {
    it(`${mistake.name} fails the schema and the render, naming the path`, async () => {
      const file = join(scratch, `${mistake.name.replaceAll(" ", "-")}.yaml`);
      writeFileSync(file, mistake.values);
      const merged = mergeValues(defaults, readYaml(file));
      assert.equal(validateValues(merged), false);
      assert.match(JSON.stringify(validateValues.errors), mistake.path);
      await assert.rejects(renderChart({ chartDir, valuesFiles: [file] }), (error: Error) => {
        assert.match(error.message, /values don't meet the specifications of the schema/);
        assert.match(error.message, mistake.path);
        return true;
      });
    });
  }

  it("Redis: neither the chart's own nor an external one is a `required` error", async () => {
    await assert.rejects(renderChart({ chartDir, set: ["redis.enabled=false"] }), /a Redis is required/);
  });
  it("Redis: both is refused", async () => {
    await assert.rejects(
      renderChart({ chartDir, set: ["externalRedis.url=redis://redis.example:6379"] }),
      /never both/,
    );
  });
  it("existingSecrets TLS without a Secret names the one missing", async () => {
    await assert.rejects(
      renderChart({
        chartDir,
        set: ["internalTls.mode=existingSecrets", "internalTls.existingSecrets.edge=e"],
      }),
      /internalTls\.existingSecrets\.(shield|controller) is required/,
    );
  });
});

describe("what the defaults render", () => {
  let documents: RenderedDocument[];
  before(async () => {
    ({ documents } = await renderChart({ chartDir }));
  });

  it("no PrometheusRule (metrics.prometheusRule.enabled is false)", () => {
    assert.equal(find(documents, "PrometheusRule").length, 0);
  });

  it("every streamfront container runs restricted: non-root, read-only root, no capabilities, RuntimeDefault seccomp", () => {
    const workloads: Workload[] = [
      ...find(documents, "Deployment"),
      ...find(documents, "StatefulSet"),
      ...find(documents, "DaemonSet"),
    ];
    assert.equal(workloads.length, 4);
    for (const workload of workloads) {
      const pod = podSpec(workload);
      for (const c of pod.containers) {
        const name = `${workload.metadata?.name}/${c.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, name);
        assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault", name);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, name);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, name);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], name);
        assert.ok(c.resources?.requests?.memory, name);
      }
      assert.equal(pod.automountServiceAccountToken, false, workload.metadata?.name);
    }
  });

  it("edges: probes on /healthz and /readyz, a preStop sleep, a grace period longer than the drain", () => {
    const edge = one(documents, "Deployment", "streamfront-edge");
    const c = container(edge);
    assert.equal(c.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(c.readinessProbe?.httpGet?.path, "/readyz");
    assert.deepEqual(c.lifecycle?.preStop?.exec?.command, ["sleep", "5"]);
    const drainMs = Number(env(c).get("STREAMFRONT_EDGE_DRAIN_TIMEOUT_MS")?.value);
    assert.equal(drainMs, 300_000);
    assert.ok((podSpec(edge).terminationGracePeriodSeconds ?? 0) * 1000 > drainMs + 5000);
    assert.equal(edge.spec?.strategy?.rollingUpdate?.maxUnavailable, 1);
    const spread = podSpec(edge).topologySpreadConstraints ?? [];
    assert.equal(spread.length, 2);
    assert.equal(spread[0]?.labelSelector?.matchLabels?.["app.kubernetes.io/component"], "edge");
    const service = one(documents, "Service", "streamfront-edge");
    assert.equal(service.spec?.type, "LoadBalancer");
    assert.equal(service.spec?.externalTrafficPolicy, "Local");
    assert.deepEqual(
      service.spec?.ports?.map((p) => [p.port, p.targetPort]),
      [
        [1935, "rtmp"],
        [80, "http"],
      ],
    );
    assert.equal(one(documents, "PodDisruptionBudget", "streamfront-edge").spec?.maxUnavailable, 1);
  });

  it("edges find the shields by dns: over the headless Service, and the controllers through their Service", () => {
    const e = env(container(one(documents, "Deployment", "streamfront-edge")));
    assert.equal(
      e.get("STREAMFRONT_EDGE_SHIELD")?.value,
      "dns:streamfront-shield-headless.default.svc.cluster.local:7002",
    );
    assert.equal(
      e.get("STREAMFRONT_EDGE_CONTROLLER")?.value,
      "streamfront-controller.default.svc.cluster.local:7001",
    );
    const headless = one(documents, "Service", "streamfront-shield-headless");
    assert.equal(headless.spec?.clusterIP, "None");
    assert.equal(
      one(documents, "StatefulSet", "streamfront-shield").spec?.serviceName,
      headless.metadata?.name,
    );
  });

  it("the API keys Secret holds one AKID:SECRET pair, and the controllers' checksum is of the same keys", () => {
    const secret = one(documents, "Secret", "streamfront-controller-api-keys");
    const keys = Buffer.from(secret.data?.["access-keys"] ?? "", "base64").toString();
    assert.match(keys, /^AKIA[A-Z0-9]{16}:[A-Za-z0-9]{40}$/);
    assert.equal(secret.metadata?.annotations?.["helm.sh/resource-policy"], "keep");
    const controller = one(documents, "Deployment", "streamfront-controller");
    assert.match(
      controller.spec?.template.metadata?.annotations?.["checksum/api-keys"] ?? "",
      /^[0-9a-f]{64}$/,
    );
    assert.equal(controller.spec?.replicas, 2);
    const e = env(container(controller));
    assert.equal(
      e.get("STREAMFRONT_CONTROLLER_API_ACCESS_KEYS_FILE")?.value,
      "/etc/streamfront/api-keys/access-keys",
    );
    assert.equal(
      e.get("STREAMFRONT_CONTROLLER_REDIS_URL")?.value,
      "redis://:$(REDIS_PASSWORD)@streamfront-redis.default.svc.cluster.local:6379/0",
    );
  });

  it("internal links: one cert-manager Certificate per role naming it in a spiffe URI, mounted by that role", () => {
    for (const role of ["edge", "shield", "controller"]) {
      const certificate = one(documents, "Certificate", `streamfront-${role}-tls`);
      assert.deepEqual(certificate.spec?.uris, [`spiffe://streamfront/${role}`]);
      assert.equal(certificate.spec?.issuerRef.name, "streamfront-internal-ca");
    }
    const shield = one(documents, "StatefulSet", "streamfront-shield");
    const volume = podSpec(shield).volumes?.find((v) => v.name === "internal-tls");
    assert.equal(volume?.secret?.secretName, "streamfront-shield-tls");
  });

  it("NetworkPolicies: viewers → edge ports; edges → shield; edges and shields → controller gRPC; controllers → Redis", () => {
    const selects = (policy: INetworkPolicy, component: string) =>
      policy.spec?.podSelector?.matchLabels?.["app.kubernetes.io/component"] === component;
    const peersOf = (peers: readonly INetworkPolicyPeer[] | undefined) =>
      (peers ?? []).map((p) => p.podSelector?.matchLabels?.["app.kubernetes.io/component"] ?? "other");
    const policies = find(documents, "NetworkPolicy");
    assert.equal(policies.length, 4);
    const policy = (component: string) => policies.find((p) => selects(p, component))!;
    const edge = policy("edge");
    assert.deepEqual(edge.spec?.policyTypes, ["Ingress", "Egress"]);
    const viewers = edge.spec?.ingress?.[0];
    assert.equal(viewers?.from, undefined, "any address reaches the viewer ports");
    assert.deepEqual(
      viewers?.ports?.map((p) => p.port),
      ["rtmp", "http"],
    );
    assert.deepEqual(peersOf(policy("shield").spec?.ingress?.[0]?.from), ["edge"]);
    assert.deepEqual(peersOf(policy("controller").spec?.ingress?.[0]?.from), ["edge", "shield"]);
    const redis = policy("redis");
    assert.deepEqual(peersOf(redis.spec?.ingress?.[0]?.from), ["controller"]);
    assert.deepEqual(redis.spec?.egress, []);
    for (const p of [edge, policy("shield"), policy("controller")]) {
      const metrics = p.spec?.ingress?.find((r) => r.ports?.some((port) => port.port === "admin"));
      assert.equal(
        metrics?.from?.[0]?.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"],
        "monitoring",
      );
      assert.ok(
        p.spec?.egress?.some((r) => r.ports?.some((port) => port.port === 53 && port.protocol === "UDP")),
        "DNS allowed",
      );
    }
  });

  it("NOTES.txt tells how to reach the edge, the control API and the keys", async () => {
    const notes = await renderNotes({ chartDir });
    assert.match(notes, /kubectl -n default get service streamfront-edge/);
    assert.match(notes, /port-forward service\/streamfront-controller-api 7003:7003/);
    assert.match(notes, /get secret streamfront-controller-api-keys/);
  });
});

describe("what each ci values file is for", () => {
  const render = async (file: string) =>
    (await renderChart({ chartDir, valuesFiles: [join(ciDir, file)] })).documents;

  it("daemonset-hostport: a DaemonSet on the edge nodes, node ports 1935 and 80 onto 1935 and 8080, PodMonitors", async () => {
    const documents = await render("daemonset-hostport-values.yaml");
    const edge = one(documents, "DaemonSet", "streamfront-edge");
    const ports = container(edge).ports?.map((p) => [p.name, p.containerPort, p.hostPort]);
    assert.deepEqual(ports?.slice(0, 2), [
      ["rtmp", 1935, 1935],
      ["http", 8080, 80],
    ]);
    assert.deepEqual(podSpec(edge).nodeSelector, { "streamfront.io/edge": "true" });
    assert.equal(edge.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, 1);
    assert.equal(find(documents, "Service", "streamfront-edge").length, 0);
    assert.equal(find(documents, "PodDisruptionBudget", "streamfront-edge").length, 0);
    assert.equal(find(documents, "PodMonitor").length, 3);
  });

  it("deployment-loadbalancer-hpa: an HPA that scales down slowly, no fixed replicas, ServiceMonitors, the PrometheusRule", async () => {
    const documents = await render("deployment-loadbalancer-hpa-values.yaml");
    const hpa = one(documents, "HorizontalPodAutoscaler", "streamfront-edge");
    assert.equal(hpa.apiVersion, "autoscaling/v2");
    assert.ok((hpa.spec?.behavior?.scaleDown?.stabilizationWindowSeconds ?? 0) >= 300);
    const edge = one(documents, "Deployment", "streamfront-edge");
    assert.equal(edge.spec?.replicas, undefined);
    const e = env(container(edge));
    assert.equal(e.get("STREAMFRONT_EDGE_MAX_CONNECTIONS")?.value, "20000");
    assert.equal(e.get("STREAMFRONT_EDGE_LOG_LEVEL")?.value, "warn");
    assert.equal(one(documents, "Service", "streamfront-edge").spec?.loadBalancerIP, "203.0.113.10");
    assert.equal(find(documents, "ServiceMonitor").length, 3);
    assert.equal(find(documents, "Service", "streamfront-edge-metrics").length, 1);
    // The rules file's groups, unevaluated ({{ $labels }} reaches Prometheus as text), with the runbook
    // links moved to runbookBaseUrl.
    const rule = one(documents, "PrometheusRule", "streamfront");
    assert.equal(rule.metadata?.labels?.release, "kube-prometheus-stack");
    type Group = { rules: { annotations?: Record<string, string> }[] };
    const expected = (parse(readFileSync(alertRulesFile, "utf8")) as { groups: Group[] }).groups;
    for (const r of expected.flatMap((g) => g.rules)) {
      const url = r.annotations?.runbook_url;
      if (r.annotations && url)
        r.annotations.runbook_url = url.replace(
          /^README\.md/,
          "https://git.example.com/streamfront/blob/main/README.md",
        );
    }
    assert.deepEqual(rule.spec?.groups, expected);
    assert.match(JSON.stringify(rule.spec?.groups), /\{\{ \$labels\.namespace \}\}/);
  });

  it("deployment-loadbalancer-hpa: a ConfigMap per dashboard for the Grafana sidecar, the JSON as committed", async () => {
    const documents = await render("deployment-loadbalancer-hpa-values.yaml");
    const files = readdirSync(dashboardsDir)
      .filter((f) => f.endsWith(".json"))
      .sort();
    assert.equal(files.length, 5);
    const maps = find(documents, "ConfigMap").filter((m) =>
      m.metadata?.name?.startsWith("streamfront-dashboard-"),
    );
    assert.equal(maps.length, files.length);
    for (const file of files) {
      const map = one(documents, "ConfigMap", `streamfront-dashboard-${file.replace(/\.json$/, "")}`);
      assert.equal(map.metadata?.labels?.grafana_dashboard, "1");
      assert.equal(map.metadata?.annotations?.grafana_folder, "Streamfront");
      assert.equal(map.metadata?.namespace, "default");
      // The file less its final newline: Helm evaluated none of Grafana's {{instance}} legends or $variables.
      const data = map.data?.[file] ?? "";
      assert.equal(data, readFileSync(join(dashboardsDir, file), "utf8").replace(/\n$/, ""), file);
      assert.ok(Buffer.byteLength(data) < 1024 * 1024, `${file}: ${Buffer.byteLength(data)} bytes`);
    }
    const edge = one(documents, "ConfigMap", "streamfront-dashboard-edge").data?.["edge.json"] ?? "";
    assert.match(edge, /"legendFormat": "\{\{instance\}\} \{\{protocol\}\}"/);
    assert.match(edge, /namespace=~\\"\$namespace\\"/);
    assert.equal(find(await renderDefaults(), "ConfigMap").length, 0, "off by default");
    const elsewhere = (
      await renderChart({
        chartDir,
        set: [
          "dashboards.enabled=true,dashboards.namespace=monitoring,dashboards.label=dash,dashboards.labelValue=yes",
        ],
      })
    ).documents;
    const moved = one(elsewhere, "ConfigMap", "streamfront-dashboard-overview");
    assert.equal(moved.metadata?.namespace, "monitoring");
    assert.equal(moved.metadata?.labels?.dash, "yes");
    assert.equal(moved.metadata?.annotations, undefined);
  });

  it("external-redis-sentinel: no Redis of the chart's, the URL from a Secret, egress to the Redis addresses", async () => {
    const documents = await render("external-redis-sentinel-values.yaml");
    assert.equal(find(documents, "StatefulSet", "streamfront-redis").length, 0);
    const e = env(container(one(documents, "Deployment", "streamfront-controller")));
    assert.deepEqual(e.get("STREAMFRONT_CONTROLLER_REDIS_URL")?.valueFrom, {
      secretKeyRef: { name: "streamfront-redis", key: "redis-url" },
    });
    const policy = one(documents, "NetworkPolicy", "streamfront-controller");
    const toRedis = policy.spec?.egress?.find((r) => r.to?.[0]?.ipBlock);
    assert.equal(toRedis?.to?.[0]?.ipBlock?.cidr, "10.20.0.0/16");
    assert.deepEqual(
      toRedis?.ports?.map((p) => p.port),
      [6379, 26379],
    );
    assert.equal(
      one(documents, "Ingress", "streamfront-controller-api").spec?.rules?.[0]?.host,
      "cloudfront.example.com",
    );
  });

  it("shield-disk: a claim per replica, the tier at 90 % of it, credentials from a Secret", async () => {
    const documents = await render("shield-disk-values.yaml");
    const shield = one(documents, "StatefulSet", "streamfront-shield");
    const claim = shield.spec?.volumeClaimTemplates?.[0];
    assert.equal(claim?.spec?.resources?.requests?.storage, "200Gi");
    assert.equal(claim?.spec?.storageClassName, "fast-ssd");
    const e = env(container(shield));
    assert.equal(e.get("STREAMFRONT_SHIELD_CACHE_DISK_BYTES")?.value, String((200 * 2 ** 30 * 9) / 10));
    assert.equal(
      e.get("STREAMFRONT_SHIELD_S3_SECRET_ACCESS_KEY")?.valueFrom?.secretKeyRef?.name,
      "streamfront-s3",
    );
    assert.equal(e.get("STREAMFRONT_SHIELD_ALLOWED_BUCKETS")?.value, "media-archive");
  });

  it("networkpolicy-off: no NetworkPolicy, certificates from the given Secrets, IRSA on the shield's account", async () => {
    const documents = await render("networkpolicy-off-values.yaml");
    assert.equal(find(documents, "NetworkPolicy").length, 0);
    assert.equal(find(documents, "Certificate").length, 0);
    const edge = one(documents, "Deployment", "streamfront-edge");
    const volume = podSpec(edge).volumes?.find((v) => v.name === "internal-tls");
    assert.equal(volume?.secret?.secretName, "streamfront-edge-tls");
    const account = one(documents, "ServiceAccount", "streamfront-shield");
    assert.match(
      account.metadata?.annotations?.["eks.amazonaws.com/role-arn"] ?? "",
      /role\/streamfront-shield$/,
    );
  });

  it("minimal-dev: one of each, plaintext internal links, no claims", async () => {
    const documents = await render("minimal-dev-values.yaml");
    for (const name of ["streamfront-edge", "streamfront-controller"])
      assert.equal(one(documents, "Deployment", name).spec?.replicas, 1);
    assert.equal(
      env(container(one(documents, "Deployment", "streamfront-edge"))).get("STREAMFRONT_EDGE_INTERNAL_TLS")
        ?.value,
      "plaintext",
    );
    assert.equal(one(documents, "StatefulSet", "streamfront-redis").spec?.volumeClaimTemplates, undefined);
    assert.equal(find(documents, "PodDisruptionBudget", "streamfront-edge").length, 0);
  });
});

describe("a component's settings block", () => {
  const components: Record<string, { settings: Settings; kind: "Deployment" | "StatefulSet" }> = {
    edge: { settings: edgeSettings, kind: "Deployment" },
    shield: { settings: shieldSettings, kind: "StatefulSet" },
    controller: { settings: controllerSettings, kind: "Deployment" },
  };
  for (const [component, { settings, kind }] of Object.entries(components)) {
    it(`${component}: every setting the chart does not own maps onto its own variable`, async () => {
      const owned: readonly string[] = chartOwnedSettings[component as keyof typeof chartOwnedSettings];
      const values: Record<string, unknown> = {};
      for (const [name, setting] of Object.entries(settings)) {
        if (owned.includes(name)) continue;
        const value = setting.default;
        values[name] = Array.isArray(value) ? value.join(",") : value === undefined ? "" : value;
      }
      const file = join(scratch, `${component}-settings.yaml`);
      writeFileSync(file, JSON.stringify({ [component]: { settings: values } }));
      const { documents } = await renderChart({ chartDir, valuesFiles: [file] });
      const e = env(container(one(documents, kind, `streamfront-${component}`)));
      for (const name of Object.keys(values)) {
        const variable = (settings[name] as Settings[string]).env;
        assert.ok(e.has(variable), `${component}.settings.${name} → ${variable}`);
      }
    });
  }
});
