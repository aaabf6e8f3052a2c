package sqsin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	relay "github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// recorder is a handler that records, per envelope id, when it was handled and how
// often it succeeded; fail decides which attempts fail and how.
type recorder struct {
	mu        sync.Mutex
	attempts  map[string][]time.Time
	successes map[string]int
	fail      func(id string, attempt int) error
}

func newRecorder(fail func(id string, attempt int) error) *recorder {
	return &recorder{attempts: map[string][]time.Time{}, successes: map[string]int{}, fail: fail}
}

func (r *recorder) Handle(_ context.Context, raw []byte) (relay.Result, error) {
	id := envelopeID(string(raw))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[id] = append(r.attempts[id], time.Now())
	if r.fail != nil {
		if err := r.fail(id, len(r.attempts[id])); err != nil {
			return relay.Result{ID: id}, err
		}
	}
	r.successes[id]++
	return relay.Result{ID: id, Decision: relay.Forward}, nil
}

func (r *recorder) succeeded(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.successes[id]
}

func (r *recorder) times(id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts[id])
}

var errKinesisDown = fmt.Errorf("put record: %w", relay.ErrUnavailable)

func TestEmulatorSettlesEachOutcome(t *testing.T) {
	c := emulator(t)
	url, _ := createQueue(t, c, map[string]string{"VisibilityTimeout": "1"})
	send(t, c, url, []string{envelope("forward"), envelope("drop"), envelope("invalid")})
	h := handlerFunc(func(_ context.Context, raw []byte) (relay.Result, error) {
		switch id := envelopeID(string(raw)); id {
		case "drop":
			return relay.Result{ID: id, Decision: relay.Drop, Reason: "excluded_event_code"}, nil
		case "invalid":
			return relay.Result{ID: id}, relay.Invalid("source_not_allowed", "source not allowed")
		default:
			return relay.Result{ID: id, Decision: relay.Forward}, nil
		}
	})
	reg := prometheus.NewRegistry()
	cons, err := New(c, h, Options{QueueURL: url, Workers: 2, WaitTime: time.Second, HandleTimeout: 500 * time.Millisecond, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stop := startConsumer(t, cons)
	testx.WaitFor(t, time.Minute, "two deletes", func() bool {
		return testx.Value(t, reg, "genesys_relay_sqs_messages_deleted_total") == 2
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Only the invalid message is left, for the redrive policy, and it comes back.
	var left []string
	testx.WaitFor(t, time.Minute, "the invalid message to reappear", func() bool {
		left = append(left, receiveAll(t, c, url, time.Second)...)
		return len(left) > 0
	})
	if len(left) != 1 || envelopeID(left[0]) != "invalid" {
		t.Errorf("left on the queue: %q, want only the invalid message", left)
	}
}

func TestEmulatorRetryableRedeliveredAfterVisibilityTimeout(t *testing.T) {
	c := emulator(t)
	url, _ := createQueue(t, c, map[string]string{"VisibilityTimeout": "2"})
	send(t, c, url, []string{envelope("flaky")})
	r := newRecorder(func(_ string, attempt int) error {
		if attempt == 1 {
			return errKinesisDown
		}
		return nil
	})
	cons, err := New(c, r, Options{QueueURL: url, Workers: 1, WaitTime: time.Second, HandleTimeout: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stop := startConsumer(t, cons)
	testx.WaitFor(t, time.Minute, "a successful retry", func() bool { return r.succeeded("flaky") == 1 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	at := r.times("flaky")
	if gap := at[1].Sub(at[0]); gap < 1800*time.Millisecond {
		t.Errorf("redelivered after %s, before the 2s visibility timeout", gap)
	} else {
		t.Logf("redelivered after %s (visibility timeout 2s)", gap)
	}
	if v, f := queueCounts(t, c, url); v+f != 0 {
		t.Errorf("queue holds %d visible and %d in-flight messages, want none", v, f)
	}
}

func TestEmulatorRetryDelay(t *testing.T) {
	c := emulator(t)
	url, _ := createQueue(t, c, map[string]string{"VisibilityTimeout": "30"})
	send(t, c, url, []string{envelope("flaky")})
	r := newRecorder(func(_ string, attempt int) error {
		if attempt == 1 {
			return errKinesisDown
		}
		return nil
	})
	cons, err := New(c, r, Options{QueueURL: url, Workers: 1, WaitTime: time.Second, RetryDelay: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stop := startConsumer(t, cons)
	// Bounds well between the 1 s retry delay and the 30 s visibility timeout.
	testx.WaitFor(t, 25*time.Second, "a retry well before the 30s visibility timeout", func() bool { return r.succeeded("flaky") == 1 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	at := r.times("flaky")
	gap := at[1].Sub(at[0])
	if gap < 900*time.Millisecond || gap > 15*time.Second {
		t.Errorf("redelivered after %s, want about the 1s retry delay", gap)
	}
	t.Logf("redelivered after %s (retry delay 1s, visibility timeout 30s)", gap)
}

func TestEmulatorPermanentFailures(t *testing.T) {
	for _, deleteInvalid := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeleteInvalid=%v", deleteInvalid), func(t *testing.T) {
			c := emulator(t)
			dlqURL, dlqARN := createQueue(t, c, nil)
			url, _ := createQueue(t, c, map[string]string{
				"VisibilityTimeout": "1",
				"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":"2"}`,
			})
			send(t, c, url, []string{envelope("poison")})
			r := newRecorder(func(string, int) error { return fmt.Errorf("record of 2 MiB: %w", relay.ErrPermanent) })
			reg := prometheus.NewRegistry()
			cons, err := New(c, r, Options{
				QueueURL: url, Workers: 1, WaitTime: time.Second, HandleTimeout: 500 * time.Millisecond,
				DeleteInvalid: deleteInvalid, Registerer: reg, Logger: quiet,
			})
			if err != nil {
				t.Fatal(err)
			}
			stop := startConsumer(t, cons)
			if deleteInvalid {
				testx.WaitFor(t, time.Minute, "the delete", func() bool {
					return testx.Value(t, reg, "genesys_relay_sqs_messages_deleted_total") == 1
				})
				time.Sleep(1500 * time.Millisecond) // past the visibility timeout: it must not come back
			} else {
				testx.WaitFor(t, time.Minute, "the message in the dead-letter queue", func() bool {
					v, _ := queueCounts(t, c, dlqURL)
					return v == 1
				})
			}
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			attempts := len(r.times("poison"))
			dlq, _ := queueCounts(t, c, dlqURL)
			switch {
			case deleteInvalid && (attempts != 1 || dlq != 0):
				t.Errorf("handled %d times, %d in the DLQ; want 1 and 0", attempts, dlq)
			case !deleteInvalid && attempts != 2:
				t.Errorf("handled %d times before dead-lettering, want maxReceiveCount = 2", attempts)
			}
			if v, f := queueCounts(t, c, url); v+f != 0 {
				t.Errorf("source queue holds %d visible and %d in-flight messages", v, f)
			}
		})
	}
}

// TestEmulatorManyMessages pushes 5,000 envelopes through a consumer whose handler
// fails about 10% of attempts with a retryable error, and checks that every event was
// handled successfully at least once and the queue ends empty.
func TestEmulatorManyMessages(t *testing.T) {
	const n = 5000
	c := emulator(t)
	url, _ := createQueue(t, c, map[string]string{"VisibilityTimeout": "5"})
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = envelope(fmt.Sprintf("evt-%05d", i))
	}
	r := newRecorder(func(string, int) error {
		if rand.Float64() < 0.1 {
			return errKinesisDown
		}
		return nil
	})
	reg := prometheus.NewRegistry()
	cons, err := New(c, r, Options{
		QueueURL: url, Workers: 8, WaitTime: time.Second, HandleTimeout: 2 * time.Second,
		RetryDelay: time.Second, Registerer: reg, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stop := startConsumer(t, cons)
	send(t, c, url, bodies)
	sent := time.Since(start)
	done := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.successes) == n
	}
	testx.WaitFor(t, 5*time.Minute, "every message handled", done)
	handled := time.Since(start)
	testx.WaitFor(t, time.Minute, "an empty queue", func() bool { v, f := queueCounts(t, c, url); return v+f == 0 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := receiveAll(t, c, url, time.Second); len(got) != 0 {
		t.Errorf("final receive returned %d messages", len(got))
	}

	duplicates, failures := 0, 0
	r.mu.Lock()
	for _, b := range bodies {
		id := envelopeID(b)
		if r.successes[id] == 0 {
			t.Errorf("%s never handled successfully", id)
		}
		duplicates += r.successes[id] - 1
		failures += len(r.attempts[id]) - r.successes[id]
	}
	r.mu.Unlock()
	t.Logf("%d messages: sent in %s, all handled in %s (%.0f msg/s); %d injected retryable failures; "+
		"%d duplicates; received %v, deleted %v, delete failures %v",
		n, sent.Round(time.Millisecond), handled.Round(time.Millisecond), n/handled.Seconds(), failures, duplicates,
		testx.Value(t, reg, "genesys_relay_sqs_messages_received_total"),
		testx.Value(t, reg, "genesys_relay_sqs_messages_deleted_total"),
		testx.Value(t, reg, "genesys_relay_sqs_delete_failures_total"))
}

// TestEmulatorShutdown checks that cancelling Run interrupts an idle 20s long poll at
// once, and that messages being handled at that moment are finished and deleted.
//
// A long poll abandoned by the client may still be handed messages by the server
// (fauxqs does this; SQS may): those messages stay in flight until the visibility
// timeout makes them visible again. They are delayed, not lost, which this test
// observes with the messages sent right after the first shutdown.
func TestEmulatorShutdown(t *testing.T) {
	c := emulator(t)
	url, _ := createQueue(t, c, map[string]string{"VisibilityTimeout": "2"})
	started := make(chan struct{}, 3)
	release := make(chan struct{})
	h := handlerFunc(func(ctx context.Context, _ []byte) (relay.Result, error) {
		started <- struct{}{}
		<-release
		if err := ctx.Err(); err != nil {
			return relay.Result{}, fmt.Errorf("handler context ended by shutdown: %w", err)
		}
		return relay.Result{Decision: relay.Forward}, nil
	})
	cons, err := New(c, h, Options{QueueURL: url, Workers: 2, HandleTimeout: time.Second, Logger: quiet}) // 20s long polls
	if err != nil {
		t.Fatal(err)
	}

	stop := startConsumer(t, cons)
	time.Sleep(200 * time.Millisecond) // both workers are in a long poll now
	begin := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(begin); d > 10*time.Second { // a 20 s long poll, interrupted
		t.Errorf("idle consumer took %s to stop", d)
	}

	sent := time.Now()
	send(t, c, url, []string{envelope("a"), envelope("b"), envelope("c")})
	stop = startConsumer(t, cons)
	for range 3 {
		select {
		case <-started:
		case <-time.After(time.Minute):
			v, f := queueCounts(t, c, url)
			t.Fatalf("messages were not received; queue: %d visible, %d in flight", v, f)
		}
	}
	t.Logf("messages sent after an interrupted long poll were received after %s", time.Since(sent).Round(time.Millisecond))
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Run returned %v while messages were being handled", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if v, f := queueCounts(t, c, url); v+f != 0 {
		t.Errorf("after shutdown the queue holds %d visible and %d in-flight messages, want none", v, f)
	}
}
