package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/xeipuuv/gojsonschema"
)

// validateSchema checks the final values against the chart's
// values.schema.json with gojsonschema (the library Helm 3 validated with
// until 3.18), reporting every violation in Helm's shape:
//
//	values don't meet the specifications of the schema(s) in the following chart(s):
//	<chart>:
//	- <field>: <description>
func validateSchema(c *chart, values map[string]interface{}) error {
	if c.Schema == nil {
		return nil
	}
	// Through JSON, so the library sees plain JSON types whatever the
	// values were decoded into (int64 from --set, float64 from YAML).
	doc, err := json.Marshal(values)
	if err != nil {
		return err
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(c.Schema), gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("%s: cannot use values.schema.json: %w", c.Metadata.Name, err)
	}
	if result.Valid() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n", c.Metadata.Name)
	// gojsonschema reports in Go map order, which changes from run to run;
	// sorted, the same values always give the same message.
	lines := make([]string, 0, len(result.Errors()))
	for _, e := range result.Errors() {
		lines = append(lines, fmt.Sprintf("- %s\n", e))
	}
	sort.Strings(lines)
	for _, line := range lines {
		b.WriteString(line)
	}
	return fmt.Errorf("%s", b.String())
}
