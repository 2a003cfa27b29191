// Package nezha reads the Nezha dataset (IntelligentDDS/Nezha, the
// online-boutique and train-ticket runs in shared/data/nezha): its span
// tables into discovery.Spans, its fault labels and its ground-truth
// dependency graph.
//
// A span table (<run>/trace/<hour>_<minute>_trace.csv.gz) is a CSV file
// with a header:
//
//	TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration
//	0087f677…,ee744a66e6efcb2e,root,frontend-579b9bff58-t2dbm,hipstershop.Frontend/Recv.,1661140374351773094,1661140374362982609,11209
//
// Columns are found by their header name, so their order does not
// matter; Duration (µs) is used only when EndTimeUnixNano is absent.
// The mapping onto discovery.Span:
//
//   - TraceID, SpanID as written; ParentID "root" (or empty) is a root.
//   - Service: the pod name without its controller's suffixes
//     (ServiceOf): frontend-579b9bff58-t2dbm → frontend. Placement.Pod:
//     the pod name.
//   - Operation: OperationName. Start, End: the two UnixNano columns.
//   - Kind is unspecified and Outcome OK: the tables have neither a kind
//     nor a status column (the runs' faults are in fault_list.json).
//
// Read decompresses gzip input itself (the dataset ships .csv.gz), found
// by its magic number. It cuts the input into chunks of whole lines
// (256 KiB), which GOMAXPROCS goroutines (at most 4) split into spans at
// once, and hands the spans to the sink in the input's order, on the
// caller's goroutine: memory is bounded by a few chunks a goroutine. A
// row's ids are copied into one string, unless the sink copies them
// itself (discovery.IDCopier, as the Assembler does); its pod and
// operation names are kept once each. From the first chunk with a quote
// on, rows are read one by one (table): a quoted field may hold a line
// break.
// A row that does not parse (Corrupt) or lacks an id or a pod
// (MissingField) is reported with its line (and the field's column) and
// dropped. Positions are the row's line and byte offset in the CSV (after
// decompression).
package nezha

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/emac-dev/emac/internal/discovery"
)

// The header names Read looks for.
const (
	colTrace     = "TraceID"
	colSpan      = "SpanID"
	colParent    = "ParentID"
	colPod       = "PodName"
	colOperation = "OperationName"
	colStart     = "StartTimeUnixNano"
	colEnd       = "EndTimeUnixNano"
	colDuration  = "Duration"
)

// Read streams the Nezha span table r (named name in positions, CSV or
// gzip-compressed CSV) into sink. It returns an error only when reading
// r fails, ctx is done, or sink.Span returns one; everything wrong with
// the input itself is a sink.Problem.
func Read(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error {
	return read(ctx, name, r, sink, options{})
}

// options tune read; the zero value is Read's.
type options struct {
	// Workers is the number of goroutines splitting rows (0: GOMAXPROCS,
	// at most 4; 1 reads on the caller's alone); Block is the bytes of
	// whole lines each takes at a time (0: 256 KiB).
	Workers, Block int
}

func (o options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return min(runtime.GOMAXPROCS(0), 4)
}

func (o options) block() int {
	if o.Block > 0 {
		return o.Block
	}
	return 256 << 10
}

func read(ctx context.Context, name string, r io.Reader, sink discovery.Sink, opts options) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	problem := func(kind discovery.ProblemKind, line, col int, off int64, record, detail string) {
		sink.Problem(discovery.Problem{Kind: kind, Pos: discovery.Pos{File: name, Line: line, Col: col, Offset: off, Record: record}, Detail: detail})
	}
	// ioErr passes the reader's errors through; gzip's format errors are
	// about the input, not I/O: a problem at off, where the rows stop.
	ioErr := func(err error, off int64) error {
		var corrupt flate.CorruptInputError
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt) {
			problem(discovery.Corrupt, 0, 0, off, "", "gzip: "+err.Error()+"; the rest of "+name+" is not read")
			return nil
		}
		return err
	}

	// Look at the first two bytes for gzip's magic number (a peek: the
	// input package hands over a bufio.Reader, and a second buffer
	// would cost a copy).
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	var in io.Reader = br
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		return err
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return ioErr(err, 0)
		}
		defer zr.Close()
		in = zr
	}
	tb := newTable(in)

	header, err := tb.read()
	if err == io.EOF {
		return nil // an empty table
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			problem(discovery.Corrupt, pe.Line, pe.Column, 0, "header", "CSV: "+pe.Err.Error()+"; "+name+" is not read")
			return nil
		}
		return ioErr(err, tb.offset())
	}
	header = slices.Clone(header) // the record is the table's
	for i, h := range header {
		header[i] = strings.Clone(h)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimPrefix(h, "\ufeff")
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	col := func(h string) int {
		if i, ok := cols[h]; ok {
			return i
		}
		return -1
	}
	iTrace, iSpan, iParent, iPod, iOp := col(colTrace), col(colSpan), col(colParent), col(colPod), col(colOperation)
	iStart, iEnd, iDur := col(colStart), col(colEnd), col(colDuration)
	var missing []string
	for _, c := range []struct {
		name string
		i    int
	}{{colTrace, iTrace}, {colSpan, iSpan}, {colParent, iParent}, {colPod, iPod}, {colOperation, iOp}, {colStart, iStart}} {
		if c.i < 0 {
			missing = append(missing, c.name)
		}
	}
	if iEnd < 0 && iDur < 0 {
		missing = append(missing, colEnd+" (or "+colDuration+")")
	}
	if len(missing) > 0 {
		problem(discovery.MissingField, 1, 0, 0, "header", "not a Nezha span table: no column "+strings.Join(missing, ", ")+"; "+name+" is not read")
		return nil
	}
	need := max(iTrace, iSpan, iParent, iPod, iOp, iStart, iEnd) + 1
	if iEnd < 0 {
		need = max(need, iDur+1)
	}
	c := columns{iTrace, iSpan, iParent, iPod, iOp, iStart, iEnd, iDur, need, len(header)}
	if workers := opts.workers(); workers > 1 && tb.slow == nil {
		return readChunks(ctx, name, tb, c, sink, workers, opts.block(), ioErr)
	}
	return readRows(ctx, tb, newRows(name, c, discovery.CopiesIDs(sink)), sink, ioErr)
}

// columns are where a table's fields are, and how many a row needs.
type columns struct {
	trace, span, parent, pod, op, start, end, dur int
	need, header                                  int
}

// readRows reads tb's rows one by one into sink.
func readRows(ctx context.Context, tb *table, rw *rows, sink discovery.Sink, ioErr func(error, int64) error) error {
	for n := 1; ; n++ {
		rec, err := tb.read()
		start := tb.begin
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				sink.Problem(rw.problem(discovery.Corrupt, pe.Line, pe.Column, start, "CSV: "+pe.Err.Error()))
				continue
			}
			return ioErr(err, tb.offset())
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if p, ok := rw.row(&rw.r, rec, tb.line, start, tb.fieldPos); !ok {
			sink.Problem(p)
			continue
		}
		rw.r.into(&rw.s)
		if err := sink.Span(&rw.s); err != nil {
			return err
		}
	}
}

// rows makes spans of rows: what a reader keeps from row to row.
type rows struct {
	name string
	c    columns
	// r is the last row's span, for readRows
	r spanRow
	// s is the span readRows hands over, set from r field by field and
	// never cleared: the fields a row does not set stay zero, and
	// clearing it would cost a write barrier per pointer while the GC
	// runs.
	s discovery.Span
	// the row's fields are the table's buffer: what the span keeps is
	// copied, the ids of a row in one string (the trace's shared with the
	// row before when it is the same) unless the sink copies them
	// (borrow), the pods and operations once each, for the few there are
	ids       []byte
	lastTrace string
	pods      kept[*pod]
	ops       kept[string]
	lastPod   *pod // and the last, as rows of a pod come in runs
	// borrow says the sink copies ids (discovery.IDCopier): a row's are
	// its fields, the table's or the chunk's bytes, not copied here
	borrow bool
}

// A spanRow is what a row makes of a span: the fields a span of the
// tables can have, in a third of a discovery.Span's bytes, as chunks
// keep thousands of them.
type spanRow struct {
	trace, span, parent, op string
	pod                     *pod
	start, end              int64
	line                    int
	off                     int64
}

// into sets s's fields from r's. The fields r has not are left as they
// are: a reader's span has them zero.
func (r *spanRow) into(s *discovery.Span) {
	s.TraceID, s.SpanID, s.ParentID = r.trace, r.span, r.parent
	s.Service, s.Placement.Pod = r.pod.service, r.pod.name
	s.Operation = r.op
	s.Start, s.End = r.start, r.end
	s.Pos.Line, s.Pos.Offset = r.line, r.off
}

func newRows(name string, c columns, borrow bool) *rows {
	return &rows{name: name, c: c, borrow: borrow, s: discovery.Span{Pos: discovery.Pos{File: name}}, lastPod: &pod{}}
}

func (rw *rows) problem(kind discovery.ProblemKind, line, col int, off int64, detail string) discovery.Problem {
	return discovery.Problem{Kind: kind, Pos: discovery.Pos{File: rw.name, Line: line, Col: col, Offset: off}, Detail: detail}
}

// row makes r the span of rec, the row of the line starting at byte
// start, setting every field of r; fieldPos is where a field of it is.
// It returns false, and the problem, when the row is not a span.
func (rw *rows) row(r *spanRow, rec []string, line int, start int64, fieldPos func(int) (int, int)) (discovery.Problem, bool) {
	c := &rw.c
	fieldProblem := func(kind discovery.ProblemKind, i int, detail string) (discovery.Problem, bool) {
		l, col := fieldPos(i)
		return rw.problem(kind, l, col, start, detail), false
	}
	if len(rec) < c.need {
		return rw.problem(discovery.Corrupt, line, 0, start, "a row of "+strconv.Itoa(len(rec))+" fields; the header has "+strconv.Itoa(c.header)), false
	}
	r.line, r.off = line, start
	trace, span, parent, op, podName := rec[c.trace], rec[c.span], rec[c.parent], rec[c.op], rec[c.pod]
	if parent == "root" {
		parent = ""
	}
	switch {
	case trace == "":
		return fieldProblem(discovery.MissingField, c.trace, "no "+colTrace)
	case span == "":
		return fieldProblem(discovery.MissingField, c.span, "no "+colSpan)
	case podName == "":
		return fieldProblem(discovery.MissingField, c.pod, "no "+colPod+": no service")
	}
	if rw.borrow {
		r.trace, r.span, r.parent = trace, span, parent
	} else if trace == rw.lastTrace {
		rw.ids = append(append(rw.ids[:0], span...), parent...)
		kept := string(rw.ids)
		r.trace, r.span, r.parent = rw.lastTrace, kept[:len(span)], kept[len(span):]
	} else {
		rw.ids = append(append(append(rw.ids[:0], trace...), span...), parent...)
		kept := string(rw.ids)
		r.trace, r.span, r.parent = kept[:len(trace)], kept[len(trace):len(trace)+len(span)], kept[len(trace)+len(span):]
		rw.lastTrace = r.trace
	}
	if podName != rw.lastPod.name {
		rw.lastPod = rw.pods.get(podName, newPod)
	}
	r.pod = rw.lastPod
	r.op = rw.ops.get(op, keepOp)
	var bad bool
	if r.start, bad = parseNano(rec[c.start]); bad {
		return fieldProblem(discovery.Corrupt, c.start, colStart+" "+strconv.Quote(rec[c.start])+" is not an integer")
	}
	if c.end >= 0 {
		if r.end, bad = parseNano(rec[c.end]); bad {
			return fieldProblem(discovery.Corrupt, c.end, colEnd+" "+strconv.Quote(rec[c.end])+" is not an integer")
		}
	} else {
		us, bad := parseNano(rec[c.dur])
		if bad || us > (1<<63-1)/1000 || us < 0 {
			return fieldProblem(discovery.Corrupt, c.dur, colDuration+" "+strconv.Quote(rec[c.dur])+" is not a duration in µs")
		}
		r.end = r.start + us*1000
	}
	if r.end < r.start {
		return fieldProblem(discovery.Corrupt, c.end, "the span ends before it starts")
	}
	return discovery.Problem{}, true
}

// kept holds one copy of each of a table's names (pods, operations) and
// what is made of it, at most 2^16. A name is looked for in a slot of
// recent ones before the map: a table has a few dozen, and a map's hash
// of each row's names cost more than all its other lookups.
type kept[V any] struct {
	m     map[string]keptName[V]
	slots [256]struct {
		keptName[V]
		ok bool
	}
}

// slotOf is name's slot in kept: a multiplicative hash of its last 8
// bytes, where names of one service's methods and of one controller's
// pods differ.
func slotOf(name string) int {
	var w uint64
	if n := len(name); n >= 8 {
		w = binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(name[n-8:]), 8))
	} else {
		for i := range n {
			w = w<<8 | uint64(name[i])
		}
	}
	return int(((w ^ uint64(len(name))) * 0x9e3779b97f4a7c15) >> (64 - 8))
}

// keptName is a name, copied, and what was made of it.
type keptName[V any] struct {
	name string
	v    V
}

// get is what was made of name, made by mk (from a copy of it) the first
// time.
func (k *kept[V]) get(name string, mk func(string) V) V {
	slot := &k.slots[slotOf(name)]
	if slot.ok && slot.name == name {
		return slot.v
	}
	// the slot holds the copy, never name: a row's name is bytes of the
	// reader's buffer
	e, ok := k.m[name]
	if !ok {
		e.name = strings.Clone(name)
		e.v = mk(e.name)
		if k.m == nil {
			k.m = map[string]keptName[V]{}
		}
		if len(k.m) < 1<<16 {
			k.m[e.name] = e
		}
	}
	slot.keptName, slot.ok = e, true
	return e.v
}

// keepOp is the kept copy of an operation name.
func keepOp(op string) string { return op }

// newPod is the pod of a kept name.
func newPod(name string) *pod { return &pod{name: name, service: ServiceOf(name)} }

// pod is a pod's name and its service.
type pod struct{ name, service string }

// parseNano parses a decimal int64; bad says it is not one.
func parseNano(f string) (int64, bool) {
	// The common case (19 digits of Unix nanoseconds fit a uint64),
	// without strconv's generality: eight digits at a time, then one by
	// one. Two numbers a row make it count.
	if n := len(f); n > 0 && n <= 19 {
		var v uint64
		i := 0
		for ; i+8 <= n; i += 8 {
			d, ok := eightDigits(f[i : i+8])
			if !ok {
				goto slow
			}
			v = v*100000000 + d
		}
		for ; i < n; i++ {
			c := f[i]
			if c < '0' || c > '9' {
				goto slow
			}
			v = v*10 + uint64(c-'0')
		}
		if v <= math.MaxInt64 {
			return int64(v), false
		}
	}
slow:
	v, err := strconv.ParseInt(f, 10, 64)
	return v, err != nil
}

// eightDigits is the value of s, eight ASCII digits, found in one 64-bit
// word (the first digit its lowest byte): each byte less '0', checked
// to be 0 to 9, then pairs, quads and the halves combined by multiplying.
func eightDigits(s string) (uint64, bool) {
	_ = s[7] // one bounds check, not eight
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	d := w - 0x3030303030303030
	// every byte was '0'…'9': its high nibble 3, and adding 6 to its
	// digit does not carry into the nibble
	if w&0xf0f0f0f0f0f0f0f0 != 0x3030303030303030 || (d+0x0606060606060606)&0xf0f0f0f0f0f0f0f0 != 0 {
		return 0, false
	}
	d = d*10 + d>>8 // two digits in every other byte
	d = ((d&0x000000ff000000ff)*(100+(1000000<<32)) + (d>>16&0x000000ff000000ff)*(1+(10000<<32))) >> 32
	return d, true
}

// Sniff says whether head, an input's first bytes (gzip-compressed or
// not), looks like a Nezha span table: a complete first line that is a
// CSV header with the TraceID, SpanID, ParentID, PodName and
// StartTimeUnixNano columns.
func Sniff(head []byte) bool {
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return false
		}
		var buf [4096]byte
		n, _ := io.ReadFull(zr, buf[:])
		head = buf[:n]
	}
	line, _, ok := bytes.Cut(head, []byte{'\n'})
	if !ok {
		return false
	}
	line = bytes.TrimSuffix(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")), []byte{'\r'})
	have := map[string]bool{}
	for _, f := range bytes.Split(line, []byte{','}) {
		have[string(f)] = true
	}
	for _, c := range []string{colTrace, colSpan, colParent, colPod, colStart} {
		if !have[c] {
			return false
		}
	}
	return true
}

// ServiceOf is the service a Kubernetes pod name belongs to: the name
// without a Deployment pod's "-<pod-template-hash>-<5 random
// characters>" (frontend-579b9bff58-t2dbm → frontend,
// ts-station-food-service-dc4d75dd-k65k2 → ts-station-food-service) or a
// StatefulSet pod's "-<ordinal>" (redis-cart-0 → redis-cart). Both
// Kubernetes suffixes are drawn from the alphabet
// "bcdfghjklmnpqrstvwxz2456789" (no vowels, no 0, 1, 3), the hash 1 to 10
// characters long, which is what tells them from a name's own words;
// any other name is returned as it is.
func ServiceOf(pod string) string {
	if i := strings.LastIndexByte(pod, '-'); i > 0 {
		last := pod[i+1:]
		if digits(last) {
			return pod[:i]
		}
		if len(last) == 5 && k8sAlphabet(last) {
			if j := strings.LastIndexByte(pod[:i], '-'); j > 0 {
				if h := pod[j+1 : i]; len(h) >= 1 && len(h) <= 10 && k8sAlphabet(h) {
					return pod[:j]
				}
			}
		}
	}
	return pod
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// k8sAlphabet says whether s is drawn from the alphabet Kubernetes
// writes generated name parts in (k8s.io/apimachinery/pkg/util/rand).
func k8sAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", rune(s[i])) {
			return false
		}
	}
	return true
}
