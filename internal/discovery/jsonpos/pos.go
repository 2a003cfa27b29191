package jsonpos

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"

	"github.com/go-faster/jx"
)

// posReader sits between the input and the JSON decoder and turns the
// decoder's byte offsets into line:col. jx reads into one buffer and
// overwrites it on every Read, so the reader keeps a cursor (an offset
// and its line and column) and, before each Read, moves it to the end of
// what it delivered last: counting newlines is one pass over the input
// (bytes.Count), nothing is kept but the last chunk, which is jx's own
// buffer. Offsets asked for must not go backwards past the cursor; the
// reader asks for one at each record's start (a trace, a span), and for
// positions inside a record uses the record's bytes (recPos).
//
// posReader also records the input while asked to: that is how a record
// is cut out of the stream whole.
type posReader struct {
	r   io.Reader
	err error // the first error from r other than io.EOF: an I/O error

	n        int64  // bytes delivered
	last     []byte // the last chunk delivered (aliases jx's buffer)
	lastBase int64  // its offset

	cur       int64 // the cursor's offset ...
	line, col int   // ... and its line and column, 1-based

	// A recording of the input from recStart, while recording: what a
	// record's bytes are cut from.
	recording bool
	recStart  int64
	recReads  int // Reads since recStart
	rec       []byte
}

// record starts recording at offset off, which must lie in the last
// chunk (the decoder's next value).
func (p *posReader) record(off int64) {
	p.recording, p.recStart, p.recReads = true, off, 0
	p.rec = p.rec[:0]
}

// recorded stops recording and gives the bytes from the recording's
// start to end, or to the end of what was read when end < 0. They are
// the last chunk's own when no Read came between (no copy), else the
// recording's; both stay valid until the next Read or record.
func (p *posReader) recorded(end int64) []byte {
	p.recording = false
	if end < 0 || end > p.n {
		end = p.n
	}
	if end < p.recStart {
		return nil
	}
	if p.recReads == 0 {
		return p.last[p.recStart-p.lastBase : end-p.lastBase]
	}
	return p.rec[:end-p.recStart]
}

func (p *posReader) Read(b []byte) (int, error) {
	p.advance(p.n)
	if p.recording && p.recReads == 0 {
		// The first refill: keep what the record has in this chunk.
		p.rec = append(p.rec, p.last[p.recStart-p.lastBase:]...)
	}
	n, err := p.r.Read(b)
	if n < 0 || n > len(b) {
		n = 0 // a broken reader; io.Reader's contract
	}
	p.last, p.lastBase = b[:n], p.n
	p.n += int64(n)
	if p.recording {
		p.recReads++
		p.rec = append(p.rec, p.last...)
	}
	if err != nil && err != io.EOF && p.err == nil {
		p.err = err
	}
	return n, err
}

// advance moves the cursor to off, which must lie in the last chunk.
func (p *posReader) advance(off int64) bool {
	if off < p.cur || off < p.lastBase || off > p.lastBase+int64(len(p.last)) {
		return off == p.cur
	}
	seg := p.last[p.cur-p.lastBase : off-p.lastBase]
	if nl := bytes.Count(seg, []byte{'\n'}); nl > 0 {
		p.line += nl
		p.col = len(seg) - bytes.LastIndexByte(seg, '\n')
	} else {
		p.col += len(seg)
	}
	p.cur = off
	return true
}

// at is the position of offset off in file name: line and column when
// the cursor can reach it, else the offset alone.
func (p *posReader) at(name string, off int64) posAt {
	if off < 0 {
		return posAt{file: name}
	}
	if !p.advance(off) {
		return posAt{file: name, off: off}
	}
	return posAt{file: name, line: p.line, col: p.col, off: off}
}

// recPos gives the positions of offsets in a record held whole (its
// bytes, where it starts in the input and at which line and column):
// a cursor that moves forward through the record, and starts over when
// asked for an offset behind it.
type recPos struct {
	buf   []byte
	base  int64
	start posAt

	cur       int // the cursor's offset in buf ...
	line, col int // ... and its line and column
}

func (p *recPos) reset(buf []byte, base int64, start posAt) {
	*p = recPos{buf: buf, base: base, start: start, line: start.line, col: start.col}
}

// at is the position of offset off (in the input); ok is false when off
// is not in the record.
func (p *recPos) at(name string, off int64) (posAt, bool) {
	rel := off - p.base
	if p.buf == nil || rel < 0 || rel > int64(len(p.buf)) {
		return posAt{}, false
	}
	if p.start.line == 0 {
		return posAt{file: name, off: off}, true
	}
	if int(rel) < p.cur {
		p.cur, p.line, p.col = 0, p.start.line, p.start.col
	}
	seg := p.buf[p.cur:rel]
	if nl := bytes.Count(seg, []byte{'\n'}); nl > 0 {
		p.line += nl
		p.col = len(seg) - bytes.LastIndexByte(seg, '\n')
	} else {
		p.col += len(seg)
	}
	p.cur = int(rel)
	return posAt{file: name, line: p.line, col: p.col, off: off}, true
}

// posAt is a position before its record path is known: the path is
// formatted only when a problem is reported.
type posAt struct {
	file      string
	line, col int
	off       int64
}

// decOffset reads a jx.Decoder's position: jx keeps it in the unexported
// fields streamOffset (where its buffer starts in the input) and head
// (the next byte in the buffer) and exports nothing like it. Reading the
// two ints through reflect costs a few nanoseconds and spares a second
// tokenizer. Should a jx release rename them, decHead or decStream is -1
// and positions fall back to record paths (the position tests fail).
var decHead, decStream = decField("head"), decField("streamOffset")

func decField(name string) int {
	f, ok := reflect.TypeFor[jx.Decoder]().FieldByName(name)
	if !ok || len(f.Index) != 1 || f.Type.Kind() != reflect.Int {
		return -1
	}
	return f.Index[0]
}

// decOffset is the offset of the next byte d (reflect.ValueOf(*Decoder).Elem())
// will read, -1 when unknown.
func decOffset(d reflect.Value) int64 {
	if decHead < 0 || decStream < 0 {
		return -1
	}
	return d.Field(decStream).Int() + d.Field(decHead).Int()
}

// errAt finds the offset jx puts at the end of its syntax errors
// ("unexpected byte 125 '}' at 1234").
var errAt = regexp.MustCompile(`at (\d+)$`)

// jxMessage is the innermost message of a jx error (jx wraps it once
// per level of nesting), without its offset: the position says it.
func jxMessage(err error) string {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		err = inner
	}
	msg := err.Error()
	if loc := errAt.FindStringIndex(msg); loc != nil && loc[0] > 0 {
		msg = msg[:loc[0]-1]
	}
	return msg
}

// syntaxOffset is where a syntax error is: jx's own offset when it gives
// one, the end of the input when the input ended early, else where the
// decoder stopped.
func syntaxOffset(err error, p *posReader, d reflect.Value) int64 {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return p.n
	}
	if m := errAt.FindStringSubmatch(err.Error()); m != nil {
		if off, e := strconv.ParseInt(m[1], 10, 64); e == nil && off >= p.cur {
			return off
		}
	}
	return decOffset(d)
}
