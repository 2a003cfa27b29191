// Package readtest is what the tests of the span readers share: the
// checks every reader must pass (problems at the positions marked in an
// input, errors, streaming, byte-by-byte reading) and the inputs and
// sinks they take. Only _test.go files import it.
package readtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/discovery"
)

// IDCopier is a Collector that copies the ids itself: a
// discovery.IDCopier, which a reader may hand ids of its own buffer.
// What it keeps is what a Collector handed the same spans keeps, unless
// the reader lent it more than the ids.
type IDCopier struct{ discovery.Collector }

// CopiesIDs implements discovery.IDCopier.
func (c *IDCopier) CopiesIDs() bool { return true }

// Span implements discovery.Sink: it keeps a copy of s, ids copied.
func (c *IDCopier) Span(s *discovery.Span) error {
	cp := *s
	cp.TraceID, cp.SpanID, cp.ParentID = strings.Clone(s.TraceID), strings.Clone(s.SpanID), strings.Clone(s.ParentID)
	return c.Collector.Span(&cp)
}

// ReadFunc is a reader's Read: it streams r (named name in positions)
// into sink.
type ReadFunc func(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error

// Collect runs read over r and collects what it gives; an error fails
// the test.
func Collect(t testing.TB, read ReadFunc, name string, r io.Reader) *discovery.Collector {
	t.Helper()
	var c discovery.Collector
	if err := read(context.Background(), name, r, &c); err != nil {
		t.Fatalf("Read(%s): %v", name, err)
	}
	return &c
}

// Annotate removes the markers ‸ from s and gives their positions in
// what is left: where the test expects a span or a problem.
func Annotate(name, s string) (string, []discovery.Pos) {
	var b strings.Builder
	var marks []discovery.Pos
	line, col := 1, 1
	for _, r := range s {
		if r == '‸' {
			marks = append(marks, discovery.Pos{File: name, Line: line, Col: col, Offset: int64(b.Len())})
			continue
		}
		b.WriteRune(r)
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col += len(string(r))
		}
	}
	return b.String(), marks
}

// problem is a problem a test expects, at the next mark ‸ of its input.
type problem struct {
	Kind           discovery.ProblemKind
	Record, Detail string
}

// Problems reads the input in (named in.json, its problems' positions
// marked ‸ as Annotate reads them) and checks that it gives the spans
// with the ids spans and the problems want, in order, at the marks.
// want's elements are of the test's own type, with problem's fields:
// vet wants the fields of an imported type named, and the tests' tables
// are more readable without.
func Problems[P ~struct {
	Kind           discovery.ProblemKind
	Record, Detail string
}](t *testing.T, read ReadFunc, in string, spans []string, want []P) {
	t.Helper()
	in, marks := Annotate("in.json", in)
	if len(marks) != len(want) {
		t.Fatalf("%d marks for %d problems", len(marks), len(want))
	}
	c := Collect(t, read, "in.json", strings.NewReader(in))
	var got []string
	for _, s := range c.Spans {
		got = append(got, s.SpanID)
	}
	if diff := cmp.Diff(spans, got); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	var wantProblems []discovery.Problem
	for i, w := range want {
		p := problem(w)
		pos := marks[i]
		pos.Record = p.Record
		wantProblems = append(wantProblems, discovery.Problem{Kind: p.Kind, Pos: pos, Detail: p.Detail})
	}
	if diff := cmp.Diff(wantProblems, c.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// FailSink collects spans until it has After of them, then returns Err.
type FailSink struct {
	discovery.Collector
	After int
	Err   error
}

// Span collects sp, or returns s.Err when s has its s.After spans.
func (s *FailSink) Span(sp *discovery.Span) error {
	if len(s.Spans) == s.After {
		return s.Err
	}
	return s.Collector.Span(sp)
}

// Errors checks that read returns the sink's error, ctx's, and the
// input's, and nothing else: data (named name) has at least two spans,
// and failing after its first ioAt bytes is an I/O error in the middle.
func Errors(t *testing.T, read ReadFunc, name string, data []byte, ioAt int) {
	t.Helper()
	errSink := errors.New("sink full")
	s := &FailSink{After: 2, Err: errSink}
	if err := read(context.Background(), name, bytes.NewReader(data), s); !errors.Is(err, errSink) || len(s.Spans) != 2 {
		t.Errorf("sink error: got %v after %d spans, want %v after 2", err, len(s.Spans), errSink)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := read(ctx, name, bytes.NewReader(data), &discovery.Collector{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want %v", err, context.Canceled)
	}
	errIO := errors.New("disk on fire")
	var c discovery.Collector
	if err := read(context.Background(), name, io.MultiReader(bytes.NewReader(data[:ioAt]), iotest.ErrReader(errIO)), &c); !errors.Is(err, errIO) {
		t.Errorf("I/O error: got %v, want %v", err, errIO)
	}
	if len(c.Problems) > 0 {
		t.Errorf("an I/O error is no problem of the input: %v", c.Problems)
	}
}

// endless is an input that never ends: head, then unit again and again.
type endless struct {
	head, unit []byte
	pending    []byte
	read       int
}

func (e *endless) Read(p []byte) (int, error) {
	if len(e.pending) == 0 {
		e.pending, e.head = append(e.head, e.unit...), nil
	}
	n := copy(p, e.pending)
	e.pending = e.pending[n:]
	e.read += n
	return n, nil
}

// Streams checks that read streams: on an input without end (head, then
// unit again and again, each unit one span, a record called what), it
// hands over spans as it goes (the sink stops it), having read a bounded
// prefix.
func Streams(t *testing.T, read ReadFunc, head, unit, what string) {
	t.Helper()
	StreamsAhead(t, read, head, unit, what, 256<<10)
}

// StreamsAhead is Streams for a reader that reads up to ahead bytes
// before it hands over their spans (one that splits chunks at once).
func StreamsAhead(t *testing.T, read ReadFunc, head, unit, what string, ahead int) {
	t.Helper()
	in := &endless{head: []byte(head), unit: []byte(unit)}
	errEnough := errors.New("enough")
	s := &FailSink{After: 1000, Err: errEnough}
	if err := read(context.Background(), "endless", in, s); !errors.Is(err, errEnough) {
		t.Fatalf("got %v, want %v", err, errEnough)
	}
	if in.read > 1000*len(in.unit)+ahead {
		t.Errorf("read %d bytes for 1000 %s of %d", in.read, what, len(in.unit))
	}
}

// Fuzz is a fuzz target's check of data: read neither panics nor
// returns an error (the input is in memory: there is no I/O error to
// return), every span it gives is whole, every problem has its position
// and detail, and reading byte by byte gives the same spans at the same
// positions. sniff must not panic either.
func Fuzz(t *testing.T, read ReadFunc, sniff func([]byte) bool, data []byte, whole func(*discovery.Span) bool) {
	t.Helper()
	var c discovery.Collector
	if err := read(context.Background(), "f", bytes.NewReader(data), &c); err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, s := range c.Spans {
		if !whole(&s) || s.End < s.Start || s.Pos.File != "f" {
			t.Fatalf("a span not whole: %+v", s)
		}
	}
	for _, p := range c.Problems {
		if p.Pos.File != "f" || p.Detail == "" {
			t.Fatalf("a problem without its position or detail: %+v", p)
		}
	}
	var slow discovery.Collector
	if err := read(context.Background(), "f", iotest.OneByteReader(bytes.NewReader(data)), &slow); err != nil {
		t.Fatalf("Read byte by byte: %v", err)
	}
	if diff := cmp.Diff(c.Spans, slow.Spans); diff != "" {
		t.Fatalf("byte by byte (-whole +bytes):\n%s", diff)
	}
	_ = sniff(data)
}

// CountSink counts what it is given, for benchmarks.
type CountSink struct{ Spans, Problems int }

// Span counts a span.
func (c *CountSink) Span(*discovery.Span) error { c.Spans++; return nil }

// Problem counts a problem.
func (c *CountSink) Problem(discovery.Problem) { c.Problems++ }

// UnmarshalAny is the benchmarks' baseline: it unmarshals in into an any
// with encoding/json, b.N times.
func UnmarshalAny(b *testing.B, in []byte) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var d any
		if err := json.Unmarshal(in, &d); err != nil {
			b.Fatal(err)
		}
	}
}
