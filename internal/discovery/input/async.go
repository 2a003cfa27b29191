package input

import (
	"slices"
	"sync/atomic"

	"github.com/emac-dev/emac/internal/discovery"
)

// pipe hands spans from the reader to the sink on another goroutine, in
// batches, in order: decoding and assembling then run at once, on two
// cores, and discovery takes little more than decoding alone.
type pipe struct {
	sink discovery.Sink
	ch   chan []event
	free chan []event
	buf  []event
	done chan struct{}
	// waited signals that the consumer handed over every batch before an
	// empty one (wait)
	waited chan struct{}
	err    error
	// failed is set when the sink returned an error: the reader stops
	failed atomic.Bool
}

// event is a span or a problem.
type event struct {
	span    discovery.Span
	problem *discovery.Problem
}

const pipeBatch = 512

func newPipe(sink discovery.Sink) *pipe {
	p := &pipe{sink: sink, ch: make(chan []event, 8), free: make(chan []event, 10), done: make(chan struct{}), waited: make(chan struct{})}
	go p.run()
	return p
}

func (p *pipe) run() {
	defer close(p.done)
	for batch := range p.ch {
		if len(batch) == 0 {
			p.waited <- struct{}{}
			continue
		}
		for i := range batch {
			e := &batch[i]
			switch {
			case p.err != nil:
			case e.problem != nil:
				p.sink.Problem(*e.problem)
			default:
				if err := p.sink.Span(&e.span); err != nil {
					p.err = err
					p.failed.Store(true)
				}
			}
		}
		select {
		case p.free <- batch[:0]:
		default:
		}
	}
}

// Span implements discovery.Sink: it keeps a copy of s.
func (p *pipe) Span(s *discovery.Span) error {
	if p.failed.Load() {
		return errStopped
	}
	e := p.slot()
	e.span, e.problem = *s, nil
	if len(s.Links) > 0 {
		e.span.Links = slices.Clone(s.Links)
	}
	p.added()
	return nil
}

// Problem implements discovery.Sink.
func (p *pipe) Problem(pr discovery.Problem) {
	e := p.slot()
	e.span, e.problem = discovery.Span{}, &pr
	p.added()
}

// slot is the next event of the batch, written in place (a span is large:
// copying it once costs enough). A batch's events are not cleared when
// it comes back: what they point to stays reachable until they are
// written again, a few thousand spans at most.
func (p *pipe) slot() *event {
	if p.buf == nil {
		select {
		case p.buf = <-p.free:
		default:
			p.buf = make([]event, 0, pipeBatch)
		}
	}
	p.buf = p.buf[:len(p.buf)+1]
	return &p.buf[len(p.buf)-1]
}

// added sends the batch when it is full.
func (p *pipe) added() {
	if len(p.buf) == pipeBatch {
		p.flush()
	}
}

func (p *pipe) flush() {
	if len(p.buf) > 0 {
		p.ch <- p.buf
		p.buf = nil
	}
}

// wait returns once the sink has been handed every span and problem so
// far, with the sink's error: the caller may then call the sink itself
// until it hands the pipe more.
func (p *pipe) wait() error {
	p.flush()
	p.ch <- []event{}
	<-p.waited
	if p.failed.Load() {
		return p.err
	}
	return nil
}

// close sends what is left and waits for the sink; it returns the sink's
// error.
func (p *pipe) close() error {
	p.flush()
	close(p.ch)
	<-p.done
	return p.err
}

type stopped struct{}

func (stopped) Error() string { return "discovery: the sink stopped" }

var errStopped error = stopped{}
