package openslo

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/model"
)

// defaultWindow is the objective window a journey gets when it states none
// (SPEC §2); journeys built in code may leave it zero.
const defaultWindow = 30 * 24 * time.Hour

// window is the journey's objective window.
func window(j *model.Journey) time.Duration {
	if j.Objective.Window > 0 {
		return j.Objective.Window
	}
	return defaultWindow
}

// promDuration writes a window the way Prometheus and emac's recording
// rules name it (30d, 1h30m), so the recorded series emac's prometheus
// emitter writes (…:ratio_rate30d) are the ones queried here.
func promDuration(d time.Duration) string { return v1alpha1.Duration(d).String() }

// shorthand writes a window as OpenSLO's duration shorthand (a whole number
// and one of m, h, d): OpenSLO has no compound durations, so the largest
// unit that divides the window is used, and windows that are not whole
// minutes are rounded up to the next minute.
func shorthand(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return strconv.FormatInt(int64((d+time.Minute-1)/time.Minute), 10) + "m"
}

// windowPlaceholder is the {{.window}} of SLI queries, with the spacing the
// paper's JourneyIntent uses ({{ .window }}) too.
var windowPlaceholder = regexp.MustCompile(`\{\{\s*\.window\s*\}\}`)

// substitute replaces every {{.window}} of q by w.
func substitute(q, w string) string { return windowPlaceholder.ReplaceAllLiteralString(q, w) }

// windowed reports whether q is evaluated over a window given by
// {{.window}}, as Sloth needs.
func windowed(q string) bool { return windowPlaceholder.MatchString(q) }

// promString quotes a label value for PromQL: PromQL string literals take
// Go's escapes, so no name can end the literal and inject PromQL.
func promString(s string) string { return strconv.Quote(s) }

// maxLabel is the length limit of a DNS-1123 label, which OpenSLO imposes
// on metadata.name.
const maxLabel = 63

// dnsLabel maps s to a DNS-1123 label (lower-case letters, digits and
// '-', at most 63 characters, alphanumeric at both ends). A name that is
// already one is kept; any other gets a hash of the original appended, so
// that two names differing only in the characters that were replaced
// (Cart and cart, a/b and a-b) stay distinct.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-")
	if base == s && len(s) <= maxLabel {
		return s
	}
	h := fnv.New32a()
	h.Write([]byte(s))
	suffix := fmt.Sprintf("%08x", h.Sum32())
	if room := maxLabel - len(suffix) - 1; len(base) > room {
		base = strings.TrimRight(base[:room], "-")
	}
	if base == "" {
		return "x" + suffix
	}
	return base + "-" + suffix
}
