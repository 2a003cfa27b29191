package otlp

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/internal/discovery"
)

// Traces gives each span of td, already decoded (as a collector
// component receives it), to sink, with the same mapping as ReadProto.
// name names the source in positions; spans are numbered by their
// place in td (Pos.Record). It returns an error only when ctx is done
// or sink.Span returns one.
func Traces(ctx context.Context, name string, td ptrace.Traces, sink discovery.Sink) error {
	p := &protoReader{ctx: ctx, e: emitter{name: name, sink: sink}}
	for i, rs := range td.ResourceSpans().All() {
		p.rec.depth, p.rec.rs = 1, i
		p.resource(rs.Resource(), 0)
		for j, ss := range rs.ScopeSpans().All() {
			for k, sp := range ss.Spans().All() {
				p.rec.depth, p.rec.scope, p.rec.ss, p.rec.sp = 2, "scopeSpans", j, k
				if err := p.span(sp, 0); err != nil {
					if errors.Is(err, errStop) {
						return nil
					}
					return err
				}
			}
		}
	}
	return nil
}
