// Package stats holds the few statistics emac states its confidence
// with: the Wilson score interval of a proportion, the confidence of a
// finding no case contradicted, and log binomial coefficients for exact
// tests.
package stats

import "math"

// Z95 is the two-sided 95% standard normal quantile.
const Z95 = 1.959963984540054

// Wilson is the Wilson score interval of s successes in n at the normal
// quantile z (Z95 for 95%): unlike the normal approximation it stays
// inside [0, 1] and keeps its coverage near 0 and 1, where availabilities
// and call rates are. [0, 1] when n is 0.
func Wilson(s, n int, z float64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(s) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, center-half), min(1, center+half)
}

// Unrefuted is the confidence of a finding that n cases could each have
// contradicted and none did: a contrary rate above 1 − 0.05^(1/n) is
// excluded at 95% (the exact binomial, Clopper–Pearson, bound), and the
// confidence is 0.05^(1/n). 0 when no case could have.
func Unrefuted(n int) float64 {
	if n <= 0 {
		return 0
	}
	return math.Pow(0.05, 1/float64(n))
}

// LogChoose is ln C(n, r).
func LogChoose(n, r int) float64 {
	x, _ := math.Lgamma(float64(n + 1))
	y, _ := math.Lgamma(float64(r + 1))
	z, _ := math.Lgamma(float64(n - r + 1))
	return x - y - z
}
