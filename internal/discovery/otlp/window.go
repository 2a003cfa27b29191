package otlp

import (
	"bytes"
	"errors"
	"io"
)

// window is the JSON reader's buffer over its input: a sliding window
// that holds the bytes being read, from which jx parses values as slices.
// The reader keeps its own buffer rather than jx.Decode's for two
// reasons: jx does not say how far it has read, and positions are wanted
// for every span and problem; and reading from an io.Reader, jx copies
// every object key onto the heap (ObjBytes cannot lend a slice of a
// buffer it may overwrite), which measured a third slower than parsing
// the same bytes from a slice.
type window struct {
	r   io.Reader
	buf []byte // buf[:n] holds the input from offset off
	n   int
	pos int // the next byte to read
	// keep, when not negative, is the first byte a refill must keep:
	// the start of a value held for later.
	keep int
	off  int64
	eof  bool
	max  int

	// Lines are counted lazily, up to the last position asked for.
	lines    int   // newlines before lineAt
	lineAt   int64 // ≥ off
	lastNL   int64 // the last newline before lineAt, or -1
	nlBefore int64 // the last newline before off, or -1
}

// errTooLarge: one value does not fit the window's maximum.
var errTooLarge = errors.New("value too large")

func (w *window) init(r io.Reader, size, max int) {
	*w = window{r: r, buf: make([]byte, size), keep: -1, max: max, lastNL: -1, nlBefore: -1}
}

// more reads more input into the window: it drops the bytes before pos
// (and keep), grows the window when it is full (up to max), and fills
// it. It returns io.EOF when the input has no more bytes, errTooLarge
// when the window cannot grow, and the reader's error.
//
// Filling the whole free space, rather than taking one Read, keeps a
// value that spans many short reads (a pipe) from being parsed again
// after each of them.
func (w *window) more() error {
	if w.eof {
		return io.EOF
	}
	drop := w.pos
	if w.keep >= 0 && w.keep < drop {
		drop = w.keep
	}
	if drop > 0 {
		w.forget(drop)
	}
	if w.n == len(w.buf) {
		if len(w.buf) >= w.max {
			return errTooLarge
		}
		nb := make([]byte, min(2*len(w.buf), w.max))
		copy(nb, w.buf[:w.n])
		w.buf = nb
	}
	start, empty := w.n, 0
	for w.n < len(w.buf) {
		m, err := w.r.Read(w.buf[w.n:])
		w.n += m
		switch {
		case err == io.EOF:
			w.eof = true
			if w.n == start {
				return io.EOF
			}
			return nil
		case err != nil:
			return err
		case m == 0:
			if empty++; empty > 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// forget drops the window's first k bytes, counting their lines first.
func (w *window) forget(k int) {
	end := w.off + int64(k)
	if w.lineAt <= end {
		w.count(end)
		w.nlBefore = w.lastNL
	} else if w.lastNL < end {
		w.nlBefore = w.lastNL
	} else if i := bytes.LastIndexByte(w.buf[:k], '\n'); i >= 0 {
		w.nlBefore = w.off + int64(i)
	}
	copy(w.buf, w.buf[k:w.n])
	w.n -= k
	w.pos -= k
	if w.keep >= 0 {
		w.keep -= k
	}
	w.off = end
}

// count moves the line count forward to x (lineAt ≤ x ≤ off+n).
func (w *window) count(x int64) {
	seg := w.buf[w.lineAt-w.off : x-w.off]
	if k := bytes.Count(seg, newline); k > 0 {
		w.lines += k
		w.lastNL = w.lineAt + int64(bytes.LastIndexByte(seg, '\n'))
	}
	w.lineAt = x
}

var newline = []byte{'\n'}

// lineCol is the 1-based line and byte column of offset x, which must be
// in the window. Asked in increasing order, as the reader mostly does,
// it counts each byte once.
func (w *window) lineCol(x int64) (line, col int) {
	if x >= w.lineAt {
		w.count(x)
		return w.lines + 1, int(x - w.lastNL)
	}
	i := int(x - w.off)
	lines := w.lines - bytes.Count(w.buf[i:w.lineAt-w.off], newline)
	last := w.nlBefore
	if j := bytes.LastIndexByte(w.buf[:i], '\n'); j >= 0 {
		last = w.off + int64(j)
	}
	return lines + 1, int(x - last)
}

// index is the position in the window of b, a slice of it that jx
// returned, and whether b is one (jx copies a string with escapes).
func (w *window) index(b []byte) (int, bool) {
	i := cap(w.buf) - cap(b)
	if len(b) == 0 || i < 0 || i >= w.n || &w.buf[i] != &b[0] {
		return 0, false
	}
	return i, true
}
