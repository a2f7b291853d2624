package main

import (
	"encoding/json"
	"errors"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// baseFuncs is sprig's text functions as Helm offers them (without env and
// expandenv, so a chart cannot read the renderer's environment) plus Helm's
// own data functions. include and tpl need the template set, so the engine
// adds them (engine.go); they are declared here so templates parse.
func baseFuncs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	for name, fn := range map[string]interface{}{
		"toYaml":        toYAML,
		"mustToYaml":    mustToYAML,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"mustToJson":    mustToJSON,
		"fromJson":      fromJSON,
		"fromJsonArray": fromJSONArray,
		"required":      required,
		"lookup":        lookup,
		"include":       func(string, interface{}) (string, error) { return "", errors.New("include is not bound") },
		"tpl":           func(string, interface{}) (string, error) { return "", errors.New("tpl is not bound") },
	} {
		f[name] = fn
	}
	return f
}

// toYAML is YAML through sigs.k8s.io/yaml (what Helm uses: keys sorted,
// via JSON), without the final newline so `nindent` lines up; "" when the
// value cannot be marshalled, as in Helm.
func toYAML(v interface{}) string {
	s, err := mustToYAML(v)
	if err != nil {
		return ""
	}
	return s
}

// mustToYAML is toYAML that fails the render instead of printing "".
func mustToYAML(v interface{}) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

// fromYAML parses a YAML mapping; on failure the result holds the message
// under "Error" (Helm's convention, so templates can test for it).
func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// fromYAMLArray parses a YAML list; on failure the list is the message.
func fromYAMLArray(s string) []interface{} {
	var a []interface{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		return []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	s, err := mustToJSON(v)
	if err != nil {
		return ""
	}
	return s
}

func mustToJSON(v interface{}) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(data), nil
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	var a []interface{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return []interface{}{err.Error()}
	}
	return a
}

// required fails the render with message when value is missing: nil, or
// an empty string. The message reaches the user as Helm shows it:
// `execution error at (<template>:<line>:<col>): <message>`.
func required(message string, value interface{}) (interface{}, error) {
	if value == nil {
		return nil, errors.New(message)
	}
	if s, ok := value.(string); ok && s == "" {
		return nil, errors.New(message)
	}
	return value, nil
}

// lookup answers as `helm template` does with no cluster: an empty map, so
// templates take their "not found" branch.
func lookup(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
	return map[string]interface{}{}, nil
}
