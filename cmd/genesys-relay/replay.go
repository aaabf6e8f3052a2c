package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesys-relay/genesys-relay"
)

// runReplay pushes file events through the real pipeline and sink, with bounded
// concurrency so batching works, and prints a progress line every second.
// Retryable failures are retried with backoff. Every event that was rejected or
// could not be written is listed with its file:line, id and why; the command
// then exits 1. Drops are deliberate: they are counted by reason at the end.
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

	st := replayStats{out: e.stderr, drops: map[string]int64{}}
	start := time.Now()
	jobs := make(chan replayJob, *workers)
	var wg sync.WaitGroup
	for range max(*workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				o, res, err := replayOne(ctx, h, j.raw, *retries)
				st.record(j, o, res, err, *retries)
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
				st.println(st.line(time.Since(start)))
			case <-stopProgress:
				return
			}
		}
	}()

	code = exitOK
	for _, path := range fs.Args() {
		c := eachEvent(ctx, path, env{stdin: e.stdin, stderr: syncWriter{&st}}, func(raw []byte, in *eventReader, line int) {
			j := replayJob{raw: append([]byte(nil), raw...), at: in.Name + ":" + strconv.Itoa(line)}
			select {
			case jobs <- j:
			case <-ctx.Done():
			}
		})
		code = max(code, c)
		if ctx.Err() != nil {
			break
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
	if d := st.dropLine(); d != "" {
		fmt.Fprintln(e.stderr, d)
	}
	if st.rejected.Load() > 0 || st.failed.Load() > 0 || ctx.Err() != nil {
		code = exitFailed
	}
	return code
}

// replayJob is one event to replay and where it came from.
type replayJob struct {
	raw []byte
	at  string // file:line
}

type replayOutcome int

const (
	outForwarded replayOutcome = iota
	outDropped
	outRejected
	outFailed
)

// replayOne handles raw, retrying retryable failures up to attempts times. It
// returns the outcome with the handler's result and last error.
func replayOne(ctx context.Context, h relay.Handler, raw []byte, attempts int) (replayOutcome, relay.Result, error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := h.Handle(ctx, raw)
		switch {
		case err == nil && res.Decision == relay.Forward:
			return outForwarded, res, nil
		case err == nil:
			return outDropped, res, nil
		case !relay.Retryable(err):
			return outRejected, res, err
		case attempt >= attempts:
			return outFailed, res, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return outFailed, res, fmt.Errorf("interrupted: %w", err)
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// replayStats counts outcomes and writes the lines of events not written;
// workers and the progress line share out through mu.
type replayStats struct {
	forwarded, dropped, rejected, failed atomic.Int64

	mu    sync.Mutex
	out   io.Writer
	drops map[string]int64 // by reason
}

func (s *replayStats) record(j replayJob, o replayOutcome, res relay.Result, err error, attempts int) {
	[...]*atomic.Int64{&s.forwarded, &s.dropped, &s.rejected, &s.failed}[o].Add(1)
	id := res.ID
	if id == "" {
		id = "(no id)"
	}
	switch o {
	case outDropped:
		s.mu.Lock()
		s.drops[res.Reason]++
		s.mu.Unlock()
	case outRejected:
		s.println(fmt.Sprintf("replay: not written: %s id %s: rejected (%s): %v", j.at, id, relay.RejectReason(err), err))
	case outFailed:
		s.println(fmt.Sprintf("replay: not written: %s id %s: failed (%d attempts): %v", j.at, id, attempts, err))
	}
}

func (s *replayStats) println(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.out, line)
}

// syncWriter writes through s's lock, for messages of the reading loop.
type syncWriter struct{ s *replayStats }

func (w syncWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.out.Write(b)
}

func (s *replayStats) line(d time.Duration) string {
	f, dr, r, fl := s.forwarded.Load(), s.dropped.Load(), s.rejected.Load(), s.failed.Load()
	n := f + dr + r + fl
	return fmt.Sprintf("replay: %d events in %s (%.0f/s): %d forwarded, %d dropped, %d rejected, %d failed",
		n, d.Round(time.Millisecond), float64(n)/max(d.Seconds(), 1e-9), f, dr, r, fl)
}

// dropLine lists the drops by reason, most first ("" when none).
func (s *replayStats) dropLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.drops) == 0 {
		return ""
	}
	reasons := slices.SortedFunc(maps.Keys(s.drops), func(a, b string) int {
		return cmp.Or(cmp.Compare(s.drops[b], s.drops[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d %s", s.drops[r], r)
	}
	return "replay: dropped by rule: " + strings.Join(parts, ", ")
}
