package service_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/emac-dev/emac/internal/service"
)

func TestEach(t *testing.T) {
	ctx := context.Background()
	var seen [100]atomic.Bool
	if err := service.Each(ctx, len(seen), 3, func(_ context.Context, i int) error {
		seen[i].Store(true)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if !seen[i].Load() {
			t.Errorf("f(%d) was not called", i)
		}
	}

	// the first error is returned, and the calls after it are not made
	boom := errors.New("boom")
	var calls atomic.Int64
	err := service.Each(ctx, 1000, 1, func(_ context.Context, i int) error {
		calls.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	if n := calls.Load(); n > 12 {
		t.Errorf("%d calls after an error at the 11th (one at a time), want at most 12", n)
	}

	// a cancelled context is an error even when every call succeeded
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := service.Each(cctx, 5, 0, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
