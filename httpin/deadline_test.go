package httpin

import (
	"context"
	"testing"
	"time"
)

func TestDeadlinesShareAGrain(t *testing.T) {
	d := &deadlines{timeout: 4 * time.Second}
	// The start of a grain, then the middle of the same grain.
	base := time.Now().Truncate(deadlineGrain).Add(deadlineGrain)
	a := d.context(base)
	b := d.context(base.Add(deadlineGrain / 2))
	if a != b {
		t.Error("requests starting in the same grain got different contexts")
	}
	next := d.context(base.Add(deadlineGrain))
	if next == a {
		t.Error("a request of the next grain got the previous grain's context")
	}
	// An older start must neither share the newer context nor displace it.
	old := d.context(base.Add(-3 * deadlineGrain))
	if old == a || old == next {
		t.Error("a request from an older grain shares a newer grain's context")
	}
	if d.context(base.Add(deadlineGrain+1)) != next {
		t.Error("an older request displaced the current grain's context")
	}
	for _, c := range []struct {
		start time.Time
		ctx   context.Context
	}{{base, a}, {base.Add(deadlineGrain / 2), b}, {base.Add(deadlineGrain), next}, {base.Add(-3 * deadlineGrain), old}} {
		dl, ok := c.ctx.Deadline()
		want := c.start.Add(d.timeout)
		if !ok || dl.After(want) || !dl.After(want.Add(-deadlineGrain)) {
			t.Errorf("start %v: deadline %v (set %v), want within (%v, %v]", c.start, dl, ok, want.Add(-deadlineGrain), want)
		}
	}
}

func TestDeadlinesEnd(t *testing.T) {
	d := &deadlines{timeout: 50 * time.Millisecond}
	start := time.Now()
	ctx := d.context(start)
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("shared request context did not end at its deadline")
	}
	if got := time.Since(start); got > d.timeout+5*time.Second {
		t.Errorf("context ended %v after the first byte, timeout %v", got, d.timeout)
	}
	if ctx.Err() != context.DeadlineExceeded {
		t.Errorf("Err = %v, want DeadlineExceeded", ctx.Err())
	}
}
