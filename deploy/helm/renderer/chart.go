package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Metadata is Chart.yaml, with the Go field names templates use
// (.Chart.Name, .Chart.AppVersion, .Chart.APIVersion ...), as in Helm.
type Metadata struct {
	Name         string            `json:"name,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version,omitempty"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []*Maintainer     `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

// Maintainer is one entry of Chart.yaml's maintainers.
type Maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// templateFile is one file under templates/, named as Helm names it:
// <chart name>/templates/<path>.
type templateFile struct {
	name string
	data string
}

// chart is a chart directory loaded into memory.
type chart struct {
	Metadata  *Metadata
	Values    map[string]interface{}
	Schema    []byte // values.schema.json, nil when the chart has none
	Templates []templateFile
	Files     Files
}

func (c *chart) notesName() string { return c.Metadata.Name + "/templates/NOTES.txt" }

// loadChart reads a chart directory. Files that Helm consumes itself
// (Chart.yaml, values.yaml, the schema) and templates/ are not in .Files;
// everything else is, unless .helmignore names it.
func loadChart(dir string) (*chart, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a chart: %w", dir, err)
	}
	meta := &Metadata{}
	if err := yaml.Unmarshal(raw, meta); err != nil {
		return nil, fmt.Errorf("cannot load Chart.yaml: %w", err)
	}
	if meta.Name == "" {
		return nil, fmt.Errorf("validation: chart.metadata.name is required")
	}
	if meta.Version == "" {
		return nil, fmt.Errorf("validation: chart.metadata.version is required")
	}
	if len(meta.Dependencies) > 0 {
		return nil, fmt.Errorf("chart %s has dependencies: subcharts are not supported by this renderer", meta.Name)
	}
	c := &chart{Metadata: meta, Values: map[string]interface{}{}, Files: Files{}}

	if raw, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if err := yaml.Unmarshal(raw, &c.Values); err != nil {
			return nil, fmt.Errorf("cannot load values.yaml: %w", err)
		}
		if c.Values == nil {
			c.Values = map[string]interface{}{}
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "values.schema.json")); err == nil {
		c.Schema = raw
	} else if !os.IsNotExist(err) {
		return nil, err
	}

	ignore, err := loadHelmignore(filepath.Join(dir, ".helmignore"))
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignore.ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if rel == "charts" {
				return fmt.Errorf("chart %s has a charts/ folder: subcharts are not supported by this renderer", meta.Name)
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			c.Templates = append(c.Templates, templateFile{name: path.Join(meta.Name, rel), data: string(data)})
		case rel == "Chart.yaml" || rel == "Chart.lock" || rel == "values.yaml" || rel == "values.schema.json" ||
			rel == "requirements.yaml" || rel == "requirements.lock" || rel == ".helmignore":
			// Helm reads these itself; they are not chart files.
		default:
			c.Files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// helmignore is the simple subset of .helmignore this renderer honours:
// one glob a line, `#` comments, a trailing `/` for folders only, a
// pattern with no `/` matching a name at any depth. Negation (`!`) is not
// supported and is refused rather than silently misread.
type helmignore struct {
	patterns []ignorePattern
}

type ignorePattern struct {
	glob    string
	dirOnly bool
	rooted  bool // has a `/`: matched against the whole relative path
}

func loadHelmignore(file string) (*helmignore, error) {
	h := &helmignore{}
	raw, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return h, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			return nil, fmt.Errorf(".helmignore: negated pattern %q is not supported by this renderer", line)
		}
		p := ignorePattern{}
		if strings.HasSuffix(line, "/") {
			p.dirOnly = true
			line = strings.TrimSuffix(line, "/")
		}
		line = strings.TrimPrefix(line, "/")
		p.rooted = strings.Contains(line, "/")
		if _, err := path.Match(line, ""); err != nil {
			return nil, fmt.Errorf(".helmignore: bad pattern %q: %w", line, err)
		}
		p.glob = line
		h.patterns = append(h.patterns, p)
	}
	return h, nil
}

func (h *helmignore) ignored(rel string, isDir bool) bool {
	for _, p := range h.patterns {
		if p.dirOnly && !isDir {
			continue
		}
		subject := rel
		if !p.rooted {
			subject = path.Base(rel)
		}
		if ok, _ := path.Match(p.glob, subject); ok {
			return true
		}
	}
	return false
}
