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
