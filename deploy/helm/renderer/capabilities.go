package main

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// defaultKubeVersion is the cluster version assumed when --kube-version is
// not given (helm template likewise assumes one, having no cluster to ask).
const defaultKubeVersion = "v1.32.0"

// Capabilities is .Capabilities: what the target cluster is assumed to be.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

// KubeVersion is .Capabilities.KubeVersion; it prints as its Version.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// VersionSet is .Capabilities.APIVersions: group/version strings, and
// group/version/Kind for the kinds known to be served.
type VersionSet []string

// Has reports whether the cluster serves an API version (or version/Kind).
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// builtinAPIs are the built-in API groups of a current Kubernetes release
// with the kinds they serve, standing in for the discovery a real install
// would do.
var builtinAPIs = []struct {
	groupVersion string
	kinds        []string
}{
	{"v1", []string{"ConfigMap", "Endpoints", "Event", "LimitRange", "Namespace", "Node", "PersistentVolume",
		"PersistentVolumeClaim", "Pod", "PodTemplate", "ReplicationController", "ResourceQuota", "Secret",
		"Service", "ServiceAccount"}},
	{"admissionregistration.k8s.io/v1", []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}},
	{"apiextensions.k8s.io/v1", []string{"CustomResourceDefinition"}},
	{"apiregistration.k8s.io/v1", []string{"APIService"}},
	{"apps/v1", []string{"ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"}},
	{"authentication.k8s.io/v1", []string{"SelfSubjectReview", "TokenReview"}},
	{"authorization.k8s.io/v1", []string{"LocalSubjectAccessReview", "SelfSubjectAccessReview",
		"SelfSubjectRulesReview", "SubjectAccessReview"}},
	{"autoscaling/v1", []string{"HorizontalPodAutoscaler"}},
	{"autoscaling/v2", []string{"HorizontalPodAutoscaler"}},
	{"batch/v1", []string{"CronJob", "Job"}},
	{"certificates.k8s.io/v1", []string{"CertificateSigningRequest"}},
	{"coordination.k8s.io/v1", []string{"Lease"}},
	{"discovery.k8s.io/v1", []string{"EndpointSlice"}},
	{"events.k8s.io/v1", []string{"Event"}},
	{"flowcontrol.apiserver.k8s.io/v1", []string{"FlowSchema", "PriorityLevelConfiguration"}},
	{"networking.k8s.io/v1", []string{"Ingress", "IngressClass", "NetworkPolicy"}},
	{"node.k8s.io/v1", []string{"RuntimeClass"}},
	{"policy/v1", []string{"PodDisruptionBudget"}},
	{"rbac.authorization.k8s.io/v1", []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}},
	{"scheduling.k8s.io/v1", []string{"PriorityClass"}},
	{"storage.k8s.io/v1", []string{"CSIDriver", "CSINode", "CSIStorageCapacity", "StorageClass", "VolumeAttachment"}},
}

// newCapabilities parses --kube-version (with or without the leading v) and
// adds the --api-versions entries to the built-in set.
func newCapabilities(kubeVersion string, extra []string) (*Capabilities, error) {
	v, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid kube version %q: %w", kubeVersion, err)
	}
	full := "v" + v.String()
	caps := &Capabilities{KubeVersion: KubeVersion{
		Version:    full,
		Major:      fmt.Sprint(v.Major()),
		Minor:      fmt.Sprint(v.Minor()),
		GitVersion: full,
	}}
	for _, api := range builtinAPIs {
		caps.APIVersions = append(caps.APIVersions, api.groupVersion)
		for _, kind := range api.kinds {
			caps.APIVersions = append(caps.APIVersions, api.groupVersion+"/"+kind)
		}
	}
	for _, gv := range extra {
		caps.APIVersions = append(caps.APIVersions, strings.TrimSpace(gv))
	}
	return caps, nil
}

// checkKubeVersion refuses a chart whose kubeVersion constraint the target
// cluster does not meet, with Helm's message.
func checkKubeVersion(constraint string, kube KubeVersion) error {
	if constraint == "" {
		return nil
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return fmt.Errorf("chart has an invalid kubeVersion %q: %w", constraint, err)
	}
	v, err := semver.NewVersion(kube.Version)
	if err != nil {
		return err
	}
	if !c.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", constraint, kube.Version)
	}
	return nil
}
