package reliability

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestCrashLosesNoAcknowledgedEvent runs the relay binary under load from 64
// senders against a throttling, slow Kinesis and kills it with SIGKILL
// mid-load: every event answered 200 before the kill must be in the stream.
// Events stored but not answered (in flight at the kill) are reported: their
// senders retry them, so they arrive twice, which at-least-once allows.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	tp := newTap(t, 3, kinesistest.Faults{})
	c := startChild(t, writeConfig(t, map[string]any{"kinesis.endpoint": tp.URL()}))
	tp.SetFaults(kinesistest.Faults{RecordThrottleRate: 0.1, Latency: 5 * time.Millisecond, Jitter: 20 * time.Millisecond})

	const senders = 64
	killAfter := size(5000, 800) // acknowledged events before the kill
	client := newClient(senders)
	client.Timeout = time.Minute // only a relay that never answers
	var (
		next, ackedN atomic.Int64
		killed       atomic.Bool
		answers      counts
		mu           sync.Mutex
		acked        []string
		wg           sync.WaitGroup
	)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				id, q := fmt.Sprintf("cr-%06d", i), fmt.Sprintf("q-%02d", i%50)
				r := send(client, c.url, event(id, q))
				answers.add(r.code)
				switch {
				case r.err != nil && killed.Load():
					return
				case r.err != nil:
					t.Errorf("event %s: %v before the kill", id, r.err)
					return
				case r.code == http.StatusOK:
					if !forwardedOK(r, q) {
						t.Errorf("event %s: %q, want forwarded with key %s", id, r.raw, keyOf(q))
					}
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
					ackedN.Add(1)
				case r.code != http.StatusTooManyRequests && r.code != http.StatusServiceUnavailable:
					t.Errorf("event %s: %d %q, want 200, 429 or 503", id, r.code, r.raw)
				}
			}
		}()
	}
	// A loaded machine answers slowly.
	testx.Eventually(3*time.Minute, func() bool { return ackedN.Load() >= int64(killAfter) || t.Failed() })
	killed.Store(true)
	c.signal(t, syscall.SIGKILL)
	killAt := time.Now()
	if !c.waitExit(30 * time.Second) {
		t.Fatal("relay still running 30s after SIGKILL")
	}
	wg.Wait()
	tp.settle(t) // let the server finish calls cut by the kill

	stored := storedIDs(tp.Records())
	mu.Lock()
	defer mu.Unlock()
	lost := 0
	ackedSet := make(map[string]bool, len(acked))
	for _, id := range acked {
		ackedSet[id] = true
		if stored[id] == 0 {
			lost++
			if lost <= 10 {
				t.Errorf("event %s was answered 200 but is not in the stream", id)
			}
		}
	}
	unanswered := 0
	for id := range stored {
		if !ackedSet[id] {
			unanswered++
		}
	}
	st := tp.Stats()
	t.Logf("SIGKILL after %d events answered 200 (exit: %v, %s after the kill); answers %v; stream: %d records, %d duplicates; answered 200 and lost: %d; stored but not answered (in flight at the kill): %d",
		len(acked), c.state, c.exitedAt.Sub(killAt).Round(time.Millisecond), &answers, st.Stored, st.Duplicates, lost, unanswered)
	if len(acked) < killAfter {
		t.Errorf("only %d events answered 200 before the kill, want %d", len(acked), killAfter)
	}
	if ws, ok := c.state.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("relay exit %v, want killed by SIGKILL", c.state)
	}
}
