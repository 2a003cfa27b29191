package discovery_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/emac-dev/emac/internal/discovery"
)

// FuzzDiscover feeds arbitrary spans — any ids, parents, loops,
// duplicates, times, kinds and outcomes — through the assembler and the
// inference: never a panic, and every span counted.
func FuzzDiscover(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 2, 0, 10, 10, 0, 2, 1, 1, 0, 3, 0, 2, 5, 0, 3, 1, 2, 0, 3, 1, 3, 4})
	f.Add([]byte("a loop, a duplicate and a missing parent: any bytes make spans"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a := discovery.NewAssembler(discovery.Options{MaxSpans: 8, Sample: 4})
		n := 0
		for i := 0; i+8 <= len(b) && n < 400; i += 8 {
			r := b[i : i+8]
			s := discovery.Span{
				TraceID:   fmt.Sprint("t", r[0]%4),
				SpanID:    fmt.Sprint("s", r[1]%16),
				Service:   fmt.Sprint("svc", r[3]%5),
				Operation: fmt.Sprint("op", r[4]%3),
				Kind:      discovery.Kind(r[5] % 6),
				Outcome:   discovery.Outcome(r[5] / 6 % 4),
				Start:     int64(r[6]) * 1e6,
				End:       int64(r[6])*1e6 + int64(r[7])*1e5,
				Resend:    int(r[2] % 3),
			}
			if p := r[2] % 17; p < 16 {
				s.ParentID = fmt.Sprint("s", p)
			}
			if r[7]%5 == 0 {
				s.Peer = fmt.Sprint("svc", r[7]%7)
				s.PeerDomain = fmt.Sprint("d", r[0]%2)
			}
			if r[3]%7 == 0 {
				s.Placement.Zone = fmt.Sprint("z", r[0]%2)
			}
			if err := a.Span(&s); err != nil {
				t.Fatal(err)
			}
			n++
		}
		ev := a.Close()
		if ev.Spans != n {
			t.Fatalf("%d spans counted, %d given", ev.Spans, n)
		}
		m := ev.Model(nil)
		for _, fl := range m.Flows {
			if fl.Confidence < 0 || fl.Confidence > 1 {
				t.Fatalf("confidence %v", fl.Confidence)
			}
		}
	})
}

// FuzzRebuild reads flow samples (the label values a Prometheus server
// returns, which anyone can write) and histograms back: never a panic, a
// sample that does not decode is counted as corrupt, and the model is
// made of what does.
func FuzzRebuild(f *testing.F) {
	f.Add("a,op b%2Fx,GET+%2F", "0,0,10,0,0,0 1,5,20,1,2,0 0,30,40,0,0,1", "1f", 0.5, 3.0)
	f.Add("", "", "zz", -1.0, math.NaN())
	f.Add("a,op", "0,10,5,0,0,0", "ffffffffffffffff", math.Inf(1), 1e300)
	f.Fuzz(func(t *testing.T, targets, calls, hash string, v, count float64) {
		fams := []discovery.Family{
			{Name: discovery.FamFlowSample, Type: discovery.Gauge, Series: []discovery.Series{{Labels: []discovery.Label{
				{Name: discovery.LCalls, Value: calls}, {Name: discovery.LHash, Value: hash}, {Name: discovery.LOK, Value: "true"},
				{Name: discovery.LOperation, Value: "op"}, {Name: discovery.LService, Value: "svc"}, {Name: discovery.LTargets, Value: targets},
				{Name: discovery.LTraceID, Value: "t"}}, Value: v}}},
			{Name: discovery.FamInvocations, Type: discovery.Counter, Series: []discovery.Series{{Labels: []discovery.Label{
				{Name: discovery.LOperation, Value: "op"}, {Name: discovery.LService, Value: "svc"}}, Value: count}}},
			{Name: discovery.FamInvocationDur, Type: discovery.Histogram, Series: []discovery.Series{{Labels: []discovery.Label{
				{Name: discovery.LOperation, Value: "op"}, {Name: discovery.LService, Value: "svc"}}, Value: count, Bounds: []float64{v, count}, Counts: []uint64{1, uint64(len(calls)), 2}, Sum: v}}},
		}
		ev := discovery.Rebuild(discovery.Options{}, fams, map[int64][]discovery.Family{7: fams[1:]})
		ev.Model(nil)
	})
}
