package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/emac-dev/emac/examples"
	"github.com/emac-dev/emac/internal/emit"
	"github.com/emac-dev/emac/internal/emit/emittest"
	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/spec"
)

// latencyExample loads examples/latency/checkout.yaml (package examples
// does not embed it), lets edit change the journey, and analyses it as
// `emac compile` does.
func latencyExample(t testing.TB, edit func(*model.Journey)) *emit.Input {
	t.Helper()
	b, ds := spec.Load(context.Background(), []string{"latency/checkout.yaml"}, spec.Options{FS: os.DirFS("../../../examples")})
	if ds.HasErrors() {
		t.Fatalf("load the latency example: %v", ds.Err())
	}
	j := b.Journeys[0]
	if edit != nil {
		edit(j)
	}
	in := emittest.Input(t, j)
	in.Spec = b.Specs[0]
	return in
}

// TestChartGolden compares the latency example's latency.svg with
// testdata/latency/; go test -update rewrites it. Its report.md and
// report.json are not goldens: their availability numbers belong to the
// engine, and TestLatencyChart checks what the chart adds to them.
func TestChartGolden(t *testing.T) {
	files, err := Emit(latencyExample(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var chart []emit.File
	for _, f := range files {
		paths = append(paths, f.Path)
		if f.Path == ChartPath {
			chart = append(chart, f)
		}
	}
	if diff := cmp.Diff([]string{MarkdownPath, JSONPath, ChartPath}, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	emittest.Golden(t, filepath.Join("testdata", "latency"), chart, *update)
}

// svgRoot parses data as XML to the end and returns its root element.
func svgRoot(data []byte) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return root, nil
		}
		if err != nil {
			return "", err
		}
		if s, ok := tok.(xml.StartElement); ok && root == "" {
			root = s.Name.Local
		}
	}
}

// TestLatencyChart: a journey that composes latency gets latency.svg, a
// well-formed SVG that report.md shows and report.json names, with the
// objective's marks when it has one; a journey without a latency CDF gets
// neither the file nor a reference.
func TestLatencyChart(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        func(t *testing.T) *emit.Input
		chart     bool
		objective string // the objective's legend entry, "" = none
	}{
		{"latency example", func(t *testing.T) *emit.Input { return latencyExample(t, nil) }, true, "objective p99 ≤ 400ms"},
		{"no latency objective", func(t *testing.T) *emit.Input {
			return latencyExample(t, func(j *model.Journey) { j.Objective.Latency = nil })
		}, true, ""},
		{"threshold far out", func(t *testing.T) *emit.Input {
			return latencyExample(t, func(j *model.Journey) { j.Objective.Latency.Threshold = time.Minute })
		}, true, "objective p99 ≤ 1m (threshold beyond the chart)"},
		{"hostile name", func(t *testing.T) *emit.Input {
			return latencyExample(t, func(j *model.Journey) { j.Name = "a\x01<b>&\"c'\n" })
		}, true, "objective p99 ≤ 400ms"},
		{"never succeeds", func(t *testing.T) *emit.Input {
			in := latencyExample(t, nil)
			in.Latency = &latency.Result{Timed: true}
			return in
		}, false, ""},
		{"objective, no component latency", func(t *testing.T) *emit.Input { return emittest.Input(t, everyOperator(t)) }, false, ""},
		{"no latency", func(t *testing.T) *emit.Input { return emittest.Example(t, examples.Checkout) }, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := emitFiles(t, tc.in(t))
			svg, ok := files[ChartPath]
			if ok != tc.chart {
				t.Fatalf("latency.svg written: %v, want %v", ok, tc.chart)
			}
			ref := []byte("![Latency CDF and its dependence-free band](latency.svg)")
			if got := bytes.Contains(files[MarkdownPath], ref); got != tc.chart {
				t.Errorf("report.md references latency.svg: %v, want %v", got, tc.chart)
			}
			var r Report
			if err := json.Unmarshal(files[JSONPath], &r); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: ChartPath}[tc.chart]; r.LatencyChart != want {
				t.Errorf("report.json latencyChart = %q, want %q", r.LatencyChart, want)
			}
			if !tc.chart {
				return
			}
			root, err := svgRoot(svg)
			if err != nil || root != "svg" {
				t.Fatalf("latency.svg: root %q, %v; want a well-formed svg", root, err)
			}
			for _, want := range []string{"independent estimate", "dependence-free band", "P(L ≤ t | success)", sansFallback} {
				if !bytes.Contains(svg, []byte(want)) {
					t.Errorf("latency.svg lacks %q", want)
				}
			}
			if bytes.Contains(svg, []byte(sansFamily)) {
				t.Errorf("latency.svg names Liberation Sans without a fallback")
			}
			if got := bytes.Contains(svg, []byte("objective p")); got != (tc.objective != "") {
				t.Errorf("latency.svg marks an objective: %v, want %v", got, tc.objective != "")
			}
			if tc.objective != "" && !bytes.Contains(svg, []byte(">"+tc.objective+"<")) {
				t.Errorf("latency.svg lacks the legend entry %q", tc.objective)
			}
			if len(svg) > 64<<10 {
				t.Errorf("latency.svg is %d bytes: fonts embedded?", len(svg))
			}
		})
	}
}

// TestChartEnd: the x axis shows the independent CDF reaching 1, the
// bound at the objective's percentile and the threshold, up to five times
// the first.
func TestChartEnd(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	lat := &latency.Result{
		CDF:       []latency.Point{{T: ms(10), P: 0}, {T: ms(50), P: 0.9}, {T: ms(100), P: 0.99995}, {T: ms(400), P: 1}},
		Quantiles: []latency.Quantile{{Level: 0.99, Value: ms(90), Upper: ms(200)}, {Level: 0.999, Value: ms(99), Upper: ms(900)}},
	}
	for _, tc := range []struct {
		name  string
		level float64
		thr   time.Duration
		want  time.Duration
	}{
		{"p99 bound", 0.99, 0, ms(210)},
		{"threshold beyond the bound", 0.99, ms(300), ms(315)},
		{"threshold inside", 0.99, ms(20), ms(210)},
		{"bound capped", 0.999, 0, ms(525)},
		{"threshold capped", 0.99, time.Hour, ms(525)},
		{"no quantile at the level", 0.95, 0, ms(105)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := chartEnd(lat, tc.level, tc.thr); got != tc.want {
				t.Errorf("chartEnd = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChartUnit(t *testing.T) {
	for _, tc := range []struct {
		hi   time.Duration
		unit string
	}{
		{500 * time.Microsecond, "µs"},
		{time.Millisecond, "ms"},
		{10 * time.Second, "ms"},
		{11 * time.Second, "s"},
	} {
		if _, got := chartUnit(tc.hi); got != tc.unit {
			t.Errorf("chartUnit(%v) = %s, want %s", tc.hi, got, tc.unit)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct {
		hi   float64
		n    int
		want float64
	}{
		{663, 8, 100},
		{1000, 8, 200},
		{80, 8, 10},
		{81, 8, 20},
		{0.37, 8, 0.05},
		{1, 10, 0.1},
	} {
		if got := niceStep(tc.hi, tc.n); got != tc.want {
			t.Errorf("niceStep(%v, %d) = %v, want %v", tc.hi, tc.n, got, tc.want)
		}
	}
}

func TestStepTicks(t *testing.T) {
	got := stepTicks(0.1).Ticks(0, 0.3)
	want := []plot.Tick{{Value: 0, Label: "0.0"}, {Value: 0.05}, {Value: 0.1, Label: "0.1"}, {Value: 0.15000000000000002}, {Value: 0.2, Label: "0.2"}, {Value: 0.25}, {Value: 0.30000000000000004, Label: "0.3"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticks (-want +got):\n%s", diff)
	}
	for _, tk := range stepTicks(200).Ticks(0, 663) {
		if strings.ContainsAny(tk.Label, ".e") {
			t.Errorf("tick label %q at %v", tk.Label, tk.Value)
		}
	}
}

func TestAt(t *testing.T) {
	pts := []latency.Point{{T: 10, P: 0.1}, {T: 20, P: 0.5}, {T: 40, P: 0.9}}
	for _, tc := range []struct {
		t    time.Duration
		want float64
	}{
		{0, 0.1}, {10, 0.1}, {15, 0.3}, {20, 0.5}, {30, 0.7}, {40, 0.9}, {100, 0.9},
	} {
		if got := at(pts, tc.t); got < tc.want-1e-12 || got > tc.want+1e-12 {
			t.Errorf("at(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
	if got := at(nil, 5); got != 0 {
		t.Errorf("at(nil) = %v, want 0", got)
	}
}

// TestChartConcurrent: charts drawn at once give the bytes of one drawn
// alone (run with -race: gonum/plot's font cache and text handler are
// shared by every plot).
func TestChartConcurrent(t *testing.T) {
	in := latencyExample(t, nil)
	want, err := latencyChart(in.Result.Name, in.Journey.Objective.Latency, in.Latency)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]byte, 4)
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], errs[i] = latencyChart(in.Result.Name, in.Journey.Objective.Latency, in.Latency) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || !bytes.Equal(got[i], want) {
			t.Errorf("chart %d differs from the one drawn alone (err %v)", i, errs[i])
		}
	}
}

// TestSimplify: simplify keeps the ends, drops a straight run to them, and
// every point it drops lies within the tolerance of the kept polyline.
func TestSimplify(t *testing.T) {
	line := plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}, {X: 2, Y: 2}, {X: 3, Y: 3}}
	if got := simplify(line, 1, 1, 0.01); len(got) != 2 || got[0] != line[0] || got[1] != line[3] {
		t.Errorf("a straight line: got %v, want its ends", got)
	}
	corner := plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}}
	if got := simplify(corner, 1, 1, 0.01); len(got) != 3 {
		t.Errorf("a corner: got %v, want all three points", got)
	}
	// a CDF-like curve, at the chart's scale
	var curve plotter.XYs
	for i := range 400 {
		x := float64(i) / 10
		curve = append(curve, plotter.XY{X: x, Y: 1 - math.Exp(-x/5)})
	}
	const sx, sy, tol = 10, 300, 0.1
	got := simplify(curve, sx, sy, tol)
	if len(got) >= len(curve) || got[0] != curve[0] || got[len(got)-1] != curve[len(curve)-1] {
		t.Fatalf("kept %d of %d points, ends %v %v", len(got), len(curve), got[0], got[len(got)-1])
	}
	k := 0
	for _, p := range curve {
		for k+1 < len(got)-1 && got[k+1].X <= p.X {
			k++
		}
		a, b := got[k], got[k+1]
		// the distance to segment ab, scaled
		ax, ay, bx, by, px, py := a.X*sx, a.Y*sy, b.X*sx, b.Y*sy, p.X*sx, p.Y*sy
		dx, dy := bx-ax, by-ay
		u := min(1, max(0, ((px-ax)*dx+(py-ay)*dy)/(dx*dx+dy*dy)))
		if d := math.Hypot(px-ax-u*dx, py-ay-u*dy); d > tol {
			t.Errorf("point %v lies %.3g from the kept polyline, more than %g", p, d, tol)
		}
	}
}
