package main

import (
	"fmt"
	"strings"
)

const usage = `streamfront-helm-template: render a Helm chart offline (an approximation of helm template)

Usage: streamfront-helm-template [flags] CHART_DIR

  -f, --values FILE        values file merged over the chart's values.yaml (repeatable, in order)
      --set K=V[,K=V]      values in Helm's --set syntax, typed (ints, bools, null) (repeatable)
      --set-string K=V     as --set, every value a string (repeatable)
  -n, --namespace NAME     .Release.Namespace (default "default")
      --release-name NAME  .Release.Name (default "streamfront")
      --kube-version V     .Capabilities.KubeVersion (default v1.32.0)
  -a, --api-versions GV    extra .Capabilities.APIVersions entry (repeatable)
      --notes              print the rendered templates/NOTES.txt instead of the manifests
  -o, --output FORMAT      yaml (default) or json: [{"source": ..., "document": {...}}]
  -h, --help               this text
`

// options is the parsed command line.
type options struct {
	chartDir    string
	valuesFiles []string
	set         []string
	setString   []string
	namespace   string
	releaseName string
	kubeVersion string
	apiVersions []string
	notes       bool
	output      string
	help        bool
}

// parseOptions reads Helm-style flags: `--flag value`, `--flag=value`, short
// aliases, and flags before or after the chart directory. The standard flag
// package stops at the first positional argument and has no short aliases,
// which is why this is hand-written.
func parseOptions(args []string) (options, error) {
	opts := options{namespace: "default", releaseName: "streamfront", kubeVersion: defaultKubeVersion, output: "yaml"}
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg, "=")
		// value takes the flag's argument, from `=` or from the next word.
		takeValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag needs an argument: %s", name)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch name {
		case "-f", "--values":
			v, err = takeValue()
			opts.valuesFiles = append(opts.valuesFiles, v)
		case "--set":
			v, err = takeValue()
			opts.set = append(opts.set, v)
		case "--set-string":
			v, err = takeValue()
			opts.setString = append(opts.setString, v)
		case "-n", "--namespace":
			opts.namespace, err = takeValue()
		case "--release-name":
			opts.releaseName, err = takeValue()
		case "--kube-version":
			opts.kubeVersion, err = takeValue()
		case "-a", "--api-versions":
			v, err = takeValue()
			// Helm accepts a comma-separated list as well as repeats.
			for _, gv := range strings.Split(v, ",") {
				if gv != "" {
					opts.apiVersions = append(opts.apiVersions, gv)
				}
			}
		case "-o", "--output":
			opts.output, err = takeValue()
			if err == nil && opts.output != "yaml" && opts.output != "json" {
				err = fmt.Errorf("invalid --output %q: yaml or json", opts.output)
			}
		case "--notes":
			opts.notes = true
		case "-h", "--help":
			opts.help = true
		default:
			err = fmt.Errorf("unknown flag: %s", name)
		}
		if err != nil {
			return opts, err
		}
	}
	if opts.help {
		return opts, nil
	}
	if len(positional) != 1 {
		return opts, fmt.Errorf("%w: exactly one chart directory is needed, got %d arguments", errUsage, len(positional))
	}
	opts.chartDir = positional[0]
	return opts, nil
}
