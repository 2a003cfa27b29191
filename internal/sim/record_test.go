package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
)

// record returns the first n recorded executions of j for the seed.
func record(t *testing.T, j *model.Journey, sc Scenario, n int, seed uint64) []Execution {
	t.Helper()
	p, err := Compile(j, sc)
	if err != nil {
		t.Fatal(err)
	}
	var out []Execution
	if err := p.Record(context.Background(), n, seed, func(e Execution) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecordIsTheExecution: recorded executions are those the fast paths
// run for the seed, outcome and duration bit for bit, on random journeys
// over every operator (deadlines, hedges, async, shared domains,
// persistent components), across chunk boundaries.
func TestRecordIsTheExecution(t *testing.T) {
	cuts := map[Cut]int{}
	for seed := uint64(0); seed < 40; seed++ {
		n := 500
		if seed%8 == 0 {
			n = chunkSize + 100 // across a chunk boundary
		}
		j := gen.Random(seed, gen.RandomOptions{Leaves: 3 + int(seed%9), Domains: int(seed % 4)})
		sc := Independent()
		if seed%2 == 1 {
			sc = Named(j.DomainNames(), nil)
		}
		p, err := Compile(j, sc)
		if err != nil {
			t.Fatal(err)
		}
		recs := record(t, j, sc, n, seed)
		if len(recs) != n {
			t.Fatalf("seed %d: got %d executions, want %d", seed, len(recs), n)
		}
		timed, plain := p.newWalker(), p.newWalker()
		for i, e := range recs {
			if i%chunkSize == 0 {
				timed.seed(chunkSeed(seed, i/chunkSize))
				plain.seed(chunkSeed(seed, i/chunkSize))
			}
			ok, d := timed.executeTimed()
			if e.Index != i || e.Root.OK != ok || e.Root.End != d || e.Root.Start != 0 {
				t.Fatalf("seed %d (%s), execution %d: recorded #%d %v in %v, executed %v in %v", seed, j.Flow, i, e.Index, e.Root.OK, e.Root.End, ok, d)
			}
			if !p.timed {
				if o := plain.execute(); o != ok {
					t.Fatalf("seed %d (%s), execution %d: untimed %v, timed %v", seed, j.Flow, i, o, ok)
				}
			}
			if err := wellFormed(e.Root, false); err != nil {
				t.Fatalf("seed %d (%s), execution %d: %v\n%s", seed, j.Flow, i, err, dump(e.Root))
			}
			for _, s := range flatten(e.Root) {
				cuts[map[string]Cut{"none": NotCut, "deadline": Deadline, "cancelled": Cancelled}[s.Cut]]++
			}
		}
	}
	if cuts[Deadline] == 0 || cuts[Cancelled] == 0 {
		t.Errorf("got cuts %v: the journeys do not exercise both kinds", cuts)
	}
}

// wellFormed checks a recorded step against the Step contract: finite
// times, operands within their parent (unless detached), a Seq's steps
// back to back, a Retry's attempts numbered in order, cuts failed.
func wellFormed(s *Step, detached bool) error {
	if math.IsInf(s.End, 0) || math.IsNaN(s.End) || s.End < s.Start-eps {
		return fmt.Errorf("%s: times [%v, %v]", s.Node, s.Start, s.End)
	}
	if s.Cut != NotCut && s.OK {
		return fmt.Errorf("%s: cut (%s) but OK", s.Node, s.Cut)
	}
	for i, c := range s.Steps {
		if s.Node.Op != model.Async && (c.Start < s.Start-eps || c.End > s.End+eps) {
			return fmt.Errorf("%s [%v, %v]: operand %s runs [%v, %v]", s.Node, s.Start, s.End, c.Node, c.Start, c.End)
		}
		if s.Node.Op == model.Retry && s.Attempt == 0 && c.Attempt != i+1 {
			return fmt.Errorf("%s: attempt %d numbered %d", s.Node, i+1, c.Attempt)
		}
		if (s.Node.Op == model.Seq || s.Node.Op == model.Fallback) && i > 0 && math.Abs(c.Start-s.Steps[i-1].End) > eps {
			return fmt.Errorf("%s: step %d starts at %v, the previous ended at %v", s.Node, i, c.Start, s.Steps[i-1].End)
		}
		if err := wellFormed(c, detached || s.Node.Op == model.Async); err != nil {
			return err
		}
	}
	return nil
}

// dump writes a step tree, one step a line, for failure messages.
func dump(s *Step) string {
	var b strings.Builder
	var walk func(s *Step, depth int)
	walk = func(s *Step, depth int) {
		name := s.Node.Op.String()
		if s.Node.Op == model.Call {
			name = s.Node.Component
		}
		if s.Attempt > 0 {
			name += fmt.Sprintf(" attempt %d", s.Attempt)
		}
		fmt.Fprintf(&b, "%s%s [%.4g, %.4g] ok=%v cut=%s\n", strings.Repeat("  ", depth), name, s.Start, s.End, s.OK, s.Cut)
		for _, c := range s.Steps {
			walk(c, depth+1)
		}
	}
	walk(s, 0)
	return b.String()
}

// span is a step flattened for comparisons: its path, times in ms,
// outcome and cut.
type span struct {
	Path       string
	Start, End float64
	OK         bool
	Cut        string
}

func flatten(s *Step) []span {
	var out []span
	var walk func(s *Step, path string)
	walk = func(s *Step, path string) {
		name := s.Node.Op.String()
		if s.Node.Op == model.Call {
			name = s.Node.Component
		}
		if s.Attempt > 0 {
			name = fmt.Sprintf("#%d", s.Attempt)
		}
		if path != "" {
			path += "/"
		}
		path += name
		ms := func(v float64) float64 { return math.Round(v*1e6) / 1e3 }
		out = append(out, span{path, ms(s.Start), ms(s.End), s.OK, s.Cut.String()})
		for _, c := range s.Steps {
			walk(c, path)
		}
	}
	walk(s, "")
	return out
}

// TestRecordOperators holds each operator's recorded shape on journeys
// whose components always succeed (1) or fail (0) in fixed times, so
// each execution is known.
func TestRecordOperators(t *testing.T) {
	ms := time.Millisecond
	f := func(d time.Duration) lat { return fixed(d) }
	tests := []struct {
		name  string
		flow  string
		avail map[string]float64
		lats  map[string]lat
		want  []span
	}{
		{"seq runs its steps in order", "Seq(a, b)", map[string]float64{"a": 1, "b": 1},
			map[string]lat{"a": f(10 * ms), "b": f(20 * ms)},
			[]span{{"Series", 0, 30, true, "none"}, {"Series/a", 0, 10, true, "none"}, {"Series/b", 10, 30, true, "none"}}},
		{"seq stops at a failure", "Seq(a, b)", map[string]float64{"a": 0, "b": 1},
			map[string]lat{"a": f(10 * ms).failing(5 * ms), "b": f(20 * ms)},
			[]span{{"Series", 0, 5, false, "none"}, {"Series/a", 0, 5, false, "none"}}},
		{"all overlaps its branches", "All(a, b)", map[string]float64{"a": 1, "b": 1},
			map[string]lat{"a": f(10 * ms), "b": f(20 * ms)},
			[]span{{"All", 0, 20, true, "none"}, {"All/a", 0, 10, true, "none"}, {"All/b", 0, 20, true, "none"}}},
		{"a hedge wins and the first is cancelled", "Race[hedgeAfter=50ms](a, b)", map[string]float64{"a": 1, "b": 1},
			map[string]lat{"a": f(100 * ms), "b": f(20 * ms)},
			[]span{{"Race", 0, 70, true, "none"}, {"Race/a", 0, 70, false, "cancelled"}, {"Race/b", 50, 70, true, "none"}}},
		{"a race won before the hedge sends none", "Race[hedgeAfter=50ms](a, b)", map[string]float64{"a": 1, "b": 1},
			map[string]lat{"a": f(30 * ms), "b": f(20 * ms)},
			[]span{{"Race", 0, 30, true, "none"}, {"Race/a", 0, 30, true, "none"}}},
		{"a failed first try is hedged", "Race[hedgeAfter=50ms](a, b)", map[string]float64{"a": 0, "b": 1},
			map[string]lat{"a": f(30 * ms).failing(5 * ms), "b": f(20 * ms)},
			[]span{{"Race", 0, 70, true, "none"}, {"Race/a", 0, 5, false, "none"}, {"Race/b", 50, 70, true, "none"}}},
		{"fallback after a failure", "Fallback(a, b)", map[string]float64{"a": 0, "b": 1},
			map[string]lat{"a": f(10 * ms).failing(5 * ms), "b": f(20 * ms)},
			[]span{{"Fallback", 0, 25, true, "none"}, {"Fallback/a", 0, 5, false, "none"}, {"Fallback/b", 5, 25, true, "none"}}},
		{"fallback not needed", "Fallback(a, b)", map[string]float64{"a": 1, "b": 1},
			map[string]lat{"a": f(10 * ms), "b": f(20 * ms)},
			[]span{{"Fallback", 0, 10, true, "none"}, {"Fallback/a", 0, 10, true, "none"}}},
		{"quorum cancels the slowest", "Quorum[k=2](a, b, c)", map[string]float64{"a": 1, "b": 1, "c": 1},
			map[string]lat{"a": f(10 * ms), "b": f(30 * ms), "c": f(20 * ms)},
			[]span{{"Quorum", 0, 20, true, "none"}, {"Quorum/a", 0, 10, true, "none"}, {"Quorum/b", 0, 20, false, "cancelled"}, {"Quorum/c", 0, 20, true, "none"}}},
		{"retries with per-try timeouts and backoff", "Retry[attempts=3, perTryTimeout=50ms, backoff=10ms](a)", map[string]float64{"a": 1},
			map[string]lat{"a": f(100 * ms)},
			[]span{{"Retry", 0, 170, false, "none"},
				{"Retry/#1", 0, 50, false, "deadline"}, {"Retry/#1/a", 0, 50, false, "deadline"},
				{"Retry/#2", 60, 110, false, "deadline"}, {"Retry/#2/a", 60, 110, false, "deadline"},
				{"Retry/#3", 120, 170, false, "deadline"}, {"Retry/#3/a", 120, 170, false, "deadline"}}},
		{"a retry that succeeds stops", "Retry[attempts=3, backoff=10ms](a)", map[string]float64{"a": 1},
			map[string]lat{"a": f(100 * ms)},
			[]span{{"Retry", 0, 100, true, "none"}, {"Retry/#1", 0, 100, true, "none"}, {"Retry/#1/a", 0, 100, true, "none"}}},
		{"a timeout cuts its operand at the deadline", "Timeout[after=50ms](Seq(a, b))", map[string]float64{"a": 1, "b": 1},
			map[string]lat{"a": f(30 * ms), "b": f(30 * ms)},
			[]span{{"Timeout", 0, 50, false, "deadline"}, {"Timeout/Series", 0, 50, false, "deadline"},
				{"Timeout/Series/a", 0, 30, true, "none"}, {"Timeout/Series/b", 30, 50, false, "deadline"}}},
		{"a failure with no stated latency lasts until the deadline", "Timeout[after=50ms](Fallback(a, b))", map[string]float64{"a": 0, "b": 1},
			map[string]lat{"a": f(30 * ms), "b": f(10 * ms)},
			[]span{{"Timeout", 0, 50, false, "deadline"}, {"Timeout/Fallback", 0, 50, false, "deadline"},
				{"Timeout/Fallback/a", 0, 50, false, "deadline"}}},
		{"async is detached", "Seq(a, Async(b), c)", map[string]float64{"a": 1, "b": 1, "c": 1},
			map[string]lat{"a": f(10 * ms), "b": f(100 * ms), "c": f(20 * ms)},
			[]span{{"Series", 0, 30, true, "none"}, {"Series/a", 0, 10, true, "none"}, {"Series/Async", 10, 10, true, "none"},
				{"Series/Async/b", 10, 110, true, "none"}, {"Series/c", 10, 30, true, "none"}}},
		{"optional tolerates a failure", "Seq(Optional(a), b)", map[string]float64{"a": 0, "b": 1},
			map[string]lat{"a": f(10 * ms).failing(5 * ms), "b": f(20 * ms)},
			[]span{{"Series", 0, 25, true, "none"}, {"Series/Optional", 0, 5, true, "none"}, {"Series/Optional/a", 0, 5, false, "none"}, {"Series/b", 5, 25, true, "none"}}},
		{"branch runs one case", "Branch(1: a, 0: b)", map[string]float64{"a": 1, "b": 1},
			map[string]lat{"a": f(10 * ms), "b": f(20 * ms)},
			[]span{{"Branch", 0, 10, true, "none"}, {"Branch/a", 0, 10, true, "none"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := buildLat(t, tc.flow, tc.avail, tc.lats)
			for _, e := range record(t, j, Independent(), 3, 1) {
				if diff := cmp.Diff(tc.want, flatten(e.Root)); diff != "" {
					t.Fatalf("execution %d (-want +got):\n%s", e.Index, diff)
				}
			}
		})
	}
}

// TestRecordOps: the recording operators are none of model's.
func TestRecordOps(t *testing.T) {
	for _, op := range []model.Op{opRecord, opDetach} {
		if !strings.HasPrefix(op.String(), "Op(") {
			t.Errorf("recording operator %d is model's %s", op, op)
		}
	}
}

func TestRecordErrors(t *testing.T) {
	j := buildLat(t, "Seq(a, b)", map[string]float64{"a": 0.9, "b": 0.9}, nil)
	p, err := Compile(j, Independent())
	if err != nil {
		t.Fatal(err)
	}
	none := func(Execution) error { return nil }
	if err := p.Record(context.Background(), 0, 1, none); err == nil || !strings.Contains(err.Error(), "at least one") {
		t.Errorf("got %v for 0 executions", err)
	}
	stop := errors.New("stop")
	calls := 0
	err = p.Record(context.Background(), 10, 1, func(Execution) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("got %v after %d calls, want f's error after 1", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Record(ctx, 10, 1, none); err != context.Canceled {
		t.Errorf("got %v for a cancelled context", err)
	}
}
