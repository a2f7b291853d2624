package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// userValues is what the user supplied, in Helm's order: each -f file
// deep-merged over the previous ones, then every --set, then every
// --set-string (whatever their order on the command line). A null here is
// kept: it deletes the chart's default later, in coalesce.
func userValues(opts options) (map[string]interface{}, error) {
	base := map[string]interface{}{}
	for _, file := range opts.valuesFiles {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		current := map[string]interface{}{}
		if err := yaml.Unmarshal(raw, &current); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", file, err)
		}
		base = mergeMaps(base, current)
	}
	for _, s := range opts.set {
		if err := parseSet(s, base, false); err != nil {
			return nil, fmt.Errorf("failed parsing --set data: %w", err)
		}
	}
	for _, s := range opts.setString {
		if err := parseSet(s, base, true); err != nil {
			return nil, fmt.Errorf("failed parsing --set-string data: %w", err)
		}
	}
	return base, nil
}

// mergeMaps merges b over a: maps merge key by key at every depth, any other
// value (lists included) replaces what was there.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce lays the user's values over the chart's defaults: the user wins,
// maps merge at every depth, and a user null removes the default's key (how
// Helm lets an override delete a default). A null with no default to delete
// stays, as in Helm.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(user)+len(defaults))
	for k, v := range user {
		out[k] = v
	}
	for k, dv := range defaults {
		uv, present := out[k]
		switch {
		case !present:
			out[k] = dv
		case uv == nil:
			delete(out, k)
		default:
			um, uok := uv.(map[string]interface{})
			dm, dok := dv.(map[string]interface{})
			if uok && dok {
				out[k] = coalesce(um, dm)
			} else if dok && !uok {
				// The user's scalar or list replaces a default table; say so,
				// since it is more often a typo than a wish.
				fmt.Fprintf(os.Stderr, "warning: %s: the chart's default is a table, the given value replaces it\n", k)
			}
		}
	}
	return out
}
