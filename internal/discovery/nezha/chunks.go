package nezha

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/emac-dev/emac/internal/discovery"
)

// A chunk is whole lines of a table, split into spans by a worker: rows
// are independent, so workers split chunks at once and the reader hands
// their spans to the sink in the input's order. Lines and offsets in
// events count from the chunk's start until then.
type chunk struct {
	data   []byte
	events []event
	// lines is the number of lines in data
	lines int
	// rest, on the last chunk, is the input from data's start on, for
	// the row-by-row reader: data holds a quote (readRows hands a quoted
	// line to encoding/csv, which may carry it over line breaks)
	rest io.Reader
	// err is the input's error after data
	err  error
	done chan struct{}
}

// event is a span of a chunk, or a problem.
type event struct {
	span    spanRow
	problem *discovery.Problem
}

// readChunks reads tb's rows (after the header) in chunks of about block
// bytes, split into spans by workers at once, into sink in order. A
// chunk with a quote, and all after it, are read row by row (readRows).
func readChunks(ctx context.Context, name string, tb *table, c columns, sink discovery.Sink, workers, block int, ioErr func(error, int64) error) error {
	borrow := discovery.CopiesIDs(sink) // ids of ch.data, reused once delivered
	var (
		ordered = make(chan *chunk, workers) // the chunks in input order
		work    = make(chan *chunk)
		free    = make(chan *chunk, 2*workers+2)
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	// cut: whole lines at a time from the table's reader
	wg.Go(func() {
		defer close(ordered)
		defer close(work)
		var carry []byte
		size := block
		for {
			var ch *chunk
			select {
			case ch = <-free:
			default:
				ch = &chunk{}
			}
			if cap(ch.data) < size {
				ch.data = make([]byte, 0, size)
			}
			ch.done = make(chan struct{})
			data := append(ch.data[:0], carry...)
			n, err := fill(tb.br, data[len(data):cap(data)])
			data = data[:len(data)+n]
			switch {
			case err == io.EOF:
				carry = carry[:0] // data holds it
			case err == nil:
				cut := bytes.LastIndexByte(data, '\n')
				if cut < 0 {
					// a line longer than a chunk: longer chunks
					carry = append(carry[:0], data...)
					size = 2 * cap(data)
					select {
					case free <- ch:
					default:
					}
					continue
				}
				carry = append(carry[:0], data[cut+1:]...)
				data = data[:cut+1]
			default:
				// what came before the error: its whole lines
				ch.err = err
				cut := bytes.LastIndexByte(data, '\n') + 1
				carry = append(carry[:0], data[cut:]...)
				data = data[:cut]
			}
			ch.data = data
			if bytes.IndexByte(data, '"') >= 0 {
				var after io.Reader = tb.br
				if ch.err != nil {
					after = failing{ch.err}
				}
				ch.rest = io.MultiReader(bytes.NewReader(bytes.Clone(append(data, carry...))), after)
				ch.data, ch.err = nil, nil
			}
			select {
			case ordered <- ch:
			case <-stop:
				return
			}
			if ch.rest != nil {
				close(ch.done)
				return
			}
			select {
			case work <- ch:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			rw := newRows(name, c, borrow)
			var fields []string
			for ch := range work {
				fields = rw.split(ch, fields)
				close(ch.done)
			}
		})
	}
	defer wg.Wait()
	defer close(stop)

	// deliver, in order
	line, off := tb.lines, tb.off
	s := discovery.Span{Pos: discovery.Pos{File: name}}
	for ch := range ordered {
		<-ch.done
		if err := ctx.Err(); err != nil {
			return err
		}
		if ch.rest != nil {
			rest := newTable(ch.rest)
			rest.lines, rest.off = line, off
			return readRows(ctx, rest, newRows(name, c, borrow), sink, ioErr)
		}
		for i := range ch.events {
			e := &ch.events[i]
			if e.problem != nil {
				p := *e.problem
				p.Pos.Offset += off
				if p.Pos.Line > 0 {
					p.Pos.Line += line
				}
				sink.Problem(p)
				continue
			}
			e.span.into(&s)
			s.Pos.Line += line
			s.Pos.Offset += off
			if err := sink.Span(&s); err != nil {
				return err
			}
		}
		line += ch.lines
		off += int64(len(ch.data))
		if ch.err != nil {
			return ioErr(ch.err, off)
		}
		select {
		case free <- ch:
		default:
		}
	}
	return nil
}

// failing is a reader of an error.
type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

// fill reads into p until it is full or the input ends (io.EOF, with
// what was read).
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// split makes ch's events of its lines, which hold no quote: as table
// reads them, and rw.row makes spans of them. It returns fields for the
// next chunk.
func (rw *rows) split(ch *chunk, fields []string) []string {
	ch.events = ch.events[:0]
	ch.lines = 0
	data := ch.data
	var text string
	fieldPos := func(i int) (int, int) { return ch.lines, column(text, i) }
	for at := 0; at < len(data); {
		raw := data[at:]
		if nl := bytes.IndexByte(raw, '\n'); nl >= 0 {
			raw = raw[:nl+1]
		}
		start := at
		at += len(raw)
		ch.lines++
		line := content(raw)
		if len(line) == 0 {
			continue
		}
		fields = commas(fields[:0], line)
		text = unsafe.String(&line[0], len(line))
		// the row made in its event's place: a reused chunk's is set
		// field by field (row sets them all), not cleared and copied
		n := len(ch.events)
		ch.events = slices.Grow(ch.events, 1)[:n+1]
		e := &ch.events[n]
		e.problem = nil
		if p, ok := rw.row(&e.span, fields, ch.lines, int64(start), fieldPos); !ok {
			e.problem = new(p) // p itself would be on the heap for every row
		}
	}
	return fields
}

// column is the (1-based, in bytes) column where field i of the line
// starts.
func column(line string, i int) int {
	col := 1
	for ; i > 0; i-- {
		j := strings.IndexByte(line, ',')
		col += j + 1
		line = line[j+1:]
	}
	return col
}
