package reliability

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestOverload opens far more concurrent requests than http.max_in_flight (64)
// allows against the relay binary, with a Kinesis that takes 50-100 ms a call:
// the excess is refused with 429 and Retry-After, never dropped or left
// hanging; every event answered 200 is in the stream; the process's resident
// memory stays bounded; and once the burst is over every request gets 200.
//
// Kinesis holds its calls at the start of each burst until a request has been
// refused, so the relay's slots are full however slowly a loaded machine sends
// the burst; http.request_timeout is long for the same reason. A connection
// that breaks without an answer is allowed only when the relay counted an
// answer its sender did not read (it answered 429 to a large body and closed
// the connection before the sender had sent it all), or when the sender had
// not sent its request within http.request_timeout. After the bursts a sender
// retries 429 and 503 as EventBridge does, and every event must get its 200.
func TestOverload(t *testing.T) {
	const maxInFlight = 64
	const rssLimit = 300 << 20
	const requestTimeout = 20 * time.Second
	conns := size(2000, 400)
	tp := newTap(t, 5, kinesistest.Faults{})
	tp.quiet.Store(true) // only the record log is needed; the call log of 256 KiB events costs seconds of CPU
	c := startChild(t, writeConfig(t, map[string]any{"kinesis.endpoint": tp.URL(), "http.max_in_flight": maxInFlight,
		"http.request_timeout": requestTimeout.String()}))
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
	var connErrs atomic.Int64 // connections broken without an answer, after the request was (partly) sent
	// brokenConn reports whether r is a connection broken without an answer,
	// and counts it; one closed before the request was sent is allowed only
	// after http.request_timeout.
	brokenConn := func(r reply) bool {
		if r.code != 0 || isTimeout(r.err) {
			return false
		}
		if strings.Contains(r.err.Error(), "server closed idle connection") {
			if r.elapsed < requestTimeout {
				t.Errorf("the relay closed a connection after %s, before http.request_timeout (%s), without reading a request", r.elapsed, requestTimeout)
			}
			return true
		}
		connErrs.Add(1)
		return true
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	burst := func(name string, n int, body func(id, queue string) []byte) {
		// One connection per request: every request is a new client. The
		// timeout only catches a relay that never answers.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 3 * time.Minute}
		gate := make(chan struct{})
		var wg sync.WaitGroup
		var ok, refused, unavailable, broken, other atomic.Int64
		var release sync.Once
		tp.Hold()
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
					release.Do(tp.Release)
				case r.code == http.StatusServiceUnavailable && r.retryAfter != "" && r.errMsg != "":
					// The body or Kinesis was not done in time on a saturated machine.
					unavailable.Add(1)
				case brokenConn(r):
					// Checked against the relay's count of answers at the end.
					if broken.Add(1) <= 3 {
						t.Logf("%s burst, event %s: connection broken without an answer after %s: %v", name, id, r.elapsed.Round(time.Millisecond), r.err)
					}
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
		release.Do(tp.Release)
		t.Logf("%s burst: %d concurrent requests in %s: %d answered 200, %d refused with 429, %d with 503, %d connections broken, %d other",
			name, n, time.Since(start).Round(time.Millisecond), ok.Load(), refused.Load(), unavailable.Load(), broken.Load(), other.Load())
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

	// Recovery: the bursts are over; every event is answered 200 again. A
	// loaded machine may still be writing the bursts' records, so a sender
	// retries 429 and 503 for up to three minutes; a relay whose slots leaked
	// would refuse for ever.
	client := newClient(8)
	client.Timeout = 3 * time.Minute
	var wg sync.WaitGroup
	var notOK, retries atomic.Int64
	var after history
	retryUntil := time.Now().Add(3 * time.Minute)
	for s := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				id, q := fmt.Sprintf("ov-after-%d-%02d", s, i), "q-after"
				for {
					r := send(client, c.url, event(id, q))
					answers.add(r.code)
					after.add(id, r.code)
					if forwardedOK(r, q) {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
						break
					}
					retryable := brokenConn(r) || ((r.code == http.StatusTooManyRequests || r.code == http.StatusServiceUnavailable) && r.retryAfter != "")
					if !retryable || time.Now().After(retryUntil) {
						if notOK.Add(1) <= 5 {
							t.Errorf("after the bursts, event %s was %s; last %d %q (err %v), want 200 forwarded", id, after.says(id), r.code, r.raw, r.err)
						}
						break
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()

	// Every answer the relay gave reached its sender, but for answers to
	// requests whose senders were still sending (the connection then breaks).
	metrics := testx.Scrape(t, c.base+"/metrics")
	relayAnswers := map[int]float64{}
	unread := 0.0
	for _, code := range []int{200, 400, 408, 413, 429, 431, 503} {
		v, _ := testx.Lookup(t, metrics, "genesys_relay_http_requests_total", "code", strconv.Itoa(code))
		relayAnswers[code] = v
		if code != http.StatusOK {
			unread += v - float64(answers.get(code))
		}
	}
	if got := relayAnswers[http.StatusOK]; int(got) != answers.get(http.StatusOK) {
		t.Errorf("the relay answered 200 %.0f times, its senders read %d", got, answers.get(http.StatusOK))
	}
	if float64(connErrs.Load()) > unread {
		t.Errorf("%d connections broke without an answer, but the relay gave only %.0f answers its senders did not read (%v): requests were dropped",
			connErrs.Load(), unread, relayAnswers)
	}

	stored := storedIDs(tp.Records())
	lost := 0
	for id := range acked {
		if stored[id] == 0 {
			lost++
			if lost <= 10 {
				t.Errorf("event %s was answered 200 but is not in the stream", id)
			}
		}
	}
	t.Logf("answers %v (0: connection broken); the relay's count %v; relay memory: peak RSS sampled %.0f MiB, VmHWM %.0f MiB (limit %d MiB); answered 200 and lost: %d; 200 events after the bursts: %d never 200, %d sends retried",
		&answers, relayAnswers, float64(peakRSS.Load())/(1<<20), float64(hwm)/(1<<20), rssLimit>>20, lost, notOK.Load(), retries.Load())
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

// isTimeout reports whether a client gave up waiting for an answer.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
