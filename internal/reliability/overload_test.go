package reliability

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

// TestOverload opens far more concurrent requests than http.max_in_flight (64)
// allows against the relay binary, with a Kinesis that takes 50-100 ms a call:
// the excess is refused with 429 and Retry-After, never dropped or left
// hanging; every event answered 200 is in the stream; the process's resident
// memory stays bounded; and once the burst is over every request gets 200.
func TestOverload(t *testing.T) {
	const maxInFlight = 64
	const rssLimit = 300 << 20
	conns := size(2000, 400)
	tp := newTap(t, 5, kinesistest.Faults{})
	c := startChild(t, writeConfig(t, map[string]any{"kinesis.endpoint": tp.URL(), "http.max_in_flight": maxInFlight}))
	tp.SetFaults(kinesistest.Faults{Latency: 50 * time.Millisecond, Jitter: 50 * time.Millisecond})

	// Sample the relay's memory while the bursts run.
	var peakRSS atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if rss, _, err := c.memory(); err == nil && rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	var answers counts
	var mu sync.Mutex
	acked := map[string]bool{}
	burst := func(name string, n int, body func(id, queue string) []byte) {
		// One connection per request: every request is a new client.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
		gate := make(chan struct{})
		var wg sync.WaitGroup
		var ok, refused, unavailable, other atomic.Int64
		start := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, q := fmt.Sprintf("ov-%s-%05d", name, i), fmt.Sprintf("q-%02d", i%50)
				<-gate
				r := send(client, c.url, body(id, q))
				answers.add(r.code)
				switch {
				case forwardedOK(r, q):
					ok.Add(1)
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				case r.code == http.StatusTooManyRequests && r.retryAfter != "" && r.errMsg != "":
					refused.Add(1)
				case r.code == http.StatusServiceUnavailable && r.retryAfter != "" && r.errMsg != "":
					// The body or Kinesis was not done in time on a saturated machine.
					unavailable.Add(1)
				default:
					if other.Add(1) <= 5 {
						t.Errorf("%s burst, event %s: %d %q (Retry-After %q, err %v), want 200 forwarded, or 429 or 503 with Retry-After",
							name, id, r.code, r.raw, r.retryAfter, r.err)
					}
				}
			}()
		}
		close(gate)
		wg.Wait()
		t.Logf("%s burst: %d concurrent requests in %s: %d answered 200, %d refused with 429, %d with 503, %d other",
			name, n, time.Since(start).Round(time.Millisecond), ok.Load(), refused.Load(), unavailable.Load(), other.Load())
		if refused.Load() == 0 {
			t.Errorf("%s burst: %d concurrent requests and max_in_flight %d, but no 429", name, n, maxInFlight)
		}
	}
	small := func(id, queue string) []byte { return event(id, queue) }
	// Events of 256 KiB: the relay must not hold a body per waiting connection.
	padding := strings.Repeat("x", 256<<10)
	large := func(id, queue string) []byte {
		return bytes.Replace(event(id, queue), []byte(`"state":"connected"`), []byte(`"state":"connected","notes":"`+padding+`"`), 1)
	}
	burst("small-1", conns, small)
	burst("small-2", conns, small)
	burst("large", conns/4, large)
	close(stopSampling)
	<-sampled
	_, hwm, err := c.memory()
	if err != nil {
		t.Fatal(err)
	}

	// Recovery: the bursts are over; every request is answered 200 again.
	client := newClient(8)
	var wg sync.WaitGroup
	var notOK atomic.Int64
	for s := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				id, q := fmt.Sprintf("ov-after-%d-%02d", s, i), "q-after"
				r := send(client, c.url, event(id, q))
				if !forwardedOK(r, q) {
					if notOK.Add(1) <= 5 {
						t.Errorf("after the bursts, event %s: %d %q", id, r.code, r.raw)
					}
					continue
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	stored := storedIDs(tp.Records())
	lost := 0
	for id := range acked {
		if stored[id] == 0 {
			lost++
		}
	}
	t.Logf("answers %v; relay memory: peak RSS sampled %.0f MiB, VmHWM %.0f MiB (limit %d MiB); answered 200 and lost: %d; 200 requests after the bursts: %d not 200",
		&answers, float64(peakRSS.Load())/(1<<20), float64(hwm)/(1<<20), rssLimit>>20, lost, notOK.Load())
	if lost != 0 {
		t.Errorf("%d events answered 200 are not in the stream", lost)
	}
	if hwm > rssLimit || peakRSS.Load() > rssLimit {
		t.Errorf("relay resident memory peaked at %d bytes, over %d", max(hwm, peakRSS.Load()), rssLimit)
	}
	if c.exited() {
		t.Errorf("relay exited: %v", c.state)
	}
}
