package main

import "testing"

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
