package emit_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emac-dev/emac/internal/emit"
)

type key struct{ s string }

// TestShared: each key is built once however many goroutines ask at once,
// keys apart are built apart, an error is what every asker gets, and a
// nil Shared builds on every call.
func TestShared(t *testing.T) {
	var sh emit.Shared
	var builds atomic.Int64
	var wg sync.WaitGroup
	got := make([]any, 64)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := key{"a"}
			if i%2 == 1 {
				k = key{"b"}
			}
			v, err := sh.Memo(k, func() (any, error) {
				builds.Add(1)
				return new(k.s), nil
			})
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	if n := builds.Load(); n != 2 {
		t.Errorf("got %d builds, want 2", n)
	}
	for i, v := range got {
		if v != got[i%2] {
			t.Errorf("asker %d got another value than asker %d", i, i%2)
		}
	}

	bad := errors.New("bad query")
	for range 2 {
		if _, err := sh.Memo(key{"c"}, func() (any, error) { return nil, bad }); err != bad {
			t.Errorf("got %v, want %v", err, bad)
		}
	}

	var none *emit.Shared
	n := 0
	for range 3 {
		none.Memo(key{"a"}, func() (any, error) { n++; return n, nil })
	}
	if n != 3 {
		t.Errorf("a nil Shared built %d times, want 3", n)
	}
}
