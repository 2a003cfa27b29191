package sim

import (
	"math/rand/v2"

	"github.com/emac-dev/emac/internal/model"
)

// walker executes a Program. Each worker owns one, so executions allocate
// nothing. To grow latency or traces, exec returns more than a bool and
// the per-operator cases compose it; the sampling of latent state stays
// as it is.
type walker struct {
	p   *Program
	rng rand.PCG
	// fired is each shared group's common cause in this execution.
	fired []bool
	// up is each persistent component's state in this execution.
	up []bool
}

func (p *Program) newWalker() *walker {
	return &walker{p: p, fired: make([]bool, len(p.causes)), up: make([]bool, len(p.persist))}
}

func (w *walker) seed(s1, s2 uint64) { w.rng.Seed(s1, s2) }

// draw is a Bernoulli draw succeeding with probability thr/2^53.
func (w *walker) draw(thr uint64) bool { return w.rng.Uint64()>>11 < thr }

// execute runs one journey execution and reports whether it succeeded.
func (w *walker) execute() bool {
	p := w.p
	for g, thr := range p.causes {
		w.fired[g] = w.draw(thr)
	}
	for s, ci := range p.persist {
		w.up[s] = w.draw(p.comps[ci].thr)
	}
	return w.exec(0)
}

// exec executes node n.
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
		cum := p.cum[in.cum : in.cum+in.n]
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
		// latency truncation comes with the latency model; for now a
		// timeout succeeds when its operand does
		return w.exec(kids[0])
	case model.Optional, model.Async:
		w.exec(kids[0])
		return true
	}
	panic("sim: unknown operator " + in.op.String())
}
