package discovery

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// A window of a service is bad when an invocation of it failed there, or
// when it was degraded: its successful invocations' p90 at least 1.5
// times, and more than three robust standard deviations (1.4826 × the
// median absolute deviation, in log scale) above, its median window's.
// Only windows with at least minWindowCalls invocations are judged. Bad
// windows are what co-failure is counted on, and what labelled faults
// are looked for in.

const (
	minWindowCalls = 20
	degradedRatio  = 1.5
	degradedSigmas = 3
)

// degraded lists a service's degraded windows — its own spans' or its
// callers' calls to it — with each window's p90 and the baseline p90, of
// whichever side shows the window degraded (its own spans' otherwise).
func (ev *Evidence) degraded(svc int32) (bad map[int64]bool, p90 map[int64]int64, baseline int64) {
	bad, p90, baseline = slowWindows(ev.durations[svc])
	cbad, cp90, cbase := slowWindows(ev.callDurations[svc])
	for w := range cbad {
		if !bad[w] {
			bad[w] = true
			p90[w] = cp90[w]
		}
	}
	if len(cbad) > 0 && len(bad) == len(cbad) {
		baseline = cbase
	}
	return bad, p90, baseline
}

// slowWindows finds the degraded windows of one series of histograms.
func slowWindows(ws map[int64]*winHist) (bad map[int64]bool, p90 map[int64]int64, baseline int64) {
	bad, p90 = map[int64]bool{}, map[int64]int64{}
	var logs []float64
	for w, h := range ws {
		if h.n >= minWindowCalls {
			q := h.quantile(0.9)
			p90[w] = q
			logs = append(logs, math.Log(float64(max(q, 1))))
		}
	}
	if len(logs) < 3 {
		return bad, p90, 0
	}
	med := median(logs)
	var dev []float64
	for _, l := range logs {
		dev = append(dev, math.Abs(l-med))
	}
	sigma := 1.4826 * median(dev)
	baseline = int64(math.Exp(med))
	for w, q := range p90 {
		l := math.Log(float64(max(q, 1)))
		if l-med >= math.Log(degradedRatio) && l-med > degradedSigmas*sigma {
			bad[w] = true
		}
	}
	return bad, p90, baseline
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// badWindows are each service's bad windows: failed or degraded.
func (ev *Evidence) badWindows() map[int32]map[int64]bool {
	out := map[int32]map[int64]bool{}
	for svc, f := range ev.fails {
		out[svc] = map[int64]bool{}
		for w := range f {
			out[svc][w] = true
		}
	}
	for svc := range ev.durations {
		bad, _, _ := ev.degraded(svc)
		for w := range bad {
			if out[svc] == nil {
				out[svc] = map[int64]bool{}
			}
			out[svc][w] = true
		}
	}
	return out
}

// Fault is a fault known to have been injected (labels such as Nezha's
// fault_list.json): looked for in the evidence.
type Fault struct {
	Service string
	Start   time.Time
	Type    string
	// Source is where the label was read.
	Source string
}

// Faults tells, for each labelled fault, what the traces show in its
// window: the service's errors and p90 there against its baseline, and
// the other services bad in the same window.
func (ev *Evidence) Faults(faults []Fault) []v1alpha1.FaultEvidence {
	bad := ev.badWindows()
	var out []v1alpha1.FaultEvidence
	win := ev.opts.window()
	for _, f := range faults {
		// a fault lasts a while from its start: the window it starts in
		// and the next are where it shows
		w0 := f.Start.UnixNano() / win
		fe := v1alpha1.FaultEvidence{Service: f.Service, Type: f.Type, At: f.Start.UTC().Format(time.RFC3339),
			Window: v1alpha1.TimeRange{From: stamp(w0 * win), To: stamp((w0 + 2) * win)}, Source: f.Source}
		if svc, ok := ev.names.ids[f.Service]; ok {
			slow, p90, base := ev.degraded(svc)
			fe.BaselineP90 = v1alpha1.Duration(base)
			also := map[string]bool{}
			for w := w0; w <= w0+1; w++ {
				fe.Errors += ev.fails[svc][w]
				fe.Invocations += ev.fails[svc][w]
				if h := ev.durations[svc][w]; h != nil {
					fe.Invocations += int(h.n)
				}
				fe.P90 = max(fe.P90, v1alpha1.Duration(p90[w]))
				fe.Degraded = fe.Degraded || slow[w]
				for other, ws := range bad {
					if other != svc && ws[w] {
						also[ev.name(other)] = true
					}
				}
			}
			fe.Failed = fe.Errors > 0
			fe.Also = slices.Sorted(maps.Keys(also))
		}
		fe.Visible = fe.Failed || fe.Degraded
		out = append(out, fe)
	}
	return out
}
