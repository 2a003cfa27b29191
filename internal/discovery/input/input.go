// Package input opens discovery's inputs — files, directories, gzip,
// standard input — tells their format from their first bytes (or is told
// it), and streams each through its reader into a sink, with a progress
// display for long inputs.
package input

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/jaeger"
	"github.com/emac-dev/emac/internal/discovery/nezha"
	"github.com/emac-dev/emac/internal/discovery/otlp"
	"github.com/emac-dev/emac/internal/discovery/zipkin"
)

// Format is a trace format: how to recognise it and read it.
type Format struct {
	Name  string
	Sniff func(head []byte) bool
	Read  func(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error
	// Direct says Read decodes on goroutines of its own and calls the
	// sink on the caller's alone: it is given the sink itself, not a pipe
	// to another goroutine, sparing a copy of every span.
	Direct bool
}

// Formats are the trace formats, in the order they are tried: the JSON
// ones by their keys, the CSV tables by their header, binary OTLP last.
func Formats() []Format {
	return []Format{
		{Name: "otlp-json", Sniff: otlp.SniffJSON, Read: otlp.ReadJSON},
		{Name: "jaeger", Sniff: jaeger.Sniff, Read: jaeger.Read},
		{Name: "zipkin", Sniff: zipkin.Sniff, Read: zipkin.Read},
		{Name: "nezha-csv", Sniff: nezha.Sniff, Read: nezha.Read, Direct: true},
		{Name: "otlp-proto", Sniff: otlp.SniffProto, Read: otlp.ReadProto},
	}
}

// FormatNames lists the formats' names, for flags.
func FormatNames() []string {
	var out []string
	for _, f := range Formats() {
		out = append(out, f.Name)
	}
	return out
}

// Options configure Read; the zero value is the default.
type Options struct {
	// Format forces a format by name; empty means tell from each input.
	Format string
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Progress, when set, receives a one-line display refreshed as the
	// inputs are read (for a terminal: carriage returns, no newline until
	// the end).
	Progress io.Writer
}

// Input is one input read: its name, format and size.
type Input struct {
	Name   string
	Format string
	Bytes  int64
	Spans  int
}

// sniffLen is how much of an input is looked at to tell its format.
const sniffLen = 4096

// Files lists the files of paths: a directory's files recursively, in
// name order, skipping hidden ones; "-" is standard input.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "-" {
			out = append(out, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && q != p {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				files = append(files, q)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(files)
		out = append(out, files...)
	}
	return out, nil
}

// Read streams each file into sink through its format's reader, the
// sink running on a goroutine of its own (one at a time, in order). A
// file of no known format is reported as a problem (kind Unsupported)
// and skipped; opening and reading errors end the read.
func Read(ctx context.Context, files []string, opts Options, sink discovery.Sink) ([]Input, error) {
	var forced *Format
	if opts.Format != "" {
		for _, f := range Formats() {
			if f.Name == opts.Format {
				forced = &f
			}
		}
		if forced == nil {
			return nil, fmt.Errorf("unknown trace format %q (use one of %s)", opts.Format, strings.Join(FormatNames(), ", "))
		}
	}
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && f != "-" {
			total += st.Size()
		}
	}
	prog := newProgress(opts.Progress, total)
	defer prog.done()
	p := newPipe(sink)
	var out []Input
	for _, name := range files {
		in, err := readOne(ctx, name, forced, opts, p, prog)
		if err != nil {
			if perr := p.close(); perr != nil {
				return out, perr
			}
			return out, err
		}
		if in != nil {
			out = append(out, *in)
		}
	}
	return out, p.close()
}

// counter counts spans into a sink.
type counter struct {
	discovery.Sink
	spans int
	prog  *progress
}

func (c *counter) Span(s *discovery.Span) error {
	c.spans++
	c.prog.spans++
	return c.Sink.Span(s)
}

// CopiesIDs implements discovery.IDCopier: as the sink does.
func (c *counter) CopiesIDs() bool { return discovery.CopiesIDs(c.Sink) }

func readOne(ctx context.Context, name string, forced *Format, opts Options, p *pipe, prog *progress) (*Input, error) {
	var sink discovery.Sink = p
	var raw io.Reader
	if name == "-" {
		raw = opts.Stdin
		if raw == nil {
			raw = os.Stdin
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		raw = f
	}
	cr := &countingReader{r: raw, prog: prog}
	br := bufio.NewReaderSize(cr, 1<<16)
	var r io.Reader = br
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			sink.Problem(discovery.Problem{Kind: discovery.Corrupt, Pos: discovery.Pos{File: name}, Detail: "gzip: " + err.Error()})
			return nil, nil
		}
		defer zr.Close()
		r = bufio.NewReaderSize(zr, 1<<16)
	}
	pr := r.(*bufio.Reader)
	head, _ = pr.Peek(sniffLen)
	format := forced
	if format == nil {
		for _, f := range Formats() {
			if f.Sniff(head) {
				format = &f
				break
			}
		}
	}
	if format == nil {
		sink.Problem(discovery.Problem{Kind: discovery.Unsupported, Pos: discovery.Pos{File: name}, Detail: "not a trace format emac reads (" + strings.Join(FormatNames(), ", ") + ")" + describe(head)})
		return nil, nil
	}
	if format.Direct {
		// the pipe's spans handed over first: the sink sees the input's
		// order
		if err := p.wait(); err != nil {
			return nil, err
		}
		sink = p.sink
	}
	c := &counter{Sink: sink, prog: prog}
	prog.file = name
	if err := format.Read(ctx, name, pr, c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Input{Name: name, Format: format.Name, Bytes: cr.n, Spans: c.spans}, nil
}

// describe hints at what an unknown input starts with.
func describe(head []byte) string {
	h := bytes.TrimSpace(head)
	if len(h) == 0 {
		return ": it is empty"
	}
	if len(h) > 40 {
		h = h[:40]
	}
	return fmt.Sprintf(": it starts %q", h)
}

// countingReader counts the bytes read from a file (compressed, as on
// disk) for the progress display.
type countingReader struct {
	r    io.Reader
	n    int64
	prog *progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.prog.add(int64(n))
	return n, err
}

// progress is the display: bytes read of the total, spans, rate.
type progress struct {
	w           io.Writer
	total, read int64
	spans       int
	file        string
	start, last time.Time
	shown       bool
}

func newProgress(w io.Writer, total int64) *progress {
	now := time.Now()
	return &progress{w: w, total: total, start: now, last: now}
}

func (p *progress) add(n int64) {
	p.read += n
	if p.w == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		p.show(now)
	}
}

func (p *progress) show(now time.Time) {
	secs := max(now.Sub(p.start).Seconds(), 1e-9)
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf(" of %s (%.0f%%)", mb(p.total), 100*float64(p.read)/float64(p.total))
	}
	fmt.Fprintf(p.w, "\r\x1b[Kdiscover: %s%s, %d spans, %s/s  %s", mb(p.read), pct, p.spans, mb(int64(float64(p.read)/secs)), filepath.Base(p.file))
	p.shown = true
}

func (p *progress) done() {
	if p.w != nil && p.shown {
		p.show(time.Now())
		fmt.Fprintln(p.w)
	}
}

func mb(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d kB", n>>10)
}

// IsTerminal says whether w is a terminal: where a progress display
// belongs.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
