package reliability

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

// TestNoLossUnderFaults sends 20,000 distinct events from 64 concurrent senders
// through the relay to a Kinesis that throttles 20% of records, fails 5% of
// calls with 500 or 503 and adds latency, with http.max_in_flight below the
// number of senders so that some requests are refused with 429. Every event
// answered 200 must be in the stream, every other answer must be 429 or 503, no
// record may be sent again once stored, and a sender that retries its 429 and
// 503 answers, as EventBridge does, must end with every event stored once.
func TestNoLossUnderFaults(t *testing.T) {
	awsEnv(t)
	n := size(20000, 3000)
	const senders = 64
	faults := kinesistest.Faults{
		RecordThrottleRate:     0.20,
		InternalFailureRate:    0.025,
		ServiceUnavailableRate: 0.025,
		Latency:                2 * time.Millisecond,
		Jitter:                 4 * time.Millisecond,
	}
	tp := newTap(t, 1, faults)
	reg := prometheus.NewRegistry()
	cfg := loadConfig(t, map[string]any{"kinesis.endpoint": tp.URL(), "http.max_in_flight": 56})
	d := daemontest.Start(t, daemon.Options{Config: cfg, Registry: reg})
	client := newClient(senders)

	id := func(i int) string { return fmt.Sprintf("nl-%06d", i) }
	queue := func(i int) string { return fmt.Sprintf("q-%03d", i%200) }
	var first, retried counts
	var violations atomic.Int64
	check := func(i int, r reply) {
		ok := false
		switch r.code {
		case http.StatusOK:
			ok = forwardedOK(r, queue(i))
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			ok = r.retryAfter != "" && r.errMsg != ""
		}
		if !ok && violations.Add(1) <= 10 {
			t.Errorf("event %s: answer %d %q (err %v), want 200 forwarded with key %s, or 429/503 with Retry-After and an error", id(i), r.code, r.raw, r.err, keyOf(queue(i)))
		}
	}

	// First pass: every event once.
	start := time.Now()
	firstCode := make([]int, n)
	got503 := make([]bool, n) // answered 503 at least once: its record may have landed
	var next atomic.Int64
	run := func(work func()) {
		var wg sync.WaitGroup
		for range senders {
			wg.Add(1)
			go func() { defer wg.Done(); work() }()
		}
		wg.Wait()
	}
	run(func() {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			r := send(client, d.URL, event(id(i), queue(i)))
			firstCode[i] = r.code
			got503[i] = r.code == http.StatusServiceUnavailable
			first.add(r.code)
			check(i, r)
			if r.code != http.StatusOK {
				time.Sleep(25 * time.Millisecond) // a refused sender backs off a little
			}
		}
	})
	firstPass := time.Since(start)

	// Second pass: retry every refused event until it is accepted.
	var again []int
	for i, c := range firstCode {
		if c != http.StatusOK {
			again = append(again, i)
		}
	}
	next.Store(0)
	run(func() {
		for k := int(next.Add(1) - 1); k < len(again); k = int(next.Add(1) - 1) {
			i := again[k]
			for attempt := 1; ; attempt++ {
				r := send(client, d.URL, event(id(i), queue(i)))
				retried.add(r.code)
				got503[i] = got503[i] || r.code == http.StatusServiceUnavailable
				check(i, r)
				if r.code == http.StatusOK || attempt == 50 {
					break
				}
				time.Sleep(time.Duration(min(attempt, 10)) * 10 * time.Millisecond)
			}
		}
	})
	if err := d.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	elapsed := time.Since(start)

	// What landed: every event, once, with its key.
	recs := tp.Records()
	stored := storedIDs(recs)
	lostAcked, missing, dupIDs, unexplained := 0, 0, 0, 0
	for i := range n {
		switch c := stored[id(i)]; {
		case c == 0 && firstCode[i] == http.StatusOK:
			lostAcked++
			if lostAcked <= 10 {
				t.Errorf("event %s was answered 200 but is not in the stream", id(i))
			}
		case c == 0:
			missing++
		case c > 1:
			dupIDs++
			if !got503[i] {
				unexplained++
				t.Errorf("event %s is in the stream %d times but was never answered 503", id(i), c)
			}
		}
	}
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(traceID(r.Data), "nl-%d", &i); err != nil || i >= n {
			t.Errorf("unexpected record in the stream: %q", r.Data)
		} else if r.PartitionKey != keyOf(queue(i)) {
			t.Errorf("record %s has partition key %s, want %s", id(i), r.PartitionKey, keyOf(queue(i)))
		}
	}

	// How it was sent: the call log against the server's counters and the
	// writer's metrics.
	st := tp.Stats()
	s := summarize(tp.Calls())
	resent := 0
	for _, h := range s.perRecord {
		if h.stored > 1 || (h.stored == 1 && h.lastStart.After(h.storedAt)) {
			resent++
			if resent <= 10 {
				t.Errorf("the record of %s was sent again after it was stored (%d attempts, stored %d times)", h.id, h.attempts, h.stored)
			}
		}
	}
	accepted := metricValue(t, reg, "genesys_relay_kinesis_records_total", "outcome", "accepted")
	retries := metricValue(t, reg, "genesys_relay_kinesis_retries_total")
	forwarded := metricValue(t, reg, "genesys_relay_events_forwarded_total", "input", "http")

	t.Logf("%d events from %d senders in %s (first pass %s, %.0f events/s); faults: %.0f%% of records throttled, %.1f%% of calls failed with 500/503, latency %s+%s",
		n, senders, elapsed.Round(time.Millisecond), firstPass.Round(time.Millisecond), float64(n)/firstPass.Seconds(),
		100*float64(st.FailedRecords)/float64(max(st.RecordsReceived, 1)), 100*float64(st.FailedCalls)/float64(max(st.Calls, 1)),
		faults.Latency, faults.Jitter)
	t.Logf("first pass answers %v; retries of refused events answered %v", &first, &retried)
	t.Logf("kinesis: %d PutRecords calls (%d failed), %d records received, %d stored, %d failed one by one, %d in failed calls; writer resent %.0f records; duplicates %d; events stored twice after a 503 and a resend: %d; events answered 200 but not stored: %d",
		st.Calls, st.FailedCalls, st.RecordsReceived, st.Stored, st.FailedRecords, s.failedInCalls, retries, st.Duplicates, dupIDs, lostAcked)

	if lostAcked != 0 || missing != 0 {
		t.Errorf("lost %d events answered 200; %d events missing after the retries", lostAcked, missing)
	}
	// The test server stores nothing of a failed call, so a duplicate record
	// would have been sent again after it was stored. An event answered 503
	// may still have landed, and the sender's resend is then a second record
	// of it: at-least-once, counted apart.
	if st.Duplicates != 0 || unexplained != 0 || len(recs) != n+dupIDs {
		t.Errorf("%d records stored for %d events (%d events more than once, %d of them never answered 503; %d duplicate records)",
			len(recs), n, dupIDs, unexplained, st.Duplicates)
	}
	if first.get(http.StatusOK)+first.get(http.StatusTooManyRequests)+first.get(http.StatusServiceUnavailable) != n {
		t.Errorf("first pass answers %v: want only 200, 429 and 503", &first)
	}
	// Every record sent was stored, refused on its own, or in a call that failed.
	if int64(s.attempts) != st.RecordsReceived || int64(s.storedN) != st.Stored || int64(s.failedRecords) != st.FailedRecords ||
		st.RecordsReceived != st.Stored+st.FailedRecords+int64(s.failedInCalls) {
		t.Errorf("call log (%d sent = %d stored + %d refused + %d in failed calls) does not match the server (%d received, %d stored, %d refused)",
			s.attempts, s.storedN, s.failedRecords, s.failedInCalls, st.RecordsReceived, st.Stored, st.FailedRecords)
	}
	// The writer sends a record again only after a failed attempt: the resends
	// are exactly the attempts beyond the first of each record.
	if int(retries) != s.attempts-len(s.perRecord) || int64(accepted) != st.Stored {
		t.Errorf("writer: %.0f records resent, %.0f accepted; call log: %d attempts of %d records (%d resends), %d stored",
			retries, accepted, s.attempts, len(s.perRecord), s.attempts-len(s.perRecord), st.Stored)
	}
	if ok := first.get(http.StatusOK) + retried.get(http.StatusOK); int(forwarded) != ok {
		t.Errorf("relay counted %.0f events forwarded, senders got %d answers 200", forwarded, ok)
	}
	if st.FailedRecords == 0 || st.FailedCalls == 0 {
		t.Errorf("no faults were injected (%+v)", st)
	}
	if violations.Load() > 0 {
		t.Errorf("%d answers broke the HTTP contract", violations.Load())
	}
}

// TestDuplicatesOnlyFromLostResponses: when Kinesis stores a call's records but
// the answer is lost (the connection drops), the writer cannot know and sends
// them again: at-least-once. Every event must be answered 200 and stored, and
// the duplicates must be exactly the records of the calls whose answer was
// lost, no more.
func TestDuplicatesOnlyFromLostResponses(t *testing.T) {
	awsEnv(t)
	n := size(4000, 1000)
	const senders = 32
	tp := newTap(t, 11, kinesistest.Faults{})
	cfg := loadConfig(t, map[string]any{"kinesis.endpoint": tp.URL()})
	d := daemontest.Start(t, daemon.Options{Config: cfg})
	tp.SetFaults(kinesistest.Faults{DropResponseRate: 0.1, Latency: 2 * time.Millisecond, Jitter: 2 * time.Millisecond})

	client := newClient(senders)
	var answers counts
	var next atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				q := fmt.Sprintf("q-%02d", i%20)
				r := send(client, d.URL, event(fmt.Sprintf("dup-%05d", i), q))
				answers.add(r.code)
				if !forwardedOK(r, q) {
					t.Errorf("event %d: %d %q %v", i, r.code, r.raw, r.err)
				}
			}
		}()
	}
	wg.Wait()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}

	lostAnswers := map[string]int{} // records of calls whose answer was lost
	calls, lostCalls := tp.Calls(), 0
	for _, c := range calls {
		if c.status == 0 {
			lostCalls++
			for _, id := range c.ids {
				lostAnswers[id]++
			}
		}
	}
	stored := storedIDs(tp.Records())
	extra, unexplained := 0, 0
	for i := range n {
		id := fmt.Sprintf("dup-%05d", i)
		switch c := stored[id]; {
		case c == 0:
			t.Errorf("event %s answered 200 but not stored", id)
		case c != 1+lostAnswers[id]:
			unexplained++
			t.Errorf("event %s stored %d times, in %d calls whose answer was lost", id, c, lostAnswers[id])
		default:
			extra += c - 1
		}
	}
	st := tp.Stats()
	t.Logf("%d events, answers %v; %d of %d calls lost their answer after storing; %d duplicates in the stream, all from those calls",
		n, &answers, lostCalls, len(calls), st.Duplicates)
	if int(st.Duplicates) != extra || lostCalls == 0 || unexplained != 0 {
		t.Errorf("%d duplicates, %d explained by lost answers (%d calls), %d unexplained", st.Duplicates, extra, lostCalls, unexplained)
	}
}
