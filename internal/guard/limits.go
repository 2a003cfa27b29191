package guard

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// Limits bound how far and how often an action may act, beyond its guard.
// The zero value limits nothing.
type Limits struct {
	// MaxTrafficStep, when set, is the largest traffic step (params.step,
	// a fraction of the traffic) one action may take.
	MaxTrafficStep *float64
	// MaxPerWindow, when positive, is how many times the action may run
	// within Window.
	MaxPerWindow int
	Window       time.Duration
}

// Violations returns why a request with params, made at now after the
// action ran at the times in history, exceeds the limits; nil when it
// does not. A limit that cannot be verified (no step given) is violated:
// missing data never allows.
func (l Limits) Violations(params map[string]any, now time.Time, history []time.Time) []string {
	var out []string
	if l.MaxTrafficStep != nil {
		max := *l.MaxTrafficStep
		raw, ok := params[ParamStep]
		step, isNum := number(raw)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("params.step is missing; the traffic step must be at most %s", fmtFloat(max)))
		case !isNum:
			out = append(out, "params.step is not a number")
		case step > max:
			out = append(out, fmt.Sprintf("traffic step %s exceeds maxTrafficStep %s", fmtFloat(step), fmtFloat(max)))
		}
	}
	if l.MaxPerWindow > 0 {
		n := 0
		for _, t := range history {
			// The window is (now-Window, now]: a run exactly one window
			// ago no longer counts.
			if !t.After(now) && now.Sub(t) < l.Window {
				n++
			}
		}
		if n >= l.MaxPerWindow {
			out = append(out, fmt.Sprintf("action ran %d times in the last %s; maxPerWindow is %d", n, v1alpha1.Duration(l.Window), l.MaxPerWindow))
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
