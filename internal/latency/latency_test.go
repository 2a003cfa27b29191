package latency

import (
	"math"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/model"
)

// lognormal is the distribution two points define.
func lognormal(q1 float64, v1 time.Duration, q2 float64, v2 time.Duration) (mu, sigma float64) {
	sigma = math.Log(v2.Seconds()/v1.Seconds()) / (probit(q2) - probit(q1))
	return math.Log(v1.Seconds()) - sigma*probit(q1), sigma
}

func journey(flow *model.Node, comps ...*model.Component) *model.Journey {
	j := &model.Journey{Name: "j", Flow: flow, Components: map[string]*model.Component{}, Objective: model.Objective{Availability: 0.9}}
	for _, c := range comps {
		j.Components[c.Name] = c
	}
	return j
}

func call(c string) *model.Node { return &model.Node{Op: model.Call, Component: c} }

func comp(name string, a float64, p50, p99 time.Duration) *model.Component {
	return &model.Component{Name: name, Availability: a, Latency: []model.LatencyPoint{{Quantile: 0.5, Value: p50}, {Quantile: 0.99, Value: p99}}}
}

func TestSingleCall(t *testing.T) {
	j := journey(call("a"), comp("a", 0.999, 40*time.Millisecond, 120*time.Millisecond))
	r, err := Analyze(j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mu, sigma := lognormal(0.5, 40*time.Millisecond, 0.99, 120*time.Millisecond)
	for _, q := range r.Quantiles {
		want := math.Exp(mu + sigma*probit(q.Level))
		if got := q.Value.Seconds(); math.Abs(got-want)/want > 1e-3 {
			t.Errorf("p%v = %v, want %v", q.Level*100, got, want)
		}
	}
	if math.Abs(r.Availability-0.999) > 1e-12 {
		t.Errorf("availability = %v, want 0.999", r.Availability)
	}
	t.Logf("%+v", r.Quantiles)
}

func TestTimeoutExact(t *testing.T) {
	a := comp("a", 0.999, 40*time.Millisecond, 120*time.Millisecond)
	j := journey(&model.Node{Op: model.Timeout, After: 100 * time.Millisecond, Children: []*model.Node{call("a")}}, a)
	r, err := Analyze(j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := FromPoints(a.Latency)
	want := 0.999 * m.CDF(0.1)
	if math.Abs(r.Availability-want) > 1e-12 {
		t.Errorf("availability = %.15f, want %.15f", r.Availability, want)
	}
}

func TestSeqTwo(t *testing.T) {
	j := journey(&model.Node{Op: model.Seq, Children: []*model.Node{call("a"), call("b")}},
		comp("a", 0.999, 40*time.Millisecond, 120*time.Millisecond), comp("b", 0.99, 10*time.Millisecond, 200*time.Millisecond))
	r, err := Analyze(j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ma, _ := FromPoints(j.Components["a"].Latency)
	mb, _ := FromPoints(j.Components["b"].Latency)
	// P(A+B ≤ t) by quadrature over A's quantiles
	cdf := func(t float64) float64 {
		const n = 200000
		s := 0.0
		for i := range n {
			s += mb.CDF(t - ma.Quantile((float64(i)+0.5)/n))
		}
		return s / n
	}
	for _, q := range r.Quantiles {
		if got := cdf(q.Value.Seconds()); math.Abs(got-q.Level) > 1e-3*(1-q.Level)*10 {
			t.Errorf("p%v = %v: its CDF is %v", q.Level*100, q.Value, got)
		}
	}
	t.Logf("%+v res %v err %v", r.Quantiles, r.Resolution, r.Error)
}

func TestBoundSeqComonotone(t *testing.T) {
	var kids []*model.Node
	var comps []*model.Component
	for i := range 16 {
		n := string(rune('a' + i))
		kids = append(kids, call(n))
		comps = append(comps, comp(n, 0.9999, time.Duration(10+i)*time.Millisecond, time.Duration(40+5*i)*time.Millisecond))
	}
	j := journey(&model.Node{Op: model.Seq, Children: kids}, comps...)
	r, err := Analyze(j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range r.Quantiles {
		// comonotone: every leaf at the same quantile
		co := 0.0
		for _, c := range comps {
			m, _ := FromPoints(c.Latency)
			co += m.Quantile(q.Level)
		}
		if q.Upper.Seconds() < co || q.Upper < q.Value {
			t.Errorf("p%v: upper %v below comonotone %v or independent %v", q.Level*100, q.Upper, co, q.Value)
		}
		t.Logf("p%v independent %v comonotone %.4f upper %v", q.Level*100, q.Value, co, q.Upper)
	}
}

// TestRobustWithoutDeadlines: without deadlines, the bound that conditions
// on nothing is the bound of sums, joins, races and fallbacks it
// generalises, to the lattice's step.
func TestRobustWithoutDeadlines(t *testing.T) {
	a := comp("a", 0.999, 40*time.Millisecond, 120*time.Millisecond)
	b := comp("b", 0.99, 10*time.Millisecond, 200*time.Millisecond)
	c := comp("c", 0.95, 25*time.Millisecond, 60*time.Millisecond)
	op := func(o model.Op, kids ...*model.Node) *model.Node { return &model.Node{Op: o, Children: kids} }
	for _, flow := range []*model.Node{
		op(model.Seq, call("a"), call("b"), call("c")),
		op(model.All, call("a"), call("b"), call("c")),
		op(model.Seq, call("a"), op(model.Race, call("b"), call("c"))),
		op(model.Seq, op(model.Fallback, call("c"), call("b")), call("a")),
		op(model.Seq, call("a"), &model.Node{Op: model.Retry, Attempts: 3, Backoff: 10 * time.Millisecond, Children: []*model.Node{call("c")}}),
	} {
		j := journey(flow, a, b, c)
		comp := &composer{succ: map[string]Marginal{}, fail: map[string]Marginal{}, closing: closings(j),
			prob: func(n string) float64 { return j.Components[n].Availability }}
		for _, n := range j.ComponentNames() {
			comp.succ[n], _, _ = Of(j.Components[n])
		}
		bd := newBounder(&lattice{h: 2e-3, n: 512, up: true}, comp)
		old := bd.bound(flow, false).s
		rb := robust{b: bd}.bound(flow, false, true)
		for i, v := range rb.s.u {
			got := max(0, 1-v/rb.lo)
			if math.Abs(got-old[i]) > 1e-9 && old[i] > 0 {
				t.Errorf("%s at %v: robust %.12f, bound %.12f", flow, float64(i)*bd.l.h, got, old[i])
				break
			}
		}
	}
}

// TestSamples: trace durations as a marginal — the empirical CDF and its
// quantiles (the ⌈qn⌉-th smallest), and a sequence of two sampled calls
// composed exactly on a lattice their durations lie on.
func TestSamples(t *testing.T) {
	if _, err := FromSamples(nil); err == nil {
		t.Error("no samples: got no error")
	}
	if _, err := FromSamples([]time.Duration{-time.Millisecond}); err == nil {
		t.Error("a negative duration: got no error")
	}
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	s, err := FromSamples(ms(40, 10, 30, 20))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ t, want float64 }{{0.005, 0}, {0.01, 0.25}, {0.025, 0.5}, {0.04, 1}} {
		if got := s.CDF(c.t); got != c.want {
			t.Errorf("CDF(%v) = %v, want %v", c.t, got, c.want)
		}
	}
	for _, c := range []struct{ q, want float64 }{{0.25, 0.01}, {0.5, 0.02}, {0.51, 0.03}, {0.99, 0.04}} {
		if got := s.Quantile(c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	// a + b with each uniform on {10, 20, 30, 40} ms: P(sum ≤ 50ms) = 10/16
	l := &lattice{h: 0.01, n: 16}
	c := &composer{l: l, succ: map[string]Marginal{"a": s, "b": s}, fail: map[string]Marginal{}, prob: func(string) float64 { return 1 }}
	sum, _ := c.compose(&model.Node{Op: model.Seq, Children: []*model.Node{call("a"), call("b")}}, false, false)
	if got := l.cdf(sum)[5]; math.Abs(got-10.0/16) > 1e-12 {
		t.Errorf("P(a + b ≤ 50ms) = %v, want %v", got, 10.0/16)
	}
}
