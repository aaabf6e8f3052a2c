package lambdain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	relay "github.com/genesys-relay/genesys-relay"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// envelope returns an EventBridge envelope whose id is id.
func envelope(id string) string {
	return `{"version":"0","id":"` + id + `","detail-type":"Genesys Interaction","source":"genesys.cloud",` +
		`"account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],` +
		`"detail":{"eventCode":"interaction.routing.assign"}}`
}

// pipeline decides by envelope id, as the real pipeline would by rules.
type pipeline struct{ calls atomic.Int32 }

func (p *pipeline) Handle(ctx context.Context, raw []byte) (relay.Result, error) {
	p.calls.Add(1)
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.ID == "" {
		return relay.Result{}, relay.Invalid("malformed_json", "body is not an EventBridge envelope")
	}
	res := relay.Result{ID: env.ID}
	switch {
	case strings.HasPrefix(env.ID, "forward"):
		res.Decision, res.Reason, res.Record = relay.Forward, "passed_all_filters", relay.Record{PartitionKey: "pk-" + env.ID}
		return res, nil
	case strings.HasPrefix(env.ID, "drop"):
		res.Decision, res.Reason = relay.Drop, "excluded_event_code"
		return res, nil
	case strings.HasPrefix(env.ID, "retry"):
		return res, fmt.Errorf("put record: %w", relay.ErrUnavailable)
	case strings.HasPrefix(env.ID, "invalid"):
		return res, relay.Invalid("source_not_allowed", `source "x" is not allowed`)
	case strings.HasPrefix(env.ID, "toolarge"):
		return res, fmt.Errorf("record of 2 MiB exceeds 1 MiB: %w", relay.ErrPermanent)
	case strings.HasPrefix(env.ID, "panic"):
		panic("boom")
	case strings.HasPrefix(env.ID, "slow"):
		<-ctx.Done()
		return res, fmt.Errorf("put record: %w: %w", relay.ErrUnavailable, ctx.Err())
	}
	return res, errors.New("unexpected id " + env.ID)
}

// sqsBatch returns an SQS event-source payload whose message ids are "m-<id>".
func sqsBatch(ids ...string) []byte {
	var ev events.SQSEvent
	for _, id := range ids {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:      "m-" + id,
			ReceiptHandle:  "rh-" + id,
			Body:           envelope(id),
			Attributes:     map[string]string{"ApproximateReceiveCount": "1"},
			EventSource:    "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:genesys-events",
			AWSRegion:      "us-east-1",
		})
	}
	b, _ := json.Marshal(ev)
	return b
}

func failures(t *testing.T, out []byte) []string {
	t.Helper()
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestDirectEvent(t *testing.T) {
	l := NewHandler(&pipeline{}, Options{Logger: quiet})
	for _, tt := range []struct {
		id, want  string
		retryable bool
	}{
		{id: "forward-1", want: `{"status":"forwarded","id":"forward-1","partition_key":"pk-forward-1"}`},
		{id: "drop-1", want: `{"status":"dropped","id":"drop-1","reason":"excluded_event_code"}`},
		{id: "retry-1", retryable: true},
		{id: "invalid-1"},
		{id: "toolarge-1"},
		{id: "panic-1", retryable: true},
	} {
		t.Run(tt.id, func(t *testing.T) {
			out, err := l.Invoke(context.Background(), []byte(envelope(tt.id)))
			if tt.want != "" {
				if err != nil || string(out) != tt.want {
					t.Fatalf("Invoke = %s, %v; want %s", out, err, tt.want)
				}
				return
			}
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("Invoke = %s, %v; want an *EventError", out, err)
			}
			if relay.Retryable(err) != tt.retryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, !tt.retryable, tt.retryable)
			}
			if !tt.retryable && !strings.Contains(err.Error(), "permanent") {
				t.Errorf("error %q does not say it is permanent", err)
			}
		})
	}
}

func TestSQSBatchPartialFailure(t *testing.T) {
	l := NewHandler(&pipeline{}, Options{Logger: quiet})
	out, err := l.Invoke(context.Background(), sqsBatch("forward-1", "retry-1", "drop-1", "invalid-1", "forward-2", "toolarge-1", "panic-1"))
	if err != nil {
		t.Fatal(err)
	}
	got := failures(t, out)
	want := []string{"m-retry-1", "m-invalid-1", "m-toolarge-1", "m-panic-1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batchItemFailures %v, want %v", got, want)
	}

	out, err = l.Invoke(context.Background(), sqsBatch("forward-1", "drop-1"))
	if err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Errorf("all succeeded: Invoke = %s, %v", out, err)
	}
}

func TestSQSBatchConcurrencyBound(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	h := handlerFunc(func(context.Context, []byte) (relay.Result, error) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		cur--
		mu.Unlock()
		return relay.Result{Decision: relay.Forward}, nil
	})
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("forward-%d", i)
	}
	l := NewHandler(h, Options{Concurrency: 5, Logger: quiet})
	out, err := l.Invoke(context.Background(), sqsBatch(ids...))
	if err != nil || len(failures(t, out)) != 0 {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	if peak > 5 {
		t.Errorf("peak concurrency %d, want at most 5", peak)
	}
}

// TestSQSBatchAnswersBeforeDeadline runs on a synctest clock, so that the
// second of the invocation is the handler's, not the machine's.
func TestSQSBatchAnswersBeforeDeadline(t *testing.T) {
	synctest.Test(t, testSQSBatchAnswersBeforeDeadline)
}

func testSQSBatchAnswersBeforeDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	parent, _ := ctx.Deadline()
	var mu sync.Mutex
	var deadlines []time.Time
	p := &pipeline{}
	h := handlerFunc(func(ctx context.Context, raw []byte) (relay.Result, error) {
		d, _ := ctx.Deadline()
		mu.Lock()
		deadlines = append(deadlines, d)
		mu.Unlock()
		return p.Handle(ctx, raw)
	})
	l := NewHandler(h, Options{Concurrency: 2, Reserve: 200 * time.Millisecond, Logger: quiet})
	out, err := l.Invoke(ctx, sqsBatch("forward-1", "slow-1", "slow-2", "slow-3"))
	if err != nil {
		t.Fatal(err)
	}
	if got := failures(t, out); fmt.Sprint(got) != "[m-slow-1 m-slow-2 m-slow-3]" {
		t.Errorf("batchItemFailures %v, want the three slow records", got)
	}
	for _, d := range deadlines {
		if want := parent.Add(-200 * time.Millisecond); !d.Equal(want) {
			t.Errorf("handler deadline %s before the invocation deadline, want 200ms", parent.Sub(d))
		}
	}
}

// TestHandleContextReserve runs on a synctest clock: no time passes between
// making the deadline and reading what is left of it.
func TestHandleContextReserve(t *testing.T) { synctest.Test(t, testHandleContextReserve) }

func testHandleContextReserve(t *testing.T) {
	l := NewHandler(&pipeline{}, Options{Reserve: time.Second, Logger: quiet})
	for _, tt := range []struct{ remaining, wantReserve time.Duration }{
		{10 * time.Second, time.Second},
		{2 * time.Second, 500 * time.Millisecond}, // a quarter of what is left
	} {
		deadline := time.Now().Add(tt.remaining)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		hctx, hcancel := l.handleContext(ctx)
		d, _ := hctx.Deadline()
		if got := deadline.Sub(d); got > tt.wantReserve || got < tt.wantReserve-50*time.Millisecond {
			t.Errorf("%s left: reserve %s, want about %s", tt.remaining, got, tt.wantReserve)
		}
		hcancel()
		cancel()
	}
	hctx, hcancel := l.handleContext(context.Background())
	defer hcancel()
	if _, ok := hctx.Deadline(); ok {
		t.Error("a deadline appeared without an invocation deadline")
	}
}

func TestSQSBatchFailureWithoutMessageID(t *testing.T) {
	payload := []byte(`{"Records":[{"eventSource":"aws:sqs","body":` + jsonString(envelope("retry-1")) + `}]}`)
	l := NewHandler(&pipeline{}, Options{Logger: quiet})
	if out, err := l.Invoke(context.Background(), payload); !errors.Is(err, errUnnamedFailure) {
		t.Errorf("Invoke = %s, %v; want the whole batch to fail", out, err)
	}
}

// TestThroughLambdaLibrary runs Invoke through aws-lambda-go's handler machinery: the
// Handler as a lambda.Handler, and the JSON function Start registers.
func TestThroughLambdaLibrary(t *testing.T) {
	l := NewHandler(&pipeline{}, Options{Logger: quiet})
	for name, h := range map[string]lambda.Handler{
		"lambda.Handler":     lambda.NewHandler(l),
		"StartHandlerFunc's": lambda.NewHandler(l.invokeJSON),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := h.Invoke(context.Background(), []byte(envelope("forward-1")))
			if err != nil || strings.TrimSpace(string(out)) != `{"status":"forwarded","id":"forward-1","partition_key":"pk-forward-1"}` {
				t.Errorf("envelope: %s, %v", out, err)
			}
			out, err = h.Invoke(context.Background(), sqsBatch("forward-1", "invalid-1"))
			if err != nil || strings.TrimSpace(string(out)) != `{"batchItemFailures":[{"itemIdentifier":"m-invalid-1"}]}` {
				t.Errorf("batch: %s, %v", out, err)
			}
			if _, err := h.Invoke(context.Background(), []byte(envelope("invalid-1"))); !errors.Is(err, relay.ErrInvalid) {
				t.Errorf("invalid envelope: %v", err)
			}
		})
	}
}

type handlerFunc func(ctx context.Context, raw []byte) (relay.Result, error)

func (f handlerFunc) Handle(ctx context.Context, raw []byte) (relay.Result, error) {
	return f(ctx, raw)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
