package service

import (
	"context"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/input"
)

// DiscoverOptions configure Discover; the zero value is the default.
type DiscoverOptions struct {
	Discovery discovery.Options
	Input     input.Options
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
	asm := discovery.NewAssembler(opts.Discovery)
	ins, err := input.Read(ctx, files, opts.Input, asm)
	if err != nil {
		return nil, err
	}
	ev := asm.Close()
	var inputs []v1alpha1.DiscoveryInput
	for _, in := range ins {
		inputs = append(inputs, v1alpha1.DiscoveryInput{Name: in.Name, Format: in.Format, Spans: in.Spans})
	}
	return &Discovery{Model: ev.Model(inputs), Evidence: ev}, nil
}
