package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// manifest is one YAML document of the rendered output.
type manifest struct {
	source   string // the template that made it: <chart>/templates/<file>
	index    int    // its place among that template's documents
	content  string // the document's text, trimmed
	kind     string
	document map[string]interface{}
}

// documentSeparator is a `---` line (optionally followed by a comment).
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*(?:#.*)?$`)

// splitManifests cuts each rendered template into documents, drops the
// ones that hold nothing but whitespace and comments (a disabled `if`
// leaves those), and parses the rest, failing with the template's name when
// one is not a YAML mapping.
func splitManifests(rendered map[string]string) ([]manifest, error) {
	var out []manifest
	for _, source := range sortedKeys(rendered) {
		for i, doc := range documentSeparator.Split(rendered[source], -1) {
			content := strings.TrimSpace(doc)
			if onlyComments(content) {
				continue
			}
			data, err := yaml.YAMLToJSON([]byte(content))
			if err != nil {
				return nil, fmt.Errorf("YAML parse error on %s: %w", source, err)
			}
			var parsed interface{}
			if err := json.Unmarshal(data, &parsed); err != nil {
				return nil, fmt.Errorf("YAML parse error on %s: %w", source, err)
			}
			document, ok := parsed.(map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("YAML parse error on %s: document %d is not a mapping but %s", source, i+1, preview(content))
			}
			kind, _ := document["kind"].(string)
			out = append(out, manifest{source: source, index: i, content: content, kind: kind, document: document})
		}
	}
	return out, nil
}

func onlyComments(content string) bool {
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

func preview(content string) string {
	if len(content) > 40 {
		content = content[:40] + "..."
	}
	return fmt.Sprintf("%q", content)
}

// installOrder is the order in which Helm creates kinds, so that what a
// resource depends on (its namespace, its ServiceAccount, its ConfigMap)
// comes before it. Kinds not listed come after all of these.
var installOrder = []string{
	"PriorityClass",
	"Namespace",
	"NetworkPolicy",
	"ResourceQuota",
	"LimitRange",
	"PodSecurityPolicy",
	"PodDisruptionBudget",
	"ServiceAccount",
	"Secret",
	"SecretList",
	"ConfigMap",
	"StorageClass",
	"PersistentVolume",
	"PersistentVolumeClaim",
	"CustomResourceDefinition",
	"ClusterRole",
	"ClusterRoleList",
	"ClusterRoleBinding",
	"ClusterRoleBindingList",
	"Role",
	"RoleList",
	"RoleBinding",
	"RoleBindingList",
	"Service",
	"DaemonSet",
	"Pod",
	"ReplicationController",
	"ReplicaSet",
	"Deployment",
	"HorizontalPodAutoscaler",
	"StatefulSet",
	"Job",
	"CronJob",
	"IngressClass",
	"Ingress",
	"APIService",
}

// sortByInstallOrder sorts by kind in install order; unknown kinds follow,
// alphabetically by kind; ties keep template name and document order, so
// the output is the same on every run.
func sortByInstallOrder(ms []manifest) {
	rank := make(map[string]int, len(installOrder))
	for i, k := range installOrder {
		rank[k] = i
	}
	rankOf := func(kind string) int {
		if r, ok := rank[kind]; ok {
			return r
		}
		return len(installOrder)
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if ra, rb := rankOf(a.kind), rankOf(b.kind); ra != rb {
			return ra < rb
		}
		if rankOf(a.kind) == len(installOrder) && a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.source != b.source {
			return a.source < b.source
		}
		return a.index < b.index
	})
}
