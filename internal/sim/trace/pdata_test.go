package trace

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim"
)

// TestPdataRoundTrip: pdata reads the traces without loss and writes the
// same bytes; its spans are those generated, ids, kinds, times, parents,
// links, statuses and attributes.
func TestPdataRoundTrip(t *testing.T) {
	for _, path := range []string{"latency/checkout.yaml", "native/checkout.yaml", "every operator"} {
		var j *model.Journey
		if path == "every operator" {
			j = everyOperator(t)
		} else {
			j = example(t, path)
		}
		td := generate(t, j, Options{Count: 200, Seed: 4, Scenario: sim.Named(j.DomainNames(), nil)})
		b, err := td.JSON()
		if err != nil {
			t.Fatal(err)
		}
		pt, err := (&ptrace.JSONUnmarshaler{DisallowUnknownFields: true}).UnmarshalTraces(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		again, err := (&ptrace.JSONMarshaler{}).MarshalTraces(pt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, again) {
			i := 0
			for i < min(len(b), len(again)) && b[i] == again[i] {
				i++
			}
			t.Fatalf("%s: pdata writes other bytes from offset %d:\nours: %.200s\npdata: %.200s", path, i, b[i:], again[i:])
		}
		if got, want := pt.SpanCount(), td.SpanCount(); got != want {
			t.Errorf("%s: pdata reads %d spans, want %d", path, got, want)
		}
		ours := spans(td)
		k := 0
		for i := range pt.ResourceSpans().Len() {
			rs := pt.ResourceSpans().At(i)
			for _, sp := range rs.ScopeSpans().At(0).Spans().All() {
				want := ours[k]
				k++
				if sp.TraceID().String() != want.TraceID || sp.SpanID().String() != want.SpanID || sp.ParentSpanID().String() != want.ParentSpanID ||
					sp.Name() != want.Name || int32(sp.Kind()) != int32(want.Kind) || uint64(sp.StartTimestamp()) != want.StartTimeUnixNano ||
					uint64(sp.EndTimestamp()) != want.EndTimeUnixNano || int32(sp.Status().Code()) != int32(want.Status.Code) ||
					sp.Status().Message() != want.Status.Message || sp.Attributes().Len() != len(want.Attributes) || sp.Links().Len() != len(want.Links) ||
					(len(want.Links) > 0 && (sp.Links().At(0).TraceID().String() != want.Links[0].TraceID || sp.Links().At(0).SpanID().String() != want.Links[0].SpanID)) {
					t.Fatalf("%s: span %d read as %s %s %s, generated %+v", path, k, sp.Name(), sp.TraceID(), sp.SpanID(), want.Span)
				}
				for _, kv := range want.Attributes {
					v, ok := sp.Attributes().Get(kv.Key)
					if !ok || v.AsString() != value(kv.Value) {
						t.Fatalf("%s: span %d attribute %s read as %v", path, k, kv.Key, v.AsRaw())
					}
					if kv.Value.IntValue != nil && v.Type() != pcommon.ValueTypeInt {
						t.Fatalf("%s: span %d attribute %s is %s, want an int", path, k, kv.Key, v.Type())
					}
				}
			}
		}
	}
}
