package bounds

import (
	"context"
	"fmt"
	"slices"

	"github.com/emac-dev/emac/internal/model"
)

// DefaultMaxFormula bounds the size of the pessimistic formula (expression
// nodes, written out as a tree) that Formula writes exactly.
const DefaultMaxFormula = 20000

// FormulaOptions configure Formula; the zero value is the default.
type FormulaOptions struct {
	// MaxSize bounds the pessimistic formula's size; 0 means
	// DefaultMaxFormula.
	MaxSize int
	// Bounds configures the engine run that picks the scenarios of regions
	// too large to write out.
	Bounds Options
	// Analysis, when the caller has already analysed the journey with
	// Bounds, gives that scenario (Binding, Persistent) so it is not
	// searched for again.
	Analysis *Result
}

// Formulas are a journey's bounds as functions of its components'
// availabilities.
type Formulas struct {
	// Optimistic is A+: every domain independent, every call transient.
	Optimistic *Expr
	// Pessimistic is A-: at each separator, the minimum over the scenarios
	// of the region below it.
	Pessimistic *Expr
	// Exact is false when some region had too many scenarios to write out:
	// there the formula takes the minimum over the independent scenario and
	// the one binding at the spec's availabilities only, so it can exceed
	// the true A- when live ratios make another scenario bind; and when a
	// deadline over redundancy truncates by a factor that depends on the
	// availabilities, which the formula keeps at the spec's.
	Exact bool
	// Scenarios counts the region scenarios written out (those that come
	// to the same expression once).
	Scenarios int
	Notes     []string
}

// Formula writes A+ and A- of j as expressions over its components'
// availabilities. The pessimistic formula enumerates, at every separator,
// each scenario the exact engine would consider without looking at the
// availabilities (harmless groups and dominated persistence choices are
// structural, so they hold for any values); it therefore equals A- for every
// assignment of availabilities, not only the spec's.
func Formula(ctx context.Context, j *model.Journey, opts FormulaOptions) (*Formulas, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	maxSize := opts.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxFormula
	}
	t, err := compile(j)
	if err != nil {
		return nil, err
	}
	y := newSymbolic(t)
	out := &Formulas{Exact: len(t.inexact) == 0}
	if !out.Exact {
		out.Notes = append(out.Notes, "a deadline over redundancy truncates its operand by a factor composed at the spec's availabilities: with live ratios the factor would move, the formula keeps it")
	}
	out.Optimistic = y.scenarioExpr(t.independent(), 0)

	rg := t.regions(opts.Bounds.budget())
	var binding *pessimistic
	e := y.e
	consts := map[int]*Expr{}
	size := 0
	for s := len(t.nodes) - 1; s >= 0; s-- {
		if rg.crossed[s] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cl := rg.pending[s]
		nd := &t.nodes[s]
		if len(cl) == 0 {
			switch nd.op {
			case model.Call:
				consts[s] = avail(t.comps[nd.comp])
			case model.Optional, model.Async:
				consts[s] = num(1)
			default:
				v := make([]*Expr, len(nd.children))
				for i, c := range nd.children {
					v[i] = consts[c]
				}
				consts[s] = y.combine(nd, v)
			}
			continue
		}
		for x := s + 1; x < nd.end; x++ {
			if v, ok := consts[x]; ok && !rg.crossed[x] {
				e.isConst[x] = true
				y.consts[x] = v
			}
		}
		y.plain = map[int]*Expr{}
		var terms []*Expr
		combos, ok := scenarioCombos(rg.base, cl, 1024)
		if ok {
			// a scenario equal to one before it costs nothing: it is
			// written once
			regionSize := 0
			hashes, byHash := map[*Expr]uint64{}, map[uint64][]*Expr{}
			for _, sc := range combos {
				x := y.scenarioExpr(sc, s)
				n := len(terms)
				if terms = distinct(terms, x, hashes, byHash); len(terms) == n {
					continue
				}
				if regionSize += x.Size(); size+regionSize > maxSize {
					ok = false
					break
				}
			}
		}
		if !ok {
			// too many to write out: the independent scenario and the one
			// binding at the spec's availabilities
			if binding == nil {
				var err error
				if binding, err = t.binding(ctx, opts); err != nil {
					return nil, err
				}
			}
			sc := rg.base.clone()
			for _, c := range cl {
				for _, di := range c.domains {
					sc.shared[di] = slices.Contains(binding.shared, di)
				}
				for _, ci := range c.choice {
					sc.persistent[ci] = slices.Contains(binding.persistent, ci)
				}
			}
			terms = []*Expr{y.scenarioExpr(rg.base, s), y.scenarioExpr(sc, s)}
			out.Exact = false
			out.Notes = append(out.Notes, fmt.Sprintf("the scenarios under %s are too many to write out: the pessimistic formula there takes the independent scenario and the one binding at the spec's availabilities", t.describe(s)))
		}
		// scenarios that come to the same expression are written once
		consts[s] = minOf(terms...)
		if consts[s].Op == ExprMin {
			out.Scenarios += len(consts[s].Args)
		} else {
			out.Scenarios++
		}
		size += consts[s].Size()
		for x := s + 1; x < nd.end; x++ {
			e.isConst[x] = false
		}
		clear(y.consts)
	}
	out.Pessimistic = consts[0]
	return out, nil
}

// binding is the scenario attaining A- at the spec's availabilities: the
// caller's analysis, or a search.
func (t *tree) binding(ctx context.Context, opts FormulaOptions) (*pessimistic, error) {
	if a := opts.Analysis; a != nil {
		var p pessimistic
		for di, d := range t.domains {
			if slices.Contains(a.Binding, d.name) {
				p.shared = append(p.shared, di)
			}
		}
		for _, c := range a.Persistent {
			p.persistent = append(p.persistent, t.cidx[c])
		}
		return &p, nil
	}
	p, err := t.pessimistic(ctx, opts.Bounds.budget())
	return &p, err
}

// scenarioCombos lists the scenarios of a region: the base with one option
// of each cluster; ok is false beyond limit or when a cluster's options
// could not be enumerated.
func scenarioCombos(base scenario, cl []*cluster, limit int) (out []scenario, ok bool) {
	n := 1
	for _, c := range cl {
		if c.over || len(c.options) == 0 {
			return nil, false
		}
		if n *= len(c.options); n > limit {
			return nil, false
		}
	}
	pick := make([]int, len(cl))
	for {
		sc := base.clone()
		for i, c := range cl {
			sc.apply(c.options[pick[i]])
		}
		out = append(out, sc)
		if !nextPick(pick, cl) {
			return out, true
		}
	}
}

// symbolic mirrors the evaluator with expressions for numbers: the same
// latent variables, laid out by the same marking, give the same
// computation written as a formula.
type symbolic struct {
	t      *tree
	e      *evaluator
	p      []*Expr       // per variable: probability of its bad state
	compP  []*Expr       // per component: success given its variables good
	consts map[int]*Expr // separator values inside the region
	plain  map[int]*Expr // untouched subtrees, per region
}

func newSymbolic(t *tree) *symbolic {
	return &symbolic{t: t, e: newEvaluator(t), consts: map[int]*Expr{}, plain: map[int]*Expr{}}
}

// scenarioExpr is the value of the subtree at root under sc.
func (y *symbolic) scenarioExpr(sc scenario, root int) *Expr {
	t, e := y.t, y.e
	e.prepare(root)
	e.setScenario(sc)
	e.close()
	y.compP = y.compP[:0]
	for _, c := range t.comps {
		y.compP = append(y.compP, avail(c))
	}
	y.p = make([]*Expr, len(e.vars))
	members := map[int][]string{}
	for ci, v := range e.compGroup {
		if v >= 0 {
			members[v] = append(members[v], t.comps[ci])
		}
	}
	for v, ms := range members {
		up := upOf(ms)
		y.p[v] = sub(num(1), up)
		for _, m := range ms {
			ci := t.cidx[m]
			y.compP[ci] = div(avail(m), up)
		}
	}
	for ci, v := range e.compPers {
		if v >= 0 {
			y.p[v] = sub(num(1), y.compP[ci])
			y.compP[ci] = num(1)
		}
	}
	e.reset()
	e.mark(root)
	x := y.value(root)
	e.unmark()
	return x
}

func (y *symbolic) factor(n int) *Expr {
	f := num(1)
	for _, v := range y.e.vitalAt[n] {
		f = mul(f, sub(num(1), y.p[v]))
	}
	return f
}

// value mirrors evaluator.value.
func (y *symbolic) value(n int) *Expr {
	e := y.e
	switch {
	case e.isConst[n]:
		return y.consts[n]
	case !e.touched[n]:
		return y.plainOf(n)
	case len(e.closeAt[n]) > 0:
		return y.node(n)[0]
	}
	nd := &y.t.nodes[n]
	if nd.op == model.Call {
		return mul(y.compP[nd.comp], y.factor(n))
	}
	vals := make([]*Expr, len(nd.children))
	for i, c := range nd.children {
		vals[i] = y.value(c)
	}
	return mul(y.combine(nd, vals), y.factor(n))
}

// node mirrors evaluator.node.
func (y *symbolic) node(n int) []*Expr {
	e := y.e
	if e.isConst[n] || !e.touched[n] || len(e.cross[n])+len(e.closeAt[n]) == 0 {
		return []*Expr{y.value(n)}
	}
	nd := &y.t.nodes[n]
	W, nc, bits := e.layout(n)
	tables := make([][]*Expr, len(nd.children))
	for i, c := range nd.children {
		tables[i] = y.node(c)
	}
	out := make([]*Expr, 1<<nc)
	for i := range out {
		out[i] = num(0)
	}
	f := y.factor(n)
	for w := 0; w < 1<<len(W); w++ {
		v := num(0)
		switch {
		case nd.op != model.Call:
			vals := make([]*Expr, len(tables))
			for i := range tables {
				vals[i] = tables[i][childIndex(w, bits[i])]
			}
			v = y.combine(nd, vals)
		case !e.down(nd.comp, W, w):
			v = y.compP[nd.comp]
		}
		weight := f
		for b := nc; b < len(W); b++ {
			p := y.p[W[b]]
			if w>>b&1 == 1 {
				weight = mul(weight, p)
			} else {
				weight = mul(weight, sub(num(1), p))
			}
		}
		out[w&(1<<nc-1)] = add(out[w&(1<<nc-1)], mul(weight, v))
	}
	return out
}

// plainOf is the value of a subtree no variable touches.
func (y *symbolic) plainOf(n int) *Expr {
	if x, ok := y.plain[n]; ok {
		return x
	}
	var x *Expr
	nd := &y.t.nodes[n]
	switch {
	case y.e.isConst[n]:
		x = y.consts[n]
	case nd.op == model.Call:
		x = avail(y.t.comps[nd.comp])
	case nd.op == model.Optional || nd.op == model.Async:
		x = num(1)
	default:
		vals := make([]*Expr, len(nd.children))
		for i, c := range nd.children {
			vals[i] = y.plainOf(c)
		}
		x = y.combine(nd, vals)
	}
	y.plain[n] = x
	return x
}

// combine mirrors the package's combine for expressions.
func (y *symbolic) combine(nd *tnode, v []*Expr) *Expr {
	switch nd.op {
	case model.Seq, model.All:
		return mul(v...)
	case model.Race, model.Fallback:
		q := make([]*Expr, len(v))
		for i, x := range v {
			q[i] = sub(num(1), x)
		}
		return sub(num(1), mul(q...))
	case model.Quorum:
		// dp[j] = P(exactly j successes so far), capped at k
		dp := make([]*Expr, nd.k+1)
		for j := range dp {
			dp[j] = num(0)
		}
		dp[0] = num(1)
		for _, x := range v {
			for j := nd.k; j >= 0; j-- {
				s := mul(dp[j], sub(num(1), x))
				if j == nd.k {
					s = dp[j]
				}
				if j > 0 {
					s = add(s, mul(dp[j-1], x))
				}
				dp[j] = s
			}
		}
		return dp[nd.k]
	case model.Branch:
		terms := make([]*Expr, len(v))
		for i, x := range v {
			terms[i] = mul(num(nd.weights[i]), x)
		}
		return add(terms...)
	case model.Retry:
		return sub(num(1), pow(sub(num(1), truncated(nd, v[0])), nd.attempts))
	case model.Timeout:
		return truncated(nd, v[0])
	case model.Optional, model.Async:
		return num(1)
	}
	return v[0]
}

// truncated is x with its deadline's truncation applied.
func truncated(nd *tnode, x *Expr) *Expr {
	if nd.trunc == 1 {
		return x
	}
	return mul(num(nd.trunc), x)
}
