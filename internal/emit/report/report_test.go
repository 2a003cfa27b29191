package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/examples"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The checkout, as the paper's JourneyIntent and in emac's native format.
var checkouts = []struct{ name, path string }{
	{"intent", examples.Checkout},
	{"native", "native/checkout.yaml"},
}

// everyOperator is a journey over all eleven operators, with component
// and domain names full of characters markdown and Mermaid interpret, a
// component called twice and a retried one.
func everyOperator(t *testing.T) *model.Journey {
	t.Helper()
	flow := `Series(front, Race[hedgeAfter=50ms]("pay|a", "pay \"b\""), Fallback(db, "<cache>&#1"), Quorum[k=2](r1, r2, r3),
		Branch(0.9: Retry[attempts=3, perTryTimeout=200ms, backoff=20ms](inv), 0.1: Timeout[after=300ms](slow)),
		All(Optional(recs), Async(audit)), "` + "`tick`" + `", db)`
	avail := map[string]float64{"front": 0.9999, "pay|a": 0.995, `pay "b"`: 0.995, "db": 0.999, "<cache>&#1": 0.99,
		"r1": 0.99, "r2": 0.99, "r3": 0.99, "inv": 0.99, "slow": 0.999, "recs": 0.9, "audit": 0.9, "`tick`": 0.9999}
	j, err := model.Build("every-op", flow, avail, map[string][]string{"net*": {"pay|a", `pay "b"`}, "zone/a": {"r1", "r2"}})
	if err != nil {
		t.Fatal(err)
	}
	j.Objective.Availability = 0.977
	j.Objective.Latency = &model.LatencyObjective{Percentile: 99.9, Threshold: 1500 * time.Millisecond}
	j.Components["inv"].Invocations = model.InvocationsPersistent
	return j
}

// TestGolden compares report.md and report.json of the checkout with
// testdata/<case>/; go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, tc := range checkouts {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Emit(emittest.Example(t, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range files {
				paths = append(paths, f.Path)
			}
			emittest.Golden(t, filepath.Join("testdata", tc.name), files, *update)
			if diff := cmp.Diff([]string{MarkdownPath, JSONPath}, paths); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}

func emitFiles(t *testing.T, in *emit.Input) map[string][]byte {
	t.Helper()
	files, err := Emit(in)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Path] = f.Data
	}
	return out
}

// TestJSON: report.json holds the result unchanged, the assumptions, a
// provenance entry for every number of the result, and the same Mermaid
// source as report.md.
func TestJSON(t *testing.T) {
	for _, in := range []*emit.Input{emittest.Example(t, examples.Checkout), emittest.Input(t, everyOperator(t))} {
		files := emitFiles(t, in)
		var got Report
		dec := json.NewDecoder(bytes.NewReader(files[JSONPath]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.APIVersion != "emac.dev/v1alpha1" || got.Kind != "JourneyReport" {
			t.Errorf("got %s %s, want emac.dev/v1alpha1 JourneyReport", got.APIVersion, got.Kind)
		}
		if diff := cmp.Diff(*in.Result, got.Result); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if !bytes.Contains(files[MarkdownPath], []byte("```mermaid\n"+got.Mermaid+"```\n")) {
			t.Errorf("report.md does not hold report.json's Mermaid source")
		}
		fields := map[string]*float64{}
		for _, p := range got.Provenance {
			if _, dup := fields[p.Field]; dup {
				t.Errorf("provenance lists %s twice", p.Field)
			}
			if p.Source == "" {
				t.Errorf("provenance of %s has no source", p.Field)
			}
			fields[p.Field] = p.Value
		}
		want := map[string]*float64{}
		r := in.Result
		v := func(f float64) *float64 { return &f }
		want["confidence"] = v(r.Confidence)
		want["availability.target"] = v(r.Availability.Target)
		want["availability.optimistic"] = v(r.Availability.Optimistic)
		want["availability.pessimistic"] = v(r.Availability.Pessimistic)
		want["availability.floor"] = v(r.Availability.Floor)
		if r.Latency != nil {
			want["latency.percentile"] = v(r.Latency.Percentile)
			want["latency.threshold"] = v(r.Latency.Threshold)
		}
		for _, c := range r.Contributors {
			want["contributors["+c.Component+"].importance"] = v(c.Importance)
			want["contributors["+c.Component+"].share"] = v(c.Share)
		}
		for _, q := range r.Required {
			want["required["+q.Component+"].availability"] = q.Availability
		}
		for _, d := range r.Domains {
			want["domains["+d.Name+"].loss"] = v(d.Loss)
			want["domains["+d.Name+"].required"] = d.Required
		}
		for _, c := range r.Components {
			want["components["+c.Name+"].availability"] = v(c.Availability)
		}
		if diff := cmp.Diff(want, fields); diff != "" {
			t.Errorf("provenance (-want +got):\n%s", diff)
		}
	}
}

// TestAssumptions: multiply-invoked components and declared domains.
func TestAssumptions(t *testing.T) {
	in := emittest.Input(t, everyOperator(t))
	got := build(in.Journey, in.Result).Assumptions
	// db is unknown and called from two places in series: A- is free to
	// take it either way, and the result says which.
	dbPess := "transient"
	for _, p := range in.Result.Availability.Persistent {
		if p == "db" {
			dbPess = "persistent"
		}
	}
	want := Assumptions{
		Mode: "contract", Model: "the spec as written is the accepted model (confidence 1): no evidence was checked against it",
		Confidence: 1, DecisionBound: "pessimistic",
		Invocations: []Invocation{
			{Component: "db", Calls: 2, Model: "unknown", Pessimistic: dbPess},
			{Component: "inv", Calls: 1, Retried: true, Model: "persistent", Pessimistic: "persistent"},
		},
		Domains: []Domain{
			{Name: "net*", Source: "declared", Members: []string{"pay \"b\"", "pay|a"}},
			{Name: "zone/a", Source: "declared", Members: []string{"r1", "r2"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("assumptions (-want +got):\n%s", diff)
	}
}

var (
	nodeLine  = regexp.MustCompile(`^ {2,4}([nd][0-9]+)(\["|\(\[")(.*?)("\]|"\]\))$`)
	edgeLine  = regexp.MustCompile(`^  (n[0-9]+) (-->|-\.->)(?:\|"([^"]*)"\|)? (n[0-9]+)$`)
	subgraph  = regexp.MustCompile(`^  subgraph [a-z]+ \["[^"]*"\]$`)
	classDef  = regexp.MustCompile(`^  classDef [a-z]+ [a-z:#0-9,-]+$`)
	classLine = regexp.MustCompile(`^  class ([nd0-9,]+) [a-z]+$`)
	entity    = regexp.MustCompile(`#([a-z]+|[0-9]+);`)
)

var mermaidUnescape = strings.NewReplacer("#35;", "#", "#quot;", `"`, "#lt;", "<", "#gt;", ">", "#amp;", "&", "#96;", "`", "#37;", "%")

// checkMermaid checks that a flowchart is syntactically sane for j: every
// line is one of the forms emac writes, shapes and subgraphs are balanced,
// labels hold no raw quote or markup but <br/>, ids are unique and every
// reference is defined, the operator nodes and edges form j's flow tree,
// and every call is a node labelled with its component.
func checkMermaid(src string, j *model.Journey) error {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	if lines[0] != "flowchart LR" {
		return fmt.Errorf("first line %q, want flowchart LR", lines[0])
	}
	ids := map[string]bool{}
	var leaves []string
	ops, edges, depth := 0, 0, 0
	var refs []string
	for _, l := range lines[1:] {
		if m := nodeLine.FindStringSubmatch(l); m != nil {
			id, open, label, closing := m[1], m[2], m[3], m[4]
			if (open == `["`) != (closing == `"]`) {
				return fmt.Errorf("unbalanced shape: %s", l)
			}
			if ids[id] {
				return fmt.Errorf("id %s declared twice", id)
			}
			ids[id] = true
			bare := strings.ReplaceAll(label, "<br/>", "")
			if strings.ContainsAny(bare, "\"<>`") || strings.Count(bare, "#") != len(entity.FindAllString(bare, -1)) {
				return fmt.Errorf("label not escaped: %s", l)
			}
			switch {
			case id[0] == 'n' && open == `["`:
				name, _, _ := strings.Cut(label, "<br/>")
				leaves = append(leaves, mermaidUnescape.Replace(name))
			case id[0] == 'n':
				ops++
			}
			continue
		}
		if m := edgeLine.FindStringSubmatch(l); m != nil {
			if strings.ContainsAny(m[3], "<>`") {
				return fmt.Errorf("edge label not escaped: %s", l)
			}
			edges++
			refs = append(refs, m[1], m[4])
			continue
		}
		switch {
		case subgraph.MatchString(l):
			depth++
		case l == "  end":
			if depth--; depth < 0 {
				return fmt.Errorf("end without subgraph")
			}
		case classDef.MatchString(l):
		case classLine.MatchString(l):
			refs = append(refs, strings.Split(classLine.FindStringSubmatch(l)[1], ",")...)
		default:
			return fmt.Errorf("unexpected line %q", l)
		}
	}
	if depth != 0 {
		return fmt.Errorf("%d subgraphs not ended", depth)
	}
	for _, r := range refs {
		if !ids[r] {
			return fmt.Errorf("%s is used but not declared", r)
		}
	}
	var calls []string
	nodes := 0
	j.Flow.Walk(func(n *model.Node) {
		nodes++
		if n.Op == model.Call {
			calls = append(calls, n.Component)
		}
	})
	sort.Strings(calls)
	sort.Strings(leaves)
	if diff := cmp.Diff(calls, leaves); diff != "" {
		return fmt.Errorf("leaves (-calls +nodes):\n%s", diff)
	}
	if ops+len(leaves) != nodes || edges != nodes-1 {
		return fmt.Errorf("%d operator nodes, %d leaves and %d edges for a flow of %d nodes", ops, len(leaves), edges, nodes)
	}
	return nil
}

// TestMermaid: the flowchart is sane for the checkout, every operator and
// random journeys.
func TestMermaid(t *testing.T) {
	inputs := map[string]*emit.Input{
		"checkout": emittest.Example(t, examples.Checkout),
		"every-op": emittest.Input(t, everyOperator(t)),
	}
	for seed := uint64(1); seed <= 20; seed++ {
		inputs[fmt.Sprintf("random-%d", seed)] = emittest.Input(t, gen.Random(seed, gen.RandomOptions{Leaves: 12, Domains: 3}))
	}
	for name, in := range inputs {
		if err := checkMermaid(flowchart(in.Journey, in.Result), in.Journey); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCheckMermaid: the checker rejects what it must, so TestMermaid can
// fail.
func TestCheckMermaid(t *testing.T) {
	j, err := model.Build("j", "Series(a, b)", map[string]float64{"a": 0.9, "b": 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := "flowchart LR\n  n0([\"seq\"])\n  n1[\"a<br/>90%\"]\n  n2[\"b<br/>90%\"]\n  n0 -->|\"1\"| n1\n  n0 -->|\"2\"| n2\n"
	if err := checkMermaid(good, j); err != nil {
		t.Fatalf("good chart rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"header":        strings.Replace(good, "flowchart LR", "graph", 1),
		"shape":         strings.Replace(good, `n1["a<br/>90%"]`, `n1["a<br/>90%"])`, 1),
		"raw quote":     strings.Replace(good, `n1["a<br/>`, `n1["a"<br/>`, 1),
		"raw markup":    strings.Replace(good, `n1["a<br/>`, `n1["<b>a</b><br/>`, 1),
		"duplicate id":  strings.Replace(good, `n2["b`, `n1["b`, 1),
		"undeclared":    strings.Replace(good, "n0 -->|\"2\"| n2", "n0 -->|\"2\"| n9", 1),
		"missing leaf":  strings.Replace(good, `n2["b<br/>90%"]`, `n2(["b"])`, 1),
		"open subgraph": good + "  subgraph domains [\"x\"]\n",
		"stray end":     good + "  end\n",
		"bare hash":     strings.Replace(good, `n1["a`, `n1["#a`, 1),
	} {
		if err := checkMermaid(bad, j); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestEveryOperator: a journey over every operator emits, and the chart
// shows each operator with its parameters.
func TestEveryOperator(t *testing.T) {
	files := emitFiles(t, emittest.Input(t, everyOperator(t)))
	for _, want := range []string{
		`(["seq"])`, `(["all"])`, `(["race<br/>hedge after 50ms"])`, `-->|"+50ms"|`, `(["fallback"])`,
		`(["quorum<br/>2 of 3"])`, `(["branch"])`, `-->|"90%"|`, `-->|"10%"|`,
		`(["retry ×3<br/>per try 200ms, backoff 20ms"])`, `(["timeout 300ms"])`,
		`(["optional"])`, `-.->|"may fail"|`, `(["async"])`, `-.->|"not waited for"|`,
		`["#lt;cache#gt;#amp;#35;1<br/>99%"]`, `["pay #quot;b#quot;<br/>99.5%"]`, `["#96;tick#96;<br/>99.99%"]`,
		"| &lt;cache&gt;&amp;#1 |", // not HTML in the tables
	} {
		if !bytes.Contains(files[MarkdownPath], []byte(want)) {
			t.Errorf("report.md lacks %s", want)
		}
	}
}

// TestDeterministic: emitting twice from separately built inputs gives the
// same bytes.
func TestDeterministic(t *testing.T) {
	for _, mk := range []func() *emit.Input{
		func() *emit.Input { return emittest.Example(t, examples.Checkout) },
		func() *emit.Input { return emittest.Input(t, everyOperator(t)) },
		func() *emit.Input { return emittest.Input(t, gen.Random(7, gen.RandomOptions{Leaves: 16, Domains: 4})) },
		func() *emit.Input { return latencyExample(t, nil) },
	} {
		a, b := emitFiles(t, mk()), emitFiles(t, mk())
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("runs differ (-first +second):\n%s", diff)
		}
	}
}

// TestLatency: the latency section says what is known.
func TestLatency(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		name string
		lat  *v1alpha1.LatencyResult
		want string // "" = no latency section
	}{
		{"no objective", nil, ""},
		{"unknown", &v1alpha1.LatencyResult{Percentile: 99, Threshold: 0.4, Status: "unknown", Reason: "no component has latency"},
			"## Latency\n\nObjective: p99 ≤ 400ms. Status: **unknown**: no component has latency.\n"},
		{"computed", &v1alpha1.LatencyResult{Percentile: 99, Threshold: 0.4, Independent: v(0.21), Upper: v(0.35), Within: v(0.999), Status: "met", Reason: "p99 is at most 350ms",
			Resolution: 0.00001, Error: 0.00002, Untimed: []string{"cart"},
			Quantiles: []v1alpha1.LatencyQuantile{{Level: 0.5, Independent: 0.1, Upper: 0.15}, {Level: 0.999, Independent: 0.3, Upper: 0.5, Beyond: true}}},
			"## Latency\n\nObjective: p99 ≤ 400ms. Status: **met**: p99 is at most 350ms.\n\n" +
				"A successful journey's duration. *Independent*: every call independent. *Upper*: the dependence-free bound (p_upper), which holds however the components' latencies are coupled.\n\n" +
				"| quantile | independent | upper |\n|---|---:|---:|\n| p50 | 100ms | 150ms |\n| p99.9 | 300ms | > 500ms |\n\n" +
				"P(L ≤ 400ms | success) = 0.999 with independent calls. Lattice step 10µs: an independent quantile is within ±20µs of the exact composition. Without latency (they take no time, and no deadline fires on them): cart.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := emittest.Example(t, "native/checkout.yaml")
			in.Result.Latency = tc.lat
			md := string(emitFiles(t, in)[MarkdownPath])
			if tc.want == "" {
				if strings.Contains(md, "## Latency") {
					t.Errorf("report.md has a latency section without a latency objective")
				}
				return
			}
			if !strings.Contains(md, tc.want) {
				i := strings.Index(md, "## Latency")
				t.Errorf("latency section:\n%s\nwant:\n%s", md[max(i, 0):min(max(i, 0)+1200, len(md))], tc.want)
			}
		})
	}
}

func TestEscapes(t *testing.T) {
	for _, tc := range []struct{ in, md, mermaid string }{
		{"payment-network", "payment-network", "payment-network"},
		{"a|b", `a\|b`, "a|b"},
		{`x"y`, `x"y`, "x#quot;y"},
		{"<b>&#1;</b>", "&lt;b&gt;&amp;#1;&lt;/b&gt;", "#lt;b#gt;#amp;#35;1;#lt;/b#gt;"},
		{"*_`[]~\\", "\\*\\_\\`\\[\\]\\~\\\\", "*_#96;[]~\\"},
		{"two\nlines", "two lines", "two lines"},
		{"50%%", "50%%", "50#37;#37;"},
	} {
		if got := md(tc.in); got != tc.md {
			t.Errorf("md(%q) = %q, want %q", tc.in, got, tc.md)
		}
		if got := mermaidText(tc.in); got != tc.mermaid {
			t.Errorf("mermaidText(%q) = %q, want %q", tc.in, got, tc.mermaid)
		}
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Series(a, b)", "`Series(a, b)`"},
		{"a`b", "``a`b``"},
		{"`x``", "``` `x`` ```"},
		{"<b>|c", "`<b>|c`"},
		{"two\nlines", "`two lines`"},
	} {
		if got := code(tc.in); got != tc.want {
			t.Errorf("code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNumbers(t *testing.T) {
	v := 0.9974917349
	for _, tc := range []struct{ got, want string }{
		{p8(0.99747706195), "0.99747706"},
		{p8(0.9925), "0.9925"},
		{p8(-0.000998225668797), "-0.00099822567"},
		{pct(0.995), "99.5%"},
		{pct(0.400328561918), "40.032856%"},
		{requiredText(&v), "≥ 0.9974917349"},
		{requiredText(nil), "infeasible"},
		{seconds(0.4), "400ms"},
		{seconds(1.5), "1s500ms"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

// TestNoInput: a missing journey or result is an error, not a panic.
func TestNoInput(t *testing.T) {
	for _, in := range []*emit.Input{nil, {}, {Journey: everyOperator(t)}} {
		if _, err := Emit(in); err == nil {
			t.Errorf("Emit(%+v) succeeded", in)
		}
	}
}
