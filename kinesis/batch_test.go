package kinesis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

func TestBatchesAcrossConcurrentCallers(t *testing.T) {
	inBubble(t, testBatchesAcrossConcurrentCallers)
}

func testBatchesAcrossConcurrentCallers(t *testing.T) {
	api := &fakeAPI{respond: func(context.Context, int, *fakeCall) (*kinesisOutput, error) {
		time.Sleep(2 * time.Millisecond) // a call takes a while, as over the network
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{Linger: 5 * time.Millisecond, MaxInFlight: 4})
	const callers, each = 64, 50
	putConcurrently(t, w, callers, each, seqRec)

	sent, accepted := api.sent()
	if len(sent) != callers*each {
		t.Fatalf("%d distinct records sent, want %d", len(sent), callers*each)
	}
	for d, n := range sent {
		if n != 1 || accepted[d] != 1 {
			t.Fatalf("record %s sent %d times, accepted %d times; want 1 and 1", d, n, accepted[d])
		}
	}
	calls := api.numCalls()
	if calls*8 > callers*each {
		t.Errorf("%d calls for %d records: batching across callers does not work", calls, callers*each)
	}
	if got := testx.Observations(t, w.m.batchRecords); int(got) != calls {
		t.Errorf("batch_records observed %v batches, want %d", got, calls)
	}
	if got := testutil.ToFloat64(w.m.accepted); got != callers*each {
		t.Errorf("records_total{accepted} = %v, want %d", got, callers*each)
	}
	t.Logf("%d records in %d calls", callers*each, calls)
}

func TestBatchLimits(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       Options
		wantMaxLen int
	}{
		{"records", Options{MaxBatchRecords: 10}, 10},
		// 100 bytes a record (95 data + 5 key): 1000 bytes hold 10 records.
		{"bytes", Options{MaxBatchBytes: 1000, MaxRecordBytes: 1000}, 10},
		{"bytes not multiple", Options{MaxBatchBytes: 1050, MaxRecordBytes: 1000}, 10},
	} {
		t.Run(tc.name, bubble(func(t *testing.T) {
			api := &fakeAPI{respond: func(context.Context, int, *fakeCall) (*kinesisOutput, error) {
				time.Sleep(5 * time.Millisecond)
				return nil, nil
			}}
			tc.opts.Linger = 50 * time.Millisecond
			tc.opts.MaxInFlight = 1
			w := newTestWriter(t, api, tc.opts)
			const n = 95
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := relay.Record{PartitionKey: fmt.Sprintf("k%04d", i), Data: []byte(fmt.Sprintf("%095d", i))}
					if err := w.Put(context.Background(), r); err != nil {
						t.Errorf("Put: %v", err)
					}
				})
			}
			wg.Wait()
			maxLen, total := 0, 0
			for _, c := range api.snapshot() {
				bytes := 0
				for i := range c.data {
					bytes += len(c.data[i]) + len(c.keys[i])
				}
				if len(c.data) > tc.wantMaxLen || (tc.opts.MaxBatchBytes > 0 && bytes > tc.opts.MaxBatchBytes) {
					t.Errorf("call with %d records, %d bytes exceeds the limits", len(c.data), bytes)
				}
				maxLen = max(maxLen, len(c.data))
				total += len(c.data)
			}
			if total != n {
				t.Errorf("%d records sent, want %d", total, n)
			}
			if maxLen != tc.wantMaxLen {
				t.Errorf("largest batch %d records, want %d (full batches)", maxLen, tc.wantMaxLen)
			}
		}))
	}
}

// TestMaxInFlight checks that no more than MaxInFlight calls run at once and
// that records arriving meanwhile gather into one larger batch.
func TestMaxInFlight(t *testing.T) {
	var cur, peak atomic.Int64
	release := make(chan struct{})
	api := &fakeAPI{respond: func(ctx context.Context, n int, _ *fakeCall) (*kinesisOutput, error) {
		c := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		if n < 3 {
			<-release // the first three calls hold every slot
		}
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{MaxInFlight: 3, Linger: time.Millisecond})
	var results []<-chan error
	for i := range 3 {
		results = append(results, putAsync(context.Background(), w, rec(fmt.Sprint("slot", i))))
		testx.WaitFor(t, 30*time.Second, "call", func() bool { return api.numCalls() == i+1 })
	}
	for i := range 100 {
		results = append(results, putAsync(context.Background(), w, rec(fmt.Sprint(i))))
	}
	testx.WaitFor(t, 30*time.Second, "records queued", func() bool { return queued(w) == 100 })
	if got := testutil.ToFloat64(w.m.inFlight); got != 3 {
		t.Errorf("in_flight_calls = %v, want 3", got)
	}
	time.Sleep(20 * time.Millisecond)
	if api.numCalls() != 3 {
		t.Fatalf("%d calls while every slot was busy", api.numCalls())
	}
	close(release)
	for _, r := range results {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p != 3 {
		t.Errorf("peak of %d concurrent calls, want 3", p)
	}
	calls := api.snapshot()
	if len(calls) != 4 || len(calls[3].data) != 100 {
		t.Errorf("%d calls, the last with %d records; want the 100 waiting records in one batch", len(calls), len(calls[len(calls)-1].data))
	}
}

func TestLingerWaitsForMore(t *testing.T) { inBubble(t, testLingerWaitsForMore) }

func testLingerWaitsForMore(t *testing.T) {
	api := &fakeAPI{}
	w := newTestWriter(t, api, Options{Linger: 300 * time.Millisecond})
	start := time.Now()
	first := putAsync(context.Background(), w, rec("a"))
	time.Sleep(50 * time.Millisecond)
	if api.numCalls() != 0 {
		t.Fatal("a partial batch was sent before the linger passed")
	}
	second := putAsync(context.Background(), w, rec("b"))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered after %s, before the linger", d)
	}
	if calls := api.snapshot(); len(calls) != 1 || len(calls[0].data) != 2 {
		t.Errorf("%d calls; want both records in one", len(calls))
	}
}

func TestQueueFullIsOverloaded(t *testing.T) { inBubble(t, testQueueFullIsOverloaded) }

func testQueueFullIsOverloaded(t *testing.T) {
	release := make(chan struct{})
	api := blockingAPI(release, nil)
	w := newTestWriter(t, api, Options{MaxInFlight: 1, QueueSize: 5})
	var results []<-chan error
	results = append(results, putAsync(context.Background(), w, rec("in-flight")))
	testx.WaitFor(t, 30*time.Second, "call", func() bool { return api.numCalls() == 1 })
	for i := range 5 {
		results = append(results, putAsync(context.Background(), w, rec(fmt.Sprint(i))))
	}
	testx.WaitFor(t, 30*time.Second, "queue full", func() bool { return queued(w) == 5 })

	start := time.Now()
	err := w.Put(context.Background(), rec("one too many"))
	mustIs(t, err, relay.ErrOverloaded)
	if d := time.Since(start); d > time.Second {
		t.Errorf("an overloaded Put took %s; it must fail at once", d)
	}
	if got := testutil.ToFloat64(w.m.overloaded); got != 1 {
		t.Errorf("overloaded_total = %v, want 1", got)
	}
	close(release)
	for _, r := range results {
		if err := <-r; err != nil {
			t.Errorf("Put: %v", err)
		}
	}
	if sent, _ := api.sent(); sent["one too many"] != 0 {
		t.Error("the refused record was sent")
	}
}

func TestCallDeadline(t *testing.T) {
	for _, tc := range []struct {
		name        string
		callTimeout time.Duration
		deadlines   []time.Duration // 0: no deadline
		want        time.Duration   // expected call deadline from now
	}{
		{"latest caller deadline", 10 * time.Second, []time.Duration{time.Second, 2 * time.Second}, 2 * time.Second},
		{"call timeout is shorter", 500 * time.Millisecond, []time.Duration{time.Second, 2 * time.Second}, 500 * time.Millisecond},
		{"a caller without deadline", 3 * time.Second, []time.Duration{time.Second, 0}, 3 * time.Second},
	} {
		t.Run(tc.name, bubble(func(t *testing.T) {
			api := &fakeAPI{}
			w := newTestWriter(t, api, Options{Linger: 50 * time.Millisecond, CallTimeout: tc.callTimeout})
			now := time.Now()
			var results []<-chan error
			for i, d := range tc.deadlines {
				ctx := context.Background()
				if d > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithDeadline(ctx, now.Add(d))
					defer cancel()
				}
				results = append(results, putAsync(ctx, w, rec(fmt.Sprint(i))))
			}
			for _, r := range results {
				if err := <-r; err != nil {
					t.Fatal(err)
				}
			}
			calls := api.snapshot()
			if len(calls) != 1 {
				t.Fatalf("%d calls, want 1 batch", len(calls))
			}
			// A caller's deadline is passed on as it is; a call timeout counts
			// from when the batch was formed, after the linger (50ms) or later on
			// a busy machine.
			got := calls[0].deadline.Sub(now)
			exact := tc.callTimeout > tc.want
			if !calls[0].hasDeadline || (exact && got != tc.want) || (!exact && (got < tc.want || got > tc.want+time.Second)) {
				t.Errorf("call deadline in %s, want %s", got, tc.want)
			}
		}))
	}
}
