package stats

import (
	"math"
	"testing"
)

func TestWilson(t *testing.T) {
	for _, c := range []struct {
		s, n   int
		lo, hi float64
	}{
		{0, 0, 0, 1},
		{3, 3, 0.4385029682449546, 1},
		{50, 100, 0.4038315303659956, 0.5961684696340044},
	} {
		lo, hi := Wilson(c.s, c.n, Z95)
		if math.Abs(lo-c.lo) > 1e-12 || math.Abs(hi-c.hi) > 1e-12 {
			t.Errorf("Wilson(%d, %d) = [%v, %v], want [%v, %v]", c.s, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestUnrefuted(t *testing.T) {
	if got := Unrefuted(0); got != 0 {
		t.Errorf("Unrefuted(0) = %v", got)
	}
	// three cases: a contrary rate above 0.632 is excluded at 95%
	if got := Unrefuted(3); math.Abs(got-0.36840314986403866) > 1e-12 {
		t.Errorf("Unrefuted(3) = %v", got)
	}
}

func TestLogChoose(t *testing.T) {
	if got := math.Exp(LogChoose(10, 3)); math.Abs(got-120) > 1e-9 {
		t.Errorf("C(10,3) = %v", got)
	}
}
