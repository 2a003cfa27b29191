package discovery

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Evidence is what the traces said, in running counts: per service, per
// call edge, per operation (with a bounded sample of its invocations for
// the flow), and per co-failure window. No trace is held.
type Evidence struct {
	opts   Options
	names  numbering[string]
	places numbering[Placement]
	// Spans and Traces count what was read.
	Spans, Traces int
	problems      [Unsupported + 1]int
	examples      []Problem
	// seq orders problems when parts of the evidence are folded apart
	// (Options.Workers): the number of what is being folded, in the
	// Assembler's order; seqs is each example's
	seq      int64
	seqs     []int64
	scratch  scratch
	services map[int32]*svcStats
	edges    map[edgeKey]*edgeStats
	ops      map[opKey]*opStats
	// fails counts failed invocations per service and window; windows
	// counts the invocations per window (all services).
	fails   map[int32]map[int64]int
	windows map[int64]int
	// durations holds each service's successful invocations' durations
	// per window: a window where they are far slower than usual is
	// degraded (windows.go)
	durations map[int32]map[int64]*winHist
	// callDurations are the same from the callers' side: the calls to
	// each service that succeeded, per window (a network delay shows
	// there, not in the service's own spans)
	callDurations map[int32]map[int64]*winHist
	// winMu, when set, guards durations and callDurations, shared by the
	// parts of an Assembler's evidence folded by workers: per service
	// and minute of the input's time, they are what grows with it, and
	// a copy in every part would multiply that
	winMu *sync.Mutex
	// samples, when set, holds the flow samples instead of ops, shared
	// by the parts folded by workers
	samples *samples
	// pendingOps are the operations with invocations pending for their
	// shared samples (offerPending)
	pendingOps []*opStats
	// peerLabels counts the failure domains callers declare for each
	// service they call (Span.PeerDomain), by the domain's number: fold
	// reads no names, as it may run beside the Assembler that numbers
	// them (Options.Workers)
	peerLabels map[int32]map[int32]int
	// first and last are the earliest start and latest end seen.
	first, last int64
	// lim, when set (a Recorder's), bounds the operations, edges and call
	// targets held; dropped counts what it turned away, by reason.
	lim     *Limits
	dropped map[string]int
	// noWindows: a Recorder's evidence keeps no time windows, for
	// Prometheus keeps its counts over time.
	noWindows bool
}

func newEvidence(opts Options) *Evidence {
	return &Evidence{opts: opts, services: map[int32]*svcStats{}, edges: map[edgeKey]*edgeStats{},
		ops: map[opKey]*opStats{}, fails: map[int32]map[int64]int{}, windows: map[int64]int{}, durations: map[int32]map[int64]*winHist{}, peerLabels: map[int32]map[int32]int{}, callDurations: map[int32]map[int64]*winHist{}, first: math.MaxInt64, last: math.MinInt64}
}

// maxExamples is the number of problems of each kind kept with their
// positions; the rest are counted.
const maxExamples = 5

// scratch is fold's working memory, reused from trace to trace.
type scratch struct {
	idx               spanIndex
	keep              []bool
	parent, counts    []int32
	flat, fill, roots []int32
	queue             []int32
	state             []uint8 // cutCycles'
	path              []int32
	// svcs and ops are Evidence.services by number and a few of
	// Evidence.ops, looked up in a fold for each invocation: a slot
	// costs less than a map's hash and probe (entries are never removed)
	svcs []*svcStats
	ops  [256]struct {
		k opKey
		s *opStats
	}
	// spares are invocations the samples let go, for the next ones
	spares []*invocation
	// traceHash is the folded trace's traceHash: the sample's order is
	// FNV-1a of an invocation's trace and span ids
	traceHash uint64
	// invs and callArena are where sampled invocations and their calls
	// are carved from: a few allocations for thousands
	invs      []invocation
	callArena []call
	kids      [][]int32
	calls     []call
	seenSvc   []int32
	// serial numbers the invocations folded (targetStats.counted)
	serial uint64
	// durations and callDurations cache Evidence's
	durations, callDurations winCache
}

// newInvocation is a new invocation, from invs.
func (sc *scratch) newInvocation() *invocation {
	if len(sc.invs) == 0 {
		sc.invs = make([]invocation, 256)
	}
	inv := &sc.invs[0]
	sc.invs = sc.invs[1:]
	return inv
}

// newCalls is an empty array for n calls, from callArena (a long one of
// its own). Only while a sample fills: then it lets none go.
func (sc *scratch) newCalls(n int) []call {
	if n > 256 {
		return make([]call, 0, n)
	}
	if len(sc.callArena) < n {
		sc.callArena = make([]call, 4096)
	}
	cs := sc.callArena[:0:n]
	sc.callArena = sc.callArena[n:]
	return cs
}

// spanIndex finds a trace's spans by id: an open-addressing table of
// span numbers, reused from trace to trace. A Go map costs several times
// as much here, cleared and filled again for every trace.
type spanIndex struct {
	seed  maphash.Seed
	key   [2]uint64 // random, for ids of 8 to 16 bytes (hash)
	slots []int32   // a span's number + 1; 0 is empty
	mask  uint64
}

// reset empties the table for a trace of n spans: at most half full.
func (x *spanIndex) reset(n int) {
	if x.slots == nil {
		x.seed = maphash.MakeSeed()
		x.key = [2]uint64{maphash.Comparable(x.seed, 1), maphash.Comparable(x.seed, 2)}
	}
	size := 16
	for size < 2*n {
		size *= 2
	}
	x.slots = grow(&x.slots, size)
	clear(x.slots)
	x.mask = uint64(size - 1)
}

// add puts span i of t in; false when a span of its id is in already.
func (x *spanIndex) add(t *otrace, i int32) bool {
	slot, j := x.probe(t, t.bytes(t.spans[i].id))
	if j >= 0 {
		return false
	}
	x.slots[slot] = i + 1
	return true
}

// find is the number of t's span of the id, -1 when there is none.
func (x *spanIndex) find(t *otrace, id []byte) int32 {
	_, j := x.probe(t, id)
	return j
}

// probe looks for the id: the number of its span, or -1 and the empty
// slot where it would go.
func (x *spanIndex) probe(t *otrace, id []byte) (slot uint64, j int32) {
	for h := x.hash(id) & x.mask; ; h = (h + 1) & x.mask {
		switch j := x.slots[h]; {
		case j == 0:
			return h, -1
		case bytes.Equal(t.bytes(t.spans[j-1].id), id):
			return h, j - 1
		}
	}
}

// hash is id's: the ids of 8 to 16 bytes most formats have (64-bit
// span ids, in hex or not) as their first and last 8 bytes, mixed with
// the random key by a 128-bit product (as wyhash's short inputs), which
// costs less than maphash.Bytes' call; others by maphash.
func (x *spanIndex) hash(id []byte) uint64 {
	n := len(id)
	if n < 8 || n > 16 {
		return maphash.Bytes(x.seed, id)
	}
	a := binary.LittleEndian.Uint64(id) ^ x.key[0]
	b := binary.LittleEndian.Uint64(id[n-8:]) ^ x.key[1] ^ uint64(n)
	hi, lo := bits.Mul64(a, b)
	h := hi ^ lo
	// the low bits pick the slot: spread into them what differed only
	// in high ones (murmur3's finalizer, halved)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	return h ^ h>>33
}

// grow returns (*s)[:n], reallocating when it is too short.
func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n, n+n/4)
	}
	return (*s)[:n]
}

// report counts a problem, building its detail only when it is kept.
func (ev *Evidence) report(k ProblemKind, pos Pos, detail func() string) {
	if ev.problems[k] < maxExamples {
		ev.examples = append(ev.examples, Problem{Kind: k, Pos: pos, Detail: detail()})
		ev.seqs = append(ev.seqs, ev.seq)
	}
	ev.problems[k]++
}

// Problem counts a problem of an input other than traces (configuration,
// topology, labels), as the traces' own are.
func (ev *Evidence) Problem(p Problem) { ev.problem(p) }

func (ev *Evidence) problem(p Problem) {
	if int(p.Kind) >= len(ev.problems) {
		return
	}
	if ev.problems[p.Kind] < maxExamples {
		ev.examples = append(ev.examples, p)
		ev.seqs = append(ev.seqs, ev.seq)
	}
	ev.problems[p.Kind]++
}

type svcStats struct {
	spans, invocations, errors int
	places                     map[int32]int
}

type edgeKey struct{ from, to int32 }

type edgeStats struct {
	calls, errors, async, cancelled int
	ok                              hist
	examples                        lowest
}

type opKey struct{ svc, op int32 }

type opStats struct {
	invocations, errors, roots int
	// patterns counts what every invocation's calls showed (patterns.go):
	// indicators over all traffic, where the flow is inferred from the
	// sample
	patterns [numPatterns]int
	// calls counts the invocations that called each service
	calls   map[int32]int
	ok      hist
	targets map[opKey]*targetStats
	sample  invHeap
	// shared is the sample when parts of the evidence share it (samples),
	// and pending the invocations to offer it at the batch's end
	shared   *sharedSample
	pending  []*invocation
	examples lowest
}

type targetStats struct {
	present, calls, errors, cancelled int
	ok, failed                        hist
	// edge is the edge's statistics (Evidence.edge) from the operation's
	// service to the target's, found once
	edge *edgeStats
	// counted is the last invocation (scratch.serial) counted in present
	counted uint64
}

// invocation is one sampled execution of an operation: its calls, in the
// order they started, times from its own start.
type invocation struct {
	trace string
	hash  uint64
	ok    bool
	dur   int64
	calls []call
	// targets and encoded are its calls as a flow sample's labels
	// (encodeCalls), made at its first export: a sampled invocation
	// does not change, and a Recorder exports it at every flush
	targets, encoded string
}

type call struct {
	target     opKey
	start, end int64
	outcome    Outcome
	resend     int32
	async      bool
}

// invHeap keeps the invocations of lowest hash: a max-heap on hash,
// then trace, once it holds k; until then, the invocations in the order
// offered (most operations of most inputs never fill it, and so are never
// sifted). Its own sifting, container/heap's without the interface, on
// entries holding the hash: thousands of offers an operation make the
// calls, and the pointers followed, count.
type invHeap []sampled

// sampled is an invocation in an invHeap, and its hash.
type sampled struct {
	hash uint64
	inv  *invocation
}

// above says whether x goes above y.
func above(x, y sampled) bool {
	if x.hash != y.hash {
		return x.hash > y.hash
	}
	return x.inv.trace > y.inv.trace
}

func (h invHeap) down(i int) {
	n := len(h)
	for {
		j := 2*i + 1
		if j >= n || j < 0 {
			break
		}
		if j2 := j + 1; j2 < n && above(h[j2], h[j]) {
			j = j2
		}
		if !above(h[j], h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// sorted is the sample in the order it is chosen in (compareInvocations):
// the heap's own order depends on the input's, and on the workers'.
func (h invHeap) sorted() []*invocation {
	out := make([]*invocation, len(h))
	for i, e := range h {
		out[i] = e.inv
	}
	slices.SortFunc(out, compareInvocations)
	return out
}

// wants says whether an invocation of hash h would be kept.
func (h invHeap) wants(hash uint64, trace string, k int) bool {
	if len(h) < k {
		return true
	}
	top := h[0]
	return hash < top.hash || hash == top.hash && trace < top.inv.trace
}

// offer keeps inv if it is among the k lowest.
// It returns the invocation it no longer keeps, if any: inv, or the
// one inv pushed out.
func (h *invHeap) offer(inv *invocation, k int) *invocation {
	e := sampled{inv.hash, inv}
	if len(*h) < k {
		*h = append(*h, e)
		if len(*h) == k {
			// full: a heap from here on
			for i := k/2 - 1; i >= 0; i-- {
				h.down(i)
			}
		}
		return nil
	}
	top := (*h)[0]
	if above(top, e) {
		(*h)[0] = e
		h.down(0)
		return top.inv
	}
	return inv
}

// lowest keeps the k lowest strings: provenance that does not depend on
// input order.
type lowest []string

func (l *lowest) add(s string, k int) {
	i := sort.SearchStrings(*l, s)
	if i < len(*l) && (*l)[i] == s {
		return
	}
	if len(*l) >= k && i >= k {
		return
	}
	*l = slices.Insert(*l, i, strings.Clone(s)) // as the sample's ids
	if len(*l) > k {
		*l = (*l)[:k]
	}
}

// hist is a latency histogram with buckets 1% apart: quantiles within 1%.
// Its buckets are an array over the range observed: a duration's bucket
// is its logarithm, so a range of 1µs to 1s is some 1,400 buckets, and
// counting is an index, where a map cost a hash and a probe.
type hist struct {
	n int
	// counts[i] counts bucket lo+i; zero the durations ≤ 0
	lo     int32
	counts []int
	zero   int
	// sum is the observations' sum (ns), for the exported histograms
	sum int64
}

const histBase = 0.00995033085316809 // ln(1.01)

func (h *hist) add(d int64) { h.addAt(histBucket(d), d) }

// addAt counts a duration of d ns, of bucket b.
func (h *hist) addAt(b int32, d int64) {
	h.addN(b, 1)
	h.sum += d
}

// addN counts n observations in bucket b.
func (h *hist) addN(b int32, n int) {
	h.n += n
	h.put(b, n)
}

// put adds n to bucket b's count, growing the range to hold it.
func (h *hist) put(b int32, n int) {
	switch {
	case b == math.MinInt32:
		h.zero += n
		return
	case len(h.counts) == 0:
		h.lo = b
		h.counts = make([]int, 1, 16)
	case b < h.lo:
		// room below as well: durations spread both ways
		grown := make([]int, int(h.lo-b)+len(h.counts), int(h.lo-b)+cap(h.counts)+16)
		copy(grown[h.lo-b:], h.counts)
		h.counts, h.lo = grown, b
	case int(b-h.lo) >= len(h.counts):
		h.counts = append(h.counts, make([]int, int(b-h.lo)+1-len(h.counts))...)
	}
	h.counts[b-h.lo] += n
}

// histBucket is the bucket of a duration of d ns: ⌊ln d / histBase⌋,
// through a table (histBuckets).
func histBucket(d int64) int32 {
	if d <= 0 {
		return math.MinInt32
	}
	return histBuckets().of(d)
}

// buckets yields the buckets with observations and their counts, in
// order (math.MinInt32 for durations ≤ 0 first).
func (h *hist) buckets(yield func(b int32, n int) bool) {
	if h.zero > 0 && !yield(math.MinInt32, h.zero) {
		return
	}
	for i, c := range h.counts {
		if c > 0 && !yield(h.lo+int32(i), c) {
			return
		}
	}
}

func (h *hist) merge(o hist) {
	for b, c := range o.buckets {
		h.put(b, c)
	}
	h.n += o.n
	h.sum += o.sum
}

// quantile is the q-quantile in nanoseconds (the upper edge of its
// bucket), 0 without observations.
func (h *hist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	target := max(int(math.Ceil(q*float64(h.n))), 1)
	seen := 0
	for b, c := range h.buckets {
		if seen += c; seen >= target {
			if b == math.MinInt32 {
				return 0
			}
			return int64(math.Round(math.Exp(float64(b+1) * histBase)))
		}
	}
	return 0
}

// fold adds a closed trace.
func (ev *Evidence) fold(t *otrace) {
	ev.Traces++
	sp := t.spans
	n := len(sp)
	sc := &ev.scratch
	sc.traceHash = traceHash(t.id)
	// ids: the first of a duplicate wins
	idx := &sc.idx
	idx.reset(n)
	keep := grow(&sc.keep, n)
	for i := range sp {
		if !idx.add(t, int32(i)) {
			keep[i] = false
			ev.report(DuplicateSpan, t.pos(int32(i)), func() string {
				return "span " + t.str(sp[i].id) + " appears twice in trace " + t.id + "; the later one is dropped"
			})
			continue
		}
		keep[i] = true
	}
	parent := grow(&sc.parent, n)
	incomplete := false
	for i := range sp {
		parent[i] = -1
		if !keep[i] || sp[i].parent.n == 0 {
			continue
		}
		p := idx.find(t, t.bytes(sp[i].parent))
		if p < 0 {
			incomplete = true
			ev.report(MissingParent, t.pos(int32(i)), func() string {
				return "span " + t.str(sp[i].id) + "'s parent " + t.str(sp[i].parent) + " is not in trace " + t.id
			})
			continue
		}
		parent[i] = p
	}
	ev.cutCycles(t, parent, keep)
	if incomplete {
		ev.report(Incomplete, t.pos(0), func() string { return "trace " + t.id + " has spans whose parents never arrived" })
	}
	// children, in the order of their start: kids[i] is a window of one
	// array (counted, then filled)
	counts := grow(&sc.counts, n+1)
	clear(counts)
	roots := sc.roots[:0]
	for i := range sp {
		if !keep[i] {
			continue
		}
		if p := parent[i]; p >= 0 {
			counts[p+1]++
		} else {
			roots = append(roots, int32(i))
		}
	}
	for i := 1; i <= n; i++ {
		counts[i] += counts[i-1]
	}
	flat := grow(&sc.flat, int(counts[n]))
	fill := grow(&sc.fill, n)
	copy(fill, counts[:n])
	for i := range sp {
		if p := parent[i]; keep[i] && p >= 0 {
			flat[fill[p]] = int32(i)
			fill[p]++
		}
	}
	if cap(sc.kids) < n {
		sc.kids = make([][]int32, n)
	}
	kids := sc.kids[:n]
	for i := range kids {
		kids[i] = flat[counts[i]:counts[i+1]:counts[i+1]]
		if len(kids[i]) > 1 {
			slices.SortStableFunc(kids[i], func(a, b int32) int { return cmp.Compare(sp[a].start, sp[b].start) })
		}
	}
	sc.roots = roots
	ev.fixSkew(t, roots, kids)
	run := spanRun{svc: -1}
	for i := range sp {
		if !keep[i] {
			continue
		}
		ev.first = min(ev.first, sp[i].start)
		ev.last = max(ev.last, sp[i].end)
		// a trace's spans come in runs of one service and place: each
		// run is counted at once
		if sp[i].svc != run.svc || sp[i].place != run.place {
			ev.countRun(run)
			run = spanRun{sp[i].svc, sp[i].place, 0}
		}
		run.n++
		if p := parent[i]; p < 0 || sp[p].svc != sp[i].svc {
			ev.invocation(t, sp, kids, int32(i), p < 0)
		}
		if sp[i].peerDomain >= 0 {
			// the callee: the peer it names, else its child's service
			callee := sp[i].peer
			for _, k := range kids[i] {
				if sp[k].svc != sp[i].svc {
					callee = sp[k].svc
				}
			}
			if callee >= 0 {
				if ev.peerLabels[callee] == nil {
					ev.peerLabels[callee] = map[int32]int{}
				}
				ev.peerLabels[callee][sp[i].peerDomain]++
			}
		}
	}
	ev.countRun(run)
}

// spanRun is a run of a trace's spans of one service and placement.
type spanRun struct {
	svc, place int32
	n          int
}

// countRun counts a run's spans for its service and placement.
func (ev *Evidence) countRun(r spanRun) {
	if r.n == 0 {
		return
	}
	s := ev.service(r.svc)
	s.spans += r.n
	if r.place >= 0 {
		if s.places == nil {
			s.places = map[int32]int{}
		}
		s.places[r.place] += r.n
	}
}

// cutCycles breaks parent loops, counting each.
func (ev *Evidence) cutCycles(t *otrace, parent []int32, keep []bool) {
	const (
		unseen = iota
		onPath
		done
	)
	state := grow(&ev.scratch.state, len(parent))
	clear(state)
	path := ev.scratch.path[:0]
	for i := range parent {
		if !keep[i] || state[i] != unseen {
			continue
		}
		path = path[:0]
		j := int32(i)
		for j >= 0 && state[j] == unseen {
			state[j] = onPath
			path = append(path, j)
			j = parent[j]
		}
		if j >= 0 && state[j] == onPath {
			// j's parent link closes the loop
			ev.problem(Problem{Kind: Cycle, Pos: t.pos(j), Detail: "span " + t.str(t.spans[j].id) + "'s parent links loop back to it in trace " + t.id + "; the loop is cut there"})
			parent[j] = -1
		}
		for _, k := range path {
			state[k] = done
		}
	}
	ev.scratch.path = path
}

// fixSkew shifts a child (and its subtree) that starts before its parent
// or ends after it by more than the tolerance back into the parent, as
// Zipkin's UI does: clocks of different hosts disagree.
func (ev *Evidence) fixSkew(t *otrace, roots []int32, kids [][]int32) {
	sp := t.spans
	tol := ev.opts.skew()
	queue := append(ev.scratch.queue[:0], roots...)
	for next := 0; next < len(queue); next++ {
		p := queue[next]
		for _, c := range kids[p] {
			var d int64
			switch {
			case sp[c].start < sp[p].start-tol:
				d = sp[p].start - sp[c].start
			case sp[c].end > sp[p].end+tol && sp[c].end-sp[c].start <= sp[p].end-sp[p].start:
				d = sp[p].end - sp[c].end
			}
			if d != 0 {
				ev.report(ClockSkew, t.pos(c), func() string {
					return "span " + t.str(sp[c].id) + " lies outside its parent " + t.str(sp[p].id) + "; shifted by " + fmtNanos(d)
				})
				shift(sp, kids, c, d)
			}
			queue = append(queue, c)
		}
	}
	ev.scratch.queue = queue
}

func shift(sp []rec, kids [][]int32, i int32, d int64) {
	sp[i].start += d
	sp[i].end += d
	for _, c := range kids[i] {
		shift(sp, kids, c, d)
	}
}

func (ev *Evidence) service(svc int32) *svcStats {
	svcs := ev.scratch.svcs
	if int(svc) < len(svcs) && svcs[svc] != nil {
		return svcs[svc]
	}
	s := ev.services[svc]
	if s == nil {
		s = &svcStats{}
		ev.services[svc] = s
	}
	if svc >= 0 {
		if int(svc) >= len(svcs) {
			svcs = append(svcs, make([]*svcStats, int(svc)+1-len(svcs))...)
			ev.scratch.svcs = svcs
		}
		svcs[svc] = s
	}
	return s
}

// op is the operation's statistics, nil when there are none yet.
func (ev *Evidence) op(k opKey) *opStats {
	e := &ev.scratch.ops[(uint32(k.svc)*0x9e3779b1^uint32(k.op))%uint32(len(ev.scratch.ops))]
	if e.s != nil && e.k == k {
		return e.s
	}
	op := ev.ops[k]
	if op != nil {
		e.k, e.s = k, op
	}
	return op
}

// invocation folds in the execution of an operation that span v is (a
// root, or a span whose parent is in another service): its calls are the
// spans of other services under it, through its own service's spans.
func (ev *Evidence) invocation(t *otrace, sp []rec, kids [][]int32, v int32, root bool) {
	key := opKey{sp[v].svc, sp[v].op}
	op := ev.op(key)
	if op == nil {
		if ev.lim != nil && len(ev.ops) >= ev.lim.maxOperations() {
			ev.dropped[dropOperations]++
			return
		}
		op = &opStats{targets: map[opKey]*targetStats{}}
		ev.ops[key] = op
	}
	op.invocations++
	failed := sp[v].outcome.Failed()
	s := ev.service(sp[v].svc)
	s.invocations++
	w := sp[v].start / ev.opts.window()
	if !ev.noWindows {
		ev.windows[w]++
	}
	if failed {
		op.errors++
		s.errors++
		if !ev.noWindows {
			f := ev.fails[sp[v].svc]
			if f == nil {
				f = map[int64]int{}
				ev.fails[sp[v].svc] = f
			}
			f[w]++
		}
	} else {
		op.ok.add(sp[v].end - sp[v].start)
		if !ev.noWindows {
			ev.windowAdd(&ev.scratch.durations, ev.durations, sp[v].svc, w, sp[v].end-sp[v].start)
		}
	}
	if root {
		op.roots++
	}
	op.examples.add(t.id, ev.opts.examples())
	calls := callsUnder(ev.scratch.calls[:0], sp, kids, v, v)
	if ev.lim != nil {
		calls = ev.limitTargets(op, calls)
	}
	ev.scratch.calls = calls
	if len(calls) > 1 {
		slices.SortStableFunc(calls, func(a, b call) int { return cmp.Compare(a.start, b.start) })
	}
	ev.scratch.serial++
	for i := range calls {
		c := &calls[i]
		d := c.end - c.start
		b := histBucket(d) // one bucket for the edge's and the target's
		ts := op.targets[c.target]
		if ts == nil {
			ts = &targetStats{}
			op.targets[c.target] = ts
		}
		if ts.counted != ev.scratch.serial {
			ts.counted = ev.scratch.serial
			ts.present++
		}
		if ts.edge == nil {
			ts.edge = ev.edge(sp[v].svc, c.target.svc)
		}
		if ts.edge != nil {
			ts.edge.add(t.id, c, b, ev.opts.examples())
		}
		ts.calls++
		switch c.outcome {
		case OK:
			ts.ok.addAt(b, d)
			if !ev.noWindows {
				ev.windowAdd(&ev.scratch.callDurations, ev.callDurations, c.target.svc, c.start/ev.opts.window(), d)
			}
		case Cancelled:
			// abandoned by its caller: neither a success nor its failure
			ts.cancelled++
		default:
			ts.errors++
			ts.failed.addAt(b, d)
		}
		c.start -= sp[v].start
		c.end -= sp[v].start
	}
	seenSvc := ev.scratch.seenSvc[:0]
	for _, c := range calls {
		if !slices.Contains(seenSvc, c.target.svc) {
			seenSvc = append(seenSvc, c.target.svc)
			if op.calls == nil {
				op.calls = map[int32]int{}
			}
			op.calls[c.target.svc]++
		}
	}
	ev.scratch.seenSvc = seenSvc
	countPatterns(&op.patterns, calls, ev.opts.skew())
	// the sample keeps the lowest hashes: most invocations need no record
	h := spanHash(ev.scratch.traceHash, t.bytes(sp[v].id))
	k := ev.opts.sample()
	if ev.samples != nil {
		if op.shared == nil {
			op.shared = ev.samples.of(key)
		}
		top := op.shared.top.Load()
		if h > top {
			return // the most common case once the sample is full
		}
		// offered with the batch's others (offerPending): one lock for
		// an operation's many, and no heap that workers write by turns
		if len(op.pending) == 0 {
			ev.pendingOps = append(ev.pendingOps, op)
		}
		op.pending = append(op.pending, ev.record(t, &sp[v], h, calls, top == math.MaxUint64))
		return
	}
	if heap := &op.sample; heap.wants(h, t.id, k) {
		if out := heap.offer(ev.record(t, &sp[v], h, calls, len(*heap) < k), k); out != nil {
			ev.scratch.spares = append(ev.scratch.spares, out)
		}
	}
}

// record is the sampled invocation of span v, hash h, with the calls.
// filling says whether the sample is still filling, letting none go: only
// then are the calls carved from the arena, for an array let go would
// keep its arena block.
func (ev *Evidence) record(t *otrace, v *rec, h uint64, calls []call, filling bool) *invocation {
	// an invocation a sample let go is the next one's memory
	sc := &ev.scratch
	var inv *invocation
	if n := len(sc.spares); n > 0 {
		inv = sc.spares[n-1]
		sc.spares = sc.spares[:n-1]
	} else {
		inv = sc.newInvocation()
	}
	cs := inv.calls[:0]
	switch {
	case cap(cs) >= len(calls):
	case filling:
		cs = sc.newCalls(len(calls))
	default:
		cs = make([]call, 0, len(calls))
	}
	// field by field: the whole struct would be copied from a template,
	// with a write barrier for each of its pointers
	inv.trace = t.id // the Assembler's own copy (newTrace)
	inv.hash, inv.ok, inv.dur = h, !v.outcome.Failed(), v.end-v.start
	inv.calls = append(cs, calls...)
	if inv.targets != "" || inv.encoded != "" {
		inv.targets, inv.encoded = "", ""
	}
	return inv
}

// offerPending offers the invocations a part kept for the shared samples
// (Options.Workers), an operation's under one lock.
func (ev *Evidence) offerPending() {
	k := ev.opts.sample()
	for _, op := range ev.pendingOps {
		s := op.shared
		s.mu.Lock()
		for _, inv := range op.pending {
			if out := s.h.offer(inv, k); out != nil {
				ev.scratch.spares = append(ev.scratch.spares, out)
			}
		}
		if len(s.h) == k {
			s.top.Store(s.h[0].hash) // a heap once full
		}
		s.mu.Unlock()
		clear(op.pending)
		op.pending = op.pending[:0]
	}
	clear(ev.pendingOps)
	ev.pendingOps = ev.pendingOps[:0]
}

// samples is every operation's flow sample, shared by the parts of an
// Assembler's evidence folded by workers (Options.Workers): a sample in
// each part would hold as many invocations again as there are parts.
type samples struct {
	mu sync.Mutex
	m  map[opKey]*sharedSample
}

// sharedSample is one operation's: its heap under mu, and the hash at
// the heap's top once it is full (the largest it keeps), read without the
// lock to turn most invocations away.
type sharedSample struct {
	mu  sync.Mutex
	h   invHeap
	top atomic.Uint64
}

// of is the sample of the operation k.
func (s *samples) of(k opKey) *sharedSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[k]
	if ss == nil {
		ss = &sharedSample{}
		ss.top.Store(math.MaxUint64)
		s.m[k] = ss
	}
	return ss
}

// windowed is the histogram of svc's window w in m.
func windowed(m map[int32]map[int64]*winHist, svc int32, w int64) *winHist {
	d := m[svc]
	if d == nil {
		d = map[int64]*winHist{}
		m[svc] = d
	}
	if d[w] == nil {
		d[w] = &winHist{}
	}
	return d[w]
}

// winCache is the latest window's histogram of each service (by number):
// a service's invocations mostly fall in the window of its previous one,
// and two map lookups per duration cost more than counting it. When the
// histograms are shared (Evidence.winMu), a part counts into histograms
// of its own (own), added to the shared ones when a worker's batch ends
// (flushWindows): one lock for many durations, and no cache line that
// workers write by turns.
type winCache struct {
	latest []winLatest // by service
	own    map[winKey]*winHist
	free   []*winHist
}

// winLatest is a service's latest window and its histogram.
type winLatest struct {
	w int64
	h *winHist
}

type winKey struct {
	svc int32
	w   int64
}

// windowAdd counts a duration of d ns in svc's window w of m, through the
// cache c.
func (ev *Evidence) windowAdd(c *winCache, m map[int32]map[int64]*winHist, svc int32, w, d int64) {
	if int(svc) >= len(c.latest) {
		c.latest = append(c.latest, make([]winLatest, int(svc)+1-len(c.latest))...)
	}
	e := &c.latest[svc]
	if e.h == nil || e.w != w {
		e.w = w
		if ev.winMu == nil {
			e.h = windowed(m, svc, w)
		} else {
			e.h = c.ownAt(winKey{svc, w})
		}
	}
	e.h.add(d)
}

// ownAt is the part's own histogram of k.
func (c *winCache) ownAt(k winKey) *winHist {
	h := c.own[k]
	if h == nil {
		if n := len(c.free); n > 0 {
			h, c.free = c.free[n-1], c.free[:n-1]
		} else {
			h = &winHist{}
		}
		if c.own == nil {
			c.own = map[winKey]*winHist{}
		}
		c.own[k] = h
	}
	return h
}

// share adds c's own histograms to the shared ones, m, and empties them;
// winMu held.
func (c *winCache) share(m map[int32]map[int64]*winHist) {
	for k, h := range c.own {
		to := windowed(m, k.svc, k.w)
		for b, n := range h.buckets {
			to.buckets[b] += n
		}
		to.n += h.n
		*h = winHist{}
		c.free = append(c.free, h)
	}
	clear(c.own)
	clear(c.latest)
}

// flushWindows adds what a part counted in its own window histograms to
// the shared ones.
func (ev *Evidence) flushWindows() {
	ev.winMu.Lock()
	defer ev.winMu.Unlock()
	ev.scratch.durations.share(ev.durations)
	ev.scratch.callDurations.share(ev.callDurations)
}

// winHist is a window's durations in 208 buckets eight to an octave,
// from 1µs to 69s (outside, the end buckets): under a kilobyte a window,
// for there is one per service and window of the input's whole span. Its
// quantiles are within 9%: enough to tell a window 1.5 times slower.
type winHist struct {
	n       uint32
	buckets [26 * 8]uint32
}

const winLow = 10 * 8 // log2(1024ns) × 8: the first bucket's floor

// add counts a duration of d ns, its bucket found in a table
// (winBuckets).
func (h *winHist) add(d int64) {
	b := winLow // durations ≤ 0 in the first bucket
	if d > 0 {
		b = int(winBuckets().of(d))
	}
	h.put(b, 1)
}

// addN counts n observations of d ns.
func (h *winHist) addN(d float64, n uint32) {
	b := winLow
	if d > 0 {
		b = winScale(d)
	}
	h.put(b, n)
}

// put counts n observations at b on the scale (winScale).
func (h *winHist) put(b int, n uint32) {
	h.buckets[min(max(b-winLow, 0), len(h.buckets)-1)] += n
	h.n += n
}

// winScale is where d ns is on winHist's scale: eight to an octave.
func winScale(d float64) int { return int(8 * math.Log2(d)) }

// quantile is the q-quantile in nanoseconds, interpolated within its
// bucket in log scale (observations taken as spread evenly across it).
func (h *winHist) quantile(q float64) int64 {
	target := max(q*float64(h.n), 1)
	seen := 0.0
	for b, c := range h.buckets {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= target {
			frac := (target - seen) / float64(c)
			return int64(math.Exp2((float64(b+winLow) + frac) / 8))
		}
		seen += float64(c)
	}
	return 0
}

// callsUnder appends to calls the calls of invocation v made under its
// span p: it walks v's own service's spans down to another service's.
func callsUnder(calls []call, sp []rec, kids [][]int32, v, p int32) []call {
	for _, c := range kids[p] {
		if sp[c].svc == sp[v].svc {
			if cl, ok := leafCall(sp, kids, c); ok {
				calls = append(calls, cl)
				continue
			}
			calls = callsUnder(calls, sp, kids, v, c)
			continue
		}
		// c is another service's: the call is p's when p is the
		// caller's client span for it alone
		u := c
		if p != v && len(kids[p]) == 1 && (sp[p].kind == KindClient || sp[p].kind == KindProducer || sp[p].kind == KindUnspecified) {
			u = p
		}
		cl := call{target: opKey{sp[c].svc, sp[c].op}, start: sp[u].start, end: sp[u].end, outcome: sp[u].outcome, resend: max(sp[u].resend, sp[c].resend),
			async: sp[c].followsFrom || sp[u].kind == KindProducer || sp[c].kind == KindConsumer}
		if cl.outcome == OK {
			cl.outcome = sp[c].outcome
		}
		calls = append(calls, cl)
	}
	return calls
}

// leafCall is a client or producer span of the caller's with no child in
// another service: a call to an uninstrumented peer, named by the span's
// peer attribute.
func leafCall(sp []rec, kids [][]int32, c int32) (call, bool) {
	if (sp[c].kind != KindClient && sp[c].kind != KindProducer) || sp[c].peer < 0 {
		return call{}, false
	}
	for _, k := range kids[c] {
		if sp[k].svc != sp[c].svc {
			return call{}, false
		}
	}
	return call{target: opKey{sp[c].peer, sp[c].op}, start: sp[c].start, end: sp[c].end, outcome: sp[c].outcome, resend: sp[c].resend, async: sp[c].kind == KindProducer}, true
}

// edge is the statistics of the edge from → to, nil when the limits
// drop it (counted).
func (ev *Evidence) edge(from, to int32) *edgeStats {
	k := edgeKey{from, to}
	e := ev.edges[k]
	if e == nil {
		if ev.lim != nil && len(ev.edges) >= ev.lim.maxEdges() {
			ev.dropped[dropEdges]++
			return nil
		}
		e = &edgeStats{}
		ev.edges[k] = e
	}
	return e
}

// add counts the call c of the trace, of duration bucket b.
func (e *edgeStats) add(trace string, c *call, b int32, examples int) {
	e.calls++
	if c.async {
		e.async++
	}
	switch c.outcome {
	case OK:
		e.ok.addAt(b, c.end-c.start)
	case Cancelled:
		e.cancelled++
	default:
		e.errors++
	}
	e.examples.add(trace, examples)
}

// fnvPrime is FNV-1a's 64-bit prime.
const fnvPrime = 1099511628211

// traceHash is FNV-1a of the trace id and a zero byte: where spanHash
// starts for each of the trace's spans, so a fold hashes the id once.
func traceHash(trace string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(trace); i++ {
		h = (h ^ uint64(trace[i])) * fnvPrime
	}
	return (h ^ 0) * fnvPrime
}

// spanHash goes on from traceHash's h with the span id: FNV-1a of both.
func spanHash(h uint64, span []byte) uint64 {
	for i := 0; i < len(span); i++ {
		h = (h ^ uint64(span[i])) * fnvPrime
	}
	return h
}

// DomainLabels counts the failure domains declared for a service: on its
// own spans (emac.failure_domain) and by its callers (emac.peer.failure_domain),
// by value.
func (ev *Evidence) DomainLabels(service string) map[string]int {
	svc, ok := ev.names.ids[service]
	if !ok {
		return nil
	}
	out := map[string]int{}
	if s := ev.services[svc]; s != nil {
		for id, n := range s.places {
			if d := ev.places.list[id].Domain; d != "" {
				out[d] += n
			}
		}
	}
	for v, n := range ev.peerDomains(svc) {
		out[v] += n
	}
	return out
}

// peerDomains is peerLabels[svc] by the domains' names.
func (ev *Evidence) peerDomains(svc int32) map[string]int {
	out := map[string]int{}
	for v, n := range ev.peerLabels[svc] {
		out[ev.name(v)] += n
	}
	return out
}

// AddPlacement records that a service ran where p says, from topology
// (a pod of it): one observation, as one span's.
func (ev *Evidence) AddPlacement(service string, p Placement) {
	s := ev.service(ev.names.id(service))
	if s.places == nil {
		s.places = map[int32]int{}
	}
	s.places[ev.places.id(p)]++
}

// limitTargets drops the calls to targets op has no room for.
func (ev *Evidence) limitTargets(op *opStats, calls []call) []call {
	n, limit := len(op.targets), ev.lim.maxTargets()
	var added []opKey
	return slices.DeleteFunc(calls, func(c call) bool {
		if op.targets[c.target] != nil || slices.Contains(added, c.target) {
			return false
		}
		if n >= limit {
			ev.dropped[dropTargets]++
			return true
		}
		n++
		added = append(added, c.target)
		return false
	})
}
