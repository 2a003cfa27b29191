package latency

import "math"

// The standard normal CDF Φ is what discretising a component's latency
// points costs: one evaluation per lattice point, tens of thousands per
// journey, and math.Erfc takes two exponentials in each tail. phi reads
// it from a table instead, of the Taylor series at every 1/128:
// Φ(z₀+d) = Φ(z₀) + φ(z₀)·Σₖ (−1)ᵏ⁻¹ Heₖ₋₁(z₀) dᵏ/k! (Heₖ the
// probabilists' Hermite polynomials, φ the density, |d| ≤ 1/256). Its
// first omitted term is below 1e-17 of φ(z₀) over the table, so the
// result agrees with math.Erfc to about its own rounding (TestPhi). The
// upper half is 1 − Φ(−z): a subtraction from 1 keeps the order of the
// lower half, so the masses, differences of Φ near 1, do not go negative
// by a rounding.

const (
	// normalSteps is the table's points per unit of z.
	normalSteps = 128
	// normalEdge: beyond ±normalEdge, Φ is within 1e-17 of 0 or 1, and
	// math.Erfc is used (few lattice points lie there).
	normalEdge = 8.5
	// normalTerms is the number of terms of the series kept.
	normalTerms = 6
)

// normalTable holds, at z₀ = k/normalSteps − normalEdge up to 0, Φ(z₀)
// and the series' coefficients φ(z₀)·(−1)ᵏ⁻¹ Heₖ₋₁(z₀)/k!.
var normalTable = func() (t [normalEdge*normalSteps + 1][normalTerms + 1]float64) {
	for k := range t {
		z := float64(k)/normalSteps - normalEdge
		t[k][0] = 0.5 * math.Erfc(-z/math.Sqrt2)
		density := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		hPrev, h := 0.0, 1.0 // Heₙ₋₁, Heₙ from n = 0
		fact, sign := 1.0, 1.0
		for n := range normalTerms {
			fact *= float64(n + 1)
			t[k][n+1] = sign * density * h / fact
			hPrev, h = h, z*h-float64(n)*hPrev
			sign = -sign
		}
	}
	return t
}()

// phi is the standard normal CDF.
func phi(z float64) float64 {
	if !(z > -normalEdge && z < normalEdge) {
		return 0.5 * math.Erfc(-z/math.Sqrt2)
	}
	if z > 0 {
		return 1 - lowerPhi(-z)
	}
	return lowerPhi(z)
}

// lowerPhi is Φ(z) for z in (−normalEdge, 0].
func lowerPhi(z float64) float64 {
	k := int((z+normalEdge)*normalSteps + 0.5)
	c := &normalTable[k]
	d := z - (float64(k)/normalSteps - normalEdge)
	s := 0.0
	for n := normalTerms; n > 0; n-- {
		s = (s + c[n]) * d
	}
	return c[0] + s
}
