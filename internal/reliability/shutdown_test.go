package reliability

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestSIGTERMDrains sends SIGTERM to the relay binary while 64 senders keep
// requests in flight against a Kinesis that takes 800 ms a call. The relay must
// stop accepting connections at once, answer every request it had accepted
// (200 for those Kinesis accepted), flush, and exit 0 within shutdown_timeout.
// Afterwards the stream holds exactly the events answered 200.
//
// Kinesis holds its calls from just before the signal until the relay refuses
// new connections, so requests are in flight at the signal and the relay
// cannot have finished before it stopped accepting, however slow the machine.
// shutdown_timeout is long for the same reason: the timeout itself is
// TestSIGTERMWhileKinesisHangs's subject.
func TestSIGTERMDrains(t *testing.T) {
	const shutdownTimeout = 30 * time.Second
	const latency = 800 * time.Millisecond
	tp := newTap(t, 4, kinesistest.Faults{})
	c := startChild(t, writeConfig(t, map[string]any{"kinesis.endpoint": tp.URL(), "shutdown_timeout": shutdownTimeout.String()}))
	tp.SetFaults(kinesistest.Faults{Latency: latency, Jitter: 50 * time.Millisecond})

	const senders = 64
	// A connection per request, so that a refused connection (never accepted)
	// is told apart from a request the relay read and did not answer.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	var (
		next       atomic.Int64
		sigAt      atomic.Pointer[time.Time]
		answers    counts
		answered   history
		refused    atomic.Int64
		brokenErrs atomic.Int64
		drained    atomic.Int64 // answered 200 after SIGTERM, sent before it
		mu         sync.Mutex
		acked      = map[string]bool{}
		wg         sync.WaitGroup
	)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				id, q := fmt.Sprintf("st-%06d", i), fmt.Sprintf("q-%02d", i%50)
				sent := time.Now()
				r := send(client, c.url, event(id, q))
				answers.add(r.code)
				answered.add(id, r.code)
				if r.err != nil {
					var op *net.OpError
					if errors.As(r.err, &op) && op.Op == "dial" {
						refused.Add(1)
						if sigAt.Load() == nil {
							t.Errorf("event %s: connection refused before SIGTERM: %v", id, r.err)
						}
						return // the relay has stopped listening
					}
					// Accepted by the kernel but never read: the listener closed
					// with the connection in its backlog. The sender retries it.
					brokenErrs.Add(1)
					if sigAt.Load() == nil {
						t.Errorf("event %s: %v before SIGTERM", id, r.err)
					}
					continue
				}
				switch {
				case forwardedOK(r, q):
					mu.Lock()
					acked[id] = true
					mu.Unlock()
					if s := sigAt.Load(); s != nil && sent.Before(*s) {
						drained.Add(1)
					}
				case r.code == http.StatusTooManyRequests || r.code == http.StatusServiceUnavailable:
				default:
					t.Errorf("event %s: %d %q, want 200 forwarded, 429 or 503", id, r.code, r.raw)
				}
			}
		}()
	}
	// Once events go through, hold Kinesis's calls; when one is held, requests
	// are in flight: stop the relay.
	if !testx.Eventually(time.Minute, func() bool { return answers.get(http.StatusOK) > 0 }) {
		t.Fatalf("no event answered 200 within a minute: answers %v", &answers)
	}
	tp.Hold()
	if !testx.Eventually(time.Minute, func() bool { return tp.Held() > 0 }) {
		t.Fatalf("no PutRecords call within a minute of holding them")
	}
	now := time.Now()
	sigAt.Store(&now)
	c.signal(t, syscall.SIGTERM)

	// New connections are refused while the relay drains: it cannot finish
	// before Kinesis answers the calls it holds.
	refusedAt := time.Duration(-1)
	testx.Eventually(time.Minute, func() bool {
		probe, err := net.DialTimeout("tcp", c.base[len("http://"):], time.Second)
		if err != nil {
			refusedAt = time.Since(now)
			return true
		}
		probe.Close()
		return c.exited()
	})
	stillDraining := !c.exited()
	tp.Release()
	switch {
	case refusedAt < 0:
		t.Errorf("new connections were still accepted a minute after SIGTERM")
	case !stillDraining:
		t.Errorf("relay exited %s after SIGTERM while Kinesis held its calls: it did not wait for the requests in flight", refusedAt)
	}

	if !c.waitExit(shutdownTimeout + 5*time.Second) {
		t.Fatalf("relay still running %s after SIGTERM", shutdownTimeout+5*time.Second)
	}
	exitTime := c.exitedAt.Sub(now)
	wg.Wait()

	stored := storedIDs(tp.Records())
	mu.Lock()
	defer mu.Unlock()
	lost, unanswered := 0, 0
	for id := range acked {
		if stored[id] == 0 {
			lost++
			if lost <= 10 {
				t.Errorf("event %s was answered 200 but is not in the stream", id)
			}
		}
	}
	for id, n := range stored {
		if !acked[id] || n != 1 {
			unanswered++
			if unanswered <= 10 {
				t.Errorf("event %s is in the stream %d times but was %s; want once, answered 200", id, n, answered.says(id))
			}
		}
	}
	t.Logf("SIGTERM with %d senders in flight (Kinesis latency %s): new connections refused %s after it; exit %v after %s (shutdown_timeout %s); answers %v; %d answered 200 after SIGTERM; after it %d connections refused, %d connections reset unread; stream: %d records, answered 200 and lost: %d",
		senders, latency, refusedAt.Round(time.Millisecond), c.state, exitTime.Round(time.Millisecond), shutdownTimeout, &answers, drained.Load(), refused.Load(), brokenErrs.Load(), len(stored), lost)
	if c.state.ExitCode() != 0 {
		t.Errorf("relay exit %v, want 0", c.state)
	}
	if exitTime >= shutdownTimeout {
		t.Errorf("relay took %s to exit, more than shutdown_timeout %s", exitTime, shutdownTimeout)
	}
	if drained.Load() == 0 {
		t.Errorf("no request in flight at SIGTERM was answered 200: the drain was not exercised")
	}
	if !c.logs.contains(`"msg":"stopped"`) {
		t.Errorf("relay log has no \"stopped\" line")
	}
}

// TestSIGTERMWhileKinesisHangs: with every Kinesis call hanging and
// shutdown_timeout (2 s) shorter than http.request_timeout, SIGTERM still ends
// the process within shutdown_timeout; no request is answered 200 and nothing
// is stored, so the senders retry everything elsewhere. The exit status is 1:
// records were left unwritten.
//
// http.request_timeout is 30 s and the calls hang for a minute, so a relay
// that waited for its requests or for Kinesis would exit after 30 s at the
// earliest: the exit is allowed 8 s beyond shutdown_timeout, for a loaded
// machine, and the relay's own log says how long its shutdown took.
func TestSIGTERMWhileKinesisHangs(t *testing.T) {
	const shutdownTimeout = 2 * time.Second
	const requestTimeout = 30 * time.Second
	const slack = 8 * time.Second
	tp := newTap(t, 12, kinesistest.Faults{})
	c := startChild(t, writeConfig(t, map[string]any{"kinesis.endpoint": tp.URL(), "shutdown_timeout": shutdownTimeout.String(),
		"http.request_timeout": requestTimeout.String()}))
	tp.SetFaults(kinesistest.Faults{HangRate: 1, MaxHang: time.Minute})

	const senders = 16
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	var answers counts
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := send(client, c.url, event(fmt.Sprintf("sth-%02d", i), "q-hang"))
			answers.add(r.code)
			if r.code != 0 && r.code != http.StatusServiceUnavailable {
				t.Errorf("while Kinesis hangs and the relay stops: %d %q, want 503 or no answer", r.code, r.raw)
			}
		}()
	}
	// Every request is waiting for Kinesis once Kinesis has all their records.
	if !testx.Eventually(time.Minute, func() bool { return tp.RecordsReceived() >= senders }) {
		t.Fatalf("Kinesis received %d of %d records within a minute", tp.RecordsReceived(), senders)
	}
	start := time.Now()
	c.signal(t, syscall.SIGTERM)
	if !c.waitExit(requestTimeout) {
		t.Fatalf("relay still running %s after SIGTERM", requestTimeout)
	}
	exitTime := c.exitedAt.Sub(start)
	wg.Wait()
	t.Logf("SIGTERM with %d requests waiting on a hanging Kinesis: exit %v after %s (shutdown_timeout %s; the relay's log: %s from \"shutting down\" to \"stopped\"); answers %v; %d records stored",
		senders, c.state, exitTime.Round(time.Millisecond), shutdownTimeout, c.logs.between("shutting down", "stopped"), &answers, tp.Stored())
	if exitTime > shutdownTimeout+slack {
		t.Errorf("relay took %s to exit, shutdown_timeout is %s", exitTime, shutdownTimeout)
	}
	if tp.Stored() != 0 || answers.get(http.StatusOK) != 0 {
		t.Errorf("%d stored, %d answered 200, want none", tp.Stored(), answers.get(http.StatusOK))
	}
}
