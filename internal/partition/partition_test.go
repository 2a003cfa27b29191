package partition

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSets(t *testing.T) {
	u := New(5)
	u.Union(0, 3)
	u.Union(3, 4)
	if u.Find(0) != u.Find(4) || u.Find(1) == u.Find(0) || u.Find(2) != 2 {
		t.Errorf("got %v", u)
	}
}

func TestComponents(t *testing.T) {
	// 0–2, 2–4 linked; 1 and 3 alone
	linked := func(i, j int) bool { return i == 0 && j == 2 || i == 2 && j == 4 }
	got := Components(5, linked)
	want := [][]int{{0, 2, 4}, {1}, {3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Components (-want +got):\n%s", diff)
	}
	if got := Components(0, linked); len(got) != 0 {
		t.Errorf("Components(0) = %v", got)
	}
}
