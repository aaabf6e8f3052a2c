package kinesis

import (
	"context"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestEagerFlushClosedLoop: callers that each wait for their answer before
// sending again (as EventBridge does over HTTP) share one call per round
// without waiting for the linger. On the bubble's clock every caller is back
// before a call's millisecond has passed, so no batch may wait but the last
// round's: callers of the first call finish a round early, and the others'
// last batch waits for them, which is the linger's purpose.
func TestEagerFlushClosedLoop(t *testing.T) { inBubble(t, testEagerFlushClosedLoop) }

func testEagerFlushClosedLoop(t *testing.T) {
	api := &fakeAPI{respond: func(context.Context, int, *fakeCall) (*kinesisOutput, error) {
		time.Sleep(time.Millisecond)
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{Linger: time.Second, EagerFlush: true})
	const callers, rounds = 64, 20
	start := time.Now()
	putConcurrently(t, w, callers, rounds, seqRec)
	d := time.Since(start)
	calls := api.numCalls()
	t.Logf("%d records in %d calls, %s", callers*rounds, calls, d)
	// With the linger alone every round would take a second.
	if d >= 2*time.Second {
		t.Errorf("%d rounds took %s: batches before the last round waited for the linger", rounds, d)
	}
	// One call a round is the least; the first rounds find out how many callers there are.
	if calls > 2*rounds {
		t.Errorf("%d calls for %d rounds of %d callers", calls, rounds, callers)
	}
}

// TestEagerFlushLoneRecordWaits: a record alone waits for the linger.
func TestEagerFlushLoneRecordWaits(t *testing.T) { inBubble(t, testEagerFlushLoneRecordWaits) }

func testEagerFlushLoneRecordWaits(t *testing.T) {
	api := &fakeAPI{}
	w := newTestWriter(t, api, Options{Linger: 200 * time.Millisecond, EagerFlush: true})
	start := time.Now()
	if err := w.Put(context.Background(), rec("a")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("a lone record was answered after %s, before the linger", d)
	}
}

// TestEagerFlushWaitsForExpectedCallers: once three callers were seen waiting
// at once, a batch of one waits for the linger for the others.
func TestEagerFlushWaitsForExpectedCallers(t *testing.T) {
	inBubble(t, testEagerFlushWaitsForExpectedCallers)
}

func testEagerFlushWaitsForExpectedCallers(t *testing.T) {
	release := make(chan struct{})
	api := &fakeAPI{respond: func(_ context.Context, n int, _ *fakeCall) (*kinesisOutput, error) {
		if n == 0 {
			<-release
		}
		return nil, nil
	}}
	w := newTestWriter(t, api, Options{Linger: 300 * time.Millisecond, EagerFlush: true})
	a := putAsync(context.Background(), w, rec("a"))
	testx.WaitFor(t, 30*time.Second, "a queued", func() bool { return queued(w) == 1 })
	b := putAsync(context.Background(), w, rec("b"))
	// Two callers, both waiting: they go out together at once.
	testx.WaitFor(t, 30*time.Second, "first call", func() bool { return api.numCalls() == 1 })
	start := time.Now()
	c := putAsync(context.Background(), w, rec("c")) // three callers waiting at once
	testx.WaitFor(t, 30*time.Second, "c queued", func() bool { return queued(w) == 1 })
	close(release)
	for _, r := range []<-chan error{a, b} {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-c; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("c was answered after %s, before the linger, while two more callers were expected", d)
	}
	if calls := api.snapshot(); len(calls) != 2 || len(calls[0].data) != 2 {
		t.Errorf("%d calls, the first with %d records; want a, b together, then c", len(calls), len(calls[0].data))
	}
}
