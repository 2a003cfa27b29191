package otlp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emac-dev/emac/internal/discovery"
)

// stopSink fails the n'th span.
type stopSink struct {
	discovery.Collector
	n int
}

var errSink = errors.New("sink is full")

func (s *stopSink) Span(sp *discovery.Span) error {
	if len(s.Spans) == s.n {
		return errSink
	}
	return s.Collector.Span(sp)
}

// TestErrors: a reader returns an error for what is not the input's
// fault — its reader's error, the context, the sink's error — and only
// then.
func TestErrors(t *testing.T) {
	td := generate(t, everyOperator(t), 40)
	js := jsonOf(t, td)
	pb := protoOf(t, pdataTraces(t, js))
	readers := []struct {
		name string
		read func(context.Context, string, io.Reader, discovery.Sink) error
		data []byte
	}{{"json", ReadJSON, js}, {"proto", ReadProto, pb}}
	for _, rd := range readers {
		// The sink's error, as it is.
		s := &stopSink{n: 3}
		if err := rd.read(context.Background(), "t", bytes.NewReader(rd.data), s); !errors.Is(err, errSink) || len(s.Spans) != 3 {
			t.Errorf("%s: sink error: got %v after %d spans, want %v after 3", rd.name, err, len(s.Spans), errSink)
		}
		// The reader's error, after what came before it.
		var c discovery.Collector
		r := io.MultiReader(bytes.NewReader(rd.data[:len(rd.data)/2]), iotest.ErrReader(io.ErrClosedPipe))
		err := rd.read(context.Background(), "t", r, &c)
		if !errors.Is(err, io.ErrClosedPipe) || !strings.HasPrefix(err.Error(), "t: ") {
			t.Errorf("%s: read error: got %v, want %v", rd.name, err, io.ErrClosedPipe)
		}
		if len(c.Problems) > 0 {
			t.Errorf("%s: read error: problems %v", rd.name, c.Problems)
		}
		// The context's.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := rd.read(ctx, "t", bytes.NewReader(rd.data), &c); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: cancelled: got %v, want %v", rd.name, err, context.Canceled)
		}
	}
}

// repeat reads as prefix, then body n times, then suffix, never holding
// more than one body.
type repeat struct {
	prefix, body, sep, suffix string
	n                         int
	cur                       *strings.Reader
}

func (r *repeat) Read(p []byte) (int, error) {
	for {
		if r.cur != nil && r.cur.Len() > 0 {
			return r.cur.Read(p)
		}
		switch {
		case r.prefix != "":
			r.cur, r.prefix = strings.NewReader(r.prefix), ""
		case r.n > 0:
			s := r.body
			if r.n--; r.n > 0 {
				s += r.sep
			}
			r.cur = strings.NewReader(s)
		case r.suffix != "":
			r.cur, r.suffix = strings.NewReader(r.suffix), ""
		default:
			return 0, io.EOF
		}
	}
}

type counter struct{ spans, problems int }

func (c *counter) Span(*discovery.Span) error  { c.spans++; return nil }
func (c *counter) Problem(p discovery.Problem) { c.problems++ }

// TestStreams: a JSON input of any size streams through the window,
// which holds one span at a time: it does not grow.
func TestStreams(t *testing.T) {
	body := span(sid1, `"name":"GET /x"`, `"kind":2`, `"startTimeUnixNano":"1767225600000000000"`,
		attrList(attr("http.response.status_code", `{"intValue":"200"}`), attr("k", str(strings.Repeat("x", 300)))))
	const n = 50000 // 20 MB
	in := &repeat{prefix: `{"resourceSpans":[{"resource":{"attributes":[` + attr("service.name", str("a")) + `]},"scopeSpans":[{"spans":[`,
		body: body, sep: ",\n", suffix: "]}]}]}", n: n}
	var c counter
	jr := newJSONReader(context.Background(), "t", in, &c, windowSize)
	if err := jr.run(); err != nil {
		t.Fatal(err)
	}
	if c.spans != n || c.problems != 0 {
		t.Errorf("got %d spans and %d problems, want %d and none", c.spans, c.problems, n)
	}
	if got := len(jr.w.buf); got != windowSize {
		t.Errorf("the window grew to %d bytes", got)
	}
	if line, _ := jr.w.lineCol(jr.w.off + int64(jr.w.n)); line != n {
		t.Errorf("read %d lines, want %d", line, n)
	}
}

// readSmall is ReadJSON with a window of size bytes to start with.
func readSmall(size int) func(context.Context, string, io.Reader, discovery.Sink) error {
	return func(ctx context.Context, name string, r io.Reader, sink discovery.Sink) error {
		err := newJSONReader(ctx, name, r, sink, size).run()
		if errors.Is(err, errStop) {
			return nil
		}
		return err
	}
}
