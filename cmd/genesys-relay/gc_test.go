package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestGCPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 400}, {4 * mb, 400}, {16 * mb, 400}, {20 * mb, 300}, {32 * mb, 200}, {45 * mb, 100}, {64 * mb, 100}, {1 << 30, 100},
	} {
		if got := gcPercent(tc.live); got != tc.want {
			t.Errorf("gcPercent(%d MB) = %d, want %d", tc.live/mb, got, tc.want)
		}
	}
}

// TestTuneGCMemoryLimit: the daemon sets its soft memory limit unless
// GOMEMLIMIT is set, which the runtime applies itself.
func TestTuneGCMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(math.MaxInt64)
	tuneGC(ctx)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, the limit became %d", got)
	}
	os.Unsetenv("GOMEMLIMIT")
	tuneGC(ctx)
	if got := debug.SetMemoryLimit(-1); got != gcMemoryLimit {
		t.Errorf("limit %d, want %d", got, gcMemoryLimit)
	}
}
