package main

import (
	"encoding/base64"
	"path"
	"regexp"
	"strings"
)

// Files is .Files: the chart's non-template files by path relative to the
// chart directory.
type Files map[string][]byte

// Get is a file's content as a string, "" when there is no such file.
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes is a file's content as bytes, nil when there is no such file.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Glob is the files whose path matches pattern, as a Files value (so
// `.Files.Glob "x/*" | .AsConfig` works). `*` stays within a folder, `**`
// crosses folders, `?`, `[...]` and `{a,b}` are as in shells.
func (f Files) Glob(pattern string) Files {
	re, err := globRegexp(pattern)
	out := Files{}
	if err != nil {
		return out
	}
	for name, data := range f {
		if re.MatchString(name) {
			out[name] = data
		}
	}
	return out
}

// AsConfig is the files as a ConfigMap's data: YAML keyed by base name.
func (f Files) AsConfig() string {
	if len(f) == 0 {
		return ""
	}
	m := make(map[string]string, len(f))
	for name, data := range f {
		m[path.Base(name)] = string(data)
	}
	return toYAML(m)
}

// AsSecrets is the files as a Secret's data: YAML keyed by base name,
// each value base64.
func (f Files) AsSecrets() string {
	if len(f) == 0 {
		return ""
	}
	m := make(map[string]string, len(f))
	for name, data := range f {
		m[path.Base(name)] = base64.StdEncoding.EncodeToString(data)
	}
	return toYAML(m)
}

// Lines is a file's lines, without the final newline's empty line.
func (f Files) Lines(name string) []string {
	data, ok := f[name]
	if !ok || len(data) == 0 {
		return []string{}
	}
	s := strings.TrimSuffix(string(data), "\n")
	return strings.Split(s, "\n")
}

// globRegexp translates a glob into an anchored regular expression.
func globRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	inBraces := false
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '*' && i+1 < len(rs) && rs[i+1] == '*':
			b.WriteString(".*")
			i++
		case r == '*':
			b.WriteString("[^/]*")
		case r == '?':
			b.WriteString("[^/]")
		case r == '[':
			end := -1
			for j := i + 1; j < len(rs); j++ {
				if rs[j] == ']' {
					end = j
					break
				}
			}
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := string(rs[i+1 : end])
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i = end
		case r == '{':
			inBraces = true
			b.WriteString("(?:")
		case r == '}' && inBraces:
			inBraces = false
			b.WriteString(")")
		case r == ',' && inBraces:
			b.WriteString("|")
		case r == '\\' && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
