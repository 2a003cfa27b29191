package discovery

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCountPatterns(t *testing.T) {
	a, b := opKey{1, 1}, opKey{2, 1}
	for _, tc := range []struct {
		name  string
		calls []call
		want  map[string]int
	}{
		{"series", []call{{target: a, start: 0, end: 10}, {target: b, start: 10, end: 20}}, map[string]int{"sequence": 1}},
		{"overlap", []call{{target: a, start: 0, end: 10}, {target: b, start: 2, end: 20}}, map[string]int{"overlap": 1}},
		{"within the tolerance is a sequence", []call{{target: a, start: 0, end: 10}, {target: b, start: 9, end: 20}}, map[string]int{"sequence": 1}},
		{"retry", []call{{target: a, start: 0, end: 10, outcome: Error}, {target: a, start: 15, end: 20}}, map[string]int{"retry": 1}},
		{"timeout then retry", []call{{target: a, start: 0, end: 10, outcome: Timeout}, {target: a, start: 10, end: 20}}, map[string]int{"retry": 1, "timeout": 1}},
		{"fallback", []call{{target: a, start: 0, end: 10, outcome: Error}, {target: b, start: 12, end: 20}}, map[string]int{"after-failure": 1}},
		{"race", []call{{target: a, start: 0, end: 10}, {target: b, start: 0, end: 10, outcome: Cancelled}}, map[string]int{"overlap": 1, "cancelled": 1}},
		{"async calls relate to nothing", []call{{target: a, start: 0, end: 10}, {target: b, start: 20, end: 20, async: true}}, map[string]int{}},
		{"a target again after a success", []call{{target: a, start: 0, end: 10}, {target: a, start: 20, end: 30}}, map[string]int{}},
	} {
		var n [numPatterns]int
		countPatterns(&n, tc.calls, 1)
		got := map[string]int{}
		for p, c := range n {
			if c > 0 {
				got[patternNames[p]] = c
			}
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}
