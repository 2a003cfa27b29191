// Package compile turns journey specs into the artifacts of SPEC §6 (the
// `emac compile` service): it loads and checks the specs, analyses each
// journey and runs every emitter on it. The CLI and the controller both
// drive it.
package compile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/prometheus"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/service"
)

// Emitter writes one target's artifacts for a journey.
type Emitter struct {
	Name string
	Emit func(*emit.Input) ([]emit.File, error)
}

// Options configure Compile; the zero value is the default.
type Options struct {
	Check service.Options
	// Emitters to run; nil means Default.
	Emitters []Emitter
}

// Journey is one compiled journey.
type Journey struct {
	Name  string
	Input *emit.Input
	// Files are the journey's artifacts, sorted by path.
	Files []emit.File
}

// Result is the outcome of a compilation: the journeys compiled, or the
// spec problems found (then nothing is compiled).
type Result struct {
	Check    *service.Report
	Journeys []Journey
}

// Compile loads the inputs, checks every journey and emits its artifacts.
// Spec problems are returned in the report's diagnostics; the error is for
// failures of emac itself.
func Compile(ctx context.Context, paths []string, opts Options) (*Result, error) {
	rep, err := service.Check(ctx, paths, opts.Check)
	if err != nil {
		return nil, err
	}
	res := &Result{Check: rep}
	if rep.Diagnostics.HasErrors() {
		return res, nil
	}
	ins := make([]*emit.Input, len(rep.Journeys))
	for i, j := range rep.Journeys {
		in := &emit.Input{Journey: j, Result: &rep.Result.Journeys[i], Analysis: rep.Analyses[i], Latency: rep.Latencies[i], Namespace: "default"}
		if i < len(rep.Specs) && rep.Specs[i] != nil {
			in.Spec = rep.Specs[i]
			if ns := rep.Specs[i].Metadata.Namespace; ns != "" {
				in.Namespace = ns
			}
		}
		ins[i] = in
	}
	if res.Journeys, err = EmitAll(ctx, ins, opts); err != nil {
		return nil, err
	}
	return res, nil
}

// Journeys analyses and compiles journeys that are already loaded (from
// the API server, or generated), opts.Check.Parallelism at a time, in the
// order given.
func Journeys(ctx context.Context, js []*model.Journey, namespace string, opts Options) ([]Journey, error) {
	as, err := service.AssessAll(ctx, js, opts.Check)
	if err != nil {
		return nil, err
	}
	ins := make([]*emit.Input, len(js))
	for i, a := range as {
		if a.Err != nil {
			return nil, fmt.Errorf("journey %s: %w", js[i].Name, a.Err)
		}
		ins[i] = &emit.Input{Journey: js[i], Result: a.Result, Analysis: a.Analysis, Latency: a.Latency, Namespace: namespace}
	}
	return EmitAll(ctx, ins, opts)
}

// EmitAll runs the emitters on analysed journeys, opts.Check.Parallelism
// at a time; the journeys are in the order of ins. They share one
// emit.Shared, unless an input has its own.
func EmitAll(ctx context.Context, ins []*emit.Input, opts Options) ([]Journey, error) {
	out := make([]Journey, len(ins))
	sh := &emit.Shared{}
	for _, in := range ins {
		if in.Shared == nil {
			in.Shared = sh
		}
	}
	err := service.Each(ctx, len(ins), opts.Check.Parallelism, func(ctx context.Context, i int) error {
		cj, err := Emit(ctx, ins[i], opts)
		if err != nil {
			return err
		}
		out[i] = *cj
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Emit runs the emitters on one analysed journey.
func Emit(ctx context.Context, in *emit.Input, opts Options) (*Journey, error) {
	ems := opts.Emitters
	if ems == nil {
		ems = Default()
	}
	j := in.Journey
	if in.Formulas == nil {
		f, err := bounds.Formula(ctx, j, bounds.FormulaOptions{MaxSize: prometheus.MaxFormula, Bounds: opts.Check.Bounds, Analysis: in.Analysis})
		if err != nil {
			return nil, fmt.Errorf("journey %s: %w", j.Name, err)
		}
		in.Formulas = f
	}
	cj := &Journey{Name: j.Name, Input: in}
	for _, e := range ems {
		fs, err := e.Emit(in)
		if err != nil {
			return nil, fmt.Errorf("journey %s: %s: %w", j.Name, e.Name, err)
		}
		cj.Files = append(cj.Files, fs...)
	}
	slices.SortFunc(cj.Files, func(a, b emit.File) int { return strings.Compare(a.Path, b.Path) })
	for k := 1; k < len(cj.Files); k++ {
		if cj.Files[k].Path == cj.Files[k-1].Path {
			return nil, fmt.Errorf("journey %s: two emitters write %s", j.Name, cj.Files[k].Path)
		}
	}
	return cj, nil
}

// Write stores the journeys' files under dir/<journey>/.
func (r *Result) Write(dir string) error {
	for _, j := range r.Journeys {
		for _, f := range j.Files {
			p := filepath.Join(dir, j.Name, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
