package discovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/otlp"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// feed gives the simulator's traces to a sink as emac discover does:
// written as OTLP JSON, read back by the OTLP reader.
func feed(t testing.TB, td *trace.TracesData, sink discovery.Sink) {
	t.Helper()
	b, err := td.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := otlp.ReadJSON(context.Background(), "traces.json", bytes.NewReader(b), sink); err != nil {
		t.Fatal(err)
	}
}

func discover(t testing.TB, j *model.Journey, n int, seed uint64) *discovery.Evidence {
	t.Helper()
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: n, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	a := discovery.NewAssembler(discovery.Options{})
	feed(t, td, a)
	return a.Close()
}

// timed gives every component a latency distribution: 20–80ms medians.
func timed(j *model.Journey) {
	for i, n := range j.ComponentNames() {
		p50 := time.Duration(20+(i*17)%60) * time.Millisecond
		j.Components[n].Latency = []model.LatencyPoint{{Quantile: 0.5, Value: p50}, {Quantile: 0.99, Value: 3 * p50}}
	}
}

// TestDeterministic: the model does not depend on the order of the
// input: the same traces, their resources in reverse order, give the
// same bytes.
func TestDeterministic(t *testing.T) {
	j, err := model.Build("j", roundTrips[3], map[string]float64{"a": 0.9, "b": 0.9, "c": 0.9, "d": 0.9, "e": 0.9, "f": 0.9, "g": 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	timed(j)
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 500, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	model := func(td *trace.TracesData) []byte {
		a := discovery.NewAssembler(discovery.Options{})
		feed(t, td, a)
		b, err := json.Marshal(a.Close().Model(nil))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := model(td)
	slices.Reverse(td.ResourceSpans)
	if second := model(td); !bytes.Equal(first, second) {
		t.Errorf("the model changed with the input's order:\n%s\n%s", first, second)
	}
}

// TestWindow: a window too small for the input's layout (here a trace's
// spans lie a resource apart) sees traces in parts, and says so.
func TestWindow(t *testing.T) {
	j, err := model.Build("j", "Series(a, b)", map[string]float64{"a": 0.9, "b": 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	timed(j)
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: 300, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := discovery.NewAssembler(discovery.Options{MaxSpans: 100})
	feed(t, td, a)
	m := a.Close().Model(nil)
	if m.Problems == nil || m.Problems.Counts["incomplete"] == 0 {
		t.Errorf("a 100-span window over 300 traces grouped by service reported no incomplete trace: %+v", m.Problems)
	}
}
