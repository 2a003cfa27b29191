package gen

import (
	"time"

	"github.com/emac-dev/emac/internal/model"
)

// Traceable is a journey over flow (the algebra's syntax) for discovery's
// tests: the components a–g it calls fail 10–15% of the time, often
// enough for every operator's behaviour (fallbacks taken, retries,
// hedges, quorums) to show in a few thousand traces, and their successful
// calls take 20–80ms at the median, 3× that at p99.
func Traceable(flow string) (*model.Journey, error) {
	avail := map[string]float64{}
	for k, c := range "abcdefg" {
		avail[string(c)] = 0.85 + 0.01*float64(k%6)
	}
	j, err := model.Build("j", flow, avail, nil)
	if err != nil {
		return nil, err
	}
	for n := range avail {
		if _, used := j.Flow.Calls()[n]; !used {
			delete(j.Components, n)
		}
	}
	for i, n := range j.ComponentNames() {
		p50 := time.Duration(20+(i*17)%60) * time.Millisecond
		j.Components[n].Latency = []model.LatencyPoint{{Quantile: 0.5, Value: p50}, {Quantile: 0.99, Value: 3 * p50}}
	}
	return j, nil
}
