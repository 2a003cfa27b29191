// Package jsonpos is what the JSON span readers (jaeger, zipkin) share:
// an input read with github.com/go-faster/jx that knows the line:col of
// every value, so each problem is reported where it is, and the reading of
// scalar fields, problems and cancellation that goes with it.
//
// An Input reads with two decoders: In streams the input and cuts each
// record (a trace, a span) out whole, skipping it while the input is
// recorded; D decodes the record from those bytes. jx copies every object
// key it hands out when it streams (its buffer moves on), but not when it
// decodes bytes: a record decoded from bytes costs no allocation per key,
// and the cut is one fast pass that also checks the syntax.
package jsonpos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"

	"github.com/go-faster/jx"

	"github.com/emac-dev/emac/internal/discovery"
)

// bufSize is the streaming decoder's read buffer: large enough that
// refills are rare, small enough to stay in cache.
const bufSize = 64 << 10

// ErrStop unwinds the decoders' callbacks when reading must end early:
// the sink or the context stopped it (Stopped says which error Read
// returns), or the reader ends the input on purpose (Run).
var ErrStop = errors.New("stop")

// Input is a JSON input being read into a discovery.Sink. A reader embeds
// it, calls Init, and reads its documents with Run; it is not copied
// after Init (In reads through it).
type Input struct {
	// Name names the input in positions.
	Name string
	// In streams the input; D decodes the record Cut took from it.
	In, D *jx.Decoder

	ctx  context.Context
	sink discovery.Sink
	stop error // the sink's or ctx's error: Read returns it
	n    int   // spans read, for checking ctx now and then

	pr      posReader
	inv, dv reflect.Value // *In and *D, for their positions
	rec     recPos        // positions in the record

	// What Cut took before a syntax error, for Load.
	cut      []byte
	cutOff   int64
	cutStart posAt
}

// Init starts reading r (named name) into sink.
func (s *Input) Init(ctx context.Context, name string, r io.Reader, sink discovery.Sink) {
	s.ctx, s.Name, s.sink = ctx, name, sink
	s.pr = posReader{r: r, line: 1, col: 1}
	s.In = jx.Decode(&s.pr, bufSize)
	s.inv = reflect.ValueOf(s.In).Elem()
	s.D = jx.DecodeBytes(nil)
	s.dv = reflect.ValueOf(s.D).Elem()
}

// Run reads the input's top-level values with value, one after another,
// until the input ends. A syntax error ends it too, reported (jx cannot
// resume after one). It returns the error reading the input failed with,
// or the sink's or ctx's (Stopped); value returns ErrStop, with neither,
// to end the input quietly.
func (s *Input) Run(value func() error) error {
	for {
		if s.In.Next() == jx.Invalid {
			// The end, or bytes that are not JSON.
			err := s.In.Skip()
			if err == io.EOF || s.pr.err != nil {
				return s.pr.err
			}
			s.syntax(err)
			return nil
		}
		err := value()
		switch {
		case s.stop != nil:
			return s.stop
		case s.pr.err != nil:
			return s.pr.err
		case err == ErrStop:
			return nil
		case err != nil:
			s.syntax(err)
			return nil
		}
	}
}

// Err is the error reading the input failed with (not io.EOF), if any:
// the input's fault is not the reader's to report as a problem.
func (s *Input) Err() error { return s.pr.err }

// Stopped is the sink's or ctx's error that stopped the reading, if any.
func (s *Input) Stopped() error { return s.stop }

// Cut cuts the next value out of the input: In skips it while the input
// is recorded, and D (and positions) are pointed at its bytes, valid
// until the next Cut. After a syntax error (returned) they are not: Load
// points them at the bytes read up to the error, so that the records
// before it can still be read.
func (s *Input) Cut() error {
	off := decOffset(s.inv)
	start := s.pr.at(s.Name, off)
	s.pr.record(off)
	if err := s.In.Skip(); err != nil {
		s.cut, s.cutOff, s.cutStart = s.pr.recorded(-1), off, start
		return err
	}
	s.load(s.pr.recorded(decOffset(s.inv)), off, start)
	return nil
}

// Load points D (and positions) at the bytes read up to the syntax error
// Cut returned.
func (s *Input) Load() { s.load(s.cut, s.cutOff, s.cutStart) }

func (s *Input) load(b []byte, off int64, start posAt) {
	s.rec.reset(b, off, start)
	s.D.ResetBytes(b)
}

// InOff is the offset of In's next value: where a value not cut yet is.
func (s *Input) InOff() int64 { return decOffset(s.inv) }

// Off is the offset in the input of D's next value.
func (s *Input) Off() int64 { return s.rec.base + decOffset(s.dv) }

// at is the position of offset off: in the record, or before it.
func (s *Input) at(off int64) posAt {
	if at, ok := s.rec.at(s.Name, off); ok {
		return at
	}
	return s.pr.at(s.Name, off)
}

func (at posAt) pos(record string) discovery.Pos {
	return discovery.Pos{File: at.file, Line: at.line, Col: at.col, Offset: at.off, Record: record}
}

// Here is the position of D's next value, without a record path: a
// span's, whose path is set only when a problem is reported (Record).
func (s *Input) Here() discovery.Pos {
	at := s.at(s.Off())
	return discovery.Pos{File: at.file, Line: at.line, Col: at.col, Offset: at.off}
}

// Record is pos with the record path set.
func (s *Input) Record(pos discovery.Pos, path string) discovery.Pos {
	pos.Record = path
	return pos
}

// Problem reports a problem at offset off; it returns true, for marking
// a span bad.
func (s *Input) Problem(kind discovery.ProblemKind, off int64, record, detail string) bool {
	return s.ProblemPos(kind, s.at(off).pos(record), detail)
}

// ProblemPos reports a problem at pos; it returns true, as Problem does.
func (s *Input) ProblemPos(kind discovery.ProblemKind, pos discovery.Pos, detail string) bool {
	s.sink.Problem(discovery.Problem{Kind: kind, Pos: pos, Detail: detail})
	return true
}

// syntax reports the syntax error that ends the input.
func (s *Input) syntax(err error) {
	off := syntaxOffset(err, &s.pr, s.inv)
	detail := "JSON syntax: " + jxMessage(err)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		detail = "JSON syntax: the input ends inside a value"
	}
	s.Problem(discovery.Corrupt, off, "", fmt.Sprintf("%s; the rest of %s is not read", detail, s.Name))
}

// CorruptIn reports what D could not read in bytes the cut took for a
// JSON value, at record; rest says what is lost ("the span is dropped").
func (s *Input) CorruptIn(err error, record, rest string) {
	off := s.Off()
	if m := errAt.FindStringSubmatch(err.Error()); m != nil {
		if o, e := strconv.ParseInt(m[1], 10, 64); e == nil {
			off = s.rec.base + o
		}
	}
	s.Problem(discovery.Corrupt, off, record, "JSON: "+jxMessage(err)+"; "+rest)
}

// Span hands a span to the sink; the sink's error stops the reading
// (ErrStop, and Stopped says it).
func (s *Input) Span(sp *discovery.Span) error {
	if err := s.sink.Span(sp); err != nil {
		s.stop = err
		return ErrStop
	}
	return nil
}

// Tick counts a span read and checks ctx every few hundred: often enough
// to stop soon, seldom enough to cost nothing.
func (s *Input) Tick() error {
	s.n++
	if s.n%256 == 0 {
		if err := s.ctx.Err(); err != nil {
			s.stop = err
			return ErrStop
		}
	}
	return nil
}

// Scalar appends the text of D's next value to b: a string's contents, a
// number's digits, a bool's name (formats' writers put any of them where
// a string is meant); ok is false for null, arrays and objects, which
// are skipped.
func (s *Input) Scalar(b []byte) (_ []byte, ok bool, _ error) {
	d := s.D
	switch d.Next() {
	case jx.String:
		b, err := d.StrAppend(b)
		return b, true, err
	case jx.Number:
		n, err := d.Num()
		return append(b, n...), true, err
	case jx.Bool:
		v, err := d.Bool()
		return strconv.AppendBool(b, v), true, err
	}
	return b, false, d.Skip()
}

// Str reads a string field of the record at path(); ok is false when the
// value was null, or not a string: then it is reported, *bad set (the
// span is dropped) and the value skipped. path is called only for a
// problem.
func (s *Input) Str(path func() string, field string, bad *bool) ([]byte, bool, error) {
	d := s.D
	switch d.Next() {
	case jx.String:
		b, err := d.StrBytes()
		return b, err == nil, err
	case jx.Null:
		return nil, false, d.Skip()
	}
	*bad = s.Problem(discovery.Corrupt, s.Off(), path()+"."+field, field+": want a string, got "+d.Next().String())
	return nil, false, d.Skip()
}

// Int reads an integer field (a JSON number, or a string of digits as
// some exporters write 64-bit numbers) of the record at path(); ok is
// false when it is neither: then it is reported and *bad set, as Str
// does. Null is a value of the wrong type too, unless the field is
// optional: then it is no value, skipped and not reported.
func (s *Input) Int(path func() string, field string, optional bool, bad *bool) (int64, bool, error) {
	d := s.D
	at := s.Off()
	var b []byte
	switch t := d.Next(); {
	case t == jx.Null && optional:
		return 0, false, d.Skip()
	case t == jx.Number:
		n, err := d.Num()
		if err != nil {
			return 0, false, err
		}
		b = n
	case t == jx.String:
		str, err := d.StrBytes()
		if err != nil {
			return 0, false, err
		}
		b = str
	default:
		*bad = s.Problem(discovery.Corrupt, at, path()+"."+field, field+": want an integer, got "+d.Next().String())
		return 0, false, d.Skip()
	}
	v, ok := parseInt(b)
	if !ok {
		*bad = s.Problem(discovery.Corrupt, at, path()+"."+field, field+": "+strconv.Quote(string(b))+" is not an integer")
		return 0, false, nil
	}
	return v, true, nil
}

// parseInt parses a decimal integer; a float with a zero fraction and
// an exponent that keeps it whole (1.6e15) is accepted, as JavaScript
// writes large numbers so.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 40 {
		return 0, false
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		var n int64
		ok := true
		for _, c := range digits {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				n = -n
			}
			return n, true
		}
	}
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}
