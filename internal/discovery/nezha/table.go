package nezha

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
	"strings"
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
		if bytes.IndexByte(raw, '"') >= 0 {
			// from here on, encoding/csv: this line first, then the rest
			t.slow = csv.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(raw)), t.br))
			t.slow.ReuseRecord = true
			t.slow.FieldsPerRecord = -1
			t.baseLine, t.baseOff = t.lines, t.off
			return t.read()
		}
		t.lines++
		t.off += int64(len(raw))
		line := raw
		switch n := len(line); {
		case err == io.EOF && line[n-1] == '\r':
			line = line[:n-1]
		case n >= 2 && line[n-2] == '\r' && line[n-1] == '\n':
			line = line[:n-2]
		case line[n-1] == '\n':
			line = line[:n-1]
		}
		if len(line) == 0 {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue // an empty line
		}
		t.line = t.lines
		t.text = unsafe.String(&line[0], len(line))
		t.fields = split(t.fields[:0], t.text)
		return t.fields, nil
	}
}

// split appends s's comma-separated fields to dst.
func split(dst []string, s string) []string {
	for {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+1:]
	}
}

// fieldPos is the line and (1-based, in bytes) column where field i of
// the current record starts, as csv.Reader.FieldPos.
func (t *table) fieldPos(i int) (line, col int) {
	if t.slow != nil {
		line, col = t.slow.FieldPos(i)
		return line + t.baseLine, col
	}
	col = 1
	s := t.text
	for ; i > 0; i-- {
		j := strings.IndexByte(s, ',')
		col += j + 1
		s = s[j+1:]
	}
	return t.line, col
}

// offset is the input offset after the current record, as
// csv.Reader.InputOffset.
func (t *table) offset() int64 { return t.off }
