package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/input"
	"github.com/emac-dev/emac/internal/discovery/kube"
	"github.com/emac-dev/emac/internal/discovery/mesh"
	"github.com/emac-dev/emac/internal/discovery/nezha"
	"github.com/emac-dev/emac/internal/discovery/prom"
	"github.com/emac-dev/emac/internal/promapi"
)

// DiscoverOptions configure Discover; the zero value is the default.
type DiscoverOptions struct {
	Discovery discovery.Options
	Input     input.Options
	// Prometheus, when set, is the base URL of a Prometheus server (or
	// any server of its query API) to read the evidence from, as emac's
	// collector connector exported it, instead of trace files; the paths
	// may still name mesh configuration, topology and fault labels.
	Prometheus string
	// PrometheusRead configures the reading from Prometheus.
	PrometheusRead prom.Options
}

// Discovery is the outcome of reading evidence: the model, and the
// evidence for a delta against a spec.
type Discovery struct {
	Model    *v1alpha1.DiscoveredModel
	Evidence *discovery.Evidence
}

// Discover reads the trace files and directories in paths and infers
// the DiscoveredModel (SPEC §7). Bad records are counted in the model's
// problems; the error is for inputs that cannot be opened or read.
func Discover(ctx context.Context, paths []string, opts DiscoverOptions) (*Discovery, error) {
	files, err := input.Files(paths)
	if err != nil {
		return nil, err
	}
	// labels and configuration first: the rest are traces
	var traces, meshFiles []string
	var faults []discovery.Fault
	var topologies []*kube.Topology
	var problems []discovery.Problem
	var inputs []v1alpha1.DiscoveryInput
	for _, f := range files {
		head := peek(f)
		switch {
		case isMesh(head):
			meshFiles = append(meshFiles, f)
		case isTopology(head):
			topo, ps, err := readTopology(ctx, f)
			if err != nil {
				return nil, err
			}
			problems = append(problems, ps...)
			topologies = append(topologies, topo)
			inputs = append(inputs, v1alpha1.DiscoveryInput{Name: f, Format: "kubectl-json", Objects: len(topo.Pods) + len(topo.Nodes)})
		case bytes.Contains(head, []byte(`"inject_pod"`)):
			fs, err := readFaults(f)
			if err != nil {
				return nil, err
			}
			faults = append(faults, fs...)
			inputs = append(inputs, v1alpha1.DiscoveryInput{Name: f, Format: "nezha-faults", Objects: len(fs)})
		default:
			traces = append(traces, f)
		}
	}
	var ev *discovery.Evidence
	var basis string
	if opts.Prometheus != "" {
		if len(traces) > 0 {
			return nil, fmt.Errorf("%s: traces cannot be read with evidence from Prometheus (%s): give one or the other", traces[0], opts.Prometheus)
		}
		c, err := promapi.New(opts.Prometheus, nil, 30*time.Second)
		if err != nil {
			return nil, err
		}
		ro := opts.PrometheusRead
		ro.Discovery = opts.Discovery
		res, err := prom.Read(ctx, c, ro)
		if err != nil {
			return nil, err
		}
		ev, basis = res.Evidence, res.Basis
		for _, p := range problems {
			ev.Problem(p)
		}
		inputs = append(inputs, res.Input)
	} else {
		do := opts.Discovery
		if do.Workers == 0 {
			// fold on every core: the reader and the assembler share them
			do.Workers = runtime.GOMAXPROCS(0)
		}
		asm := discovery.NewAssembler(do)
		for _, p := range problems {
			asm.Problem(p)
		}
		ins, err := input.Read(ctx, traces, opts.Input, asm)
		ev = asm.Close() // also on an error: it stops the workers
		if err != nil {
			return nil, err
		}
		for _, in := range ins {
			inputs = append(inputs, v1alpha1.DiscoveryInput{Name: in.Name, Format: in.Format, Spans: in.Spans})
		}
	}
	for _, topo := range topologies {
		for _, p := range topo.Pods {
			ev.AddPlacement(p.Service.Value, p.Placement())
		}
	}
	var rs []v1alpha1.DiscoveredRoute
	if len(meshFiles) > 0 {
		cfg, problems, err := mesh.ReadPaths(ctx, meshFiles)
		if err != nil {
			return nil, err
		}
		for _, p := range problems {
			ev.Problem(p)
		}
		for _, f := range meshFiles {
			inputs = append(inputs, v1alpha1.DiscoveryInput{Name: f, Format: "mesh-config"})
		}
		rs = routes(cfg)
	}
	m := ev.Model(inputs)
	if basis != "" {
		m.Confidence, m.ConfidenceBasis = 0, basis
	}
	m.Routes = rs
	if len(faults) > 0 {
		m.Faults = ev.Faults(faults)
	}
	return &Discovery{Model: m, Evidence: ev}, nil
}

// isMesh says whether a file's head is mesh configuration: Istio,
// Gateway API or Linkerd objects.
func isMesh(head []byte) bool { return meshAPI.Match(head) }

// meshAPI is an apiVersion of a mesh's API group, in YAML or JSON (not
// merely the group's name, which traces' attributes may carry).
var meshAPI = regexp.MustCompile(`(?m)"?apiVersion"?\s*:\s*"?(networking\.istio\.io|gateway\.networking\.k8s\.io|linkerd\.io)/`)

// isTopology says whether a file's head is `kubectl get pods,nodes -o
// json` output (or a Pod or Node).
func isTopology(head []byte) bool {
	h := bytes.TrimSpace(head)
	return len(h) > 0 && h[0] == '{' && bytes.Contains(h, []byte(`"apiVersion"`)) &&
		(bytes.Contains(h, []byte(`"kind": "Pod"`)) || bytes.Contains(h, []byte(`"kind": "Node"`)) || bytes.Contains(h, []byte(`"kind":"Pod"`)) || bytes.Contains(h, []byte(`"kind":"Node"`)) ||
			bytes.Contains(h, []byte(`"kind": "List"`)) || bytes.Contains(h, []byte(`"kind":"List"`)))
}

func readTopology(ctx context.Context, name string) (*kube.Topology, []discovery.Problem, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return kube.Read(ctx, name, f)
}

// peek reads the first bytes of a file ("-" is not peeked: it is
// traces).
func peek(name string) []byte {
	if name == "-" {
		return nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, 4096)
	n, _ := io.ReadFull(f, b)
	return b[:n]
}

func readFaults(name string) ([]discovery.Fault, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fs, err := nezha.ReadFaults(name, f)
	if err != nil {
		return nil, fmt.Errorf("fault labels: %w", err)
	}
	var out []discovery.Fault
	for _, x := range fs {
		out = append(out, discovery.Fault{Service: x.Service, Start: x.Start, Type: x.Type, Source: x.Pos.String()})
	}
	return out, nil
}
