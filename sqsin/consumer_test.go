package sqsin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	relay "github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestReceiveRequest(t *testing.T) {
	api := &fakeSQS{}
	c, err := New(api, outcomeHandler, Options{QueueURL: "q", Workers: 1, WaitTime: 5 * time.Second, VisibilityTimeout: time.Minute, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, c, func() bool { _, _, r, _ := api.snapshot(); return r > 0 }); err != nil {
		t.Fatal(err)
	}
	in := api.lastReceive
	if *in.QueueUrl != "q" || in.MaxNumberOfMessages != 10 || in.WaitTimeSeconds != 5 || in.VisibilityTimeout != 60 {
		t.Errorf("receive input: url %q, max %d, wait %d, visibility %d", *in.QueueUrl, in.MaxNumberOfMessages, in.WaitTimeSeconds, in.VisibilityTimeout)
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	api := &fakeSQS{receives: [][]types.Message{messages("a", "b", "c")}}
	started := make(chan struct{}, 3)
	release := make(chan struct{})
	var ctxErrs atomic.Int32
	h := handlerFunc(func(ctx context.Context, raw []byte) (relay.Result, error) {
		started <- struct{}{}
		<-release
		if ctx.Err() != nil {
			ctxErrs.Add(1)
		}
		return relay.Result{Decision: relay.Forward}, nil
	})
	c, err := New(api, h, Options{QueueURL: "q", Workers: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for range 3 {
		<-started
	}
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while messages were being handled", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the in-flight messages finished")
	}
	if n := ctxErrs.Load(); n != 0 {
		t.Errorf("%d handlers saw their context cancelled by the shutdown", n)
	}
	deleted, _, _, _ := api.snapshot()
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"a", "b", "c"}) {
		t.Errorf("deleted %v after shutdown, want a b c", deleted)
	}
}

func TestHandleTimeout(t *testing.T) {
	api := &fakeSQS{receives: [][]types.Message{messages("slow")}}
	h := handlerFunc(func(ctx context.Context, _ []byte) (relay.Result, error) {
		<-ctx.Done()
		return relay.Result{}, fmt.Errorf("put: %w", ctx.Err())
	})
	reg := prometheus.NewRegistry()
	c, err := New(api, h, Options{QueueURL: "q", Workers: 1, HandleTimeout: 50 * time.Millisecond, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, c, func() bool {
		return testx.Value(t, reg, "genesys_relay_sqs_messages_failed_total", "why", "retryable") == 1
	}); err != nil {
		t.Fatal(err)
	}
	if deleted, _, _, _ := api.snapshot(); len(deleted) != 0 {
		t.Errorf("a message whose handling timed out was deleted: %v", deleted)
	}
}

// TestReceiveErrorBackoff runs on a synctest clock: the 700 ms are the
// consumer's, not the machine's, so both workers call at once and then only as
// often as their backoff lets them.
func TestReceiveErrorBackoff(t *testing.T) { synctest.Test(t, testReceiveErrorBackoff) }

func testReceiveErrorBackoff(t *testing.T) {
	api := &fakeSQS{alwaysErr: errors.New("connection refused")}
	reg := prometheus.NewRegistry()
	c, err := New(api, outcomeHandler, Options{QueueURL: "q", Workers: 2, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	_, _, calls, _ := api.snapshot()
	// Delays of 100-200ms, 200-400ms, 400-800ms: at most 4 calls per worker in 700ms,
	// where a loop without backoff would make thousands.
	if calls < 2 || calls > 8 {
		t.Errorf("%d receive calls in 700ms, want 2 to 8", calls)
	}
	if got := testx.Value(t, reg, "genesys_relay_sqs_receive_errors_total"); got != float64(calls) {
		t.Errorf("receive_errors_total = %v, want %d", got, calls)
	}
}

func TestReceiveBackoffHonoursContext(t *testing.T) {
	api := &fakeSQS{alwaysErr: errors.New("connection refused")}
	c, err := New(api, outcomeHandler, Options{QueueURL: "q", Workers: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c.retry = backoff{min: 20 * time.Second, max: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for {
		if _, _, calls, _ := api.snapshot(); calls == 2 {
			break // both workers failed once and now back off for 10-20s
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run kept sleeping in its backoff after the context ended")
	}
}

func TestReceiveRecoversAfterErrors(t *testing.T) {
	api := &fakeSQS{
		receiveErrs: []error{errors.New("throttled"), errors.New("throttled")},
		receives:    [][]types.Message{messages("forward")},
	}
	c, err := New(api, outcomeHandler, Options{QueueURL: "q", Workers: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, c, func() bool { d, _, _, _ := api.snapshot(); return len(d) == 1 }); err != nil {
		t.Fatal(err)
	}
}

func TestQueueDoesNotExist(t *testing.T) {
	api := &fakeSQS{alwaysErr: fmt.Errorf("operation error SQS: ReceiveMessage: %w", &types.QueueDoesNotExist{})}
	c, err := New(api, outcomeHandler, Options{QueueURL: "q", Workers: 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = c.Run(ctx)
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Fatalf("Run = %v, want a QueueDoesNotExist error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run waited for the context instead of returning the error")
	}
}

func TestBoundedConcurrency(t *testing.T) {
	const workers, batch = 3, 4
	api := &fakeSQS{}
	for i := range 30 {
		var bodies []string
		for j := range batch {
			bodies = append(bodies, itoa(i*batch+j))
		}
		api.receives = append(api.receives, messages(bodies...))
	}
	var mu sync.Mutex
	cur, peak, handled := 0, 0, 0
	h := handlerFunc(func(context.Context, []byte) (relay.Result, error) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		cur--
		handled++
		mu.Unlock()
		return relay.Result{Decision: relay.Forward}, nil
	})
	reg := prometheus.NewRegistry()
	c, err := New(api, h, Options{QueueURL: "q", Workers: workers, MaxMessages: batch, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, c, func() bool { d, _, _, _ := api.snapshot(); return len(d) == 120 }); err != nil {
		t.Fatal(err)
	}
	if peak > workers*batch {
		t.Errorf("peak concurrency %d exceeds workers*max messages = %d", peak, workers*batch)
	}
	if handled != 120 {
		t.Errorf("handled %d messages, want 120", handled)
	}
	t.Logf("peak concurrency %d of %d", peak, workers*batch)
}

func TestRunTwice(t *testing.T) {
	c, err := New(&fakeSQS{}, outcomeHandler, Options{QueueURL: "q", Workers: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	if err := c.Run(ctx); err == nil {
		t.Error("a second concurrent Run succeeded")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := New(&fakeSQS{}, outcomeHandler, Options{QueueURL: "q", Registerer: reg}); err != nil {
			t.Fatalf("second consumer on one registry: %v", err)
		}
	}
}

func TestWarnedOnce(t *testing.T) {
	var s warnedSet
	if !s.first("a") || s.first("a") || !s.first("b") {
		t.Fatal("first reports repeats")
	}
	for i := range warnedSetMax + 1 {
		s.first(itoa(i))
	}
	if len(s.ids) > warnedSetMax {
		t.Errorf("set grew to %d entries", len(s.ids))
	}
}

func TestRunReturnsNilWhenCancelledWithCause(t *testing.T) {
	c, err := New(&fakeSQS{}, outcomeHandler, Options{QueueURL: "q", Workers: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel(errors.New("SIGTERM"))
	if err := <-done; err != nil {
		t.Errorf("Run after a shutdown = %v, want nil", err)
	}
}
