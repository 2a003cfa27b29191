// Package sim estimates a journey's availability by Monte-Carlo: it runs
// the journey as a process under one correlation scenario of SPEC §4 and
// counts successful executions. It is the independent check of the exact
// engine (internal/bounds), written without it.
//
// One execution first samples the latent state the scenario defines — each
// shared group's common cause and each persistent component's up/down
// state — then walks the flow with execution semantics: a Seq stops at its
// first failed step, a Fallback tries its next operand only after a
// failure, a Retry re-executes its operand until it succeeds or runs out of
// attempts, a Branch draws one case, All, Race and Quorum run every
// operand, Optional and Async run their operand and ignore its outcome.
// Transient calls draw their outcome when they are made.
package sim

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/emac-dev/emac/internal/model"
)

// Scenario is one correlation scenario of SPEC §4.
//
// The scenario a bounds.Result names as binding is
// Named(r.Binding, r.Persistent): components declared persistent are
// persistent in every scenario, so Result.Persistent leaves them out and so
// may a Scenario.
type Scenario struct {
	// Shared lists the failure domains with shared fate; overlapping shared
	// domains merge into one group with one common cause. Other domains
	// are independent.
	Shared []string
	// Persistent lists components of unknown invocation model whose
	// invocations share one up/down state per execution; other unknown
	// components are transient. Components declared persistent or
	// transient keep their declared model (naming a declared transient one
	// is an error).
	Persistent []string
}

// Independent is the optimistic scenario of A+: every domain independent,
// every component of unknown invocation model transient.
func Independent() Scenario { return Scenario{} }

// Named is the scenario sharing the given domains and making the given
// components persistent, e.g. Named(r.Binding, r.Persistent) for the
// scenario attaining a bounds.Result's A-.
func Named(shared, persistent []string) Scenario {
	return Scenario{Shared: shared, Persistent: persistent}
}

// Result is the outcome of an estimate.
type Result struct {
	// N is the number of executions, Successes the successful ones.
	N, Successes int
	// P is the success proportion, StdErr its standard error
	// √(P(1−P)/N).
	P, StdErr float64
	// Lo and Hi bound the 95% Wilson score interval of the availability.
	Lo, Hi float64
}

// Wilson returns the Wilson score interval at the given confidence level
// (e.g. 0.999). Unlike the normal approximation it stays inside [0, 1] and
// keeps its coverage when P is close to 1, as availabilities are.
func (r Result) Wilson(confidence float64) (lo, hi float64) {
	return wilson(r.Successes, r.N, math.Sqrt2*math.Erfinv(confidence))
}

// z95 is the two-sided 95% standard normal quantile.
const z95 = 1.959963984540054

func wilson(s, n int, z float64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(s) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, center-half), min(1, center+half)
}

// Estimate runs n executions of the journey under the scenario and returns
// the success proportion with its uncertainty. The result depends only on
// the journey, the scenario, n and seed, never on scheduling: executions
// are split into fixed chunks, each with its own seed derived from seed.
func Estimate(ctx context.Context, j *model.Journey, sc Scenario, n int, seed uint64) (Result, error) {
	p, err := Compile(j, sc)
	if err != nil {
		return Result{}, err
	}
	return p.Run(ctx, n, seed)
}

// chunkSize is the number of executions per chunk. Results for a seed
// depend on it, so it is fixed.
const chunkSize = 1 << 12

// Run performs n executions of the compiled journey across
// runtime.GOMAXPROCS workers; see Estimate.
func (p *Program) Run(ctx context.Context, n int, seed uint64) (Result, error) {
	if n <= 0 {
		return Result{}, fmt.Errorf("sim: %d executions requested, need at least one", n)
	}
	chunks := (n + chunkSize - 1) / chunkSize
	counts := make([]int, chunks)
	workers := min(runtime.GOMAXPROCS(0), chunks)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := p.newWalker()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks || ctx.Err() != nil {
					return
				}
				w.seed(chunkSeed(seed, c))
				m := min(chunkSize, n-c*chunkSize)
				s := 0
				for range m {
					if w.execute() {
						s++
					}
				}
				counts[c] = s
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	s := 0
	for _, c := range counts {
		s += c
	}
	r := Result{N: n, Successes: s, P: float64(s) / float64(n)}
	r.StdErr = math.Sqrt(r.P * (1 - r.P) / float64(n))
	r.Lo, r.Hi = wilson(s, n, z95)
	return r, nil
}

// chunkSeed derives the PCG seed of one chunk by SplitMix64 finalisation,
// so that neighbouring chunks get unrelated streams.
func chunkSeed(seed uint64, chunk int) (uint64, uint64) {
	mix := func(z uint64) uint64 {
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	a := mix(seed + 0x9e3779b97f4a7c15*uint64(2*chunk+1))
	return a, mix(a ^ seed ^ 0x6a09e667f3bcc909)
}

// Program is a journey compiled for simulation under one scenario: the
// flow as a flat pre-order array and the scenario as per-component
// thresholds. It is immutable and safe for concurrent Runs.
type Program struct {
	nodes []inst
	kids  []int32
	// cum holds the cumulative weight thresholds of every Branch.
	cum   []uint64
	comps []compInfo
	// causes are the common-cause thresholds of the shared groups.
	causes []uint64
	// persist lists the persistent components by state slot.
	persist []int32
	names   []string
}

// inst is one flow node.
type inst struct {
	op model.Op
	// kids[first:first+n] are the operands; cum[first:first+n] the
	// cumulative weights of a Branch.
	first, n int32
	// comp is the component of a Call.
	comp int32
	// k is a Quorum's k or a Retry's attempts.
	k int32
	// cum is the offset of a Branch's thresholds in Program.cum.
	cum int32
}

// compInfo is how a component's calls succeed under the scenario.
type compInfo struct {
	// group is the shared group whose common cause fails the calls, or -1.
	group int32
	// slot is the persistent state slot, or -1 for a transient component.
	slot int32
	// thr is the success threshold of a transient call or of the
	// persistent state: a_i, or q_i = a_i/(1−c_G) in a shared group.
	thr uint64
}

// one is 2^53: a uniform 53-bit draw u succeeds with probability p when
// u < p·2^53.
const one = 1 << 53

func threshold(p float64) uint64 {
	switch {
	case !(p > 0):
		return 0
	case p >= 1:
		return one
	}
	return uint64(p * one)
}

// Compile prepares a journey for simulation under a scenario.
func Compile(j *model.Journey, sc Scenario) (*Program, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	p := &Program{names: j.ComponentNames()}
	cidx := make(map[string]int, len(p.names))
	for i, n := range p.names {
		cidx[n] = i
	}
	relevant := make([]bool, len(p.names))
	p.flatten(j.Flow, cidx, relevant, true)

	// Shared groups: union-find over shared domains joined by common
	// relevant members. A member whose calls are all under Optional/Async
	// cannot affect the journey; leaving it out keeps such calls from
	// changing the common cause of the others (the exact engine does the
	// same).
	shared := map[string]bool{}
	for _, d := range sc.Shared {
		if j.Domains[d] == nil {
			return nil, unknown("failure domain", d, j.DomainNames())
		}
		shared[d] = true
	}
	owner := make([]int, len(p.names)) // component → root domain + 1
	dnames := j.DomainNames()
	parent := make([]int, len(dnames))
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for di, dn := range dnames {
		parent[di] = di
		if !shared[dn] {
			continue
		}
		for _, m := range j.Domains[dn].Members {
			ci := cidx[m]
			if !relevant[ci] {
				continue
			}
			if o := owner[ci]; o > 0 {
				parent[find(di)] = find(o - 1)
			} else {
				owner[ci] = di + 1
			}
		}
	}
	up := map[int]float64{} // group root → largest member availability
	for ci, o := range owner {
		if o > 0 {
			r := find(o - 1)
			up[r] = max(up[r], j.Components[p.names[ci]].Availability)
		}
	}
	roots := make([]int, 0, len(up))
	for r := range up {
		roots = append(roots, r)
	}
	sort.Ints(roots)
	groupOf := map[int]int32{}
	for _, r := range roots {
		groupOf[r] = int32(len(p.causes))
		p.causes = append(p.causes, threshold(1-up[r]))
	}

	persistent := map[string]bool{}
	for _, c := range sc.Persistent {
		comp := j.Components[c]
		if comp == nil {
			return nil, unknown("component", c, p.names)
		}
		if comp.Invocations == model.InvocationsTransient {
			return nil, fmt.Errorf("sim: component %q is declared transient; a scenario cannot make it persistent", c)
		}
		persistent[c] = true
	}
	p.comps = make([]compInfo, len(p.names))
	for ci, name := range p.names {
		c := j.Components[name]
		info := compInfo{group: -1, slot: -1}
		a := c.Availability
		if o := owner[ci]; o > 0 {
			r := find(o - 1)
			info.group = groupOf[r]
			if u := up[r]; u > 0 {
				a = min(1, a/u)
			} else {
				a = 0
			}
		}
		info.thr = threshold(a)
		if c.Invocations == model.InvocationsPersistent || persistent[name] {
			info.slot = int32(len(p.persist))
			p.persist = append(p.persist, int32(ci))
		}
		p.comps[ci] = info
	}
	return p, nil
}

func unknown(kind, name string, known []string) error {
	return fmt.Errorf("sim: unknown %s %q (the journey has %v)", kind, name, known)
}

// flatten appends n's subtree in pre-order and marks components with a
// call whose outcome matters (not under Optional or Async).
func (p *Program) flatten(n *model.Node, cidx map[string]int, relevant []bool, rel bool) int32 {
	id := int32(len(p.nodes))
	p.nodes = append(p.nodes, inst{op: n.Op, comp: -1})
	switch n.Op {
	case model.Call:
		ci := cidx[n.Component]
		p.nodes[id].comp = int32(ci)
		if rel {
			relevant[ci] = true
		}
		return id
	case model.Quorum:
		p.nodes[id].k = int32(n.K)
	case model.Retry:
		p.nodes[id].k = int32(n.Attempts)
	case model.Branch:
		p.nodes[id].cum = int32(len(p.cum))
		last := 0
		for i, w := range n.Weights {
			if w > 0 {
				last = i
			}
		}
		acc := 0.0
		for i, w := range n.Weights {
			acc += w
			t := threshold(acc)
			if i >= last {
				t = one // rounding must never leave a draw without a case
			}
			p.cum = append(p.cum, t)
		}
	}
	childRel := rel && n.Op != model.Optional && n.Op != model.Async
	ids := make([]int32, len(n.Children))
	for i, c := range n.Children {
		ids[i] = p.flatten(c, cidx, relevant, childRel)
	}
	p.nodes[id].first, p.nodes[id].n = int32(len(p.kids)), int32(len(ids))
	p.kids = append(p.kids, ids...)
	return id
}
