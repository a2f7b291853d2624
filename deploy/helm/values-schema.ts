import { controllerSettings } from "../../controller/src/config.js";
import { edgeSettings } from "../../edge/src/config.js";
import type { Settings } from "../../lib/config/settings.js";
import { shieldSettings } from "../../shield/src/config.js";

/**
 * The chart's values.schema.json, built here and written by `npm run helm:schema` (a test fails when
 * the committed file differs). Helm checks the merged values against it on install, upgrade, lint and
 * template. Every object of the chart's own values refuses unknown keys (additionalProperties: false),
 * so `edge.kidn` or `edge.resources.reqests` fails instead of being ignored. The `settings` block of each
 * component is generated from that component's settings (the same declarations its --help and the
 * README's tables come from), less the settings the chart derives itself.
 */

type Schema = Record<string, unknown>;

const object = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: "object",
  additionalProperties: false,
  properties,
  ...extra,
});
const string = (extra: Schema = {}): Schema => ({ type: "string", ...extra });
const integer = (minimum: number, extra: Schema = {}): Schema => ({ type: "integer", minimum, ...extra });
const boolean: Schema = { type: "boolean" };
const port: Schema = { type: "integer", minimum: 1, maximum: 65535 };
const oneOf = (values: readonly (string | null)[]): Schema => ({ enum: [...values] });
const array = (items: Schema, extra: Schema = {}): Schema => ({ type: "array", items, ...extra });
/** A map of strings (labels, annotations, selectors). */
const stringMap: Schema = { type: "object", additionalProperties: { type: "string" } };
/** A Kubernetes object passed through as it is; the rendered manifests are checked against Kubernetes' schemas. */
const kubernetesObject = (description: string): Schema => ({ type: "object", description });
const kubernetesList = (description: string): Schema => ({
  type: "array",
  items: { type: "object" },
  description,
});
const quantity: Schema = {
  type: ["string", "integer"],
  pattern: "^[0-9.]+([eE][0-9]+|[mkMGTPE]i?|[KMGTPE])?$",
};
const duration: Schema = string({ pattern: "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$" });
const cidr: Schema = string({ pattern: "^[0-9a-fA-F:.]+/[0-9]{1,3}$" });

const resources = object({
  requests: object({ cpu: quantity, memory: quantity, "ephemeral-storage": quantity }),
  limits: object({ cpu: quantity, memory: quantity, "ephemeral-storage": quantity }),
});

const seccompProfile = object({
  type: oneOf(["RuntimeDefault", "Localhost", "Unconfined"]),
  localhostProfile: string(),
});

const podSecurityContext = object({
  runAsNonRoot: boolean,
  runAsUser: integer(0),
  runAsGroup: integer(0),
  fsGroup: integer(0),
  fsGroupChangePolicy: oneOf(["OnRootMismatch", "Always"]),
  supplementalGroups: array(integer(0)),
  seccompProfile,
  sysctls: array(object({ name: string(), value: string() }, { required: ["name", "value"] })),
});

const containerSecurityContext = object({
  allowPrivilegeEscalation: boolean,
  readOnlyRootFilesystem: boolean,
  runAsNonRoot: boolean,
  runAsUser: integer(0),
  runAsGroup: integer(0),
  privileged: boolean,
  capabilities: object({ add: array(string()), drop: array(string()) }),
  seccompProfile,
});

const probePort: Schema = { type: ["string", "integer"] };
const probe = object({
  httpGet: object({
    path: string(),
    port: probePort,
    scheme: oneOf(["HTTP", "HTTPS"]),
    httpHeaders: array(object({ name: string(), value: string() })),
  }),
  tcpSocket: object({ port: probePort }),
  exec: object({ command: array(string()) }),
  initialDelaySeconds: integer(0),
  periodSeconds: integer(1),
  timeoutSeconds: integer(1),
  successThreshold: integer(1),
  failureThreshold: integer(1),
  terminationGracePeriodSeconds: integer(1),
});

const toleration = object({
  key: string(),
  operator: oneOf(["Exists", "Equal"]),
  value: string(),
  effect: oneOf(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
  tolerationSeconds: integer(0),
});

const topologySpreadConstraint = object(
  {
    maxSkew: integer(1),
    topologyKey: string({ minLength: 1 }),
    whenUnsatisfiable: oneOf(["DoNotSchedule", "ScheduleAnyway"]),
    minDomains: integer(1),
    nodeAffinityPolicy: oneOf(["Honor", "Ignore"]),
    nodeTaintsPolicy: oneOf(["Honor", "Ignore"]),
    matchLabelKeys: array(string()),
    labelSelector: kubernetesObject("Replaces the component's own selector labels."),
  },
  { required: ["maxSkew", "topologyKey", "whenUnsatisfiable"] },
);

const serviceAccount = object({
  create: boolean,
  name: string(),
  annotations: stringMap,
  automount: boolean,
});

const pdb = (withMaxUnavailable: boolean): Schema =>
  object(withMaxUnavailable ? { enabled: boolean, maxUnavailable: integer(1) } : { enabled: boolean });

/** Keys every workload block shares (placement, security, probes, extras). */
function workload(component: string): Record<string, Schema> {
  return {
    nodeSelector: stringMap,
    tolerations: array(toleration),
    affinity: kubernetesObject("A pod affinity (Kubernetes' Affinity)."),
    topologySpreadConstraints: array(topologySpreadConstraint),
    priorityClassName: string(),
    resources,
    podAnnotations: stringMap,
    podLabels: stringMap,
    podSecurityContext,
    containerSecurityContext,
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    extraArgs: array(string(), { description: `Extra command-line flags of the ${component}.` }),
    extraEnvs: kubernetesList("Extra environment entries (Kubernetes' EnvVar)."),
    extraVolumes: kubernetesList("Extra pod volumes."),
    extraVolumeMounts: kubernetesList("Extra volume mounts of the container."),
    serviceAccount,
  };
}

/**
 * Settings the chart sets from its own values (addresses, ports, peers, TLS files, secrets,
 * volumes): allowing them in `settings` too would set a variable twice.
 */
export const chartOwnedSettings = {
  edge: [
    "host",
    "rtmpPort",
    "httpPort",
    "adminHost",
    "adminPort",
    "controller",
    "shield",
    "nodeId",
    "configStateFile",
    "drainTimeoutMs",
    "accessLogSpoolDir",
    "internalTls",
    "tlsCaFile",
    "tlsCertFile",
    "tlsKeyFile",
    "tlsRefreshMs",
  ],
  shield: [
    "host",
    "grpcPort",
    "adminHost",
    "adminPort",
    "controller",
    "nodeId",
    "configStateFile",
    "s3Region",
    "s3Endpoint",
    "s3ForcePathStyle",
    "s3AccessKeyId",
    "s3SecretAccessKey",
    "allowedBuckets",
    "cacheDiskDir",
    "cacheDiskBytes",
    "internalTls",
    "tlsCaFile",
    "tlsCertFile",
    "tlsKeyFile",
    "tlsRefreshMs",
  ],
  controller: [
    "host",
    "grpcPort",
    "apiHost",
    "apiPort",
    "adminHost",
    "adminPort",
    "baseDomain",
    "apiPublicUrl",
    "apiAccessKeysFile",
    "apiAccessKeys",
    "redisUrl",
    "storeFile",
    "internalTls",
    "tlsCaFile",
    "tlsCertFile",
    "tlsKeyFile",
    "tlsRefreshMs",
  ],
} as const;

/** The JSON type a setting takes in values.yaml, found by what its parser accepts. */
function settingSchema(setting: Settings[string]): Schema {
  const description = setting.doc;
  const accepts = (text: string) => setting.schema.safeParse(text).success;
  const value = setting.default;
  if (typeof value === "boolean") return { type: "boolean", description };
  if (typeof value === "number")
    return { type: accepts("0.5") || accepts("1.5") ? "number" : "integer", description };
  if (Array.isArray(value)) return { type: "string", description: `${description} (a comma-separated list)` };
  return { type: "string", description };
}

function settingsSchema(settings: Settings, owned: readonly string[]): Schema {
  const properties: Record<string, Schema> = {};
  for (const [name, setting] of Object.entries(settings)) {
    if (owned.includes(name)) continue;
    properties[name] = settingSchema(setting);
  }
  return object(properties, {
    description: "Settings by name (camelCase, as --help lists them); the chart derives the others.",
  });
}

const image = object({
  registry: string(),
  repository: string({ minLength: 1 }),
  tag: string(),
  digest: string({ pattern: "^(sha256:[0-9a-f]{64})?$" }),
  pullPolicy: oneOf(["Always", "IfNotPresent", "Never"]),
});

const monitor = object({
  enabled: boolean,
  additionalLabels: stringMap,
  interval: duration,
  scrapeTimeout: duration,
});

const labelSelector = kubernetesObject("A label selector (matchLabels / matchExpressions).");

export function buildValuesSchema(): Schema {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "streamfront chart values",
    ...object({
      global: object({ imageRegistry: string(), imagePullSecrets: array(string()) }),
      nameOverride: string(),
      fullnameOverride: string(),
      namespaceOverride: string(),
      commonLabels: stringMap,
      commonAnnotations: stringMap,
      clusterDomain: string({ minLength: 1 }),
      image,
      internalTls: object({
        mode: oneOf(["certManager", "existingSecrets", "plaintext"]),
        certManager: object({
          createIssuer: boolean,
          issuerRef: object({
            name: string(),
            kind: oneOf(["Issuer", "ClusterIssuer"]),
            group: string(),
          }),
          duration,
          renewBefore: duration,
          caDuration: duration,
        }),
        existingSecrets: object({ edge: string(), shield: string(), controller: string() }),
        refreshMs: integer(1000),
      }),
      edge: object({
        kind: oneOf(["Deployment", "DaemonSet"]),
        replicaCount: integer(0),
        ports: object({ rtmp: port, http: port, admin: port }),
        hostPort: object({ enabled: boolean, rtmp: port, http: port }),
        service: object({
          enabled: boolean,
          type: oneOf(["LoadBalancer", "NodePort", "ClusterIP"]),
          externalTrafficPolicy: oneOf(["Local", "Cluster"]),
          annotations: stringMap,
          loadBalancerClass: string(),
          loadBalancerIP: string(),
          loadBalancerSourceRanges: array(cidr),
          ports: object({ rtmp: port, http: port }),
        }),
        autoscaling: object({
          enabled: boolean,
          minReplicas: integer(1),
          maxReplicas: integer(1),
          targetCPUUtilizationPercentage: integer(1, { maximum: 100 }),
          behavior: kubernetesObject("HorizontalPodAutoscalerBehavior (autoscaling/v2)."),
        }),
        maxUnavailable: integer(1),
        pdb: pdb(false),
        minReadySeconds: integer(0),
        drainTimeoutSeconds: integer(0),
        preStopSleepSeconds: integer(0),
        terminationGracePeriodSeconds: { type: ["integer", "null"], minimum: 0 },
        accessLogs: object({
          enabled: boolean,
          volume: kubernetesObject("A pod volume source (emptyDir, hostPath, ephemeral, …)."),
        }),
        settings: settingsSchema(edgeSettings, chartOwnedSettings.edge),
        ...workload("edge"),
      }),
      shield: object({
        replicaCount: integer(1),
        ports: object({ grpc: port, admin: port }),
        s3: object({
          region: string({ minLength: 1 }),
          endpoint: string({ pattern: "^(https?://.+)?$" }),
          forcePathStyle: boolean,
          existingSecret: string(),
          accessKeyIdKey: string({ minLength: 1 }),
          secretAccessKeyKey: string({ minLength: 1 }),
        }),
        allowedBuckets: array(string({ pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$" })),
        diskCache: object({
          enabled: boolean,
          size: string({ pattern: "^[0-9]+(Mi|Gi|Ti)$" }),
          storageClass: string(),
          accessModes: array(oneOf(["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"])),
        }),
        pdb: pdb(true),
        terminationGracePeriodSeconds: integer(0),
        settings: settingsSchema(shieldSettings, chartOwnedSettings.shield),
        ...workload("shield"),
      }),
      controller: object({
        replicaCount: integer(1),
        ports: object({ grpc: port, api: port, admin: port }),
        baseDomain: string({ minLength: 1 }),
        apiPublicUrl: string({ pattern: "^(https?://.+)?$" }),
        apiKeys: object({ existingSecret: string(), key: string({ minLength: 1 }) }),
        service: object({
          type: oneOf(["ClusterIP", "NodePort", "LoadBalancer"]),
          annotations: stringMap,
          port,
        }),
        ingress: object({
          enabled: boolean,
          className: string(),
          annotations: stringMap,
          hosts: array(string({ minLength: 1 })),
          tls: array(object({ secretName: string(), hosts: array(string()) })),
        }),
        pdb: pdb(true),
        terminationGracePeriodSeconds: integer(0),
        settings: settingsSchema(controllerSettings, chartOwnedSettings.controller),
        ...workload("controller"),
      }),
      redis: object({
        enabled: boolean,
        image,
        port,
        persistence: object({ enabled: boolean, size: quantity, storageClass: string() }),
        resources,
        nodeSelector: stringMap,
        tolerations: array(toleration),
        affinity: kubernetesObject("A pod affinity (Kubernetes' Affinity)."),
        podSecurityContext,
        containerSecurityContext,
      }),
      externalRedis: object({
        url: string({ pattern: "^((redis|rediss|redis-sentinel|redis-cluster)://.+)?$" }),
        existingSecret: string(),
        existingSecretKey: string({ minLength: 1 }),
        cidrs: array(cidr),
        ports: array(port),
      }),
      metrics: object({
        serviceMonitor: monitor,
        podMonitor: monitor,
        prometheusRule: object({ enabled: boolean, additionalLabels: stringMap, runbookBaseUrl: string() }),
      }),
      dashboards: object({
        enabled: boolean,
        label: string({ pattern: "^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$" }),
        labelValue: string({ pattern: "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", maxLength: 63 }),
        annotations: stringMap,
        namespace: string({ pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength: 63 }),
      }),
      networkPolicy: object({
        enabled: boolean,
        metricsNamespaceSelector: labelSelector,
        apiFrom: kubernetesList("NetworkPolicyPeer entries allowed to reach the control API; empty: any."),
        dns: object({ namespaceSelector: labelSelector, podSelector: labelSelector }),
        s3Egress: object({ cidrs: array(cidr), ports: array(port) }),
      }),
    }),
  };
}

/**
 * The variable of every setting a values file may name, per component: the chart's files/settings.json,
 * which the settingsEnv helper reads (names do not map mechanically: edgeLocation is STREAMFRONT_EDGE_LOCATION).
 */
export function settingsEnvText(): string {
  const table = (settings: Settings, owned: readonly string[]) =>
    Object.fromEntries(
      Object.entries(settings)
        .filter(([name]) => !owned.includes(name))
        .map(([name, setting]) => [name, setting.env]),
    );
  const tables = {
    edge: table(edgeSettings, chartOwnedSettings.edge),
    shield: table(shieldSettings, chartOwnedSettings.shield),
    controller: table(controllerSettings, chartOwnedSettings.controller),
  };
  return `${JSON.stringify(tables, null, 2)}\n`;
}

/** The file as `npm run helm:schema` writes it. */
export function valuesSchemaText(): string {
  return `${JSON.stringify(buildValuesSchema(), null, 2)}\n`;
}
