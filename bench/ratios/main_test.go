package main

import "testing"

// TestMedian: the middle one of an odd number, the mean of the two
// middle ones of an even number, whatever the order.
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		vs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{49.6, 47.9, 50.1, 46.8, 47.6}, 47.9},
	} {
		if got := median(tc.vs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.vs, got, tc.want)
		}
	}
}
