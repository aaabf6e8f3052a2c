package kinesis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRetriesCountEveryResend: retries_total counts every record the writer
// puts in a call again after a failed attempt, whatever failed: a throttled
// record (sent again after a backoff), a failed call, and a request Kinesis
// rejected without naming a record (every record is sent again alone, at once).
// The fake sees every call, so the count must equal the resends it saw.
func TestRetriesCountEveryResend(t *testing.T) {
	var mu sync.Mutex
	throttled := map[string]bool{}
	api := &fakeAPI{respond: func(_ context.Context, n int, c *fakeCall) (*kinesisOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range c.data {
			if d == "poison" && len(c.data) > 1 {
				return nil, apiError("InvalidArgumentException")
			}
		}
		if n == 1 {
			return nil, apiError("InternalFailure")
		}
		return partialOutput(len(c.data), func(i int) string {
			if d := c.data[i]; d != "poison" && !throttled[d] {
				throttled[d] = true
				return "ProvisionedThroughputExceededException"
			}
			return ""
		}), nil
	}}
	w := newTestWriter(t, api, Options{Linger: 30 * time.Millisecond})
	records := []string{"a", "b", "poison", "c", "d"}
	results := map[string]<-chan error{}
	for _, d := range records {
		results[d] = putAsync(context.Background(), w, rec(d))
	}
	for d, ch := range results {
		if err := <-ch; err != nil {
			t.Errorf("Put(%s): %v", d, err)
		}
	}
	sent, accepted := api.sent()
	resends := 0
	for _, d := range records {
		if accepted[d] != 1 {
			t.Errorf("record %s accepted %d times", d, accepted[d])
		}
		resends += sent[d] - 1
	}
	assertNoResendAfterAccept(t, api)
	if got := testutil.ToFloat64(w.m.retries); int(got) != resends {
		t.Errorf("retries_total = %v; the calls carried %d records sent again (%s)", got, resends, fmt.Sprint(sent))
	}
	if resends < len(records) {
		t.Errorf("only %d resends of %d records: the faults were not injected", resends, len(records))
	}
}
