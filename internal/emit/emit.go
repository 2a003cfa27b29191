// Package emit holds what every artifact emitter of `emac compile` shares:
// the compiled journey an emitter reads and the files it writes. Each
// target lives in its own package under internal/emit and exposes
//
//	func Emit(in *emit.Input) ([]emit.File, error)
//
// Emitters are pure functions of their input: the same input gives
// byte-identical files (no maps iterated unsorted, no timestamps).
package emit

import (
	"sync"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
)

// Input is one journey, resolved and analysed.
type Input struct {
	// Journey is the resolved model (components with availabilities,
	// telemetry and domains; flow; policy).
	Journey *model.Journey
	// Spec is the journey's wire form as written (JourneyIntents converted).
	Spec *v1alpha1.Journey
	// Result is what `emac check -o json` prints for the journey.
	Result *v1alpha1.JourneyResult
	// Analysis is the engine's full result (contributors, domains, required
	// targets, binding scenario).
	Analysis *bounds.Result
	// Latency is the latency composition (CDF, bound, quantiles), nil when
	// the journey has none.
	Latency *latency.Result
	// Namespace for Kubernetes objects: the spec's metadata.namespace, or
	// "default".
	Namespace string
	// Formulas are the journey's bounds as PromQL-ready expressions; nil
	// until computed (the Prometheus emitters compute them when missing).
	Formulas *bounds.Formulas
	// Shared is what the journeys compiled together share (nil: nothing).
	Shared *Shared

	memo Shared
}

// Shared holds what emitters derive from text many journeys of one
// compilation repeat — a component's telemetry queries, parsed and
// rewritten once however many journeys call the component — built once
// per key (an Input's own memo is one too, for one journey). Safe for
// concurrent use; a nil *Shared builds every time.
type Shared struct {
	mu sync.Mutex
	m  map[any]*shared
}

type shared struct {
	once sync.Once
	v    any
	err  error
}

// Memo is what build gives under key, built once: key is a comparable
// value of a type of the deriving package, naming everything the value is
// derived from. What build returns is read by several journeys at once.
func (s *Shared) Memo(key any, build func() (any, error)) (any, error) {
	if s == nil {
		return build()
	}
	s.mu.Lock()
	e := s.m[key]
	if e == nil {
		if s.m == nil {
			s.m = map[any]*shared{}
		}
		e = &shared{}
		s.m[key] = e
	}
	s.mu.Unlock()
	// built outside the lock: journeys needing other keys go on
	e.once.Do(func() { e.v, e.err = build() })
	return e.v, e.err
}

// Memo is what build gives for this input under key, built once: what one
// emitter derives and others read too (the rules' plan, which the rollout
// gates are written from). key is a type of the deriving package, as for
// context values.
func (in *Input) Memo(key any, build func() (any, error)) (any, error) {
	return in.memo.Memo(key, build)
}

// Object is a Kubernetes object as emitters write it (yamlw field order:
// apiVersion, kind, metadata, spec).
type Object struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   map[string]any `yaml:"metadata"`
	Spec       any            `yaml:"spec"`
}

// Metadata is the metadata of an object emac writes for a journey: its
// name, namespace and the labels saying emac manages it for the journey.
func Metadata(name, namespace, journey string) map[string]any {
	return map[string]any{"name": name, "namespace": namespace,
		"labels": map[string]string{"app.kubernetes.io/managed-by": "emac", "emac.dev/journey": journey}}
}

// File is one artifact, at a slash-separated path relative to the
// journey's output directory (DIR/<journey>/).
type File struct {
	Path string
	Data []byte
}
