package discovery

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Options configure an Assembler; the zero value is the default.
type Options struct {
	// MaxSpans bounds the spans held in open traces: past it, the least
	// recently touched trace is closed and folded in as it is (0 means
	// 1<<16). Memory stays flat however long the input, and traces are
	// folded while the input is still being read; a trace whose spans lie
	// further apart in the input than this is seen in parts (counted as
	// incomplete: raise it then).
	MaxSpans int
	// Skew is the clock-skew tolerance: a child starting before its
	// parent or ending after it by more is counted and shifted into it
	// (0 means 1ms).
	Skew time.Duration
	// Sample is the number of invocations of each operation kept for
	// inferring its flow (0 means 5000): the invocations whose trace
	// ids hash lowest, so the sample does not depend on input order.
	// Counts (edges, probabilities, errors, latencies) use every trace.
	Sample int
	// Window is the co-failure window (0 means one minute).
	Window time.Duration
	// Examples is the number of trace ids kept as provenance per
	// element, the lowest (0 means 3).
	Examples int
	// Idle is how long a Recorder keeps a trace open after its latest
	// span arrived (0 means 10s): a collector sees a trace's spans over a
	// while. Readers of files close traces by MaxSpans alone.
	Idle time.Duration
	// Workers is the number of goroutines that fold closed traces, beside
	// the one calling Span (0: that one folds them itself). Each folds
	// into counts of its own (sharing the windows' histograms and the
	// flow samples, which are what is large), and Close merges them: the
	// Evidence is the same as folding in place gives. A Recorder folds in
	// place.
	Workers int
}

func (o Options) maxSpans() int { return cmpOr(o.MaxSpans, 1<<16) }
func (o Options) skew() int64   { return int64(cmpOr(o.Skew, time.Millisecond)) }
func (o Options) sample() int   { return cmpOr(o.Sample, 5000) }
func (o Options) window() int64 { return int64(cmpOr(o.Window, time.Minute)) }
func (o Options) examples() int { return cmpOr(o.Examples, 3) }
func (o Options) idle() time.Duration {
	return cmpOr(o.Idle, 10*time.Second)
}
func cmpOr[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// Assembler is a Sink that groups spans into traces and folds each
// closed trace into its Evidence. Close it at the end of the input.
type Assembler struct {
	opts Options
	ev   *Evidence
	open map[string]*otrace
	// lru is the open traces, least recently touched first (a ring
	// through head).
	head  otrace
	spans int
	// closed remembers recently closed trace ids, to count spans that
	// arrive after their trace was closed.
	closed     map[string]struct{}
	closedRing []string
	closedNext int
	// now is the arrival time given to spans, set by a Recorder (the
	// files' readers leave it 0: there traces close by count alone)
	now int64
	// seq numbers the traces closed and the problems reported, in order:
	// it orders the problems' examples when workers fold (Options.Workers)
	seq int64
	// work takes closed traces to the workers in batches; parts are their
	// evidence, merged into ev by Close
	work chan []closed
	// done takes the folded batches back: their traces are reused, and
	// so their spans' arrays (free), sparing the garbage collector most
	// of what assembling allocates
	done chan []closed
	free []*otrace
	// traces and folded count the traces closed and their spans
	traces, folded int
	idBytes        int64 // the folded traces' ids
	maxIDs         int   // bounds a trace's ids bytes (maxIDs; tests lower it)
	batch          []closed
	batchSpans     int
	parts          []*Evidence
	workers        sync.WaitGroup
	winMu          sync.Mutex // guards the windows' histograms the parts share
	samples        samples    // the flow samples they share
	// recentNames and recentPlaces find most spans' numbers for their
	// names (service, operation, peer) and placement without hashing them
	recentNames  recent[string]
	recentPlaces recent[Placement]
	// last caches the numbers of the latest span's service and placement
	last struct {
		service   string
		svc       int32
		placement Placement
		place     int32
	}
}

// closed is a trace for a worker to fold, and its sequence number.
type closed struct {
	t   *otrace
	seq int64
}

// foldBatch is the spans of closed traces sent to a worker at a time: a
// few hundred traces, so handing them over costs little, and the ones
// held waiting stay few beside the open ones.
const foldBatch = 1 << 12

// otrace is an open trace.
type otrace struct {
	id    string
	spans []rec
	// ids holds the bytes of its spans' ids and records (rec's refs),
	// files the files they came from (rec.file): a rec holds no pointer,
	// so the garbage collector need not scan the spans held, nor a write
	// barrier guard each one's copy
	ids        []byte
	files      []string
	prev, next *otrace
	// touched is when a span of it last arrived (Assembler.now)
	touched int64
}

// ref is bytes of otrace.ids: an offset and a length.
type ref struct{ off, n uint32 }

// maxIDs bounds a trace's ids bytes, for ref's offsets (the default of
// Assembler.maxIDs).
const maxIDs = 1<<32 - 1

// put keeps v in the trace's ids.
func (t *otrace) put(v string) ref {
	if v == "" {
		return ref{}
	}
	r := ref{uint32(len(t.ids)), uint32(len(v))}
	t.ids = append(t.ids, v...)
	return r
}

// bytes is r's bytes.
func (t *otrace) bytes(r ref) []byte { return t.ids[r.off : r.off+r.n : r.off+r.n] }

// str is r's bytes as a new string.
func (t *otrace) str(r ref) string { return string(t.bytes(r)) }

// file is the number of the file name in t.files.
func (t *otrace) file(name string) int32 {
	for i := len(t.files) - 1; i >= 0; i-- {
		if t.files[i] == name {
			return int32(i)
		}
	}
	t.files = append(t.files, name)
	return int32(len(t.files) - 1)
}

// pos is span i's position.
func (t *otrace) pos(i int32) Pos {
	r := &t.spans[i]
	return Pos{File: t.files[r.file], Line: int(r.line), Col: int(r.col), Offset: r.offset, Record: t.str(r.record)}
}

// rec is a span held in an open trace: names and placement numbered, ids
// and position in its trace's bytes.
type rec struct {
	start, end           int64
	id, parent           ref
	svc, op, peer, place int32
	peerDomain, resend   int32
	file                 int32 // in otrace.files
	kind                 Kind
	outcome              Outcome
	followsFrom          bool
	line, col, offset    int64
	record               ref
}

// NewAssembler returns an Assembler folding into a new Evidence.
func NewAssembler(opts Options) *Assembler {
	a := &Assembler{opts: opts, ev: newEvidence(opts), open: map[string]*otrace{}, closed: map[string]struct{}{}, maxIDs: maxIDs}
	a.head.prev, a.head.next = &a.head, &a.head
	a.closedRing = make([]string, 1<<16)
	a.last.svc, a.last.place = -1, -1
	if opts.Workers > 0 {
		a.samples.m = map[opKey]*sharedSample{}
		a.work = make(chan []closed, opts.Workers)
		a.done = make(chan []closed, opts.Workers+1)
		for range opts.Workers {
			part := newEvidence(opts)
			part.durations, part.callDurations, part.winMu = a.ev.durations, a.ev.callDurations, &a.winMu
			part.samples = &a.samples
			a.parts = append(a.parts, part)
			a.workers.Go(func() {
				for b := range a.work {
					for _, c := range b {
						part.seq = c.seq
						part.fold(c.t)
					}
					part.offerPending()
					part.flushWindows()
					select {
					case a.done <- b:
					default:
					}
				}
			})
		}
	}
	return a
}

// report counts a problem found while assembling, numbered in order with
// the traces closed.
func (a *Assembler) report(p Problem) {
	a.seq++
	a.ev.seq = a.seq
	a.ev.problem(p)
}

// Span implements Sink.
func (a *Assembler) Span(s *Span) error {
	ev := a.ev
	switch {
	case s.TraceID == "" || s.SpanID == "":
		a.report(Problem{Kind: MissingField, Pos: s.Pos, Detail: "a span without a trace id or a span id"})
		return nil
	case s.Service == "":
		a.report(Problem{Kind: MissingField, Pos: s.Pos, Detail: "span " + s.SpanID + " has no service"})
		return nil
	}
	// the trace of the latest span is the last touched: the common case
	// where a trace's spans come together needs no lookup
	t := a.head.prev
	if t == &a.head || t.id != s.TraceID {
		t = a.open[s.TraceID]
		if t == nil {
			if _, late := a.closed[s.TraceID]; late {
				a.report(Problem{Kind: Incomplete, Pos: s.Pos, Detail: "span " + s.SpanID + " arrived after its trace " + s.TraceID + " was closed (raise the window)"})
			}
			t = a.newTrace(s.TraceID)
			a.open[t.id] = t
		} else {
			t.prev.next, t.next.prev = t.next, t.prev // unlink: it goes last
		}
		t.prev, t.next = a.head.prev, &a.head
		a.head.prev.next = t
		a.head.prev = t
	}
	t.touched = a.now
	// consecutive spans mostly share their service and placement: the last
	// ones' numbers are kept, sparing a hash of each
	if s.Service != a.last.service {
		a.last.service, a.last.svc = s.Service, a.recentNames.id(&ev.names, s.Service)
	}
	if len(t.ids)+len(s.SpanID)+len(s.ParentID)+len(s.Pos.Record) > a.maxIDs && len(t.spans) > 0 {
		// a trace of gigabytes of ids: folded in parts, the later ones
		// counted as late
		a.close(t)
		return a.Span(s)
	}
	// filled in place, field by field: a rec made whole and then
	// appended is built on the stack from a template, and copied twice
	t.spans = append(t.spans, rec{})
	r := &t.spans[len(t.spans)-1]
	r.id, r.parent, r.record = t.put(s.SpanID), t.put(s.ParentID), t.put(s.Pos.Record)
	r.svc, r.op = a.last.svc, a.recentNames.id(&ev.names, s.Operation)
	r.kind, r.outcome, r.followsFrom, r.resend = s.Kind, s.Outcome, s.FollowsFrom, int32(s.Resend)
	r.start, r.end = s.Start, max(s.End, s.Start)
	r.file, r.line, r.col, r.offset = t.file(s.Pos.File), int64(s.Pos.Line), int64(s.Pos.Col), s.Pos.Offset
	r.peer, r.peerDomain, r.place = -1, -1, -1
	if s.Peer != "" {
		r.peer = a.recentNames.id(&ev.names, s.Peer)
	}
	if s.PeerDomain != "" {
		r.peerDomain = a.recentNames.id(&ev.names, s.PeerDomain)
	}
	if s.Placement != (Placement{}) {
		if a.last.place < 0 || !s.Placement.same(&a.last.placement) {
			a.last.placement, a.last.place = s.Placement, a.recentPlaces.id(&ev.places, s.Placement)
		}
		r.place = a.last.place
	}
	ev.Spans++
	a.spans++
	for a.spans > a.opts.maxSpans() && a.head.next != &a.head {
		a.close(a.head.next)
	}
	return nil
}

// Problem implements Sink.
func (a *Assembler) Problem(p Problem) { a.report(p) }

// CopiesIDs implements IDCopier: a span's ids go into its trace's bytes
// (otrace.put), and the trace's id is copied by newTrace.
func (a *Assembler) CopiesIDs() bool { return true }

// expire folds in the traces no span of which arrived since before: the
// open traces are in the order they were touched.
func (a *Assembler) expire(before int64) {
	for a.head.next != &a.head && a.head.next.touched < before {
		a.close(a.head.next)
	}
}

// close folds t in and forgets it.
func (a *Assembler) close(t *otrace) {
	t.prev.next, t.next.prev = t.next, t.prev
	delete(a.open, t.id)
	a.spans -= len(t.spans)
	a.traces++
	a.folded += len(t.spans)
	a.idBytes += int64(len(t.ids))
	if old := a.closedRing[a.closedNext]; old != "" {
		delete(a.closed, old)
	}
	id := t.id // newTrace's copy
	a.closedRing[a.closedNext] = id
	a.closed[id] = struct{}{}
	a.closedNext = (a.closedNext + 1) % len(a.closedRing)
	a.seq++
	if a.work == nil {
		a.ev.seq = a.seq
		a.ev.fold(t)
		a.recycle(t)
		return
	}
	a.batch = append(a.batch, closed{t, a.seq})
	if a.batchSpans += len(t.spans); a.batchSpans >= foldBatch {
		a.flush()
	}
}

// newTrace is an open trace of the id, a folded one's reused when there
// is one. The id is copied: a reader's may be bytes of its buffer
// (IDCopier), or a slice of a record's string that the trace's open and
// remembered id (Assembler.closed) would hold.
func (a *Assembler) newTrace(id string) *otrace {
	if len(a.free) == 0 && a.done != nil {
		select {
		case b := <-a.done:
			for _, c := range b {
				a.recycle(c.t)
			}
			if a.batch == nil {
				a.batch = b[:0]
			}
		default:
		}
	}
	if n := len(a.free); n > 0 {
		t := a.free[n-1]
		a.free = a.free[:n-1]
		t.id = strings.Clone(id)
		return t
	}
	n := a.typical()
	// and its ids' bytes as many as the folded traces' spans had each
	perSpan := 32
	if a.folded > 0 {
		perSpan = max(perSpan, int(a.idBytes/int64(a.folded)))
	}
	return &otrace{id: strings.Clone(id), spans: make([]rec, 0, n), ids: make([]byte, 0, n*perSpan)}
}

// typical is the length of a new trace's array: half as long again as the
// traces seen so far (closed and open) are on average, so that most are
// not grown span by span, nor far longer than they need.
func (a *Assembler) typical() int {
	n := 8
	if traces := a.traces + len(a.open); traces > 0 {
		n = max(n, (3*(a.folded+a.spans)/(2*traces)+7)&^7)
	}
	return n
}

// recycle keeps a folded trace for newTrace, unless its array is far
// longer than typical: one long trace must not make every array that
// long, which memory would pay for in every trace held open.
func (a *Assembler) recycle(t *otrace) {
	if cap(t.spans) <= 2*a.typical() {
		ids := t.ids[:0]
		if cap(ids) > 128*cap(t.spans) {
			ids = nil // long records (OTLP's paths): not kept for every trace
		}
		clear(t.files)
		*t = otrace{spans: t.spans[:0], ids: ids, files: t.files[:0]}
		a.free = append(a.free, t)
	}
}

// flush hands the batch of closed traces to the workers.
func (a *Assembler) flush() {
	if len(a.batch) > 0 {
		a.work <- a.batch
		a.batch, a.batchSpans = nil, 0
	}
}

// Close folds every open trace in and returns the evidence.
func (a *Assembler) Close() *Evidence {
	// in the order of their ids, so that the result does not depend on
	// the order the input left them open in
	ts := make([]*otrace, 0, len(a.open))
	for t := a.head.next; t != &a.head; t = t.next {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(x, y *otrace) int { return cmp.Compare(x.id, y.id) })
	for _, t := range ts {
		a.close(t)
	}
	if a.work != nil {
		a.flush()
		close(a.work)
		a.workers.Wait()
		for _, p := range a.parts {
			a.ev.merge(p)
		}
		for k, ss := range a.samples.m {
			a.ev.ops[k].sample = ss.h
		}
		a.ev.sortExamples()
		a.work, a.parts = nil, nil
	}
	return a.ev
}

// recent is a direct-mapped cache of numbered values, indexed by where a
// value's (first) string's bytes are: readers give one string for a name
// they see again (interned), and its address finds its number without
// hashing it. An entry is compared in full (at once when its strings are
// the same memory), so a value at an address another's had is a miss,
// never a wrong number. It has room for a few hundred: a reader on
// several goroutines may intern a name once on each.
type recent[K string | Placement] [256]struct {
	k  K
	id int32 // + 1: 0 is empty
}

// id is n's number of v, through the cache.
func (c *recent[K]) id(n *numbering[K], v K) int32 {
	var s string
	switch v := any(v).(type) {
	case string:
		s = v
	case Placement:
		s = v.Pod
	}
	e := &c[(uintptr(unsafe.Pointer(unsafe.StringData(s)))>>3^uintptr(len(s)))%uintptr(len(c))]
	if e.id > 0 && e.k == v {
		return e.id - 1
	}
	id := n.id(v)
	e.k, e.id = v, id+1
	return id
}

// numbering numbers the distinct values it is given, from 0: services,
// operations and placements are held as small integers.
type numbering[K comparable] struct {
	ids  map[K]int32
	list []K
}

func (n *numbering[K]) id(v K) int32 {
	if i, ok := n.ids[v]; ok {
		return i
	}
	if n.ids == nil {
		n.ids = map[K]int32{}
	}
	i := int32(len(n.list))
	n.ids[v] = i
	n.list = append(n.list, v)
	return i
}
