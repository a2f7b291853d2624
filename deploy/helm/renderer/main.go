// Command streamfront-helm-template renders a Helm chart offline, as
// `helm template` would, for machines that have no helm binary (CI builds it
// from Debian's Go packages). It is a close approximation of Helm's template
// engine, not Helm: subcharts, hooks and `helm lint`'s own checks are out of
// scope, and operators still run the real helm against the chart.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		// Helm prints its errors this way and exits 1; scripts and the TS
		// wrapper rely on the same shape.
		fmt.Fprintf(os.Stderr, "Error: %s\n", strings.TrimRight(err.Error(), "\n"))
		os.Exit(1)
	}
}

// run is the whole command, apart from process exit, so it reads as one
// pipeline: options, chart, values, schema, render, split, sort, print.
func run(args []string, out io.Writer) error {
	opts, err := parseOptions(args)
	if err != nil {
		return err
	}
	if opts.help {
		_, err := io.WriteString(out, usage)
		return err
	}
	chart, err := loadChart(opts.chartDir)
	if err != nil {
		return err
	}
	caps, err := newCapabilities(opts.kubeVersion, opts.apiVersions)
	if err != nil {
		return err
	}
	if err := checkKubeVersion(chart.Metadata.KubeVersion, caps.KubeVersion); err != nil {
		return err
	}
	values, err := userValues(opts)
	if err != nil {
		return err
	}
	values = coalesce(values, chart.Values)
	if err := validateSchema(chart, values); err != nil {
		return err
	}

	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name":      opts.releaseName,
			"Namespace": opts.namespace,
			"IsInstall": true,
			"IsUpgrade": false,
			"Revision":  1,
			"Service":   "Helm",
		},
		"Chart":        chart.Metadata,
		"Capabilities": caps,
		"Files":        chart.Files,
		"Subcharts":    map[string]interface{}{},
	}
	rendered, err := renderTemplates(chart, top)
	if err != nil {
		return err
	}

	if opts.notes {
		_, err := io.WriteString(out, rendered[chart.notesName()])
		return err
	}
	delete(rendered, chart.notesName())

	manifests, err := splitManifests(rendered)
	if err != nil {
		return err
	}
	sortByInstallOrder(manifests)
	if opts.output == "json" {
		return writeJSON(out, manifests)
	}
	return writeYAML(out, manifests)
}

// writeYAML prints the stream the way `helm template` does: each document
// under a `# Source:` comment naming the template that made it.
func writeYAML(out io.Writer, manifests []manifest) error {
	for _, m := range manifests {
		if _, err := fmt.Fprintf(out, "---\n# Source: %s\n%s\n", m.source, m.content); err != nil {
			return err
		}
	}
	return nil
}

// writeJSON prints the documents as parsed data, for programs (the TS
// wrapper) that would otherwise parse the YAML stream again.
func writeJSON(out io.Writer, manifests []manifest) error {
	type entry struct {
		Source   string                 `json:"source"`
		Document map[string]interface{} `json:"document"`
	}
	entries := make([]entry, 0, len(manifests))
	for _, m := range manifests {
		entries = append(entries, entry{Source: m.source, Document: m.document})
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", data)
	return err
}

// sortedKeys is the map's keys in order, so that every output is the same
// from run to run (Go randomises map iteration).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// errUsage marks a mistake on the command line.
var errUsage = errors.New("usage")
