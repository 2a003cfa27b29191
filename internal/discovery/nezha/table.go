package nezha

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"io"
	"math/bits"
	"unsafe"
)

// table reads a CSV file's records. It splits the lines itself while they
// hold no quote character, and hands the rest of the input to
// encoding/csv at the first line that does: quoted fields may hold
// commas and line breaks, and malformed quotes are encoding/csv's to
// report. A line without a quote is its fields split at the commas, which
// is what encoding/csv makes of it too (TestTableAgreesWithCSV,
// FuzzTable), and splitting it here costs a fraction of encoding/csv's
// general parse: the span tables have no quotes.
//
// Like encoding/csv, it turns "\r\n" into "\n", skips empty lines and
// drops a "\r" before the end of the input. Unlike it, the fields of a
// line without quotes are views of the reader's buffer, valid until the
// next read: a row costs no allocation, and its reader copies only what
// it keeps (strings.Clone).
type table struct {
	br     *bufio.Reader
	long   []byte // a line longer than br's buffer, put together
	fields []string
	// text is the current record's line (on the fast path), for its
	// fields' columns
	text string
	// lines is the number of lines read; line is the current record's;
	// off is the offset after the current record
	lines, line int
	off         int64
	// begin is where the current record starts: its line's first byte
	// (after the lines without a record), or for encoding/csv's, the
	// offset after the record before
	begin int64
	// slow, once set, reads the rest; its lines and offsets count from
	// baseLine and baseOff
	slow     *csv.Reader
	baseLine int
	baseOff  int64
}

func newTable(r io.Reader) *table {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 4096 {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	return &table{br: br}
}

// read returns the next record, valid until the next call: io.EOF at the
// end, a *csv.ParseError (lines counted from the file's start) for a
// record encoding/csv rejects, and the reader's own errors as they are.
func (t *table) read() ([]string, error) {
	if t.slow != nil {
		t.begin = t.off
		rec, err := t.slow.Read()
		t.off = t.baseOff + t.slow.InputOffset()
		if err != nil {
			if pe, ok := err.(*csv.ParseError); ok {
				e := *pe
				e.StartLine += t.baseLine
				e.Line += t.baseLine
				return nil, &e
			}
			return nil, err
		}
		t.line, _ = t.slow.FieldPos(0)
		t.line += t.baseLine
		return rec, nil
	}
	for {
		raw, err := t.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			t.long = append(t.long[:0], raw...)
			for err == bufio.ErrBufferFull {
				raw, err = t.br.ReadSlice('\n')
				t.long = append(t.long, raw...)
			}
			raw = t.long
		}
		if len(raw) == 0 {
			if err == nil {
				continue
			}
			return nil, err
		}
		if err != nil && err != io.EOF {
			return nil, err // a partial line, as encoding/csv drops it
		}
		line := content(raw)
		if len(line) == 0 {
			t.lines++
			t.off += int64(len(raw))
			if err == io.EOF {
				return nil, io.EOF
			}
			continue // an empty line
		}
		fields, ok := split(t.fields[:0], line)
		if !ok {
			// a quote: from here on, encoding/csv, this line first, then
			// the rest
			t.slow = csv.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(raw)), t.br))
			t.slow.ReuseRecord = true
			t.slow.FieldsPerRecord = -1
			t.baseLine, t.baseOff = t.lines, t.off
			return t.read()
		}
		t.lines++
		t.begin = t.off
		t.off += int64(len(raw))
		t.line = t.lines
		t.text = unsafe.String(&line[0], len(line))
		t.fields = fields
		return fields, nil
	}
}

// content is a line without its line break, as encoding/csv reads it:
// "\r\n" is a break as "\n" is, and a "\r" ending the input (a last line
// without "\n") is dropped.
func content(line []byte) []byte {
	switch n := len(line); {
	case line[n-1] == '\r': // no "\n" after it: the input's end
		return line[:n-1]
	case n >= 2 && line[n-2] == '\r' && line[n-1] == '\n':
		return line[:n-2]
	case line[n-1] == '\n':
		return line[:n-1]
	}
	return line
}

// split appends the comma-separated fields of line, which holds no line
// break, to dst, as views of it; ok is false, and dst as it came, when
// the line holds a quote.
func split(dst []string, line []byte) (_ []string, ok bool) {
	if bytes.IndexByte(line, '"') >= 0 {
		return dst, false
	}
	return commas(dst, line), true
}

// commas is split of a line known to hold no quote (a chunk's: the
// cutter looked for one in the whole chunk). It finds the commas eight
// bytes at a time: a search for each one costs a call.
func commas(dst []string, line []byte) []string {
	n := len(line)
	p := unsafe.Pointer(unsafe.SliceData(line))
	start, i := 0, 0
	for ; i+8 <= n; i += 8 {
		// little-endian on every platform: the lowest bit found is the
		// first byte; one load where the platform allows
		w := binary.LittleEndian.Uint64(line[i : i+8])
		for c := zeroBytes(w ^ 0x2c2c2c2c2c2c2c2c); c != 0; c &= c - 1 {
			j := i + bits.TrailingZeros64(c)>>3
			dst = append(dst, unsafe.String((*byte)(unsafe.Add(p, start)), j-start))
			start = j + 1
		}
	}
	for ; i < n; i++ {
		if line[i] == ',' {
			dst = append(dst, unsafe.String((*byte)(unsafe.Add(p, start)), i-start))
			start = i + 1
		}
	}
	return append(dst, unsafe.String((*byte)(unsafe.Add(p, start)), n-start))
}

// zeroBytes has the high bit of each zero byte of w set, and no other:
// exact, where the shorter (w-0x01…)&^w&0x80… also marks a 0x01 byte
// above a zero one.
func zeroBytes(w uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	return ^((w&low7 + low7) | w | low7)
}

// fieldPos is the line and (1-based, in bytes) column where field i of
// the current record starts, as csv.Reader.FieldPos.
func (t *table) fieldPos(i int) (line, col int) {
	if t.slow != nil {
		line, col = t.slow.FieldPos(i)
		return line + t.baseLine, col
	}
	return t.line, column(t.text, i)
}

// offset is the input offset after the current record, as
// csv.Reader.InputOffset.
func (t *table) offset() int64 { return t.off }
