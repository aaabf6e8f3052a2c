package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/genesys-relay/genesys-relay"
)

func TestBatchesAcrossConcurrentCallers(t *testing.T) {
	api := &fakeAPI{respond: func(context.Context, int, *fakeCall) (*kinesisOutput, error) {
		time.Sleep(2 * time.Millisecond) // a call takes a while, as over the network
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{Linger: 5 * time.Millisecond, MaxInFlight: 4})
	const callers, each = 64, 50
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for i := range each {
				if err := w.Put(context.Background(), rec(fmt.Sprintf("%d-%d", g, i))); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	wg.Wait()

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
	if got := value(t, w.m.batchRecords); int(got) != calls {
		t.Errorf("batch_records observed %v batches, want %d", got, calls)
	}
	if got := value(t, w.m.accepted); got != callers*each {
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
		t.Run(tc.name, func(t *testing.T) {
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
		})
	}
}

// TestPartialFailureResendsOnlyFailed fails some records of a call and checks
// that only those are sent again and no accepted record is ever sent twice.
func TestPartialFailureResendsOnlyFailed(t *testing.T) {
	for _, code := range []string{"ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException", "SomeFutureErrorCode"} {
		t.Run(code, func(t *testing.T) {
			var mu sync.Mutex
			attempts := map[string]int{}
			api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
				mu.Lock()
				defer mu.Unlock()
				return partialOutput(len(c.data), func(i int) string {
					d := c.data[i]
					attempts[d]++
					var n int
					fmt.Sscan(d, &n)
					if n%2 == 1 && attempts[d] <= 2 { // odd records fail twice
						return code
					}
					return ""
				}), nil
			}}
			w := newTestWriter(t, api, Options{Linger: 20 * time.Millisecond})
			const n = 20
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					if err := w.Put(context.Background(), rec(fmt.Sprint(i))); err != nil {
						t.Errorf("Put %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			sent, accepted := api.sent()
			for i := range n {
				d := fmt.Sprint(i)
				want := 1
				if i%2 == 1 {
					want = 3
				}
				if sent[d] != want || accepted[d] != 1 {
					t.Errorf("record %s sent %d times, accepted %d; want %d and 1", d, sent[d], accepted[d], want)
				}
			}
			assertNoResendAfterAccept(t, api)
			if got := value(t, w.m.retried); got != n {
				t.Errorf("records_total{retried} = %v, want %d", got, n)
			}
			if got := value(t, w.m.retries); got != n {
				t.Errorf("retries_total = %v, want %d", got, n)
			}
			wantThrottled := 0.0
			if strings.Contains(code, "Throttl") || strings.Contains(code, "Throughput") {
				wantThrottled = n
			}
			if got := value(t, w.m.throttled); got != wantThrottled {
				t.Errorf("throttled_records_total = %v, want %v", got, wantThrottled)
			}
			if got := value(t, w.m.callsPartial); got < 1 {
				t.Errorf("put_records_calls_total{partial} = %v, want >= 1", got)
			}
		})
	}
}

// assertNoResendAfterAccept checks, in call order, that no record appears in a
// call after a call that accepted it.
func assertNoResendAfterAccept(t *testing.T, api *fakeAPI) {
	t.Helper()
	done := map[string]int{}
	for n, c := range api.snapshot() {
		for i, d := range c.data {
			if prev, ok := done[d]; ok {
				t.Errorf("record %s sent in call %d after call %d accepted it", d, n, prev)
			}
			if i < len(c.accepted) && c.accepted[i] {
				done[d] = n
			}
		}
	}
}

func TestRequestErrorIsRetried(t *testing.T) {
	for name, callErr := range retryableErrors() {
		t.Run(name, func(t *testing.T) {
			api := &fakeAPI{respond: func(_ context.Context, n int, _ *fakeCall) (*kinesisOutput, error) {
				if n < 2 {
					return nil, callErr
				}
				return nil, nil
			}}
			w := newTestWriter(t, api, Options{})
			if err := w.Put(context.Background(), rec("a")); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if got := api.numCalls(); got != 3 {
				t.Errorf("%d calls, want 3 (two failures, then success)", got)
			}
			if got := value(t, w.m.callsError); got != 2 {
				t.Errorf("put_records_calls_total{error} = %v, want 2", got)
			}
		})
	}
}

func TestUnavailableFailsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		message string
	}{
		{"stream not found", apiError("ResourceNotFoundException"), `kinesis stream "test-stream" not found`},
		{"access denied", apiError("AccessDeniedException"), "access denied"},
		{"bad credentials", apiError("UnrecognizedClientException"), "credentials"},
		{"no credentials", errors.New("operation error Kinesis: PutRecords, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found"), "credentials"},
		{"KMS key disabled", apiError("KMSDisabledException"), "KMS key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{respond: func(context.Context, int, *fakeCall) (*kinesisOutput, error) { return nil, tc.err }}
			w := newTestWriter(t, api, Options{})
			err := w.Put(context.Background(), rec("a"))
			mustIs(t, err, relay.ErrUnavailable)
			if errors.Is(err, relay.ErrPermanent) || !relay.Retryable(err) {
				t.Errorf("error %v must be retryable by the sender, not permanent", err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
			if got := api.numCalls(); got != 1 {
				t.Errorf("%d calls, want 1: no retry of an operator problem", got)
			}
		})
	}
}

func TestRecordCodeUnavailable(t *testing.T) {
	for _, code := range []string{"KMSDisabledException", "KMSAccessDeniedException", "KMSNotFoundException", "KMSInvalidStateException", "KMSOptInRequired"} {
		t.Run(code, func(t *testing.T) {
			api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
				return partialOutput(len(c.data), func(int) string { return code }), nil
			}}
			w := newTestWriter(t, api, Options{})
			err := w.Put(context.Background(), rec("a"))
			mustIs(t, err, relay.ErrUnavailable)
			var re *RecordError
			if !errors.As(err, &re) || re.Code != code {
				t.Errorf("error %v does not carry the record's code %s", err, code)
			}
			if got := api.numCalls(); got != 1 {
				t.Errorf("%d calls, want 1", got)
			}
			if got := value(t, w.m.failed); got != 1 {
				t.Errorf("records_total{failed} = %v, want 1", got)
			}
		})
	}
}

func TestInvalidRecordFailsAtPut(t *testing.T) {
	api := &fakeAPI{}
	w := newTestWriter(t, api, Options{MaxRecordBytes: 100, MaxBatchBytes: 1000})
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := w.Put(context.Background(), tc.rec)
			mustIs(t, err, relay.ErrPermanent)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v should mention %q", err, tc.msg)
			}
			if time.Since(start) > time.Second {
				t.Errorf("Put took %s; an invalid record must fail at once", time.Since(start))
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

// TestValidationNamedRecordIsPermanent: Kinesis rejects the whole call naming
// one record; that record fails permanently, the others go through.
func TestValidationNamedRecordIsPermanent(t *testing.T) {
	api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
		for i, d := range c.data {
			if d == "bad" {
				return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(
					"1 validation error detected: Value at 'records.%d.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576", i+1)}
			}
		}
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{Linger: 30 * time.Millisecond})
	results := map[string]<-chan error{}
	for _, d := range []string{"a", "bad", "b", "c"} {
		results[d] = putAsync(context.Background(), w, rec(d))
	}
	for d, ch := range results {
		err := <-ch
		if d == "bad" {
			mustIs(t, err, relay.ErrPermanent)
			continue
		}
		if err != nil {
			t.Errorf("Put(%s): %v", d, err)
		}
	}
	sent, accepted := api.sent()
	if sent["bad"] != 1 {
		t.Errorf("bad record sent %d times, want 1", sent["bad"])
	}
	for _, d := range []string{"a", "b", "c"} {
		if accepted[d] != 1 || sent[d] > 2 {
			t.Errorf("record %s sent %d times, accepted %d", d, sent[d], accepted[d])
		}
	}
	assertNoResendAfterAccept(t, api)
}

// TestValidationUnnamedRecordIsIsolated: Kinesis rejects the call without naming
// a record; every record is then sent alone, which finds the culprit.
func TestValidationUnnamedRecordIsIsolated(t *testing.T) {
	api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
		for _, d := range c.data {
			if d == "poison" {
				return nil, apiError("InvalidArgumentException")
			}
		}
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{Linger: 30 * time.Millisecond})
	results := map[string]<-chan error{}
	for _, d := range []string{"a", "b", "poison", "c", "d"} {
		results[d] = putAsync(context.Background(), w, rec(d))
	}
	for d, ch := range results {
		err := <-ch
		if d == "poison" {
			mustIs(t, err, relay.ErrPermanent)
		} else if err != nil {
			t.Errorf("Put(%s): %v", d, err)
		}
	}
	lastPoison := -1
	for n, c := range api.snapshot() {
		for _, d := range c.data {
			if d == "poison" {
				lastPoison = n
			}
		}
	}
	if c := api.snapshot()[lastPoison]; len(c.data) != 1 {
		t.Errorf("the poison record was last sent with %d records, want alone", len(c.data))
	}
	_, accepted := api.sent()
	for _, d := range []string{"a", "b", "c", "d"} {
		if accepted[d] != 1 {
			t.Errorf("record %s accepted %d times", d, accepted[d])
		}
	}
	assertNoResendAfterAccept(t, api)
}

func TestMismatchedResultsAreRetried(t *testing.T) {
	api := &fakeAPI{respond: func(_ context.Context, n int, c *fakeCall) (*kinesisOutput, error) {
		if n == 0 {
			return okOutput(len(c.data) - 1), nil
		}
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{})
	if err := w.Put(context.Background(), rec("a")); err != nil {
		t.Fatal(err)
	}
	if got := api.numCalls(); got != 2 {
		t.Errorf("%d calls, want 2", got)
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

func TestCancelWhileQueuedNeverSends(t *testing.T) {
	release := make(chan struct{})
	api := blockingAPI(release, nil)
	w := newTestWriter(t, api, Options{MaxInFlight: 1})
	first := putAsync(context.Background(), w, rec("first"))
	waitFor(t, "first call", func() bool { return api.numCalls() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	second := putAsync(ctx, w, rec("second"))
	waitFor(t, "second record queued", func() bool { return queued(w) == 1 })
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
	waitFor(t, "writer idle", func() bool { return idle(w) })
	time.Sleep(20 * time.Millisecond)
	if sent, _ := api.sent(); sent["second"] != 0 {
		t.Errorf("cancelled record sent %d times", sent["second"])
	}
	if got := value(t, w.m.abandoned); got != 1 {
		t.Errorf("records_total{abandoned} = %v, want 1", got)
	}
}

func TestCancelWhileRetryingStopsRetries(t *testing.T) {
	api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
		return partialOutput(len(c.data), func(int) string { return "ProvisionedThroughputExceededException" }), nil
	}}
	w := newTestWriter(t, api, Options{RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	res := putAsync(ctx, w, rec("a"))
	waitFor(t, "a few attempts", func() bool { return api.numCalls() >= 3 })
	cancel()
	select {
	case err := <-res:
		mustIs(t, err, context.Canceled, relay.ErrUnavailable)
	case <-time.After(3 * time.Second):
		t.Fatal("Put did not return when its context was cancelled")
	}
	waitFor(t, "writer idle", func() bool { return idle(w) })
	n := api.numCalls()
	time.Sleep(100 * time.Millisecond) // five times RetryMax
	if got := api.numCalls(); got != n {
		t.Errorf("%d more calls after the caller gave up", got-n)
	}
}

func TestDeadlineBoundsRetries(t *testing.T) {
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
	waitFor(t, "writer idle", func() bool { return idle(w) })
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
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			api := blockingAPI(release, tc.result)
			w := newTestWriter(t, api, Options{})
			ctx, cancel := context.WithCancel(context.Background())
			res := putAsync(ctx, w, rec("a"))
			waitFor(t, "call", func() bool { return api.numCalls() == 1 })
			cancel()
			select {
			case err := <-res:
				mustIs(t, err, context.Canceled, relay.ErrUnavailable)
			case <-time.After(3 * time.Second):
				t.Fatal("Put did not return while its record was in flight")
			}
			close(release)
			waitFor(t, "writer idle", func() bool { return idle(w) })
			time.Sleep(20 * time.Millisecond)
			if got := api.numCalls(); got != 1 {
				t.Errorf("%d calls, want 1: no retry for a caller that has gone", got)
			}
			if got := value(t, w.m.discarded); got != 1 {
				t.Errorf("discarded_results_total = %v, want 1", got)
			}
			if got := value(t, w.m.abandoned); got != 1 {
				t.Errorf("records_total{abandoned} = %v, want 1", got)
			}
		})
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
		t.Run(tc.name, func(t *testing.T) {
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
		})
	}
}

func TestCloseFlushesEverything(t *testing.T) {
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
	waitFor(t, "records queued", func() bool { return queued(w) == n })
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

func TestCloseGivesUpAtDeadline(t *testing.T) {
	before := numGoroutine()
	api := blockingAPI(make(chan struct{}), nil) // never answers before the call's context ends
	w, err := NewWriter(api, Options{Stream: "s", MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	inFlight := putAsync(context.Background(), w, rec("a"))
	waitFor(t, "call", func() bool { return api.numCalls() == 1 })
	queuedRes := putAsync(context.Background(), w, rec("b"))
	waitFor(t, "record queued", func() bool { return queued(w) == 1 })

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

func TestQueueFullIsOverloaded(t *testing.T) {
	release := make(chan struct{})
	api := blockingAPI(release, nil)
	w := newTestWriter(t, api, Options{MaxInFlight: 1, QueueSize: 5})
	var results []<-chan error
	results = append(results, putAsync(context.Background(), w, rec("in-flight")))
	waitFor(t, "call", func() bool { return api.numCalls() == 1 })
	for i := range 5 {
		results = append(results, putAsync(context.Background(), w, rec(fmt.Sprint(i))))
	}
	waitFor(t, "queue full", func() bool { return queued(w) == 5 })

	start := time.Now()
	err := w.Put(context.Background(), rec("one too many"))
	mustIs(t, err, relay.ErrOverloaded)
	if d := time.Since(start); d > time.Second {
		t.Errorf("an overloaded Put took %s; it must fail at once", d)
	}
	if got := value(t, w.m.overloaded); got != 1 {
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

// TestRandomFailures runs many callers against random per-record and
// request-level failures and checks the end-to-end promise: every Put that
// returned nil was accepted exactly once, and no accepted record was sent again.
func TestRandomFailures(t *testing.T) {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	api := &fakeAPI{respond: func(_ context.Context, _ int, c *fakeCall) (*kinesisOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		switch r := rng.Float64(); {
		case r < 0.05:
			return nil, apiError("ServiceUnavailable")
		case r < 0.10:
			return nil, apiError("ProvisionedThroughputExceededException")
		}
		codes := []string{"", "", "", "ProvisionedThroughputExceededException", "InternalFailure"}
		return partialOutput(len(c.data), func(int) string { return codes[rng.IntN(len(codes))] }), nil
	}}
	w := newTestWriter(t, api, Options{MaxInFlight: 4, MaxBatchRecords: 50})
	const callers, each = 32, 100
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for i := range each {
				if err := w.Put(context.Background(), rec(fmt.Sprintf("%d-%d", g, i))); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	wg.Wait()
	_, accepted := api.sent()
	if len(accepted) != callers*each {
		t.Errorf("%d records accepted, want %d", len(accepted), callers*each)
	}
	for d, n := range accepted {
		if n != 1 {
			t.Errorf("record %s accepted %d times", d, n)
		}
	}
	assertNoResendAfterAccept(t, api)
	if got := value(t, w.m.accepted); got != callers*each {
		t.Errorf("records_total{accepted} = %v", got)
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
		waitFor(t, "call", func() bool { return api.numCalls() == i+1 })
	}
	for i := range 100 {
		results = append(results, putAsync(context.Background(), w, rec(fmt.Sprint(i))))
	}
	waitFor(t, "records queued", func() bool { return queued(w) == 100 })
	if got := value(t, w.m.inFlight); got != 3 {
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

func TestLingerWaitsForMore(t *testing.T) {
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
