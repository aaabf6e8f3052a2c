package main

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/testx"
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

// gogc is the collector's target as the runtime reports it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// restoreGC puts the collector's target back when the test ends.
func restoreGC(t *testing.T) {
	prev := debug.SetGCPercent(-1)
	debug.SetGCPercent(prev)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
}

// collectUntil runs collections until the target satisfies ok: the tuner sets
// it on the finalizer goroutine after a collection, so it follows some time
// after one.
func collectUntil(t *testing.T, what string, ok func(int) bool) {
	t.Helper()
	if !testx.Eventually(30*time.Second, func() bool {
		if ok(gogc()) {
			return true
		}
		runtime.GC()
		return false
	}) {
		t.Fatalf("GOGC is %d after 30 s of collections, want %s", gogc(), what)
	}
}

// TestTuneGCFollowsLiveHeap: the target starts at the default, rises to the
// maximum after a collection of a small live heap, and comes down when the
// live heap grows.
func TestTuneGCFollowsLiveHeap(t *testing.T) {
	restoreGC(t)
	if v, set := os.LookupEnv("GOGC"); set {
		t.Cleanup(func() { os.Setenv("GOGC", v) })
		os.Unsetenv("GOGC")
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Before the target is restored: the tuner's last finalizer finds ctx done.
	t.Cleanup(func() { cancel(); runtime.GC() })
	debug.SetGCPercent(gcMaxPercent)
	tuneGC(ctx)
	if got := gogc(); got != gcMinPercent {
		t.Fatalf("GOGC right after tuneGC = %d, want %d until the live heap is measured", got, gcMinPercent)
	}
	collectUntil(t, "400 with a small live heap", func(p int) bool { return p == gcMaxPercent })

	live := make([]byte, 48<<20) // 64 MB of headroom over ≥ 48 MB live: 100%
	for i := range live {
		live[i] = 1
	}
	collectUntil(t, "100 with 48 MB live", func(p int) bool { return p == gcMinPercent })
	runtime.KeepAlive(live)
}

// TestTuneGCLeavesGOGC: GOGC in the environment wins; tuneGC does not touch
// the target.
func TestTuneGCLeavesGOGC(t *testing.T) {
	restoreGC(t)
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tuneGC(ctx)
	for range 3 {
		runtime.GC()
	}
	if got := gogc(); got != 150 {
		t.Fatalf("GOGC = %d with GOGC=150 in the environment, want 150", got)
	}
}
