package reliability

import (
	"crypto/sha256"
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
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestNoLossUnderFaults sends 20,000 distinct events from 64 concurrent senders
// through the relay to a Kinesis that throttles 20% of records, fails 5% of
// calls with 500 or 503 and adds latency, with http.max_in_flight below the
// number of senders so that some requests are refused with 429. Every event
// answered 200 must be in the stream, every other answer must be 429 or 503, no
// record may be sent again once stored, and a sender that retries its 429 and
// 503 answers, as EventBridge does, must end with every event stored, more
// than once only after a 503 (Kinesis may have stored a record whose answer
// came too late). Nothing here depends on how fast the machine is: a slower
// one answers more 503s, which the sender retries.
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
	var answered history
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
			answered.add(id(i), r.code)
			first.add(r.code)
			check(i, r)
			if r.code != http.StatusOK {
				time.Sleep(25 * time.Millisecond) // a refused sender backs off a little
			}
		}
	})
	firstPass := time.Since(start)

	// Second pass: retry every refused event until it is accepted, as
	// EventBridge does (for up to a day; here for up to three minutes).
	retryUntil := time.Now().Add(3 * time.Minute)
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
				answered.add(id(i), r.code)
				check(i, r)
				if r.code == http.StatusOK || time.Now().After(retryUntil) {
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
	tp.settle(t)

	// What landed: every event, with its key; more than once only after 503s.
	// A send answered 429 was never written; one answered 503 may have been.
	recs := tp.Records()
	stored := storedIDs(recs)
	lostAcked, missing, dupIDs, extra, unexplained := 0, 0, 0, 0, 0
	answered503 := 0
	for i := range n {
		n200, n503 := answered.count(id(i), http.StatusOK), answered.count(id(i), http.StatusServiceUnavailable)
		answered503 += n503
		switch c := stored[id(i)]; {
		case c == 0 && n200 > 0:
			lostAcked++
			if lostAcked <= 10 {
				t.Errorf("event %s was %s but is not in the stream", id(i), answered.says(id(i)))
			}
		case c == 0:
			missing++
			if missing <= 10 {
				t.Errorf("event %s was %s (never 200) and is not in the stream", id(i), answered.says(id(i)))
			}
		case c > 1:
			dupIDs++
			extra += c - 1
			if c > n200+n503 {
				unexplained++
				t.Errorf("event %s is in the stream %d times but was %s: only its 200 and 503 answers may have written it", id(i), c, answered.says(id(i)))
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
	accepted := testx.Value(t, reg, "genesys_relay_kinesis_records_total", "outcome", "accepted")
	retries := testx.Value(t, reg, "genesys_relay_kinesis_retries_total")
	forwarded := testx.Value(t, reg, "genesys_relay_events_forwarded_total", "input", "http")

	t.Logf("%d events from %d senders in %s (first pass %s, %.0f events/s); faults: %.0f%% of records throttled, %.1f%% of calls failed with 500/503, latency %s+%s",
		n, senders, elapsed.Round(time.Millisecond), firstPass.Round(time.Millisecond), float64(n)/firstPass.Seconds(),
		100*float64(st.FailedRecords)/float64(max(st.RecordsReceived, 1)), 100*float64(st.FailedCalls)/float64(max(st.Calls, 1)),
		faults.Latency, faults.Jitter)
	t.Logf("first pass answers %v; retries of refused events answered %v", &first, &retried)
	t.Logf("kinesis: %d PutRecords calls (%d failed), %d records received, %d stored, %d failed one by one, %d in failed calls; writer resent %.0f records, Kinesis saw %d resends; duplicates %d; events stored twice after a 503 and a resend: %d; events answered 200 but not stored: %d",
		st.Calls, st.FailedCalls, st.RecordsReceived, st.Stored, st.FailedRecords, s.failedInCalls, retries, s.attempts-len(s.perRecord), st.Duplicates, dupIDs, lostAcked)

	if lostAcked != 0 || missing != 0 {
		t.Errorf("lost %d events answered 200; %d events missing after the retries", lostAcked, missing)
	}
	// The test server stores nothing of a failed call, so a duplicate record
	// would have been sent again after it was stored. An event answered 503
	// may still have landed, and the sender's resend is then a second record
	// of it: at-least-once, counted apart.
	if st.Duplicates != 0 || unexplained != 0 || len(recs) != n+extra {
		t.Errorf("%d records stored for %d events (%d events more than once, %d of them more often than answered 200 or 503; %d duplicate records)",
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
	// The writer counts a record sent again when it puts it in a call, so it
	// counts every resend Kinesis saw. A call cut off by its deadline before
	// Kinesis read it is counted too and never seen; such a call's deadline
	// is that of its callers, so each of its records was answered 503. Kinesis
	// may likewise store a call whose answer comes after that deadline: stored,
	// not counted accepted, answered 503.
	resends := s.attempts - len(s.perRecord)
	if int(retries) < resends || int(retries) > resends+answered503 {
		t.Errorf("writer counted %.0f records sent again; Kinesis saw %d resends (%d attempts of %d records), and %d answers were 503: want between %d and %d",
			retries, resends, s.attempts, len(s.perRecord), answered503, resends, resends+answered503)
	}
	if int64(accepted) > st.Stored || st.Stored-int64(accepted) > int64(answered503) {
		t.Errorf("writer counted %.0f records accepted, Kinesis stored %d, %d answers were 503: want between %d and %d",
			accepted, st.Stored, answered503, st.Stored-int64(answered503), st.Stored)
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
// them again: at-least-once. Every event must end answered 200 and stored (a
// sender retries a 429 or 503, which a loaded machine may answer when Kinesis
// is not done in time), and every duplicate must come from a call whose answer
// was lost: no record is stored more often than the calls that stored it
// without an answer, plus one. A record whose event was answered 200 at once is
// stored exactly that often: each lost answer was followed by a resend.
func TestDuplicatesOnlyFromLostResponses(t *testing.T) {
	awsEnv(t)
	n := size(4000, 1000)
	const senders = 32
	tp := newTap(t, 11, kinesistest.Faults{})
	cfg := loadConfig(t, map[string]any{"kinesis.endpoint": tp.URL()})
	d := daemontest.Start(t, daemon.Options{Config: cfg})
	tp.SetFaults(kinesistest.Faults{DropResponseRate: 0.1, Latency: 2 * time.Millisecond, Jitter: 2 * time.Millisecond})

	client := newClient(senders)
	id := func(i int) string { return fmt.Sprintf("dup-%05d", i) }
	var answers counts
	var answered history
	retryUntil := time.Now().Add(3 * time.Minute)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				q := fmt.Sprintf("q-%02d", i%20)
				for {
					r := send(client, d.URL, event(id(i), q))
					answers.add(r.code)
					answered.add(id(i), r.code)
					if forwardedOK(r, q) {
						break
					}
					if (r.code != http.StatusTooManyRequests && r.code != http.StatusServiceUnavailable) || r.retryAfter == "" {
						t.Errorf("event %s: %d %q %v, want 200 forwarded, or 429/503 with Retry-After", id(i), r.code, r.raw, r.err)
						break
					}
					if time.Now().After(retryUntil) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	tp.settle(t)

	// Per record (the same bytes): how the calls that carried it ended.
	type sent struct {
		id                   string
		lost, answeredStored int       // calls without an answer; calls answered 200 that stored it
		lastStart, storedAt  time.Time // start of the last call; end of the call answered stored
	}
	perRecord := map[[32]byte]*sent{}
	keysOf := map[string]map[[32]byte]bool{} // event id -> its records
	calls, lostCalls := tp.Calls(), 0
	for _, c := range calls {
		if c.status == 0 {
			lostCalls++
		}
		for i, key := range c.keys {
			h := perRecord[key]
			if h == nil {
				h = &sent{id: c.ids[i]}
				perRecord[key] = h
				if keysOf[h.id] == nil {
					keysOf[h.id] = map[[32]byte]bool{}
				}
				keysOf[h.id][key] = true
			}
			if c.status == 0 {
				h.lost++
			}
			if c.stored[i] {
				h.answeredStored++
				h.storedAt = c.end
			}
			if c.start.After(h.lastStart) {
				h.lastStart = c.start
			}
		}
	}
	recs := tp.Records()
	timesStored := make(map[[32]byte]int, len(recs))
	for _, r := range recs {
		timesStored[sha256.Sum256(r.Data)]++
	}
	stored := storedIDs(recs)

	extra, unexplained, exactChecked := 0, 0, 0
	for key, h := range perRecord {
		c := timesStored[key]
		extra += max(c-1, 0)
		if h.answeredStored > 1 || (h.answeredStored == 1 && h.lastStart.After(h.storedAt)) {
			unexplained++
			t.Errorf("a record of event %s (%s) was sent again after Kinesis answered that it was stored", h.id, answered.says(h.id))
		}
		if c > h.answeredStored+h.lost {
			unexplained++
			t.Errorf("a record of event %s (%s) is in the stream %d times; %d calls answered it stored, %d lost their answer",
				h.id, answered.says(h.id), c, h.answeredStored, h.lost)
		}
		// Answered 200 at the first send: its one record was acknowledged, so
		// every call of it that lost its answer had stored it, and was followed
		// by another until one was answered.
		if codes := answered.of(h.id); len(codes) == 1 && codes[0] == http.StatusOK {
			exactChecked++
			if c != 1+h.lost {
				t.Errorf("event %s, answered 200 at once, is in the stream %d times, in %d calls whose answer was lost: want %d",
					h.id, c, h.lost, 1+h.lost)
			}
		}
	}
	notOK := 0
	for i := range n {
		switch {
		case answered.count(id(i), http.StatusOK) == 0:
			notOK++
			if notOK <= 10 {
				t.Errorf("event %s was %s, never 200", id(i), answered.says(id(i)))
			}
		case stored[id(i)] == 0:
			t.Errorf("event %s was %s but is not in the stream", id(i), answered.says(id(i)))
		}
		// A send answered 429 was never written; one answered 503 may have been.
		if k, may := len(keysOf[id(i)]), answered.count(id(i), http.StatusOK)+answered.count(id(i), http.StatusServiceUnavailable); k > may {
			t.Errorf("event %s has %d distinct records in the calls but was %s", id(i), k, answered.says(id(i)))
		}
	}
	st := tp.Stats()
	t.Logf("%d events, answers %v; %d of %d calls lost their answer after storing; %d duplicates in the stream, all from those calls (%d events answered 200 at once checked exactly)",
		n, &answers, lostCalls, len(calls), st.Duplicates, exactChecked)
	if int(st.Duplicates) != extra || lostCalls == 0 || unexplained != 0 {
		t.Errorf("%d duplicates, %d explained by lost answers (%d calls), %d unexplained", st.Duplicates, extra, lostCalls, unexplained)
	}
}
