package bounds

import (
	"maps"
	"math"
	"slices"
)

// ExprOp is the operation of an Expr node.
type ExprOp uint8

// Expression operations.
const (
	ExprConst ExprOp = iota // Value
	ExprAvail               // the availability of Comp
	ExprUp                  // the largest availability among Comps
	ExprAdd                 // the sum of Args
	ExprMul                 // the product of Args
	ExprSub                 // Args[0] − Args[1]
	ExprDiv                 // Args[0] / Args[1]
	ExprMin                 // the least of Args
	ExprPow                 // Args[0] to the power Value (a whole number)
)

// Expr is an arithmetic expression over component availabilities: the
// journey's bounds written as formulas, so that other systems (Prometheus
// rules, rollout gates) can recompute them from live ratios. Expressions
// are trees; a subtree may be shared between parents and is then written
// out once per use.
type Expr struct {
	Op    ExprOp
	Value float64
	Comp  string
	Comps []string
	Args  []*Expr
}

// Eval evaluates the expression with the given availabilities.
func (x *Expr) Eval(a func(comp string) float64) float64 {
	switch x.Op {
	case ExprConst:
		return x.Value
	case ExprAvail:
		return a(x.Comp)
	case ExprUp:
		m := 0.0
		for _, c := range x.Comps {
			m = max(m, a(c))
		}
		return m
	case ExprAdd:
		s := 0.0
		for _, y := range x.Args {
			s += y.Eval(a)
		}
		return s
	case ExprMul:
		p := 1.0
		for _, y := range x.Args {
			p *= y.Eval(a)
		}
		return p
	case ExprSub:
		return x.Args[0].Eval(a) - x.Args[1].Eval(a)
	case ExprDiv:
		d := x.Args[1].Eval(a)
		if d == 0 {
			return 0 // a group whose best member is down: its members are down
		}
		return x.Args[0].Eval(a) / d
	case ExprMin:
		m := math.Inf(1)
		for _, y := range x.Args {
			m = min(m, y.Eval(a))
		}
		return m
	case ExprPow:
		return math.Pow(x.Args[0].Eval(a), x.Value)
	}
	panic("bounds: unknown expression op")
}

// Fold returns the expression with every subtree that reads only fixed
// components (those fixed reports a value for) replaced by its value, so
// that a writer never has to treat an operation on numbers as a vector.
// Shared subtrees stay shared; x is unchanged. The values are those Eval
// gives.
func (x *Expr) Fold(fixed func(comp string) (float64, bool)) *Expr {
	done := map[*Expr]*Expr{}
	var fold func(*Expr) *Expr
	fold = func(y *Expr) *Expr {
		if f, ok := done[y]; ok {
			return f
		}
		f := y
		switch y.Op {
		case ExprAvail:
			if v, ok := fixed(y.Comp); ok {
				f = num(v)
			}
		case ExprUp:
			all := true
			for _, c := range y.Comps {
				_, ok := fixed(c)
				all = all && ok
			}
			if all {
				f = num(y.Eval(func(c string) float64 { v, _ := fixed(c); return v }))
			}
		case ExprConst:
		default:
			args := make([]*Expr, len(y.Args))
			changed, constant := false, true
			for i, z := range y.Args {
				args[i] = fold(z)
				changed = changed || args[i] != z
				constant = constant && args[i].Op == ExprConst
			}
			switch {
			case constant:
				f = num((&Expr{Op: y.Op, Value: y.Value, Args: args}).Eval(nil))
			case changed && y.Op == ExprMin:
				// terms that differed only in what is now folded are
				// one term
				f = minOf(args...)
			case changed:
				f = &Expr{Op: y.Op, Value: y.Value, Args: args}
			}
		}
		done[y] = f
		return f
	}
	return fold(x)
}

// Size is the number of nodes of the expression written out as a tree.
func (x *Expr) Size() int {
	n := 1
	for _, y := range x.Args {
		n += y.Size()
	}
	return n
}

// Components lists the components the expression reads, sorted.
func (x *Expr) Components() []string {
	seen := map[string]bool{}
	var walk func(*Expr)
	walk = func(y *Expr) {
		switch y.Op {
		case ExprAvail:
			seen[y.Comp] = true
		case ExprUp:
			for _, c := range y.Comps {
				seen[c] = true
			}
		}
		for _, z := range y.Args {
			walk(z)
		}
	}
	walk(x)
	return slices.Sorted(maps.Keys(seen))
}

// The constructors fold constants, so that the expressions stay small.

// zero and one are the constants formulas are built from most, made once:
// expressions are never modified once built, so they are shared.
var zero, one = &Expr{Op: ExprConst, Value: 0}, &Expr{Op: ExprConst, Value: 1}

func num(v float64) *Expr {
	switch {
	case v == 1:
		return one
	case v == 0 && !math.Signbit(v):
		return zero
	}
	return &Expr{Op: ExprConst, Value: v}
}

func (x *Expr) isConst(v float64) bool { return x.Op == ExprConst && x.Value == v }

func avail(c string) *Expr { return &Expr{Op: ExprAvail, Comp: c} }

func upOf(comps []string) *Expr {
	if len(comps) == 1 {
		return avail(comps[0])
	}
	return &Expr{Op: ExprUp, Comps: comps}
}

func mul(xs ...*Expr) *Expr {
	c := 1.0
	var args []*Expr
	// a product of two, one of them 1, is the other: what factor and
	// value build most
	if len(xs) == 2 && xs[0] == one && xs[1].Op != ExprMul && xs[1].Op != ExprConst {
		return xs[1]
	}
	if len(xs) == 2 && xs[1] == one && xs[0].Op != ExprMul && xs[0].Op != ExprConst {
		return xs[0]
	}
	for _, x := range xs {
		switch {
		case x.Op == ExprConst:
			c *= x.Value
		case x.Op == ExprMul:
			for _, y := range x.Args {
				if y.Op == ExprConst {
					c *= y.Value
				} else {
					args = append(args, y)
				}
			}
		default:
			args = append(args, x)
		}
	}
	if c == 0 || len(args) == 0 {
		return num(c)
	}
	if c != 1 {
		args = append([]*Expr{num(c)}, args...)
	}
	if len(args) == 1 {
		return args[0]
	}
	return &Expr{Op: ExprMul, Args: args}
}

func add(xs ...*Expr) *Expr {
	c := 0.0
	var args []*Expr
	for _, x := range xs {
		switch {
		case x.Op == ExprConst:
			c += x.Value
		case x.Op == ExprAdd:
			for _, y := range x.Args {
				if y.Op == ExprConst {
					c += y.Value
				} else {
					args = append(args, y)
				}
			}
		default:
			args = append(args, x)
		}
	}
	if len(args) == 0 {
		return num(c)
	}
	if c != 0 {
		args = append(args, num(c))
	}
	if len(args) == 1 {
		return args[0]
	}
	return &Expr{Op: ExprAdd, Args: args}
}

func sub(a, b *Expr) *Expr {
	switch {
	case b.isConst(0):
		return a
	case a.Op == ExprConst && b.Op == ExprConst:
		return num(a.Value - b.Value)
	case b.Op == ExprSub && a.isConst(1) && b.Args[0].isConst(1):
		return b.Args[1] // 1 − (1 − x)
	}
	return &Expr{Op: ExprSub, Args: []*Expr{a, b}}
}

func div(a, b *Expr) *Expr {
	if b.isConst(1) || a.isConst(0) {
		return a
	}
	return &Expr{Op: ExprDiv, Args: []*Expr{a, b}}
}

func pow(x *Expr, n int) *Expr {
	switch {
	case n == 1:
		return x
	case x.Op == ExprConst:
		return num(math.Pow(x.Value, float64(n)))
	}
	return &Expr{Op: ExprPow, Value: float64(n), Args: []*Expr{x}}
}

// minOf is the least of xs, each written once: scenarios of a region
// often come to the same expression (the formula of two choices that the
// region's structure makes equal), and min(x, x) is x.
func minOf(xs ...*Expr) *Expr {
	var args []*Expr
	hashes := map[*Expr]uint64{}
	byHash := map[uint64][]*Expr{}
	for _, x := range xs {
		if x.Op == ExprMin {
			// a least of leasts is one least
			for _, y := range x.Args {
				args = distinct(args, y, hashes, byHash)
			}
			continue
		}
		args = distinct(args, x, hashes, byHash)
	}
	if len(args) == 1 {
		return args[0]
	}
	return &Expr{Op: ExprMin, Args: args}
}

// distinct appends x to args unless an equal expression is there; byHash
// indexes args by hash.
func distinct(args []*Expr, x *Expr, hashes map[*Expr]uint64, byHash map[uint64][]*Expr) []*Expr {
	h := x.hash(hashes)
	for _, y := range byHash[h] {
		if x.Equal(y) {
			return args
		}
	}
	byHash[h] = append(byHash[h], x)
	return append(args, x)
}

// hash is a hash of x's structure: equal expressions hash the same.
// memo holds the hashes of the subtrees met, which formulas share.
func (x *Expr) hash(memo map[*Expr]uint64) uint64 {
	if h, ok := memo[x]; ok {
		return h
	}
	const prime = 1099511628211 // FNV-1a's
	h := uint64(14695981039346656037)
	mix := func(v uint64) { h = (h ^ v) * prime }
	str := func(s string) {
		for i := range len(s) {
			mix(uint64(s[i]))
		}
		mix(0xff)
	}
	mix(uint64(x.Op))
	mix(math.Float64bits(x.Value))
	str(x.Comp)
	for _, c := range x.Comps {
		str(c)
	}
	for _, y := range x.Args {
		mix(y.hash(memo))
	}
	memo[x] = h
	return h
}

// Equal reports whether x and y are the same expression: the same
// operations on the same components and numbers (to the bit), in the same
// order.
func (x *Expr) Equal(y *Expr) bool {
	if x == y {
		return true
	}
	if x.Op != y.Op || math.Float64bits(x.Value) != math.Float64bits(y.Value) || x.Comp != y.Comp ||
		!slices.Equal(x.Comps, y.Comps) || len(x.Args) != len(y.Args) {
		return false
	}
	for i, a := range x.Args {
		if !a.Equal(y.Args[i]) {
			return false
		}
	}
	return true
}
