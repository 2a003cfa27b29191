package v1alpha1

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	prom "github.com/prometheus/common/model"
)

// Ratio is a probability in [0,1]. It is written as a plain number and read
// from a number (0.995) or a percent string ("99.5%").
//
// In a CRD it has no type: a structural schema cannot say "number or
// string" (int-or-string refuses 0.995), so the API server keeps the value
// as given and emac's loader checks it, with the spec's other errors.
//
// +kubebuilder:validation:Type=""
// +kubebuilder:pruning:PreserveUnknownFields
type Ratio float64

// ParseRatio reads "99.5%", "0.995" or "99.5 %". It does not check the range.
func ParseRatio(s string) (Ratio, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	if pct {
		t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a number or a percentage", s)
	}
	if pct {
		f /= 100
	}
	return Ratio(f), nil
}

// MarshalJSON writes the ratio as a number.
func (r Ratio) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(r))
}

// UnmarshalJSON reads a number or a percent string.
func (r *Ratio) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*r = Ratio(f)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("ratio must be a number or a percent string")
	}
	v, err := ParseRatio(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Duration is a length of time written the Prometheus way ("30d", "400ms",
// "1h30m"); Go durations such as "1.5s" are read too.
//
// Its JSON is a string, so its CRD schema is one (not the int64 it is in
// Go). The pattern is looser than [ParseDuration]: it catches a number or
// prose at admission and leaves the exact check to emac's loader.
//
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:Format=""
// +kubebuilder:validation:Pattern=`^\s*\+?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d|w|y))+)\s*$`
type Duration time.Duration

// ParseDuration reads a Prometheus or Go duration. Negative durations are
// refused.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if d, err := prom.ParseDuration(t); err == nil {
		return Duration(d), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 400ms, 5m, 1h30m, 30d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return Duration(d), nil
}

// String writes the duration the Prometheus way.
func (d Duration) String() string {
	if time.Duration(d)%time.Millisecond != 0 {
		return time.Duration(d).String()
	}
	return prom.Duration(d).String()
}

// Seconds is the duration in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// MarshalJSON writes the duration as a string such as "30d".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("duration must be a string such as \"5m\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
