/**
 * Checks a rendered manifest against the Kubernetes API schemas, offline: kubernetes-models (the
 * built-in kinds), @kubernetes-models/prometheus-operator (ServiceMonitor, PodMonitor, PrometheusRule)
 * and @kubernetes-models/cert-manager (Issuer, Certificate). kubectl cannot validate without an API
 * server; these are the same OpenAPI schemas, compiled. They check types, enums, required fields and
 * one-of shapes; they do not refuse unknown fields, which values.schema.json does for the chart's values.
 */

type Manifest = Readonly<Record<string, unknown>> & {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
};

interface Model {
  validate(): void;
}
type ModelClass = new (data: Record<string, unknown>) => Model;

/**
 * The model of every apiVersion/kind the chart renders, imported by name (the layering test wants
 * every dynamic import spelled out). A kind missing here fails validation: add it with its package.
 * The packages are ESM only and declare Node 22; a dynamic import works on Node 20 too.
 */
const modelModules: Readonly<Record<string, () => Promise<Record<string, unknown>>>> = {
  "v1/ConfigMap": () => import("kubernetes-models/v1/ConfigMap"),
  "v1/Secret": () => import("kubernetes-models/v1/Secret"),
  "v1/Service": () => import("kubernetes-models/v1/Service"),
  "v1/ServiceAccount": () => import("kubernetes-models/v1/ServiceAccount"),
  "apps/v1/DaemonSet": () => import("kubernetes-models/apps/v1/DaemonSet"),
  "apps/v1/Deployment": () => import("kubernetes-models/apps/v1/Deployment"),
  "apps/v1/StatefulSet": () => import("kubernetes-models/apps/v1/StatefulSet"),
  "autoscaling/v2/HorizontalPodAutoscaler": () =>
    import("kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler"),
  "policy/v1/PodDisruptionBudget": () => import("kubernetes-models/policy/v1/PodDisruptionBudget"),
  "networking.k8s.io/v1/Ingress": () => import("kubernetes-models/networking.k8s.io/v1/Ingress"),
  "networking.k8s.io/v1/NetworkPolicy": () => import("kubernetes-models/networking.k8s.io/v1/NetworkPolicy"),
  "monitoring.coreos.com/v1/PodMonitor": () =>
    import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor"),
  "monitoring.coreos.com/v1/PrometheusRule": () =>
    import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule"),
  "monitoring.coreos.com/v1/ServiceMonitor": () =>
    import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor"),
  "cert-manager.io/v1/Certificate": () =>
    import("@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate"),
  "cert-manager.io/v1/ClusterIssuer": () =>
    import("@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer"),
  "cert-manager.io/v1/Issuer": () => import("@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer"),
};

const models = new Map<string, Promise<ModelClass | undefined>>();

async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const key = `${apiVersion}/${kind}`;
  const load = modelModules[key];
  if (load === undefined) return undefined;
  let model = models.get(key);
  if (model === undefined) {
    model = load().then((module) => module[kind] as ModelClass | undefined);
    models.set(key, model);
  }
  return model;
}

/** The problems of one manifest; empty when it is valid. */
export async function validateManifest(manifest: Manifest): Promise<string[]> {
  const { apiVersion, kind } = manifest;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["no apiVersion or kind"];
  const Model = await loadModel(apiVersion, kind);
  if (Model === undefined) return [`no model for ${apiVersion} ${kind} in deploy/test/helm-manifests.ts`];
  try {
    new Model({ ...manifest }).validate();
    return [];
  } catch (error) {
    const details = (error as { errors?: readonly { instancePath?: string; message?: string }[] }).errors;
    if (details?.length) return details.map((e) => `${e.instancePath ?? ""} ${e.message ?? ""}`.trim());
    return [(error as Error).message];
  }
}
