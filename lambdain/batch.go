package lambdain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	relay "github.com/genesys-relay/genesys-relay"
)

// errUnnamedFailure makes the whole batch fail: Lambda cannot return a record without
// a message id on its own, and treats an empty itemIdentifier as a failed batch anyway.
var errUnnamedFailure = errors.New("sqs batch: a record without messageId failed; the whole batch is returned to the queue")

// handleBatch handles every record of an SQS batch, at most Concurrency at a time, and
// answers the ids of the records that failed.
func (l *Handler) handleBatch(ctx context.Context, recs []events.SQSMessage) ([]byte, error) {
	errs := make([]error, len(recs))
	sem := make(chan struct{}, l.opts.Concurrency)
	var wg sync.WaitGroup
	for i := range recs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			// Out of time before this record started: it returns to the queue.
			errs[i] = fmt.Errorf("not started: %w", ctx.Err())
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = l.handleRecord(ctx, &recs[i])
		})
	}
	wg.Wait()

	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	retryable, firstErr := 0, error(nil)
	for i, err := range errs {
		if err == nil {
			continue
		}
		if recs[i].MessageId == "" {
			return nil, fmt.Errorf("%w: %v", errUnnamedFailure, err)
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: recs[i].MessageId})
		if relay.Retryable(err) {
			if retryable == 0 {
				firstErr = err
			}
			retryable++
		}
	}
	if retryable > 0 {
		l.log.Warn("sqs records failed and return to the queue", "failed", retryable, "records", len(recs), "error", firstErr)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("encode sqs batch response: %w", err)
	}
	return out, nil
}

// handleRecord runs one record body through the pipeline. Permanent failures are
// logged here, once per delivery, with the message id.
func (l *Handler) handleRecord(ctx context.Context, rec *events.SQSMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			l.log.Error("sqs record handler panicked", "message_id", rec.MessageId, "panic", r)
		}
	}()
	_, err = l.h.Handle(ctx, []byte(rec.Body))
	if err != nil && !relay.Retryable(err) {
		l.log.Warn("sqs record can never succeed; left for the queue's redrive policy",
			"message_id", rec.MessageId,
			"receive_count", rec.Attributes["ApproximateReceiveCount"],
			"reason", relay.RejectReason(err),
			"error", err)
	}
	return err
}
