// Package lambdain runs genesys-relay as an AWS Lambda function. One handler serves
// both ways Lambda delivers Genesys Cloud events: EventBridge invoking the function
// directly with one envelope, and an SQS event source mapping with a batch of
// messages whose bodies are envelopes. For a batch it reports exactly the messages
// that failed (batchItemFailures), so only those return to the queue.
package lambdain

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	relay "github.com/genesys-relay/genesys-relay"
)

// Defaults applied by NewHandler to zero-valued Options fields.
const (
	DefaultConcurrency = 32
	DefaultReserve     = 500 * time.Millisecond
)

// Options configures a Handler.
type Options struct {
	// Concurrency bounds the records of one SQS batch handled at once (default 32).
	// The Kinesis sink batches records across concurrent calls, so more concurrency
	// means fuller PutRecords batches.
	Concurrency int
	// Reserve is the time kept before the invocation deadline to answer (default
	// 500ms): handling stops early enough to report which records failed instead of
	// timing out, which would return the whole batch to the queue.
	Reserve time.Duration
	// Logger receives the handler's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Handler adapts a relay.Handler to Lambda's invocation model.
type Handler struct {
	h    relay.Handler
	opts Options
	log  *slog.Logger
}

var _ lambda.Handler = (*Handler)(nil)

// NewHandler returns a Lambda handler that runs every event through h.
func NewHandler(h relay.Handler, opts Options) *Handler {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Reserve <= 0 {
		opts.Reserve = DefaultReserve
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{h: h, opts: opts, log: opts.Logger}
}

// Invoke handles one Lambda invocation: a directly invoked EventBridge event or an
// SQS batch.
//
// For an EventBridge event it answers {"status":"forwarded",...} or
// {"status":"dropped",...}, and returns an error when the event was not handled so
// that Lambda's own retries and on-failure destination (or DLQ) apply. That includes
// events that can never succeed (invalid envelope, record too large): Lambda cannot be
// told not to retry an asynchronous invocation, but its retries are bounded (two by
// default, configurable down to zero), after which the event goes to the on-failure
// destination rather than being lost. The error says that it is permanent.
//
// For an SQS batch it answers {"batchItemFailures":[...]} listing the message ids of
// exactly the records that failed, whether retryable or permanent: the queue's redrive
// policy sends the permanent ones to its dead-letter queue. The event source mapping
// must have ReportBatchItemFailures enabled; without it Lambda ignores the answer and
// deletes the whole batch.
//
// A payload of any other shape is an error naming the problem.
func (l *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	kind, recs, err := detect(payload)
	if err != nil {
		l.log.Warn("lambda payload not handled", "reason", relay.RejectReason(err), "error", err)
		return nil, err
	}
	hctx, cancel := l.handleContext(ctx)
	defer cancel()
	if kind == shapeSQSBatch {
		return l.handleBatch(hctx, recs)
	}
	return l.handleEvent(hctx, payload)
}

// Start runs l as the function's handler; it does not return. Responses are sent with
// the application/json content type.
//
// Lambda freezes the execution environment between invocations and may end it
// without notice, so nothing may be left waiting when an invocation returns; nothing
// is: an invocation answers only once the sink has accepted or refused each of its
// records (the Kinesis writer's Put waits for Kinesis's answer).
func Start(l *Handler) {
	lambda.StartHandlerFunc(l.invokeJSON)
}

// invokeJSON is Invoke in the shape lambda.StartHandlerFunc takes, so that the
// library writes the answer as JSON.
func (l *Handler) invokeJSON(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	return l.Invoke(ctx, payload)
}

// handleContext ends Reserve before the invocation deadline, or at a quarter of the
// remaining time when that is shorter, so there is time left to answer.
func (l *Handler) handleContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(l.opts.Reserve, time.Until(deadline)/4)
	return context.WithDeadline(ctx, deadline.Add(-reserve))
}

// eventResponse is the answer to a directly invoked EventBridge event; it mirrors the
// HTTP input's response body.
type eventResponse struct {
	Status       string `json:"status"`
	ID           string `json:"id,omitempty"`
	PartitionKey string `json:"partition_key,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// EventError is returned by Invoke for a directly invoked event that was not handled.
// Lambda reports its type name and message; Unwrap gives the pipeline's error, so
// relay.Retryable tells whether a retry can succeed.
type EventError struct {
	// ID is the envelope id, when the pipeline could read it.
	ID  string
	Err error
}

func (e *EventError) Error() string {
	what := "will be retried"
	if !relay.Retryable(e.Err) {
		what = "permanent, cannot succeed on retry"
	}
	return fmt.Sprintf("event %q not handled (%s): %v", e.ID, what, e.Err)
}

// Unwrap returns the pipeline's error.
func (e *EventError) Unwrap() error { return e.Err }

func (l *Handler) handleEvent(ctx context.Context, payload []byte) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &EventError{Err: fmt.Errorf("handler panic: %v", r)}
			l.log.Error("eventbridge event handler panicked", "panic", r)
		}
	}()
	res, err := l.h.Handle(ctx, payload)
	if err != nil {
		if !relay.Retryable(err) {
			l.log.Warn("eventbridge event can never succeed", "id", res.ID, "reason", relay.RejectReason(err), "error", err)
		}
		return nil, &EventError{ID: res.ID, Err: err}
	}
	resp := eventResponse{Status: "dropped", ID: res.ID, Reason: res.Reason}
	if res.Decision == relay.Forward {
		resp = eventResponse{Status: "forwarded", ID: res.ID, PartitionKey: res.Record.PartitionKey}
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("encode lambda response: %w", err)
	}
	return out, nil
}
