package reliability

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestDeadlineWhenKinesisHangs: while every Kinesis call hangs, each caller
// hears 503 with Retry-After after http.request_timeout and before
// EventBridge's 5 s, and once the callers have given up their records are never
// sent again: after the hang clears no call carries them, and the writer has
// counted each as failed or abandoned.
//
// http.request_timeout is 2 s here, half the default, so that a loaded
// machine's delays (the sender's clock includes its own) have 3 s before
// EventBridge's 5 s; the hang lasts 30 s.
func TestDeadlineWhenKinesisHangs(t *testing.T) {
	awsEnv(t)
	tp := newTap(t, 2, kinesistest.Faults{})
	reg := prometheus.NewRegistry()
	cfg := loadConfig(t, map[string]any{"kinesis.endpoint": tp.URL(), "http.request_timeout": "2s"})
	d := daemontest.Start(t, daemon.Options{Config: cfg, Registry: reg})
	timeout := cfg.HTTP.RequestTimeout
	const eventBridgeTimeout = 5 * time.Second
	tp.SetFaults(kinesistest.Faults{HangRate: 1, MaxHang: 30 * time.Second})

	const n = 16
	id := func(i int) string { return fmt.Sprintf("dl-%02d", i) }
	replies := make([]reply, n)
	client := newClient(n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = send(client, d.URL, event(id(i), "q-deadline"))
		}()
	}
	wg.Wait()
	cleared := time.Now()
	tp.SetFaults(kinesistest.Faults{})

	var slowest, fastest time.Duration
	for i, r := range replies {
		if i == 0 || r.elapsed > slowest {
			slowest = r.elapsed
		}
		if i == 0 || r.elapsed < fastest {
			fastest = r.elapsed
		}
		if r.code != http.StatusServiceUnavailable || r.retryAfter == "" || !strings.Contains(r.errMsg, "retry") {
			t.Errorf("event %s: %d %q (Retry-After %q, err %v), want 503 with Retry-After", id(i), r.code, r.raw, r.retryAfter, r.err)
		}
		if r.elapsed >= eventBridgeTimeout || r.elapsed < timeout-250*time.Millisecond {
			t.Errorf("event %s answered after %s, want between %s and %s", id(i), r.elapsed, timeout-250*time.Millisecond, eventBridgeTimeout)
		}
	}
	t.Logf("Kinesis hanging: %d callers answered 503 after %s to %s (http.request_timeout %s)", n, fastest.Round(time.Millisecond), slowest.Round(time.Millisecond), timeout)

	// A record whose caller has gone is not retried: wait for longer than the
	// longest backoff plus a call, then look for attempts after the hang cleared.
	wait := 2*cfg.Kinesis.RetryMax + 500*time.Millisecond
	time.Sleep(wait)
	tp.settle(t) // the hung calls end on the server's side once the relay has left them
	// The writer settles each record when its call ends, which a loaded
	// machine may do late.
	testx.Eventually(time.Minute, func() bool {
		return testx.Value(t, reg, "genesys_relay_kinesis_records_total", "outcome", "failed")+
			testx.Value(t, reg, "genesys_relay_kinesis_records_total", "outcome", "abandoned") >= n &&
			testx.Value(t, reg, "genesys_relay_kinesis_queued_records") == 0
	})
	before, after := 0, 0
	for _, c := range tp.Calls() {
		for _, cid := range c.ids {
			if strings.HasPrefix(cid, "dl-") {
				if c.start.After(cleared) {
					after++
				} else {
					before++
				}
			}
		}
	}
	failed := testx.Value(t, reg, "genesys_relay_kinesis_records_total", "outcome", "failed")
	abandoned := testx.Value(t, reg, "genesys_relay_kinesis_records_total", "outcome", "abandoned")
	queued := testx.Value(t, reg, "genesys_relay_kinesis_queued_records")
	retryable := testx.Value(t, reg, "genesys_relay_events_failed_total", "input", "http", "class", "retryable")
	t.Logf("attempts while hanging: %d; after the hang cleared (%s watched): %d; writer: %.0f failed, %.0f abandoned, %.0f still queued",
		before, wait, after, failed, abandoned, queued)
	if after != 0 {
		t.Errorf("%d attempts of records whose callers had given up were sent after the hang cleared", after)
	}
	if before == 0 {
		t.Errorf("no attempt reached Kinesis while it hung")
	}
	if failed+abandoned != n || queued != 0 || retryable != n {
		t.Errorf("writer: %.0f failed + %.0f abandoned, %.0f queued; %.0f retryable failures: want %d records given up, none queued", failed, abandoned, queued, retryable, n)
	}
	if got := tp.Stored(); got != 0 {
		t.Errorf("%d records stored while every call hung", got)
	}

	// The relay serves again (a loaded machine may answer 503 for a while:
	// the sender retries).
	var afterHang history
	testx.Eventually(time.Minute, func() bool {
		r := send(client, d.URL, event("dl-after", "q-deadline"))
		afterHang.add("dl-after", r.code)
		return forwardedOK(r, "q-deadline") || (r.code != http.StatusServiceUnavailable && r.code != http.StatusTooManyRequests)
	})
	if codes := afterHang.of("dl-after"); codes[len(codes)-1] != http.StatusOK {
		t.Errorf("after the hang, an event was %s, want 200 forwarded", afterHang.says("dl-after"))
	}
}

// TestDeadlineCountsTheBodyUpload: a sender whose body takes a while to
// arrive, while Kinesis hangs, must hear 503 http.request_timeout after the
// start of its request, not after the end of the body: the time spent reading
// the body counts against http.request_timeout (with the default of 4 s and a
// 2.5 s upload, the answer comes before EventBridge's 5 s, not at 6.5 s).
//
// The test uses a 6 s upload and a 7 s timeout: the right answer comes at 7 s,
// the wrong one at 13 s, and the bound between them, 10 s, leaves a loaded
// machine 3 s either way.
func TestDeadlineCountsTheBodyUpload(t *testing.T) {
	awsEnv(t)
	tp := newTap(t, 10, kinesistest.Faults{})
	cfg := loadConfig(t, map[string]any{"kinesis.endpoint": tp.URL(), "http.request_timeout": "7s"})
	d := daemontest.Start(t, daemon.Options{Config: cfg})
	tp.SetFaults(kinesistest.Faults{HangRate: 1, MaxHang: time.Minute})

	const upload = 6 * time.Second
	bound := cfg.HTTP.RequestTimeout + upload/2
	body := event("dl-slow-upload", "q-deadline")
	pr, pw := io.Pipe()
	go func() {
		const parts = 10
		step := (len(body) + parts - 1) / parts
		for i := 0; i < len(body); i += step {
			if _, err := pw.Write(body[i:min(i+step, len(body))]); err != nil {
				return
			}
			time.Sleep(upload / parts)
		}
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, d.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("after %s: %v", elapsed, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("body uploaded over %s, Kinesis hanging: answered %d after %s", upload, resp.StatusCode, elapsed.Round(time.Millisecond))
	if resp.StatusCode != http.StatusServiceUnavailable || elapsed >= bound || elapsed < cfg.HTTP.RequestTimeout-250*time.Millisecond {
		t.Errorf("answered %d %q after %s, want 503 between %s and %s (http.request_timeout %s from the request's first byte; %s from its last would be %s)",
			resp.StatusCode, b, elapsed, cfg.HTTP.RequestTimeout-250*time.Millisecond, bound, cfg.HTTP.RequestTimeout, cfg.HTTP.RequestTimeout, cfg.HTTP.RequestTimeout+upload)
	}
}
