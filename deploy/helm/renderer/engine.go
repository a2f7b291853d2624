package main

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"text/template"
)

// maxIncludeDepth bounds how deep one named template may include itself, so
// a template that recurses without end fails instead of exhausting memory.
const maxIncludeDepth = 1000

// engine renders one chart's templates as a single template set, so every
// file sees every `define`.
type engine struct {
	depth map[string]int // include depth by template name
}

// renderTemplates renders every template that is not a partial (a file whose
// name starts with `_` only defines) and returns the text of each by name,
// with the "<no value>" that missingkey=zero prints for absent keys removed,
// as Helm does.
func renderTemplates(c *chart, top map[string]interface{}) (map[string]string, error) {
	e := &engine{depth: map[string]int{}}
	root := template.New("gotpl").Option("missingkey=zero").Funcs(baseFuncs())
	e.bind(root)

	templates := append([]templateFile(nil), c.Templates...)
	sort.Slice(templates, func(i, j int) bool { return templates[i].name < templates[j].name })
	for _, t := range templates {
		if _, err := root.New(t.name).Parse(t.data); err != nil {
			return nil, parseError(err)
		}
	}

	out := map[string]string{}
	for _, t := range templates {
		if strings.HasPrefix(path.Base(t.name), "_") {
			continue
		}
		vals := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{
			"Name":     t.name,
			"BasePath": path.Join(c.Metadata.Name, "templates"),
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, t.name, vals); err != nil {
			return nil, executionError(t.name, err)
		}
		out[t.name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

// bind gives t the include and tpl functions that work on t's own set.
func (e *engine) bind(t *template.Template) {
	t.Funcs(template.FuncMap{"include": e.include(t), "tpl": e.tpl(t)})
}

// include renders a named template to a string, so it can be piped
// (`include "x" . | nindent 4`), unlike the `template` action.
func (e *engine) include(t *template.Template) func(string, interface{}) (string, error) {
	return func(name string, data interface{}) (string, error) {
		if e.depth[name] >= maxIncludeDepth {
			return "", fmt.Errorf("template %q includes itself more than %d deep", name, maxIncludeDepth)
		}
		e.depth[name]++
		defer func() { e.depth[name]-- }()
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
}

// tpl renders a string as a template against data, with every define of
// the chart in scope. It parses into a clone so a define inside the string
// cannot leak into the chart's own set. The string is named after the
// calling template when data carries .Template, so errors point there.
func (e *engine) tpl(parent *template.Template) func(string, interface{}) (string, error) {
	return func(text string, data interface{}) (string, error) {
		t, err := parent.Clone()
		if err != nil {
			return "", err
		}
		e.bind(t)
		name := "tpl"
		if m, ok := data.(map[string]interface{}); ok {
			if tm, ok := m["Template"].(map[string]interface{}); ok {
				if n, ok := tm["Name"].(string); ok {
					name = n
				}
			}
		}
		t, err = t.New(name).Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse tpl string %q: %w", text, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
}

// parseError turns `template: <file>:<line>: <why>` into Helm's
// `parse error at (<file>:<line>): <why>`.
func parseError(err error) error {
	parts := strings.SplitN(err.Error(), ": ", 3)
	if len(parts) != 3 || parts[0] != "template" {
		return err
	}
	return fmt.Errorf("parse error at (%s): %s", parts[1], parts[2])
}

// executionError turns text/template's chain (`template: <loc>: executing
// ... at <...>: error calling required: <why>`) into Helm's
// `execution error at (<loc>): <why>`, with the location of the innermost
// template that failed (inside an include, the line in the helper) and
// the innermost cause's message.
func executionError(file string, err error) error {
	var innermost *template.ExecError
	var deepest error
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ee, ok := e.(template.ExecError); ok {
			ee := ee
			innermost = &ee
		}
		deepest = e
	}
	if innermost == nil {
		return fmt.Errorf("execution error in (%s): %w", file, err)
	}
	parts := strings.SplitN(innermost.Error(), ": ", 3)
	if len(parts) != 3 {
		return fmt.Errorf("execution error in (%s): %w", file, err)
	}
	message := parts[2]
	if errors.Unwrap(innermost.Err) != nil {
		// The template machinery wrapped a function's own error; that
		// error is what the chart author wrote (required, fail).
		message = deepest.Error()
	}
	return fmt.Errorf("execution error at (%s): %s", parts[1], message)
}
