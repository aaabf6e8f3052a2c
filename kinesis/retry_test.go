package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay"
)

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
			if got := testutil.ToFloat64(w.m.retried); got != n {
				t.Errorf("records_total{retried} = %v, want %d", got, n)
			}
			if got := testutil.ToFloat64(w.m.retries); got != n {
				t.Errorf("retries_total = %v, want %d", got, n)
			}
			wantThrottled := 0.0
			if strings.Contains(code, "Throttl") || strings.Contains(code, "Throughput") {
				wantThrottled = n
			}
			if got := testutil.ToFloat64(w.m.throttled); got != wantThrottled {
				t.Errorf("throttled_records_total = %v, want %v", got, wantThrottled)
			}
			if got := testutil.ToFloat64(w.m.callsPartial); got < 1 {
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
			if got := testutil.ToFloat64(w.m.callsError); got != 2 {
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
			if r := relay.RefusalReason(err); !strings.HasPrefix(r, "Kinesis refused the write: "+code+" (") || !strings.Contains(err.Error(), "KMS key of kinesis stream") {
				t.Errorf("reason %q, error %v: want the code and what it means", r, err)
			}
			if got := api.numCalls(); got != 1 {
				t.Errorf("%d calls, want 1", got)
			}
			if got := testutil.ToFloat64(w.m.failed); got != 1 {
				t.Errorf("records_total{failed} = %v, want 1", got)
			}
		})
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
	putConcurrently(t, w, callers, each, seqRec)
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
	if got := testutil.ToFloat64(w.m.accepted); got != callers*each {
		t.Errorf("records_total{accepted} = %v", got)
	}
}
