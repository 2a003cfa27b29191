package sim

import (
	"context"
	"fmt"

	"github.com/emac-dev/emac/internal/model"
)

// Cut says why a recorded step ended before it would have.
type Cut uint8

const (
	// NotCut: the step ran to its end.
	NotCut Cut = iota
	// Deadline: a Timeout's after or a Retry's perTryTimeout ended the
	// step (or it is that Timeout or attempt).
	Deadline
	// Cancelled: a Race or a Quorum was decided while the step ran, so
	// nobody waited for it any more.
	Cancelled
)

// String names the cut as traces report it.
func (c Cut) String() string {
	switch c {
	case NotCut:
		return "none"
	case Deadline:
		return "deadline"
	case Cancelled:
		return "cancelled"
	}
	return fmt.Sprintf("Cut(%d)", c)
}

// Step is one execution of a flow node within a recorded Execution: what
// ran, when, and how it ended.
//
// The steps under a step are its operands' executions, in the order they
// were started: every launched operand of an All, Race or Quorum (Race
// operand i starts i × hedgeAfter after the Race); the steps of a Seq or
// Fallback up to the one that decided it; a Branch's chosen case; one step
// per attempt of a Retry (with the Retry's Node and Attempt 1, 2, …), each
// over the operand's step; a Timeout's or Optional's operand. An Async's
// operand is detached: it starts with the Async, which takes no time, and
// nobody waits for it.
//
// Steps are cut where the execution stopped waiting for them: a Race or
// Quorum, once decided, cancels the operands still running; a Timeout that
// fires, or an attempt past its perTryTimeout, ends what runs under it at
// the deadline. A cut step ends at the cut, has OK false and says why in
// Cut. Operands that would have started only after such a cut (a hedge
// not sent because the race was won, a step after the deadline) never
// started and have no step.
type Step struct {
	// Node is the flow node executed.
	Node *model.Node
	// Attempt numbers a Retry's attempts from 1; 0 for every other step,
	// the Retry's own included.
	Attempt int
	// Start and End are in seconds from the execution's start.
	Start, End float64
	// OK says the step succeeded (an Optional or Async always does).
	OK bool
	// Cut says whether and why the step was ended early.
	Cut Cut
	// Steps are the operands' executions.
	Steps []*Step
}

// Execution is one recorded execution of a journey.
type Execution struct {
	// Index is the execution's position in the seed's sequence (0-based).
	Index int
	// Root is the flow root's step; its OK and End are the execution's
	// outcome and duration.
	Root *Step
}

// Record performs the first n executions of the compiled journey for the
// seed and calls f with each, in order, on the caller's goroutine; an
// error from f stops it and is returned. They are the executions
// RunLatency (and Run) performs first for the seed, with the same outcomes
// and durations: recording only reports them. An Async's operand, whose
// durations the execution does not draw, is run a second time for the
// record, from the same outcome draws and with durations of its own; where
// a deadline inside it fires, its recorded outcomes may differ from those
// the execution drew (they matter to nothing else).
func (p *Program) Record(ctx context.Context, n int, seed uint64, f func(Execution) error) error {
	if n <= 0 {
		return fmt.Errorf("sim: %d executions requested, need at least one", n)
	}
	if p.latErr != nil {
		return p.latErr
	}
	w := p.recording().newWalker()
	w.rec = &recorder{}
	for c := 0; c*chunkSize < n; c++ {
		s1, s2 := chunkSeed(seed, c)
		w.seed(s1, s2)
		w.aux.Seed(mix(s1^0x510e527fade682d1), mix(s2^0x9b05688c2b3e6c1f))
		for i := range min(chunkSize, n-c*chunkSize) {
			if err := ctx.Err(); err != nil {
				return err
			}
			w.rec.steps = w.rec.steps[:0]
			w.executeTimed()
			root := p.tree(w.rec.steps)
			settle(root, limit{})
			if err := f(Execution{Index: c*chunkSize + i, Root: root}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Operators of recording Programs only, numbered right after model's last
// (Async) so that the walkers' switches stay dense jump tables.
const (
	// opRecord runs its one operand and records it: aux is the operand's
	// node in the Program recorded.
	opRecord = model.Async + 1 + iota
	// opDetach is an Async whose operand is recorded (walker.detached).
	opDetach
)

// recording returns the Program that runs as p does and records every
// node's execution: node i of p becomes 2i+1, under an opRecord node 2i,
// and the operands of 2i+1 are those opRecord nodes. The fast path thus
// never asks whether it records.
func (p *Program) recording() *Program {
	q := *p
	q.nodes = make([]inst, 0, 2*len(p.nodes))
	q.kids = make([]int32, 0, len(p.kids)+len(p.nodes))
	for i, in := range p.nodes {
		rec := inst{op: opRecord, comp: -1, first: int32(len(q.kids)), n: 1, aux: int32(i)}
		q.kids = append(q.kids, int32(2*i+1))
		if in.op == model.Async {
			in.op = opDetach
		}
		kids := p.kids[in.first : in.first+in.n]
		in.first = int32(len(q.kids))
		for _, k := range kids {
			q.kids = append(q.kids, 2*k)
		}
		q.nodes = append(q.nodes, rec, in)
	}
	return &q
}

// recorder collects a timed execution's node executions in post-order:
// each node after its operands.
type recorder struct {
	steps []rawStep
}

// rawStep is one node execution as timed returns it to its parent, before
// any cut by an ancestor.
type rawStep struct {
	node       int32
	start, dur float64
	ok         bool
}

func (r *recorder) add(n int32, at, d float64, ok bool) {
	r.steps = append(r.steps, rawStep{node: n, start: at, dur: d, ok: ok})
}

// detached runs an Async's operand with a recorder: first as exec does,
// so that the execution's draws are those of an unrecorded one, then again
// timed, for the record, from the same outcome draws and with durations
// from aux.
func (w *walker) detached(k int32, at float64) {
	rng := w.rng
	w.exec(k)
	main, lat := w.rng, w.lat
	w.rng, w.lat = rng, w.aux
	w.timed(k, at)
	w.aux = w.lat
	w.rng, w.lat = main, lat
}

// tree builds the step tree from a post-order record: a node's operand
// steps are the steps just before it whose nodes lie strictly inside its
// subtree. A Retry's operand steps become its attempts, and a Timeout
// whose operand ran past the deadline is marked cut, as timed decided.
func (p *Program) tree(raw []rawStep) *Step {
	type entry struct {
		node int32
		dur  float64
		s    *Step
	}
	var stack []entry
	for _, r := range raw {
		s := &Step{Node: p.src[r.node], Start: r.start, End: r.start + r.dur, OK: r.ok}
		k := len(stack)
		for k > 0 && stack[k-1].node > r.node && stack[k-1].node < p.end[r.node] {
			k--
		}
		in := &p.nodes[r.node]
		for i, e := range stack[k:] {
			switch in.op {
			case model.Retry:
				// as timed: an attempt past perTryTimeout fails at it
				perTry := p.par[in.aux]
				a := &Step{Node: s.Node, Attempt: i + 1, Start: e.s.Start, End: e.s.End, OK: e.s.OK, Steps: []*Step{e.s}}
				if perTry > 0 && e.dur > perTry {
					a.End, a.OK, a.Cut = e.s.Start+perTry, false, Deadline
				}
				s.Steps = append(s.Steps, a)
				continue
			case model.Timeout:
				if e.dur > p.par[in.aux] {
					s.Cut = Deadline
				}
			}
			s.Steps = append(s.Steps, e.s)
		}
		stack = append(stack[:k], entry{r.node, r.dur, s})
	}
	return stack[len(stack)-1].s
}

// eps is the slack of time comparisons, in seconds: an operand's end and
// its parent's, computed by different sums, may differ in the last bits.
const eps = 1e-9

// limit is the earliest cut an ancestor imposes on a step: at t, by a
// clip point that started at start; why is NotCut when there is none.
type limit struct {
	t, start float64
	why      Cut
}

// settle applies the cuts: s is cut at l (if it runs past it), and its
// operands at the earlier of l and its own cut when s is a clip point (a
// Race or Quorum, a Timeout that fired, an attempt past its deadline).
// Operands that would start at or after a cut, later than the clip point
// itself, are dropped.
func settle(s *Step, l limit) {
	if l.why != NotCut && s.End > l.t+eps {
		s.End, s.OK, s.Cut = l.t, false, l.why
	}
	own := limit{}
	switch s.Node.Op {
	case model.Race, model.Quorum:
		own = limit{t: s.End, start: s.Start, why: Cancelled}
	case model.Timeout, model.Retry:
		if s.Cut == Deadline && (s.Node.Op == model.Timeout || s.Attempt > 0) {
			own = limit{t: s.End, start: s.Start, why: Deadline}
		}
	}
	switch {
	case s.Node.Op == model.Async:
		l = limit{} // detached: nothing above waits for it
	case own.why != NotCut && (l.why == NotCut || own.t < l.t):
		l = own
	}
	kept := s.Steps[:0]
	for _, c := range s.Steps {
		if l.why != NotCut && c.Start > l.start+eps && c.Start >= l.t-eps {
			continue // never started
		}
		settle(c, l)
		kept = append(kept, c)
	}
	s.Steps = kept
}
