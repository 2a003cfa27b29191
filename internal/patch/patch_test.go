package patch

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/examples"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

func call(name string) v1alpha1.Node { return v1alpha1.Node{Call: name} }

func calls(names ...string) []v1alpha1.Node {
	out := make([]v1alpha1.Node, len(names))
	for i, n := range names {
		out[i] = call(n)
	}
	return out
}

func dur(s string) *v1alpha1.Duration {
	d, err := v1alpha1.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &d
}

// applyCase is one golden before/after pair. The input is read from
// testdata, the result compared with testdata/apply/<name>.out.yaml and
// its diff with <name>.diff; then the result is loaded with emac's own
// loader (as the file at "at", next to the example SLO files) and the
// journey is checked to be what the edits asked.
type applyCase struct {
	name  string
	in    string
	at    string
	edits []Edit
	// changed lists the input lines the edits may touch ("20", "12-14,30");
	// an added line may go right before or after one of them.
	changed string
	journey string
	// domains are the failure domains the loaded journey's components have
	// (sorted, as the model keeps them).
	domains map[string][]string
	flow    *v1alpha1.Node
	// errors are the loader's diagnostics on the result ("line: summary"),
	// when an added component still needs its SLO; fill then completes the
	// result (old → new text) so that it loads.
	errors []string
	fill   map[string]string
}

var applyCases = []applyCase{
	{
		name: "flow-list", in: "apply/native.in.yaml", at: "native/checkout.yaml",
		edits:   []Edit{{Component: "paya", Domains: []string{"payment-network", "zone-a"}}},
		changed: "20", journey: "checkout",
		domains: map[string][]string{"paya": {"payment-network", "zone-a"}, "payb": {"payment-network"}},
	},
	{
		name: "flow-list-rewrite", in: "apply/native.in.yaml", at: "native/checkout.yaml",
		edits:   []Edit{{Component: "front", Domains: []string{"k8s/cluster", "zone a", "true"}}},
		changed: "17", journey: "checkout",
		domains: map[string][]string{"front": {"k8s/cluster", "true", "zone a"}},
	},
	{
		name: "flow-mapping", in: "apply/latency.in.yaml", at: "latency/checkout.yaml",
		edits: []Edit{
			{Component: "inventory", Domains: []string{"zone-a"}},
			{Component: "receipt", Domains: []string{"zone-a", "receipts-db"}},
			{Component: "payb", Domains: []string{"payment-network-b"}},
		},
		changed: "28,31,32", journey: "checkout-latency",
		domains: map[string][]string{
			"inventory": {"zone-a"}, "inventory-cache": nil, "receipt": {"receipts-db", "zone-a"},
			"paya": {"payment-network"}, "payb": {"payment-network-b"},
		},
	},
	{
		name: "block-item", in: "apply/block.in.yaml", at: "orders/spec.yaml",
		edits:   []Edit{{Component: "gateway", Domains: []string{"zone-a", "zone-c"}}},
		changed: "27", journey: "orders",
		domains: map[string][]string{"gateway": {"zone-a", "zone-c"}, "orders": {"orders-db", "zone-a"}},
	},
	{
		name: "block-grow", in: "apply/block.in.yaml", at: "orders/spec.yaml",
		edits:   []Edit{{Component: "orders", Domains: []string{"zone-a", "orders-db", "orders-cache"}}},
		changed: "33", journey: "orders",
		domains: map[string][]string{"orders": {"orders-cache", "orders-db", "zone-a"}},
	},
	{
		name: "block-shrink", in: "apply/block.in.yaml", at: "orders/spec.yaml",
		edits: []Edit{
			{Component: "orders", Domains: []string{"orders-db"}},
			{Component: "gateway", Domains: []string{"zone-b"}},
		},
		changed: "26,32", journey: "orders",
		domains: map[string][]string{"orders": {"orders-db"}, "gateway": {"zone-b"}},
	},
	{
		name: "block-empty", in: "apply/block.in.yaml", at: "orders/spec.yaml",
		edits:   []Edit{{Component: "gateway", Domains: []string{}}},
		changed: "24-27", journey: "orders",
		domains: map[string][]string{"gateway": nil},
	},
	{
		name: "no-domains", in: "apply/block.in.yaml", at: "orders/spec.yaml",
		edits: []Edit{
			{Component: "orders-replica", Domains: []string{"zone-b", "orders-db"}},
			{Component: "audit", Domains: []string{"zone-a"}},
		},
		changed: "36,41", journey: "orders",
		domains: map[string][]string{"orders-replica": {"orders-db", "zone-b"}, "audit": {"zone-a"}},
	},
	{
		name: "flow-edit", in: "apply/native.in.yaml", at: "native/checkout.yaml",
		edits: []Edit{{Flow: &v1alpha1.Node{Seq: []v1alpha1.Node{
			call("front"),
			{Fallback: calls("cart", "pricing")},
			{Race: &v1alpha1.Race{HedgeAfter: dur("50ms"), Of: calls("paya", "payb")}},
		}}}},
		changed: "14,15", journey: "checkout",
		flow: &v1alpha1.Node{Seq: []v1alpha1.Node{
			call("front"),
			{Fallback: calls("cart", "pricing")},
			{Race: &v1alpha1.Race{HedgeAfter: dur("50ms"), Of: calls("paya", "payb")}},
		}},
	},
	{
		name: "flow-replace", in: "apply/block.in.yaml", at: "orders/spec.yaml",
		edits: []Edit{{Flow: &v1alpha1.Node{Timeout: &v1alpha1.Timeout{After: *dur("2s"), Do: &v1alpha1.Node{Seq: []v1alpha1.Node{
			call("gateway"),
			{Retry: &v1alpha1.Retry{Attempts: 3, PerTryTimeout: dur("300ms"), Do: &v1alpha1.Node{Fallback: calls("orders", "orders-replica")}}},
			{Branch: []v1alpha1.BranchCase{{Weight: 0.25, Node: call("audit")}, {Weight: 0.75, Node: v1alpha1.Node{Async: &v1alpha1.Node{Call: "audit"}}}}},
		}}}}}},
		changed: "13-18", journey: "orders",
		flow: &v1alpha1.Node{Timeout: &v1alpha1.Timeout{After: *dur("2s"), Do: &v1alpha1.Node{Seq: []v1alpha1.Node{
			call("gateway"),
			{Retry: &v1alpha1.Retry{Attempts: 3, PerTryTimeout: dur("300ms"), Do: &v1alpha1.Node{Fallback: calls("orders", "orders-replica")}}},
			{Branch: []v1alpha1.BranchCase{{Weight: 0.25, Node: call("audit")}, {Weight: 0.75, Node: v1alpha1.Node{Async: &v1alpha1.Node{Call: "audit"}}}}},
		}}}},
	},
	{
		name: "flow-inner", in: "apply/latency.in.yaml", at: "latency/checkout.yaml",
		edits: []Edit{{Flow: &v1alpha1.Node{Timeout: &v1alpha1.Timeout{After: *dur("1s"), Do: &v1alpha1.Node{Seq: []v1alpha1.Node{
			call("front"),
			{All: calls("cart", "pricing")},
			{Fallback: calls("inventory", "inventory-cache")},
			{Quorum: &v1alpha1.Quorum{K: 1, Of: calls("paya", "payb")}},
			{Retry: &v1alpha1.Retry{Attempts: 2, PerTryTimeout: dur("150ms"), Backoff: dur("10ms"), Do: &v1alpha1.Node{Call: "receipt"}}},
		}}}}}},
		changed: "22,23", journey: "checkout-latency",
		flow: &v1alpha1.Node{Timeout: &v1alpha1.Timeout{After: *dur("1s"), Do: &v1alpha1.Node{Seq: []v1alpha1.Node{
			call("front"),
			{All: calls("cart", "pricing")},
			{Fallback: calls("inventory", "inventory-cache")},
			{Quorum: &v1alpha1.Quorum{K: 1, Of: calls("paya", "payb")}},
			{Retry: &v1alpha1.Retry{Attempts: 2, PerTryTimeout: dur("150ms"), Backoff: dur("10ms"), Do: &v1alpha1.Node{Call: "receipt"}}},
		}}}},
	},
	{
		name: "add-component", in: "apply/native.in.yaml", at: "native/checkout.yaml",
		edits: []Edit{
			{AddComponent: "tax"},
			{Flow: &v1alpha1.Node{Seq: []v1alpha1.Node{call("front"), {All: calls("cart", "pricing", "tax")}, {Race: &v1alpha1.Race{Of: calls("paya", "payb")}}}}},
			{Component: "tax", Domains: []string{"k8s/zone"}},
		},
		changed: "14,21", journey: "checkout",
		errors:  []string{`22: component "tax" has no objective`},
		fill:    map[string]string{"tax:     {domains": "tax:     {slo: {availability: 99.9%}, domains"},
		domains: map[string][]string{"tax": {"k8s/zone"}, "cart": {"k8s/cluster", "k8s/zone"}},
		flow:    &v1alpha1.Node{Seq: []v1alpha1.Node{call("front"), {All: calls("cart", "pricing", "tax")}, {Race: &v1alpha1.Race{Of: calls("paya", "payb")}}}},
	},
	{
		name: "add-component-block", in: "apply/block.in.yaml", at: "orders/spec.yaml",
		edits: []Edit{
			{AddComponent: "orders-cache"},
			{Component: "orders-cache", Domains: []string{"zone-a"}},
			{Flow: &v1alpha1.Node{Seq: []v1alpha1.Node{
				call("gateway"), {Fallback: calls("orders", "orders-replica", "orders-cache")}, {Optional: &v1alpha1.Node{Call: "audit"}},
			}}},
		},
		changed: "17,41", journey: "orders",
		errors:  []string{`43: component "orders-cache" has no objective`},
		fill:    map[string]string{"orders-cache: {domains": "orders-cache: {slo: {availability: 99%}, domains"},
		domains: map[string][]string{"orders-cache": {"zone-a"}},
		flow: &v1alpha1.Node{Seq: []v1alpha1.Node{
			call("gateway"), {Fallback: calls("orders", "orders-replica", "orders-cache")}, {Optional: &v1alpha1.Node{Call: "audit"}},
		}},
	},
	{
		name: "multi", in: "apply/multi.in.yaml", at: "multi/spec.yaml",
		edits: []Edit{
			{Journey: "checkout", Component: "front", Domains: []string{"zone-a", "zone-b"}},
			{Journey: "payments", Component: "payb", Domains: []string{"payment-network-b"}},
			{Journey: "checkout", Flow: &v1alpha1.Node{Seq: []v1alpha1.Node{call("front"), {Fallback: calls("paya", "payb")}}}},
		},
		changed: "9,44,46", journey: "checkout",
		domains: map[string][]string{"front": {"zone-a", "zone-b"}, "paya": {"payment-network"}, "payb": {"payment-network-b"}},
		flow:    &v1alpha1.Node{Seq: []v1alpha1.Node{call("front"), {Fallback: calls("paya", "payb")}}},
	},
	{
		name: "paper", in: "paper/emac.checkout.yaml", at: "checkout/spec/emac.checkout.yaml",
		edits: []Edit{
			{Component: "paya", Domains: []string{"payment-network-a"}},
			{Journey: "checkout", Component: "payb", Domains: []string{"payment-network-b"}},
		},
		changed: "76,81", journey: "checkout",
		domains: map[string][]string{
			"front": {"k8s/cluster", "k8s/zone"}, "paya": {"payment-network-a"}, "payb": {"payment-network-b"},
		},
	},
	{
		name: "paper-grow", in: "paper/emac.checkout.yaml", at: "checkout/spec/emac.checkout.yaml",
		edits:   []Edit{{Component: "paya", Domains: []string{"payment-network", "k8s/zone"}}},
		changed: "76", journey: "checkout",
		domains: map[string][]string{"paya": {"k8s/zone", "payment-network"}, "payb": {"payment-network"}},
	},
	{
		name: "crlf", in: "apply/crlf.in.yaml", at: "crlf/spec.yaml",
		edits: []Edit{
			{Component: "a", Domains: []string{"zone-a"}},
			{Component: "b", Domains: []string{"zone-a", "zone-b"}},
		},
		changed: "12,16", journey: "crlf",
		domains: map[string][]string{"a": {"zone-a"}, "b": {"zone-a", "zone-b"}},
	},
}

func TestApply(t *testing.T) {
	for _, c := range applyCases {
		t.Run(c.name, func(t *testing.T) {
			in := read(t, filepath.Join("testdata", c.in))
			got, err := Apply(filepath.Base(c.in), in, c.edits)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			golden(t, filepath.Join("testdata", "apply", c.name+".out.yaml"), got)
			d := Diff(filepath.Base(c.at), filepath.Base(c.at), in, got)
			golden(t, filepath.Join("testdata", "apply", c.name+".diff"), []byte(d))
			onlyLines(t, in, got, c.changed)
			roundTrip(t, filepath.Base(c.at), in, got, d)
			c.check(t, got)

			// Applying the same edits again changes nothing.
			var again []Edit
			for _, e := range c.edits {
				if e.AddComponent == "" {
					again = append(again, e)
				}
			}
			if twice, err := Apply("x.yaml", got, again); err != nil || !bytes.Equal(twice, got) {
				t.Errorf("applying the edits again: err %v, changed:\n%s", err, Diff("x.yaml", "x.yaml", got, twice))
			}
		})
	}
}

// check loads the result with emac's loader and compares the journey with
// what the edits asked.
func (c applyCase) check(t *testing.T, got []byte) {
	t.Helper()
	b, ds := load(c.at, got)
	if c.errors != nil {
		var errs []string
		for _, d := range ds {
			errs = append(errs, strconv.Itoa(d.Subject.Start.Line)+": "+d.Summary)
		}
		sort.Strings(errs)
		if diff := cmp.Diff(c.errors, errs); diff != "" {
			t.Errorf("loader diagnostics (-want +got):\n%s", diff)
		}
		if c.fill == nil {
			return
		}
		for o, n := range c.fill {
			got = bytes.Replace(got, []byte(o), []byte(n), 1)
		}
		b, ds = load(c.at, got)
	}
	if ds.HasErrors() {
		t.Fatalf("the result does not load:\n%v\n%s", ds.Err(), got)
	}
	i := slices.IndexFunc(b.Specs, func(s *v1alpha1.Journey) bool { return s.Metadata.Name == c.journey })
	if i < 0 {
		t.Fatalf("journey %q not loaded", c.journey)
	}
	j := b.Journeys[i]
	for comp, want := range c.domains {
		mc := j.Components[comp]
		if mc == nil {
			t.Errorf("component %s: not in the loaded journey", comp)
			continue
		}
		if diff := cmp.Diff(want, mc.Domains); diff != "" {
			t.Errorf("component %s: domains (-want +got):\n%s", comp, diff)
		}
	}
	if c.flow != nil {
		if diff := cmp.Diff(c.flow, b.Specs[i].Spec.Flow); diff != "" {
			t.Errorf("flow (-want +got):\n%s", diff)
		}
	}
}

// load runs spec.Load on data as the file at, among the example specs
// and SLO files (which sloRef and atomicSLORef resolve against).
func load(at string, data []byte) (*spec.Bundle, diag.Diagnostics) {
	fsys := fstest.MapFS{at: &fstest.MapFile{Data: data}}
	for p, f := range exampleFiles() {
		if p != at {
			fsys[p] = f
		}
	}
	return spec.Load(context.Background(), []string{at}, spec.Options{FS: fsys})
}

var exampleFiles = sync.OnceValue(func() fstest.MapFS {
	out := fstest.MapFS{}
	_ = fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(examples.FS, p)
			out[p] = &fstest.MapFile{Data: b}
		}
		return nil
	})
	return out
})

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with the file p (rewritten with -update).
func golden(t *testing.T, p string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := read(t, p)
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got (-want +got):\n%s", p, Diff(p, p, want, got))
	}
}

// lineSet reads "12-14,30".
func lineSet(t *testing.T, s string) map[int]bool {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, ok := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if ok {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line set %q", s)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out
}

// onlyLines checks, from the line alignment of in and got, that every
// line the edits removed is in changed and every line they added sits
// next to one: everything else is byte-identical.
func onlyLines(t *testing.T, in, got []byte, changed string) {
	t.Helper()
	allowed := lineSet(t, changed)
	al, bl := splitLines(string(in)), splitLines(string(got))
	ids := map[string]int{}
	intern := func(ls []string) []int {
		out := make([]int, len(ls))
		for i, l := range ls {
			if _, ok := ids[l]; !ok {
				ids[l] = len(ids)
			}
			out[i] = ids[l]
		}
		return out
	}
	for _, o := range diffOps(intern(al), intern(bl)) {
		switch o.kind {
		case '-':
			if !allowed[o.a+1] {
				t.Errorf("line %d changed: %q", o.a+1, al[o.a])
			}
		case '+':
			// inserted between input lines o.a and o.a+1 (1-based)
			if !allowed[o.a] && !allowed[o.a+1] {
				t.Errorf("line %q added after line %d", bl[o.b], o.a)
			}
		}
	}
}

// roundTrip checks that the diff, applied to in by patch -p1 (when the
// system has it) and by applyUnified, gives got.
func roundTrip(t *testing.T, name string, in, got []byte, d string) {
	t.Helper()
	if mine, err := applyUnified(string(in), d); err != nil || mine != string(got) {
		t.Errorf("applying the diff: err %v, result differs", err)
	}
	if _, err := os.Stat("/usr/bin/patch"); err != nil {
		return
	}
	dir := t.TempDir()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/patch", "-p1", "-s", "-N", "-r", "-", "--no-backup-if-mismatch")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(d)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch -p1: %v\n%s\n%s", err, out, d)
	}
	if after := read(t, f); !bytes.Equal(after, got) {
		t.Errorf("patch -p1 gave (-want +got):\n%s", Diff(name, name, got, after))
	}
}
