package bounds

import (
	"context"
	"math"
	"testing"

	"github.com/emac-dev/emac/internal/model"
)

var checkoutAvail = map[string]float64{"front": 0.9995, "cart": 0.999, "pricing": 0.999, "paya": 0.995, "payb": 0.995}

const checkoutFlow = "Series(front, All(cart, pricing), Race(paya, payb))"

func checkout(t testing.TB, domains map[string][]string) *model.Journey {
	t.Helper()
	j, err := model.Build("checkout", checkoutFlow, checkoutAvail, domains)
	if err != nil {
		t.Fatal(err)
	}
	j.Objective.Availability = 0.995
	return j
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestCheckout(t *testing.T) {
	shared := map[string][]string{
		"k8s/zone":        {"front", "cart", "pricing"},
		"k8s/cluster":     {"front", "cart", "pricing"},
		"payment-network": {"paya", "payb"},
	}
	separate := map[string][]string{
		"k8s/zone":          {"front", "cart", "pricing"},
		"payment-network-a": {"paya"},
		"payment-network-b": {"payb"},
	}
	tests := []struct {
		name         string
		domains      map[string][]string
		plus, minus  float64
		binding      []string
		floor        float64
		paymentLoss  float64
		requiredPaya float64
	}{
		{"shared payment network", shared, 0.99747706, 0.99251449, []string{"payment-network"}, 0.9925, 0.00496257, 0.9974918},
		{"separate payment networks", separate, 0.99747706, 0.99747706, nil, 0.9925, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Analyze(context.Background(), checkout(t, tc.domains), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !near(r.Optimistic, tc.plus, 5e-9) || !near(r.Pessimistic, tc.minus, 5e-9) || !near(r.Floor, tc.floor, 1e-12) {
				t.Errorf("got A+=%.10f A-=%.10f floor=%.10f, want %.8f %.8f %.8f", r.Optimistic, r.Pessimistic, r.Floor, tc.plus, tc.minus, tc.floor)
			}
			if len(r.Binding) != len(tc.binding) || (len(tc.binding) > 0 && r.Binding[0] != tc.binding[0]) {
				t.Errorf("got binding %v, want %v", r.Binding, tc.binding)
			}
			t.Logf("%+v", r)
		})
	}
}
