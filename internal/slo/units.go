package slo

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

const day = 24 * time.Hour

// shorthandUnits are OpenSLO's duration-shorthand postfixes, valued as the
// OpenSLO Go SDK values them.
var shorthandUnits = map[byte]time.Duration{
	'm': time.Minute,
	'h': time.Hour,
	'd': day,
	'w': 7 * day,
	'M': 30 * day,
	'Q': 90 * day,
	'Y': 365 * day,
}

var shorthand = regexp.MustCompile(`^([0-9]+)([mhdwMQY])$`)

// parseWindow parses an SLO window: OpenSLO's duration shorthand when
// openSLO is set (so 1M is a month), else (and as a fallback) a Prometheus
// duration (30d, 2w, 1h30m). Windows must be positive.
func parseWindow(s string, openSLO bool) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := shorthand.FindStringSubmatch(s); openSLO && m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := shorthandUnits[m[2][0]]
		if err != nil || n > math.MaxInt64/int64(unit) {
			return 0, errors.New("duration out of range")
		}
		if n == 0 {
			return 0, errors.New("the window must be positive")
		}
		return time.Duration(n) * unit, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		if openSLO {
			return 0, errors.New("expected a number and one of m, h, d, w, M, Q, Y (e.g. 30d, 4w, 1M)")
		}
		return 0, errors.New("expected a duration such as 30d, 4w or 7d")
	}
	if d <= 0 {
		return 0, errors.New("the window must be positive")
	}
	return time.Duration(d), nil
}

// scale returns v units as a duration, rounded to the nanosecond; false
// when it is not positive or does not fit.
func scale(v float64, unit time.Duration) (time.Duration, bool) {
	x := v * float64(unit)
	if math.IsNaN(x) || x <= 0 || x >= math.MaxInt64/2 {
		return 0, false
	}
	d := time.Duration(math.Round(x))
	return d, d > 0
}

var (
	quoted     = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	identifier = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// unitOf tells the time unit of the values a query returns from the metric
// names in it (http_request_duration_seconds, latency_ms,
// api_server_requestMsec); 0 when it names none, or several.
func unitOf(query string) time.Duration {
	var found time.Duration
	for _, id := range identifier.FindAllString(quoted.ReplaceAllString(query, `""`), -1) {
		u := identUnit(id)
		if u == 0 {
			continue
		}
		if found != 0 && found != u {
			return 0
		}
		found = u
	}
	return found
}

func identUnit(id string) time.Duration {
	lower := strings.ToLower(id)
	for _, seg := range strings.FieldsFunc(lower, func(r rune) bool { return r == '_' || r == ':' }) {
		switch seg {
		case "seconds", "second", "sec", "secs":
			return time.Second
		case "milliseconds", "millisecond", "millis", "ms", "msec", "msecs":
			return time.Millisecond
		case "microseconds", "microsecond", "micros", "usec", "usecs":
			return time.Microsecond
		case "nanoseconds", "nanosecond", "nanos", "nsec", "nsecs":
			return time.Nanosecond
		}
	}
	// camelCase names: requestMsec, latencyMillis, durationSeconds.
	switch {
	case strings.HasSuffix(id, "Msec") || strings.HasSuffix(id, "Millis") || strings.HasSuffix(id, "Milliseconds"):
		return time.Millisecond
	case strings.HasSuffix(id, "Usec") || strings.HasSuffix(id, "Micros") || strings.HasSuffix(id, "Microseconds"):
		return time.Microsecond
	case strings.HasSuffix(id, "Seconds"):
		return time.Second
	}
	return 0
}

// metricUnit is the unit of a histogram's le values: seconds, Prometheus'
// base unit, unless the metric name says otherwise.
func metricUnit(selector string) time.Duration {
	name := selector
	if i := strings.IndexByte(name, '{'); i >= 0 {
		name = name[:i]
	}
	if u := identUnit(strings.TrimSpace(name)); u != 0 {
		return u
	}
	return time.Second
}

// labelValue returns the value of the equality matcher for label in a
// series selector such as foo_bucket{job="x",le="0.05"}; ok is false when
// there is none, and err says why the selector could not be read.
func labelValue(selector, label string) (value string, ok bool, err error) {
	i := strings.IndexByte(selector, '{')
	if i < 0 {
		return "", false, nil
	}
	s := selector[i+1:]
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			return "", false, errors.New("unclosed {")
		}
		if s[0] == '}' {
			return "", false, nil
		}
		var name string
		if s[0] == '"' || s[0] == '\'' || s[0] == '`' {
			name, s, err = quotedString(s)
			if err != nil {
				return "", false, err
			}
		} else {
			j := 0
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || j > 0 && s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j == 0 {
				return "", false, fmt.Errorf("unexpected %q in label matchers", s[:1])
			}
			name, s = s[:j], s[j:]
		}
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" || s[0] == ',' || s[0] == '}' {
			continue // a bare quoted metric name: {"my.metric", le="1"}
		}
		var op string
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(s, o) {
				op = o
				break
			}
		}
		if op == "" {
			return "", false, fmt.Errorf("expected a matcher operator after %s", name)
		}
		s = strings.TrimLeft(s[len(op):], " \t\r\n")
		var v string
		v, s, err = quotedString(s)
		if err != nil {
			return "", false, err
		}
		if name == label && op == "=" {
			return v, true, nil
		}
	}
}

// quotedString reads a PromQL string literal at the start of s and returns
// its value and the rest of s.
func quotedString(s string) (string, string, error) {
	if s == "" {
		return "", "", errors.New("expected a quoted string")
	}
	q := s[0]
	if q != '"' && q != '\'' && q != '`' {
		return "", "", errors.New("expected a quoted string")
	}
	for j := 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			lit := s[:j+1]
			if q == '`' {
				return lit[1 : len(lit)-1], s[j+1:], nil
			}
			if q == '\'' {
				lit = `"` + strings.ReplaceAll(strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`), `"`, `\"`) + `"`
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				return "", "", fmt.Errorf("invalid string %s", s[:j+1])
			}
			return v, s[j+1:], nil
		}
	}
	return "", "", errors.New("unterminated string")
}

// percent turns a percentage into a fraction without the binary noise of
// p/100 (99.9 is 0.999, not 0.9990000000000001).
func percent(p float64) float64 {
	f, err := strconv.ParseFloat(strconv.FormatFloat(p/100, 'g', 15, 64), 64)
	if err != nil {
		return p / 100
	}
	return f
}

// inUnit reports whether f is in (0,1), the range of a target.
func inUnit(f float64) bool { return f > 0 && f < 1 }

// short formats x with at most 12 significant digits, hiding binary noise.
func short(x float64) string { return strconv.FormatFloat(x, 'g', 12, 64) }
