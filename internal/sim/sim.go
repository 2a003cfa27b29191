// Package sim estimates a journey's availability and latency by
// Monte-Carlo: it runs the journey as a process under one correlation
// scenario of SPEC §4 and counts successful executions, timing them. It is
// the independent check of the exact engines (internal/bounds and the
// latency composition), written without them: of internal/latency it uses
// only the components' marginals (latency.Of).
//
// One execution first samples the latent state the scenario defines — each
// shared group's common cause and each persistent component's up/down
// state — then walks the flow with execution semantics: a Seq stops at its
// first failed step, a Fallback tries its next operand only after a
// failure, a Retry re-executes its operand until it succeeds or runs out of
// attempts, a Branch draws one case, All, Race and Quorum run every
// operand, Optional and Async run their operand and ignore its outcome.
// Transient calls draw their outcome when they are made.
//
// With time (docs/semantics.md, "Latency"), each execution of a node also
// returns its duration from the node's start: a call draws one from its
// component's marginals, independently of its outcome (a failed call under
// a deadline takes forever unless its failureLatency is stated), and the
// operators compose durations as the
// semantics say. A Timeout, or a Retry's perTryTimeout, then fails what
// runs past its deadline, so deadlines lower availability. A journey
// without a deadline outside Async runs without time when only its
// availability is asked for: durations cannot change an outcome there.
// Outcomes and durations are drawn from two streams, so a journey's
// outcomes, and its availability estimate for a seed, are the same whether
// or not durations are drawn.
//
// Program.Record reports what executions ran and when: each node's steps,
// cut where the execution stopped waiting for them, as synthetic traces
// (internal/sim/trace) need. It runs a recording copy of the Program, so
// Run and RunLatency never ask whether they record.
package sim

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/emac-dev/emac/internal/stats"

	"github.com/emac-dev/emac/internal/partition"

	"github.com/emac-dev/emac/internal/latency"
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
	return stats.Wilson(r.Successes, r.N, math.Sqrt2*math.Erfinv(confidence))
}

// Estimate runs n executions of the journey under the scenario and returns
// the success proportion with its uncertainty; executions are timed when a
// deadline can fail them (see Run). The result depends only on
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
// runtime.GOMAXPROCS workers; see Estimate. Durations are drawn only when
// the journey has a deadline outside Async (a Timeout, or a Retry with a
// perTryTimeout), since only then can they change an outcome.
func (p *Program) Run(ctx context.Context, n int, seed uint64) (Result, error) {
	if n <= 0 {
		return Result{}, fmt.Errorf("sim: %d executions requested, need at least one", n)
	}
	// the loop of chunks written out rather than through p.chunks: the
	// walker stays on the worker's stack
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
				if p.timed {
					for range m {
						if ok, _ := w.executeTimed(); ok {
							s++
						}
					}
				} else {
					for range m {
						if w.execute() {
							s++
						}
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
	return proportion(s, n), nil
}

// proportion is the Result of s successes in n trials.
func proportion(s, n int) Result {
	r := Result{N: n, Successes: s}
	if n > 0 {
		r.P = float64(s) / float64(n)
		r.StdErr = math.Sqrt(r.P * (1 - r.P) / float64(n))
	}
	r.Lo, r.Hi = stats.Wilson(s, n, stats.Z95)
	return r
}

// chunks runs n executions' worth of chunks across runtime.GOMAXPROCS
// workers, as Run does: chunk c, of m executions, is run by one worker
// seeded for c. What a chunk computes depends only on p, seed and c, never
// on which worker runs it or when.
func (p *Program) chunks(ctx context.Context, n int, seed uint64, run func(w *walker, c, m int)) error {
	chunks := (n + chunkSize - 1) / chunkSize
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
				run(w, c, min(chunkSize, n-c*chunkSize))
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// chunkSeed derives the PCG seed of one chunk by SplitMix64 finalisation,
// so that neighbouring chunks get unrelated streams.
func chunkSeed(seed uint64, chunk int) (uint64, uint64) {
	a := mix(seed + 0x9e3779b97f4a7c15*uint64(2*chunk+1))
	return a, mix(a ^ seed ^ 0x6a09e667f3bcc909)
}

// mix is the SplitMix64 finaliser.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Program is a journey compiled for simulation under one scenario: the
// flow as a flat pre-order array, the scenario as per-component thresholds
// and the components' latency marginals. It is immutable and safe for
// concurrent Runs.
type Program struct {
	nodes []inst
	kids  []int32
	// cum holds the cumulative weight thresholds of every Branch.
	cum []uint64
	// par holds durations in seconds: a Race's hedgeAfter, a Retry's
	// perTryTimeout and backoff, a Timeout's after.
	par   []float64
	comps []compInfo
	// lat is each component's call durations.
	lat []compLatency
	// latErr is why a component's latency is unusable; it matters only
	// when durations are drawn.
	latErr error
	// causes are the common-cause thresholds of the shared groups.
	causes []uint64
	// persist lists the persistent components by state slot.
	persist []int32
	names   []string
	// timed says a deadline outside Async can fail the journey, so even
	// its availability needs durations.
	timed bool
	// stack is the scratch a walker needs for Quorum durations: the
	// operand counts of all Quorums.
	stack int
	// src is each node's flow node and end the index after its subtree,
	// for recorded executions (record.go).
	src []*model.Node
	end []int32
}

// inst is one flow node.
type inst struct {
	op model.Op
	// dl marks a Call under a deadline (a Timeout, or a Retry with a
	// perTryTimeout, not across an Async): failing, it takes forever.
	dl bool
	// kids[first:first+n] are the operands.
	first, n int32
	// comp is the component of a Call.
	comp int32
	// k is a Quorum's k or a Retry's attempts.
	k int32
	// aux is the offset of a Branch's thresholds in Program.cum, or of a
	// Race's, Retry's or Timeout's durations in Program.par.
	aux int32
}

// compLatency is how long a component's calls take.
type compLatency struct {
	// succ is a successful call's duration, fail a failed call's: its
	// failureLatency (stated says so), which comes before an enclosing
	// deadline, else a success draw when no deadline encloses the call.
	succ, fail sampler
	stated     bool
}

// sampler draws a duration in seconds: a draw of m, or v when m is nil
// (a fixed duration, 0 for a component without latency).
type sampler struct {
	m latency.Marginal
	v float64
}

func newSampler(m latency.Marginal) sampler {
	switch m := m.(type) {
	case nil:
		return sampler{}
	case latency.Fixed:
		return sampler{v: float64(m)}
	}
	return sampler{m: m}
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
	p.flatten(j.Flow, cidx, relevant, place{relevant: true})

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
	uf := partition.New(len(dnames))
	for di, dn := range dnames {
		if !shared[dn] {
			continue
		}
		for _, m := range j.Domains[dn].Members {
			ci := cidx[m]
			if !relevant[ci] {
				continue
			}
			if o := owner[ci]; o > 0 {
				uf.Union(di, o-1)
			} else {
				owner[ci] = di + 1
			}
		}
	}
	up := map[int]float64{} // group root → largest member availability
	for ci, o := range owner {
		if o > 0 {
			r := uf.Find(o - 1)
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
			r := uf.Find(o - 1)
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

	p.lat = make([]compLatency, len(p.names))
	for ci, name := range p.names {
		succ, fail, err := latency.Of(j.Components[name])
		if err != nil {
			if p.timed {
				return nil, fmt.Errorf("sim: %w", err)
			}
			p.latErr = fmt.Errorf("sim: %w", err)
			continue
		}
		l := compLatency{succ: newSampler(succ), fail: newSampler(fail), stated: fail != nil}
		if fail == nil {
			l.fail = l.succ // failed calls take what successful ones do
		}
		p.lat[ci] = l
	}
	return p, nil
}

func unknown(kind, name string, known []string) error {
	return fmt.Errorf("sim: unknown %s %q (the journey has %v)", kind, name, known)
}

// place is where a node sits in the flow.
type place struct {
	// relevant: not under Optional or Async, so its outcome matters.
	relevant bool
	// deadline: under a Timeout or a Retry with a perTryTimeout, not
	// across an Async.
	deadline bool
	// async: under an Async, where neither outcome nor duration matters.
	async bool
}

// flatten appends n's subtree in pre-order, marks components with a call
// whose outcome matters (not under Optional or Async), and notes the
// deadlines.
func (p *Program) flatten(n *model.Node, cidx map[string]int, relevant []bool, at place) int32 {
	id := int32(len(p.nodes))
	p.nodes = append(p.nodes, inst{op: n.Op, comp: -1})
	p.src = append(p.src, n)
	p.end = append(p.end, id+1)
	switch n.Op {
	case model.Call:
		ci := cidx[n.Component]
		p.nodes[id].comp = int32(ci)
		p.nodes[id].dl = at.deadline
		if at.relevant {
			relevant[ci] = true
		}
		return id
	case model.Quorum:
		p.nodes[id].k = int32(n.K)
		p.stack += len(n.Children)
	case model.Race:
		p.nodes[id].aux = int32(len(p.par))
		p.par = append(p.par, n.HedgeAfter.Seconds())
	case model.Retry:
		p.nodes[id].k = int32(n.Attempts)
		p.nodes[id].aux = int32(len(p.par))
		p.par = append(p.par, n.PerTryTimeout.Seconds(), n.Backoff.Seconds())
	case model.Timeout:
		p.nodes[id].aux = int32(len(p.par))
		p.par = append(p.par, n.After.Seconds())
	case model.Branch:
		p.nodes[id].aux = int32(len(p.cum))
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
	if n.Op == model.Timeout || n.Op == model.Retry && n.PerTryTimeout > 0 {
		at.deadline = true
		// Under Async neither outcome nor duration matters, and Async's
		// operand runs without time. Under Optional the outcome does not
		// matter either, but the deadline changes which calls are made
		// (a Retry's attempts): drawing durations there too keeps the
		// outcomes the same whether or not latency is asked for.
		p.timed = p.timed || !at.async
	}
	switch n.Op {
	case model.Optional:
		at.relevant = false
	case model.Async:
		at = place{async: true}
	}
	ids := make([]int32, len(n.Children))
	for i, c := range n.Children {
		ids[i] = p.flatten(c, cidx, relevant, at)
	}
	p.nodes[id].first, p.nodes[id].n = int32(len(p.kids)), int32(len(ids))
	p.kids = append(p.kids, ids...)
	p.end[id] = int32(len(p.nodes))
	return id
}
