package discovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/sim/trace"
)

// feed gives the simulator's spans to a sink as a reader would, straight
// from the generator's structs (the OTLP readers are tested on the same
// data through JSON and protobuf in their own packages).
func feed(t testing.TB, td *trace.TracesData, sink discovery.Sink) {
	t.Helper()
	for _, rs := range td.ResourceSpans {
		var place discovery.Placement
		svc := ""
		for _, kv := range rs.Resource.Attributes {
			v := ""
			if kv.Value.StringValue != nil {
				v = *kv.Value.StringValue
			}
			switch kv.Key {
			case "service.name":
				svc = v
			case "k8s.node.name":
				place.Node = v
			case "cloud.availability_zone":
				place.Zone = v
			case "k8s.cluster.name":
				place.Cluster = v
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				d := discovery.Span{TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentSpanID, Service: svc, Operation: s.Name,
					Kind: discovery.Kind(s.Kind), Start: int64(s.StartTimeUnixNano), End: int64(s.EndTimeUnixNano), Placement: place}
				if s.Status.Code == trace.StatusError {
					d.Outcome = discovery.Error
				}
				for _, kv := range s.Attributes {
					switch {
					case kv.Key == "error.type" && kv.Value.StringValue != nil && *kv.Value.StringValue == "timeout":
						d.Outcome = discovery.Timeout
					case kv.Key == "error.type" && kv.Value.StringValue != nil && *kv.Value.StringValue == "cancelled":
						d.Outcome = discovery.Cancelled
					case kv.Key == "http.request.resend_count" && kv.Value.IntValue != nil:
						d.Resend = int(*kv.Value.IntValue)
					case (kv.Key == "peer.service" || kv.Key == "messaging.destination.name") && kv.Value.StringValue != nil:
						d.Peer = *kv.Value.StringValue
					}
				}
				for _, l := range s.Links {
					d.Links = append(d.Links, discovery.Link{TraceID: l.TraceID, SpanID: l.SpanID})
				}
				if err := sink.Span(&d); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func discover(t testing.TB, j *model.Journey, n int, seed uint64) *discovery.Evidence {
	t.Helper()
	td, err := trace.Generate(context.Background(), j, trace.Options{Count: n, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	a := discovery.NewAssembler(discovery.Options{})
	feed(t, td, a)
	return a.Close()
}

// timed gives every component a latency distribution: 20–80ms medians.
func timed(j *model.Journey) {
	for i, n := range j.ComponentNames() {
		p50 := time.Duration(20+(i*17)%60) * time.Millisecond
		j.Components[n].Latency = []model.LatencyPoint{{Quantile: 0.5, Value: p50}, {Quantile: 0.99, Value: 3 * p50}}
	}
}

func TestSimPrint(t *testing.T) {
	for _, flow := range []string{
		"Series(a, All(b, c), Race[hedgeAfter=50ms](d, e))",
		"Series(a, Fallback(b, c), Retry[attempts=3, perTryTimeout=200ms](d))",
		"Series(a, Branch(0.3: b, 0.7: c), Quorum[k=2](d, e, f), Optional(g))",
		"Series(a, Timeout[after=300ms](b), Async(c))",
	} {
		avail := map[string]float64{}
		for _, c := range "abcdefg" {
			avail[string(c)] = 0.9
		}
		j, err := model.Build("j", flow, avail, nil)
		if err != nil {
			t.Fatal(err)
		}
		timed(j)
		ev := discover(t, j, 2000, 1)
		m := ev.Model(nil)
		for _, f := range m.Flows {
			t.Logf("%s\n  got  %s (conf %.3f)\n  notes %v", flow, f.Canonical, f.Confidence, f.Notes)
		}
	}
}
