package sim

import (
	"math"
	"math/rand/v2"

	"github.com/emac-dev/emac/internal/model"
)

// walker executes a Program. Each worker owns one, so executions allocate
// nothing. exec runs the flow for its outcome only, timed for its outcome
// and duration; both draw outcomes (latent state, calls, Branch cases)
// from rng in the same order, and timed draws durations from lat. A
// recording Program's walker also reports what timed runs, and when.
type walker struct {
	p *Program
	// rng draws outcomes, lat durations.
	rng, lat rand.PCG
	// fired is each shared group's common cause in this execution.
	fired []bool
	// up is each persistent component's state in this execution.
	up []bool
	// stack holds the operands' durations of the Quorums being run.
	stack []float64
	top   int
	// rec collects what a recording Program runs (record.go); aux draws
	// the durations of what runs under an Async there.
	rec *recorder
	aux rand.PCG
	// coupling joins the durations one execution draws; u is its shared
	// uniform and flip alternates it for AntitheticDurations.
	coupling Coupling
	u        float64
	flip     bool
}

func (p *Program) newWalker() *walker {
	return &walker{p: p, fired: make([]bool, len(p.causes)), up: make([]bool, len(p.persist)), stack: make([]float64, p.stack)}
}

func (w *walker) seed(s1, s2 uint64) {
	w.rng.Seed(s1, s2)
	w.lat.Seed(mix(s1^0x3c6ef372fe94f82b), mix(s2^0xa54ff53a5f1d36f1))
}

// draw is a Bernoulli draw succeeding with probability thr/2^53.
func (w *walker) draw(thr uint64) bool { return w.rng.Uint64()>>11 < thr }

// uniform is a duration stream draw, uniform in (0, 1).
func (w *walker) uniform() float64 { return (float64(w.lat.Uint64()>>11) + 0.5) * 0x1p-53 }

// coupled is uniform as the coupling joins the execution's draws.
func (w *walker) coupled() float64 {
	if w.coupling == ComonotoneDurations {
		return w.u
	}
	w.flip = !w.flip
	if w.flip {
		return w.u
	}
	return 1 - w.u
}

// duration draws from s.
func (w *walker) duration(s *sampler) float64 {
	if s.m == nil {
		return s.v
	}
	if w.coupling != IndependentDurations {
		return s.m.Quantile(w.coupled())
	}
	return s.m.Quantile(w.uniform())
}

// latent samples the scenario's latent state for one execution.
func (w *walker) latent() {
	p := w.p
	for g, thr := range p.causes {
		w.fired[g] = w.draw(thr)
	}
	for s, ci := range p.persist {
		w.up[s] = w.draw(p.comps[ci].thr)
	}
}

// execute runs one journey execution and reports whether it succeeded.
func (w *walker) execute() bool {
	w.latent()
	return w.exec(0)
}

// executeTimed runs one journey execution and reports whether it
// succeeded and how long it took, in seconds.
func (w *walker) executeTimed() (bool, float64) {
	w.latent()
	if w.coupling != IndependentDurations {
		w.u, w.flip = w.uniform(), false
	}
	return w.timed(0, 0)
}

// exec executes node n for its outcome.
func (w *walker) exec(n int32) bool {
	p := w.p
	in := &p.nodes[n]
	if in.op == model.Call {
		// calls are most nodes: handled before slicing the operands
		c := &p.comps[in.comp]
		if c.group >= 0 && w.fired[c.group] {
			return false
		}
		if c.slot >= 0 {
			return w.up[c.slot]
		}
		return w.draw(c.thr)
	}
	kids := p.kids[in.first : in.first+in.n]
	switch in.op {
	case model.Seq:
		for _, k := range kids {
			if !w.exec(k) {
				return false
			}
		}
		return true
	case model.All:
		ok := true
		for _, k := range kids {
			if !w.exec(k) {
				ok = false
			}
		}
		return ok
	case model.Race:
		ok := false
		for _, k := range kids {
			if w.exec(k) {
				ok = true
			}
		}
		return ok
	case model.Fallback:
		for _, k := range kids {
			if w.exec(k) {
				return true
			}
		}
		return false
	case model.Quorum:
		got := int32(0)
		for _, k := range kids {
			if w.exec(k) {
				got++
			}
		}
		return got >= in.k
	case model.Branch:
		u := w.rng.Uint64() >> 11
		cum := p.cum[in.aux : in.aux+in.n]
		for i, t := range cum {
			if u < t {
				return w.exec(kids[i])
			}
		}
		return w.exec(kids[len(kids)-1])
	case model.Retry:
		for range in.k {
			if w.exec(kids[0]) {
				return true
			}
		}
		return false
	case model.Timeout:
		// Without time a deadline never fires: exec runs a Timeout only
		// where its outcome does not matter (Program.timed is false).
		return w.exec(kids[0])
	case model.Optional, model.Async, opDetach:
		w.exec(kids[0])
		return true
	case opRecord:
		return w.exec(kids[0])
	}
	panic("sim: unknown operator " + in.op.String())
}

// inf is the duration of a failed call under a deadline: the deadline
// ends it.
var inf = math.Inf(1)

// timed executes node n, which starts at time at (seconds into the
// execution), and returns its outcome and its duration in seconds from its
// start (docs/semantics.md, "Execution with time"). Only a recording
// Program reads at (record.go).
func (w *walker) timed(n int32, at float64) (bool, float64) {
	p := w.p
	in := &p.nodes[n]
	if in.op == model.Call {
		c := &p.comps[in.comp]
		var ok bool
		switch {
		case c.group >= 0 && w.fired[c.group]:
		case c.slot >= 0:
			ok = w.up[c.slot]
		default:
			ok = w.draw(c.thr)
		}
		l := &p.lat[in.comp]
		switch {
		case ok:
			return true, w.duration(&l.succ)
		case in.dl && !l.stated:
			return false, inf
		}
		return false, w.duration(&l.fail)
	}
	kids := p.kids[in.first : in.first+in.n]
	switch in.op {
	case model.Seq:
		t := 0.0
		for _, k := range kids {
			ok, d := w.timed(k, at+t)
			t += d
			if !ok {
				return false, t
			}
		}
		return true, t
	case model.All:
		ok, t := true, 0.0
		for _, k := range kids {
			o, d := w.timed(k, at)
			ok = ok && o
			t = max(t, d)
		}
		return ok, t
	case model.Race:
		h := p.par[in.aux]
		ok, first, last := false, inf, 0.0
		for i, k := range kids {
			s := float64(i) * h
			o, d := w.timed(k, at+s)
			d += s
			if o {
				ok, first = true, min(first, d)
			} else {
				last = max(last, d)
			}
		}
		if ok {
			return true, first
		}
		return false, last
	case model.Fallback:
		t := 0.0
		for _, k := range kids {
			ok, d := w.timed(k, at+t)
			t += d
			if ok {
				return true, t
			}
		}
		return false, t
	case model.Quorum:
		// successes fill the front of the scratch, failures the back
		base := w.top
		w.top += len(kids)
		ds := w.stack[base:w.top]
		s, f := 0, len(ds)
		for _, k := range kids {
			ok, d := w.timed(k, at)
			if ok {
				ds[s] = d
				s++
			} else {
				f--
				ds[f] = d
			}
		}
		w.top = base
		if k := int(in.k); s >= k {
			return true, smallest(ds[:s], k)
		}
		return false, smallest(ds[f:], len(kids)-int(in.k)+1)
	case model.Branch:
		u := w.rng.Uint64() >> 11
		cum := p.cum[in.aux : in.aux+in.n]
		for i, t := range cum {
			if u < t {
				return w.timed(kids[i], at)
			}
		}
		return w.timed(kids[len(kids)-1], at)
	case model.Retry:
		perTry, backoff := p.par[in.aux], p.par[in.aux+1]
		t := 0.0
		for i := range in.k {
			if i > 0 {
				t += backoff
			}
			ok, d := w.timed(kids[0], at+t)
			if perTry > 0 && d > perTry {
				ok, d = false, perTry
			}
			t += d
			if ok {
				return true, t
			}
		}
		return false, t
	case model.Timeout:
		after := p.par[in.aux]
		ok, d := w.timed(kids[0], at)
		if d > after {
			return false, after
		}
		return ok, d
	case model.Optional:
		_, d := w.timed(kids[0], at)
		return true, d
	case model.Async:
		// not waited for: its outcomes are drawn, its durations are not
		w.exec(kids[0])
		return true, 0
	case opDetach:
		w.detached(kids[0], at)
		return true, 0
	case opRecord:
		ok, d := w.timed(kids[0], at)
		w.rec.add(in.aux, at, d, ok)
		return ok, d
	}
	panic("sim: unknown operator " + in.op.String())
}

// smallest returns the k-th smallest of ds (k ≥ 1), reordering ds.
func smallest(ds []float64, k int) float64 {
	for i := range k {
		m := i
		for j := i + 1; j < len(ds); j++ {
			if ds[j] < ds[m] {
				m = j
			}
		}
		ds[i], ds[m] = ds[m], ds[i]
	}
	return ds[k-1]
}
