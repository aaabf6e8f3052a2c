package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The daemon's live heap is a few megabytes and nearly everything it allocates
// dies with its request, so the collector's default target (run when the heap
// has doubled) makes it collect far more often than memory requires: at 400%,
// with 64 senders (4 MB live), the collector's own CPU per event falls from
// 2.7–3.7 µs to 0.7–1.9 µs of about 35. With thousands of connections or large
// events the live heap is larger (~55 MB with 2,000 connections, ~150 MB with
// 1 MB events), and 5x of it would be hundreds of megabytes: the target shrinks
// so that garbage may take about gcHeadroom, never below the default.
//
// A fixed GOGC with a GOMEMLIMIT derived from the container's memory limit is
// the common alternative; measured against this (bench/README.md, "GC target"),
// GOGC=200 kept half of the saving with a small heap and peaked 37–46% higher
// with a large one (198 against 145 MB with 2,000 connections), 400 84–123%
// higher, and the memory limit bounded that only inside a container, by
// collecting more (64–66 instead of 54 µs per event with 2,000 connections).
// GOMEMLIMIT set in the environment works together with this tuner.
//
// Under a flood of large bodies the live heap is the bodies and their decoded
// values (64 MB of 1 MB bodies may hold about 200 MB), and even the default
// target lets garbage take as much again: gcMemoryLimit, a soft limit, makes the
// collector run before the process passes it (relay-bench -mode shapes: peak
// RSS 410-470 MB without it, 250-350 MB with it).
const (
	gcMaxPercent  = 400
	gcMinPercent  = 100
	gcHeadroom    = 64 << 20
	gcMemoryLimit = 320 << 20
)

// tuneGC sets the soft memory limit unless GOMEMLIMIT is set, and adjusts the
// collector's target to the live heap after every collection until ctx ends,
// unless GOGC is set. The target starts at the default, so that the heap
// cannot grow to gcMaxPercent of a live heap not yet measured.
func tuneGC(ctx context.Context) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(gcMemoryLimit)
	}
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(gcMinPercent)
	t := &gcTuner{ctx: ctx, cur: gcMinPercent, live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.arm()
}

type gcTuner struct {
	ctx  context.Context
	cur  int
	live []metrics.Sample
}

// gcCycle is garbage the moment it is made: its finalizer runs after the next
// collection, on the runtime's finalizer goroutine.
type gcCycle struct{ t *gcTuner }

func (t *gcTuner) arm() { runtime.SetFinalizer(&gcCycle{t}, (*gcCycle).collected) }

func (c *gcCycle) collected() {
	t := c.t
	if t.ctx.Err() != nil {
		return
	}
	metrics.Read(t.live)
	if t.live[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	if p := gcPercent(t.live[0].Value.Uint64()); p != t.cur {
		debug.SetGCPercent(p) // stops the world briefly: only on a change
		t.cur = p
	}
	t.arm()
}

// gcPercent is the target for a live heap of live bytes: gcHeadroom of garbage,
// within [gcMinPercent, gcMaxPercent], in steps of 50 so that small changes of
// the live heap do not change it.
func gcPercent(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := min(gcHeadroom*100/live, gcMaxPercent)
	return max(int(p)/50*50, gcMinPercent)
}
