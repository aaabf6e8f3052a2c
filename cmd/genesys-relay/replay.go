package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesys-relay/genesys-relay"
)

// runReplay pushes file events through the real pipeline and sink, with bounded
// concurrency so batching works, and prints a progress line every second.
// Retryable failures are retried with backoff; the command exits 1 if any event was
// rejected or could not be written.
func runReplay(ctx context.Context, args []string, e env) int {
	fs, cfgPath := newFlags("replay", "FILE...", e)
	workers := fs.Int("workers", 64, "events in flight at once")
	retries := fs.Int("retries", 5, "attempts per event for retryable failures")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitInvalid
	}
	o, code, ok := open(ctx, *cfgPath, "replay", e)
	if !ok {
		return code
	}
	cfg, sink, h := o.cfg, o.sink, o.handler

	var st replayStats
	start := time.Now()
	jobs := make(chan []byte, *workers)
	var wg sync.WaitGroup
	for range max(*workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range jobs {
				st.record(replayOne(ctx, h, raw, *retries))
			}
		}()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintln(e.stderr, st.line(time.Since(start)))
			case <-stopProgress:
				return
			}
		}
	}()

	code = exitOK
feed:
	for _, path := range fs.Args() {
		events, err := readEvents(path, e.stdin)
		if err != nil {
			fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
			code = exitFailed
			continue
		}
		for _, raw := range events {
			select {
			case jobs <- raw:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	close(stopProgress)
	<-progressDone
	cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := sink.Close(cctx); err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: flush: %v\n", err)
		code = exitFailed
	}
	fmt.Fprintln(e.stderr, st.line(time.Since(start)))
	if st.rejected.Load() > 0 || st.failed.Load() > 0 || ctx.Err() != nil {
		code = exitFailed
	}
	return code
}

type replayOutcome int

const (
	outForwarded replayOutcome = iota
	outDropped
	outRejected
	outFailed
)

func replayOne(ctx context.Context, h relay.Handler, raw []byte, attempts int) replayOutcome {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := h.Handle(ctx, raw)
		switch {
		case err == nil && res.Decision == relay.Forward:
			return outForwarded
		case err == nil:
			return outDropped
		case !relay.Retryable(err):
			return outRejected
		case attempt >= attempts:
			return outFailed
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return outFailed
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

type replayStats struct {
	forwarded, dropped, rejected, failed atomic.Int64
}

func (s *replayStats) record(o replayOutcome) {
	[...]*atomic.Int64{&s.forwarded, &s.dropped, &s.rejected, &s.failed}[o].Add(1)
}

func (s *replayStats) line(d time.Duration) string {
	f, dr, r, fl := s.forwarded.Load(), s.dropped.Load(), s.rejected.Load(), s.failed.Load()
	n := f + dr + r + fl
	return fmt.Sprintf("replay: %d events in %s (%.0f/s): %d forwarded, %d dropped, %d rejected, %d failed",
		n, d.Round(time.Millisecond), float64(n)/max(d.Seconds(), 1e-9), f, dr, r, fl)
}
