package discovery_test

import (
	"fmt"
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
