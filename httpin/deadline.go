package httpin

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlineGrain is how finely request deadlines are kept: a request's context
// ends RequestTimeout after its first byte, rounded down to a multiple of
// deadlineGrain, so that it still ends within RequestTimeout of the first byte.
const deadlineGrain = 10 * time.Millisecond

// deadlines hands out the contexts requests wait for Kinesis under. Requests
// whose first bytes arrived in the same deadlineGrain share one context, which
// its own timer cancels at the deadline. A context of its own per request would
// arm a runtime timer and stop it again for every event, about 3% of the CPU an
// event costs end to end (perf profile of bench/cmd/relay-bench, 64 senders);
// a shared one costs that once per grain. Nothing cancels a shared context early: a
// request that finishes sooner just stops waiting on it.
type deadlines struct {
	timeout time.Duration
	cur     atomic.Pointer[sharedDeadline]
}

// sharedDeadline is the context of the requests that started in one grain.
type sharedDeadline struct {
	slot   int64 // the grain: first-byte time in Unix nanoseconds / deadlineGrain
	ctx    context.Context
	cancel context.CancelFunc // never called: the context's own timer ends it at the deadline
}

// context returns a context that ends timeout after start, rounded down to the
// grain. A start older than the latest grain handed out gets a context of its
// own rather than displacing the current one.
func (d *deadlines) context(start time.Time) context.Context {
	ns := start.UnixNano()
	slot := ns / int64(deadlineGrain)
	cur := d.cur.Load()
	if cur != nil && cur.slot == slot {
		return cur.ctx
	}
	// start keeps its monotonic clock reading: the deadline does too.
	deadline := start.Add(d.timeout - time.Duration(ns-slot*int64(deadlineGrain)))
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	s := &sharedDeadline{slot: slot, ctx: ctx, cancel: cancel}
	if cur == nil || slot > cur.slot {
		// Two requests may build the same grain's context at once; either one
		// serves, and the other is used only by the request that built it.
		d.cur.CompareAndSwap(cur, s)
	}
	return ctx
}
