package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

func TestInvalidRecordFailsAtPut(t *testing.T) {
	api := &fakeAPI{}
	w := newTestWriter(t, api, Options{MaxRecordBytes: 100, MaxBatchBytes: 1000})
	// A record that reached the queue of this writer would wait an hour for
	// its batch: an answer before the context ends means Put refused it.
	strict := newTestWriter(t, api, Options{MaxRecordBytes: 100, MaxBatchBytes: 1000, Linger: time.Hour})
	for _, tc := range []struct {
		name string
		rec  relay.Record
		msg  string
	}{
		{"too large", relay.Record{PartitionKey: "k", Data: make([]byte, 100)}, "101 bytes"},
		{"empty partition key", relay.Record{Data: []byte("x")}, "partition key"},
		{"partition key too long", relay.Record{PartitionKey: strings.Repeat("é", 257), Data: []byte("x")}, "partition key"},
		{"hash key not a number", relay.Record{PartitionKey: "k", ExplicitHashKey: "12a", Data: []byte("x")}, "hash key"},
		{"hash key too big", relay.Record{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456", Data: []byte("x")}, "hash key"},
		{"hash key leading zero", relay.Record{PartitionKey: "k", ExplicitHashKey: "01", Data: []byte("x")}, "hash key"},
		{"hash key 007", relay.Record{PartitionKey: "k", ExplicitHashKey: "007", Data: []byte("x")}, "hash key"},
		{"hash key 00", relay.Record{PartitionKey: "k", ExplicitHashKey: "00", Data: []byte("x")}, "hash key"},
		{"hash key +5", relay.Record{PartitionKey: "k", ExplicitHashKey: "+5", Data: []byte("x")}, "hash key"},
		{"hash key -0", relay.Record{PartitionKey: "k", ExplicitHashKey: "-0", Data: []byte("x")}, "hash key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := strict.Put(ctx, tc.rec)
			mustIs(t, err, relay.ErrPermanent)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v should mention %q", err, tc.msg)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Put waited for a batch; an invalid record must fail at once")
			}
		})
	}
	// Boundary values are fine.
	for _, r := range []relay.Record{
		{PartitionKey: "k", Data: make([]byte, 99)},
		{PartitionKey: strings.Repeat("é", 40), Data: []byte("x")},
		{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("x")},
		{PartitionKey: "k", ExplicitHashKey: "0", Data: []byte("x")},
	} {
		if err := w.Put(context.Background(), r); err != nil {
			t.Errorf("Put(%d-byte key, hash key %q): %v", len(r.PartitionKey), r.ExplicitHashKey, err)
		}
	}
	if got := api.numCalls(); got == 0 || got > 4 {
		t.Errorf("%d calls; the invalid records must not have been sent", got)
	}
	for _, c := range api.snapshot() {
		for _, d := range c.data {
			if len(d) == 100 {
				t.Error("the too-large record was sent")
			}
		}
	}
}

// blockingAPI holds calls until release is closed (or the call's context ends).
func blockingAPI(release <-chan struct{}, after func(n int, c *fakeCall) (*kinesisOutput, error)) *fakeAPI {
	return &fakeAPI{respond: func(ctx context.Context, n int, c *fakeCall) (*kinesisOutput, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if after != nil {
			return after(n, c)
		}
		return nil, nil
	}}
}

func TestCancelWhileQueuedNeverSends(t *testing.T) { inBubble(t, testCancelWhileQueuedNeverSends) }

func testCancelWhileQueuedNeverSends(t *testing.T) {
	release := make(chan struct{})
	api := blockingAPI(release, nil)
	w := newTestWriter(t, api, Options{MaxInFlight: 1})
	first := putAsync(context.Background(), w, rec("first"))
	testx.WaitFor(t, 30*time.Second, "first call", func() bool { return api.numCalls() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	second := putAsync(ctx, w, rec("second"))
	testx.WaitFor(t, 30*time.Second, "second record queued", func() bool { return queued(w) == 1 })
	cancel()
	select {
	case err := <-second:
		mustIs(t, err, context.Canceled, relay.ErrUnavailable)
	case <-time.After(3 * time.Second):
		t.Fatal("Put did not return when its context was cancelled")
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Put: %v", err)
	}
	testx.WaitFor(t, 30*time.Second, "writer idle", func() bool { return idle(w) })
	time.Sleep(20 * time.Millisecond)
	if sent, _ := api.sent(); sent["second"] != 0 {
		t.Errorf("cancelled record sent %d times", sent["second"])
	}
	if got := testutil.ToFloat64(w.m.abandoned); got != 1 {
		t.Errorf("records_total{abandoned} = %v, want 1", got)
	}
}

func TestCancelWhileRetryingStopsRetries(t *testing.T) {
	inBubble(t, testCancelWhileRetryingStopsRetries)
}

func testCancelWhileRetryingStopsRetries(t *testing.T) {
	api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
		return partialOutput(len(c.data), func(int) string { return "ProvisionedThroughputExceededException" }), nil
	}}
	w := newTestWriter(t, api, Options{RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	res := putAsync(ctx, w, rec("a"))
	testx.WaitFor(t, 30*time.Second, "a few attempts", func() bool { return api.numCalls() >= 3 })
	cancel()
	select {
	case err := <-res:
		mustIs(t, err, context.Canceled, relay.ErrUnavailable)
	case <-time.After(3 * time.Second):
		t.Fatal("Put did not return when its context was cancelled")
	}
	testx.WaitFor(t, 30*time.Second, "writer idle", func() bool { return idle(w) })
	n := api.numCalls()
	time.Sleep(100 * time.Millisecond) // five times RetryMax
	if got := api.numCalls(); got != n {
		t.Errorf("%d more calls after the caller gave up", got-n)
	}
}

func TestDeadlineBoundsRetries(t *testing.T) { inBubble(t, testDeadlineBoundsRetries) }

func testDeadlineBoundsRetries(t *testing.T) {
	api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
		return partialOutput(len(c.data), func(int) string { return "ProvisionedThroughputExceededException" }), nil
	}}
	w := newTestWriter(t, api, Options{RetryBase: 5 * time.Millisecond, RetryMax: 30 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.Put(ctx, rec("a"))
	mustIs(t, err, context.DeadlineExceeded, relay.ErrUnavailable)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Put returned after %s, deadline was 300ms", d)
	}
	if !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %q should say the deadline passed", err)
	}
	testx.WaitFor(t, 30*time.Second, "writer idle", func() bool { return idle(w) })
	n := api.numCalls()
	time.Sleep(100 * time.Millisecond)
	if got := api.numCalls(); got != n {
		t.Errorf("%d calls after the deadline", got-n)
	}
	if n < 2 {
		t.Errorf("only %d calls: the record was not retried within its deadline", n)
	}
}

func TestCancelWhileInFlightDiscardsResult(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result func(n int, c *fakeCall) (*kinesisOutput, error)
	}{
		{"accepted", nil},
		{"throttled", func(_ int, c *fakeCall) (*kinesisOutput, error) {
			return partialOutput(len(c.data), func(int) string { return "ProvisionedThroughputExceededException" }), nil
		}},
		{"call failed", func(int, *fakeCall) (*kinesisOutput, error) { return nil, apiError("InternalFailure") }},
	} {
		t.Run(tc.name, bubble(func(t *testing.T) {
			release := make(chan struct{})
			api := blockingAPI(release, tc.result)
			w := newTestWriter(t, api, Options{})
			ctx, cancel := context.WithCancel(context.Background())
			res := putAsync(ctx, w, rec("a"))
			testx.WaitFor(t, 30*time.Second, "call", func() bool { return api.numCalls() == 1 })
			cancel()
			select {
			case err := <-res:
				mustIs(t, err, context.Canceled, relay.ErrUnavailable)
			case <-time.After(3 * time.Second):
				t.Fatal("Put did not return while its record was in flight")
			}
			close(release)
			testx.WaitFor(t, 30*time.Second, "writer idle", func() bool { return idle(w) })
			time.Sleep(20 * time.Millisecond)
			if got := api.numCalls(); got != 1 {
				t.Errorf("%d calls, want 1: no retry for a caller that has gone", got)
			}
			if got := testutil.ToFloat64(w.m.discarded); got != 1 {
				t.Errorf("discarded_results_total = %v, want 1", got)
			}
			if got := testutil.ToFloat64(w.m.abandoned); got != 1 {
				t.Errorf("records_total{abandoned} = %v, want 1", got)
			}
		}))
	}
}

func TestCloseFlushesEverything(t *testing.T) { inBubble(t, testCloseFlushesEverything) }

func testCloseFlushesEverything(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		// Throttle each record once: Close must wait for retries too.
		return partialOutput(len(c.data), func(i int) string {
			if !seen[c.data[i]] {
				seen[c.data[i]] = true
				return "ProvisionedThroughputExceededException"
			}
			return ""
		}), nil
	}}
	w, err := NewWriter(api, Options{Stream: "s", Linger: time.Hour, RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var results []<-chan error
	for i := range n {
		results = append(results, putAsync(context.Background(), w, rec(fmt.Sprint(i))))
	}
	testx.WaitFor(t, 30*time.Second, "records queued", func() bool { return queued(w) == n })
	if api.numCalls() != 0 {
		t.Fatal("sent before the linger passed")
	}
	start := time.Now()
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s: the linger must be skipped", d)
	}
	// Everything was accepted by the time Close returned.
	_, accepted := api.sent()
	for i := range n {
		if accepted[fmt.Sprint(i)] != 1 {
			t.Errorf("record %d accepted %d times when Close returned", i, accepted[fmt.Sprint(i)])
		}
	}
	for _, r := range results {
		select {
		case err := <-r:
			if err != nil {
				t.Errorf("Put: %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("a caller got no answer")
		}
	}
}

func TestCloseGivesUpAtDeadline(t *testing.T) { inBubble(t, testCloseGivesUpAtDeadline) }

func testCloseGivesUpAtDeadline(t *testing.T) {
	before := numGoroutine()
	api := blockingAPI(make(chan struct{}), nil) // never answers before the call's context ends
	w, err := NewWriter(api, Options{Stream: "s", MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	inFlight := putAsync(context.Background(), w, rec("a"))
	testx.WaitFor(t, 30*time.Second, "call", func() bool { return api.numCalls() == 1 })
	queuedRes := putAsync(context.Background(), w, rec("b"))
	testx.WaitFor(t, 30*time.Second, "record queued", func() bool { return queued(w) == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = w.Close(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 records not written") {
		t.Errorf("Close: %v; want a deadline error counting 2 unwritten records", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s with a 50ms deadline", d)
	}
	for _, r := range []<-chan error{inFlight, queuedRes} {
		err := <-r
		mustIs(t, err, ErrClosed, relay.ErrUnavailable)
	}
	if got := api.numCalls(); got != 1 {
		t.Errorf("%d calls; the queued record must not be sent after Close gave up", got)
	}
	checkNoLeak(t, before)
}

func TestPutAfterClose(t *testing.T) {
	api := &fakeAPI{}
	w, err := NewWriter(api, Options{Stream: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = w.Put(context.Background(), rec("late"))
	mustIs(t, err, ErrClosed, relay.ErrUnavailable)
	if !relay.Retryable(err) {
		t.Error("a closed writer's error must be retryable elsewhere")
	}
	if err := w.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if api.numCalls() != 0 {
		t.Error("a record was sent after Close")
	}
}

func TestPutWithEndedContext(t *testing.T) {
	api := &fakeAPI{}
	w := newTestWriter(t, api, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mustIs(t, w.Put(ctx, rec("a")), context.Canceled, relay.ErrUnavailable)
	time.Sleep(10 * time.Millisecond)
	if api.numCalls() != 0 {
		t.Error("a record of an ended context was sent")
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := numGoroutine()
	var mu sync.Mutex
	seen := map[string]bool{}
	api := &fakeAPI{respond: func(_ context.Context, n int, c *fakeCall) (*kinesisOutput, error) {
		if n%3 == 2 {
			return nil, apiError("InternalFailure")
		}
		mu.Lock()
		defer mu.Unlock()
		return partialOutput(len(c.data), func(i int) string {
			if !seen[c.data[i]] && i%2 == 0 { // some records fail their first attempt
				seen[c.data[i]] = true
				return "ProvisionedThroughputExceededException"
			}
			return ""
		}), nil
	}}
	w, err := NewWriter(api, Options{Stream: "s", MaxInFlight: 8, Linger: time.Millisecond, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				timeout := time.Duration(1+i%5) * time.Millisecond
				if i%2 == 0 {
					timeout = time.Minute
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				_ = w.Put(ctx, rec(fmt.Sprintf("%d-%d", g, i)))
				cancel()
			}
		})
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkNoLeak(t, before)
}
