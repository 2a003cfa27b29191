package service_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/sim/trace"
)

var update = flag.Bool("update", false, "rewrite the replay's trace fixtures")

// The paper's checkout replay (testdata/replay/README.md, after
// ../shared/data/emac-paper/REPLAY.md). Each scenario's evidence is OTLP
// JSON traces of Series(front, All(cart, pricing), Race(paya, payb)):
// front's root span, its client spans to cart and pricing (overlapping)
// and to paya and payb (overlapping; the loser cancelled), and each
// callee's server span. Failure-domain labels come from two sources: the
// payment adapters' own resource attribute emac.failure_domain, and the
// caller's provider metadata on its client span, emac.peer.failure_domain.
type scenario struct {
	name   string
	traces int
	// labels[i] are trace i's labels: paya's own, front's for paya,
	// payb's own, front's for payb ("" for none; payb "-" means payb was
	// not called in that trace)
	labels [][4]string
}

var scenarios = []scenario{
	{"baseline_separate_domains", 3, [][4]string{
		{"payment-network-a", "payment-network-a", "payment-network-b", "payment-network-b"},
		{"payment-network-a", "payment-network-a", "payment-network-b", "payment-network-b"},
		{"payment-network-a", "payment-network-a", "payment-network-b", "payment-network-b"},
	}},
	{"payment_shared_fate_drift", 3, [][4]string{
		{"payment-network-shared", "payment-network-shared", "payment-network-shared", "payment-network-shared"},
		{"payment-network-shared", "payment-network-shared", "payment-network-shared", "payment-network-shared"},
		{"payment-network-shared", "payment-network-shared", "payment-network-shared", "payment-network-shared"},
	}},
	// only paya seen; 3 of its 4 labels say shared; payb has none
	{"missing_or_conflicting_evidence", 2, [][4]string{
		{"payment-network-shared", "payment-network-shared", "-", "-"},
		{"payment-network-a", "payment-network-shared", "-", "-"},
	}},
}

func s(v string) *string { return &v }
func kv(k, v string) trace.KeyValue {
	return trace.KeyValue{Key: k, Value: trace.AnyValue{StringValue: s(v)}}
}

// tracesOf builds a scenario's traces.
func tracesOf(sc scenario) *trace.TracesData {
	res := map[string]*trace.ResourceSpans{}
	var order []string
	add := func(svc, domain string, sp trace.Span) {
		key := svc + "|" + domain
		r := res[key]
		if r == nil {
			attrs := []trace.KeyValue{kv("service.name", svc), kv("cloud.availability_zone", "us-east-1a")}
			if svc == "paya" || svc == "payb" {
				attrs = []trace.KeyValue{kv("service.name", svc)}
			}
			if domain != "" {
				attrs = append(attrs, kv("emac.failure_domain", domain))
			}
			r = &trace.ResourceSpans{Resource: trace.Resource{Attributes: attrs}, ScopeSpans: []trace.ScopeSpans{{Scope: trace.Scope{Name: "replay"}}}}
			res[key] = r
			order = append(order, key)
		}
		r.ScopeSpans[0].Spans = append(r.ScopeSpans[0].Spans, sp)
	}
	const ms = uint64(1e6)
	base := uint64(1767225600) * 1e9 // 2026-01-01
	for i := range sc.traces {
		t0 := base + uint64(i)*60*1e9
		tid := fmt.Sprintf("%032x", 0xc0ffee00+i)
		sid := func(k int) string { return fmt.Sprintf("%016x", (i+1)<<8|k) }
		l := sc.labels[i]
		payb := l[2] != "-"
		winner, loser := "paya", "payb"
		if i%2 == 1 && payb {
			winner, loser = "payb", "paya"
		}
		end := t0 + 140*ms
		add("front", "", trace.Span{TraceID: tid, SpanID: sid(1), Name: "POST /checkout", Kind: trace.KindServer, StartTimeUnixNano: t0, EndTimeUnixNano: end})
		call := func(k int, svc, peerDomain, ownDomain string, start, stop uint64, cancelled bool) {
			client := trace.Span{TraceID: tid, SpanID: sid(k), ParentSpanID: sid(1), Name: svc, Kind: trace.KindClient, StartTimeUnixNano: start, EndTimeUnixNano: stop,
				Attributes: []trace.KeyValue{kv("peer.service", svc)}}
			if peerDomain != "" {
				client.Attributes = append(client.Attributes, kv("emac.peer.failure_domain", peerDomain))
			}
			server := trace.Span{TraceID: tid, SpanID: sid(k + 1), ParentSpanID: sid(k), Name: svc, Kind: trace.KindServer, StartTimeUnixNano: start + ms/2, EndTimeUnixNano: stop - ms/2}
			if cancelled {
				st := trace.Status{Code: trace.StatusError, Message: "cancelled"}
				client.Status, server.Status = st, st
				client.Attributes = append(client.Attributes, kv("error.type", "cancelled"))
			}
			add("front", "", client)
			add(svc, ownDomain, server)
		}
		call(10, "cart", "", "", t0+2*ms, t0+20*ms, false)
		call(20, "pricing", "", "", t0+2*ms, t0+25*ms, false)
		domains := map[string][2]string{"paya": {l[1], l[0]}, "payb": {l[3], l[2]}}
		if payb {
			call(30, winner, domains[winner][0], domains[winner][1], t0+30*ms, t0+110*ms, false)
			call(40, loser, domains[loser][0], domains[loser][1], t0+30*ms, t0+110*ms, true)
		} else {
			call(30, "paya", domains["paya"][0], domains["paya"][1], t0+30*ms, t0+110*ms, false)
		}
	}
	td := &trace.TracesData{}
	for _, k := range order {
		td.ResourceSpans = append(td.ResourceSpans, *res[k])
	}
	return td
}

func fixture(t *testing.T, sc scenario) string {
	t.Helper()
	path := filepath.Join("testdata", "replay", sc.name, "traces.json")
	if *update {
		b, err := tracesOf(sc).JSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestReplay reproduces the paper's three scenarios end to end: traces →
// discover → delta against the spec → accept → the next scenario. Every
// local SLO stays the same; the evidence moves the failure domains, A-
// and the decision: PASS, FAIL, REVIEW.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "replay", "checkout"), dir)
	specPath := filepath.Join(dir, "spec", "emac.checkout.yaml")
	type want struct {
		before, after   string
		aMinus, aPlus   float64
		delta           float64 // ΔA- of the domain change (0: none)
		kinds           []string
		acceptAfterward bool
	}
	wants := map[string]want{
		"baseline_separate_domains":       {before: "FAIL", after: "PASS", aMinus: 0.99747706, aPlus: 0.99747706, delta: +0.00496257, kinds: []string{v1alpha1.ChangeDomainMembership}, acceptAfterward: true},
		"payment_shared_fate_drift":       {before: "PASS", after: "FAIL", aMinus: 0.99251449, aPlus: 0.99747706, delta: -0.00496257, kinds: []string{v1alpha1.ChangeDomainMembership}},
		"missing_or_conflicting_evidence": {before: "PASS", after: "REVIEW", aMinus: 0.99251449, aPlus: 0.99747706, delta: -0.00496257, kinds: []string{v1alpha1.ChangeDomainConflict, v1alpha1.ChangeNotObserved, v1alpha1.ChangeFlow}},
	}
	for _, sc := range scenarios {
		w := wants[sc.name]
		d, err := service.Discover(ctx, []string{fixture(t, sc)}, service.DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rep, deltas, err := service.Delta(ctx, []string{specPath}, d, service.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Diagnostics.HasErrors() || len(deltas) != 1 {
			t.Fatalf("%s: %v, %d deltas", sc.name, rep.Diagnostics, len(deltas))
		}
		md := deltas[0]
		t.Logf("%s: before %s A- %.8f; after %s A+ %.8f A- %.8f, confidence %.3f", sc.name, md.Before.Decision, md.Before.Pessimistic, md.After.Decision, md.After.Optimistic, md.After.Pessimistic, md.Confidence)
		for _, c := range md.Changes {
			dp := "-"
			if c.DeltaPessimistic != nil {
				dp = fmt.Sprintf("%+.8f", *c.DeltaPessimistic)
			}
			t.Logf("  %s (ΔA- %s, high impact %v, confidence %.3f, applied %v, conservative %v): %s", c.Kind, dp, c.HighImpact, c.Confidence, c.Applied, c.Conservative, c.Summary)
		}
		if md.Before.Decision != w.before || md.After.Decision != w.after {
			t.Errorf("%s: decision %s → %s, want %s → %s (%v)", sc.name, md.Before.Decision, md.After.Decision, w.before, w.after, md.After.Reasons)
		}
		if math.Abs(md.After.Pessimistic-w.aMinus) > 5e-9 || math.Abs(md.After.Optimistic-w.aPlus) > 5e-9 {
			t.Errorf("%s: after A+ %.8f A- %.8f, want %.8f %.8f", sc.name, md.After.Optimistic, md.After.Pessimistic, w.aPlus, w.aMinus)
		}
		var kinds []string
		for _, c := range md.Changes {
			kinds = append(kinds, c.Kind)
			if c.Kind == w.kinds[0] {
				if c.DeltaPessimistic == nil || math.Abs(*c.DeltaPessimistic-w.delta) > 5e-9 || !c.HighImpact {
					t.Errorf("%s: %s ΔA- %v, high impact %v; want %+.8f, high impact", sc.name, c.Kind, c.DeltaPessimistic, c.HighImpact, w.delta)
				}
			}
		}
		for _, k := range w.kinds {
			if !contains(kinds, k) {
				t.Errorf("%s: changes %v, want a %s", sc.name, kinds, k)
			}
		}
		if w.acceptAfterward {
			if err := service.Accept(specPath, md, service.AcceptOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
