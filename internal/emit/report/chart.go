package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/emac-dev/emac/internal/latency"
	"github.com/emac-dev/emac/internal/model"
)

// The chart's size, legend strip included.
const (
	chartWidth  = 6 * vg.Inch
	chartHeight = 4.5 * vg.Inch
)

// sansFamily is how vgsvg names Liberation Sans, and sansFallback what
// the SVG names instead: the fonts are not embedded (each would add
// hundreds of kilobytes), and a viewer without Liberation Sans then falls
// back to Arial or Helvetica, whose metrics are the same, so that the
// text keeps the layout gonum/plot measured; not to a serif font.
const (
	sansFamily   = "font-family:Liberation Sans;"
	sansFallback = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"
)

// sans is Liberation Sans at size, set on each text of the chart rather
// than through plot.DefaultFont, which is global.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

// latencyChart draws a successful journey's latency CDF as SVG (see
// latencyPlot); nil when lat has no CDF to draw.
func latencyChart(name string, obj *model.LatencyObjective, lat *latency.Result) ([]byte, error) {
	if lat == nil || len(lat.CDF) < 2 {
		return nil, nil
	}
	p, legend, err := latencyPlot(name, obj, lat)
	if err != nil {
		return nil, fmt.Errorf("report: latency chart: %w", err)
	}
	c := vgsvg.New(chartWidth, chartHeight)
	drawChart(draw.New(c), p, legend)
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("report: latency chart: %w", err)
	}
	return bytes.ReplaceAll(b.Bytes(), []byte(sansFamily), []byte(sansFallback)), nil
}

// drawChart draws p on dc with its legend in a strip below: inside the
// axes it would cover the curves or the threshold.
func drawChart(dc draw.Canvas, p *plot.Plot, legend *plot.Legend) {
	r := legend.Rectangle(dc)
	strip := r.Max.Y - r.Min.Y + vg.Points(12)
	p.Draw(draw.Crop(dc, 0, 0, strip, 0))
	legend.Draw(draw.Crop(dc, vg.Points(40), 0, vg.Points(6), strip-dc.Size().Y))
}

// latencyPlot is the chart of lat, which has at least two CDF points: the
// independent estimate as a line, the band from it down to the
// dependence-free lower bound shaded, and the objective's threshold and
// percentile as dashed lines; and its legend.
func latencyPlot(name string, obj *model.LatencyObjective, lat *latency.Result) (*plot.Plot, *plot.Legend, error) {
	level := 0.99
	var thr time.Duration
	if obj != nil && obj.Percentile > 0 {
		level, thr = obj.Percentile/100, obj.Threshold
	}
	var (
		independentColor = color.NRGBA{R: 0x1f, G: 0x4e, B: 0x9a, A: 0xff}
		bandColor        = color.NRGBA{R: 0x4a, G: 0x90, B: 0xd9, A: 0x55} // translucent: the grid shows through
		objectiveColor   = color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
		gridColor        = color.NRGBA{R: 0xdd, G: 0xdd, B: 0xdd, A: 0xff}
	)
	hi := chartEnd(lat, level, thr)
	unit, unitName := chartUnit(hi)
	x := func(d time.Duration) float64 { return float64(d) / float64(unit) }

	p := plot.New()
	p.Title.Text = printable(name) + ": duration of a successful journey"
	p.Title.TextStyle.Font = sans(12)
	p.X.Label.Text = "t (" + unitName + ")"
	p.Y.Label.Text = "P(L ≤ t | success)"
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11)
		a.Tick.Label.Font = sans(10)
	}
	p.X.Tick.Marker = stepTicks(niceStep(x(hi), 8))
	p.Y.Tick.Marker = stepTicks(0.1)
	legend := plot.NewLegend()
	legend.TextStyle.Font = sans(10)
	legend.Top, legend.Left = true, true
	legend.Padding = vg.Points(3)

	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColor, gridColor
	p.Add(grid)

	// Both edges on the union of their samples, the lower clamped to the
	// upper: the two lattices round differently, and a crossing would
	// make the polygon intersect itself.
	ts := chartTimes(lat, hi)
	upper := make(plotter.XYs, len(ts))
	band := make(plotter.XYs, 2*len(ts))
	for i, t := range ts {
		u := at(lat.CDF, t)
		upper[i] = plotter.XY{X: x(t), Y: u}
		band[i] = upper[i]
		band[len(band)-1-i] = plotter.XY{X: x(t), Y: min(at(lat.Lower, t), u)}
	}
	// the samples lie densely where the curves are straight (most of all
	// where the CDF has reached 1): what lies within a tenth of a point of
	// the line through its neighbours is dropped, which no one can see
	// and which halves the chart's drawing and size
	sx, sy := float64(chartWidth)/x(hi), float64(chartHeight)
	upper = simplify(upper, sx, sy, 0.1)
	n := len(band) / 2
	band = append(simplify(band[:n], sx, sy, 0.1), simplify(band[n:], sx, sy, 0.1)...)
	poly, err := plotter.NewPolygon(band)
	if err != nil {
		return nil, nil, err
	}
	poly.Color = bandColor
	poly.LineStyle.Width = 0
	line, err := plotter.NewLine(upper)
	if err != nil {
		return nil, nil, err
	}
	line.Color = independentColor
	line.Width = vg.Points(1.5)
	p.Add(poly, line)
	legend.Add("independent estimate", line)
	legend.Add("dependence-free band: any coupling keeps the CDF above it", poly)

	if obj != nil && obj.Percentile > 0 {
		lines := []plotter.XYs{
			{{X: 0, Y: level}, {X: x(hi), Y: level}},
			{{X: x(thr), Y: 0}, {X: x(thr), Y: 1}},
		}
		label := fmt.Sprintf("objective p%s ≤ %s", p8(obj.Percentile), duration(thr))
		if thr > hi {
			label += " (threshold beyond the chart)"
		}
		var marks []plot.Thumbnailer
		for _, xy := range lines {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, nil, err
			}
			l.Color = objectiveColor
			l.Width = vg.Points(1)
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
			marks = append(marks, l)
		}
		legend.Add(label, marks[0])
	}
	// after Add, which widens the axes to the data: the threshold may lie
	// far beyond the chart
	p.X.Min, p.X.Max = 0, x(hi)
	p.Y.Min, p.Y.Max = 0, 1
	return p, &legend, nil
}

// chartEnd is where the x axis ends. It shows the independent CDF
// reaching 1 to within a hair (1e-4, under a pixel), the dependence-free
// bound at the level (the objective's percentile, or p99) where the
// decision reads it, and the threshold; but at most five times the first,
// so that the independent curve keeps a fifth of the width when the
// bound or the threshold lies far out (the quantile table still gives
// them). A 5% margin keeps the last marks off the frame.
func chartEnd(lat *latency.Result, level float64, thr time.Duration) time.Duration {
	end := lat.CDF[len(lat.CDF)-1].T
	if i := slices.IndexFunc(lat.CDF, func(p latency.Point) bool { return p.P >= 1-1e-4 }); i >= 0 {
		end = lat.CDF[i].T
	}
	end = max(end, time.Microsecond)
	far := thr
	for _, q := range lat.Quantiles {
		if math.Abs(q.Level-level) < 1e-12 {
			far = max(far, q.Upper)
		}
	}
	return time.Duration(float64(max(end, min(far, 5*end))) * 1.05)
}

// niceStep is the smallest of 1, 2 or 5 times a power of ten that cuts
// [0, hi] into at most n steps.
func niceStep(hi float64, n int) float64 {
	pow := math.Pow(10, math.Floor(math.Log10(hi/float64(n))))
	for _, m := range []float64{1, 2, 5} {
		if hi/(m*pow) <= float64(n) {
			return m * pow
		}
	}
	return 10 * pow
}

// stepTicks are labelled ticks at the multiples of a step, with an
// unlabelled one halfway between: plot.DefaultTicks aims at three labels,
// too few to read a CDF off.
type stepTicks float64

// Ticks implements plot.Ticker.
func (s stepTicks) Ticks(lo, hi float64) []plot.Tick {
	step := float64(s)
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var out []plot.Tick
	for k := math.Ceil(lo / step * 2); k*step/2 <= hi*(1+1e-12); k++ {
		v := k * step / 2
		t := plot.Tick{Value: v}
		if math.Mod(k, 2) == 0 {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		out = append(out, t)
	}
	return out
}

// chartUnit is the unit the x axis counts in: milliseconds, unless the
// chart spans less than one (microseconds) or more than ten seconds
// (seconds), so that tick labels stay short.
func chartUnit(hi time.Duration) (time.Duration, string) {
	switch {
	case hi < time.Millisecond:
		return time.Microsecond, "µs"
	case hi > 10*time.Second:
		return time.Second, "s"
	}
	return time.Millisecond, "ms"
}

// chartTimes are the sample times of both curves up to hi, with 0 and hi.
func chartTimes(lat *latency.Result, hi time.Duration) []time.Duration {
	ts := []time.Duration{0, hi}
	for _, pts := range [][]latency.Point{lat.CDF, lat.Lower} {
		for _, p := range pts {
			if p.T > 0 && p.T < hi {
				ts = append(ts, p.T)
			}
		}
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// at is the sampled CDF pts at t, interpolated linearly as the line draws
// it. Before the first sample it is the first value; after the last, the
// last: a CDF only grows, so for the dependence-free bound this is still
// a lower bound, and the independent CDF ends where at most 1e-5 of its
// mass is left.
func at(pts []latency.Point, t time.Duration) float64 {
	if len(pts) == 0 {
		return 0
	}
	i := sort.Search(len(pts), func(i int) bool { return pts[i].T >= t })
	switch {
	case i == 0:
		return pts[0].P
	case i == len(pts):
		return pts[len(pts)-1].P
	}
	a, b := pts[i-1], pts[i]
	return a.P + (b.P-a.P)*float64(t-a.T)/float64(b.T-a.T)
}

// printable replaces the control characters of s, which XML cannot hold,
// with spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// simplify returns the points of the polyline xy that the
// Douglas–Peucker algorithm keeps at tolerance tol, distances measured
// with x scaled by sx and y by sy: every point dropped lies within tol of
// the segment between the kept points around it. The ends are kept.
func simplify(xy plotter.XYs, sx, sy, tol float64) plotter.XYs {
	if len(xy) < 3 {
		return xy
	}
	keep := make([]bool, len(xy))
	keep[0], keep[len(xy)-1] = true, true
	type span struct{ a, b int }
	stack := []span{{0, len(xy) - 1}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ax, ay := xy[s.a].X*sx, xy[s.a].Y*sy
		dx, dy := xy[s.b].X*sx-ax, xy[s.b].Y*sy-ay
		l2 := dx*dx + dy*dy
		far, worst := -1, tol
		for i := s.a + 1; i < s.b; i++ {
			px, py := xy[i].X*sx-ax, xy[i].Y*sy-ay
			// the distance to the segment (to its nearer end beyond it)
			t := 0.0
			if l2 > 0 {
				t = min(1, max(0, (px*dx+py*dy)/l2))
			}
			if d := math.Hypot(px-t*dx, py-t*dy); d > worst {
				far, worst = i, d
			}
		}
		if far >= 0 {
			keep[far] = true
			stack = append(stack, span{s.a, far}, span{far, s.b})
		}
	}
	out := make(plotter.XYs, 0, len(xy))
	for i, k := range keep {
		if k {
			out = append(out, xy[i])
		}
	}
	return out
}
