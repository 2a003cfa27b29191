package bounds

import (
	"context"
	"math"
	"testing"

	"github.com/emac-dev/emac/internal/gen"
)

// TestPruneExact checks that the lower-bound pruning of the pessimistic
// search never changes A- or the binding scenario's value: generated
// journeys of realistic shape, minimised with and without it.
func TestPruneExact(t *testing.T) {
	ctx := context.Background()
	pruned := int64(0)
	for seed := uint64(1); seed <= 12; seed++ {
		j := gen.Realistic(seed, 400, 12)
		fast, err := compile(j)
		if err != nil {
			t.Fatal(err)
		}
		slow, _ := compile(j)
		slow.exhaustive = true
		got, err := fast.pessimistic(ctx, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		want, err := slow.pessimistic(ctx, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		if !got.exact || !want.exact {
			t.Fatalf("seed %d: not exact", seed)
		}
		if math.Abs(got.value-want.value) > 1e-12 {
			t.Errorf("seed %d: A- got %.15f, want %.15f (pruned %d of %d)", seed, got.value, want.value, got.pruned, want.scenarios)
		}
		if want.pruned != 0 || want.scenarios != got.scenarios+got.pruned {
			t.Errorf("seed %d: scenarios got %d evaluated + %d pruned, want %d", seed, got.scenarios, got.pruned, want.scenarios)
		}
		pruned += got.pruned
	}
	if pruned == 0 {
		t.Error("nothing pruned: the test does not exercise the bound")
	}
	t.Logf("%d scenarios pruned", pruned)
}
