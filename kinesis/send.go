package kinesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/genesys-relay/genesys-relay"
)

// RecordError is Kinesis's reason for refusing one record of a PutRecords call.
type RecordError struct {
	Code    string // e.g. ProvisionedThroughputExceededException
	Message string
}

func (e *RecordError) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// ErrorCode, ErrorMessage and ErrorFault make a RecordError a smithy.APIError,
// so that a record's refusal is explained like a call's.
func (e *RecordError) ErrorCode() string             { return e.Code }
func (e *RecordError) ErrorMessage() string          { return e.Message }
func (e *RecordError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }

// errNoResult is the cause of a record whose result entry has neither a
// sequence number nor an error code: Kinesis did not say it stored the record,
// so it is sent again.
var errNoResult = &RecordError{Message: "no sequence number and no error code in the PutRecords answer"}

// sender runs PutRecords calls for the batches the batcher hands it.
func (w *Writer) sender() {
	defer w.senders.Done()
	for b := range w.batches {
		w.send(b)
	}
}

// send makes one PutRecords call and settles every record of the batch:
// answered, or handed back to the batcher for a retry.
func (w *Writer) send(b *batch) {
	w.buildInput(b)
	bytes := 0
	for i := range b.entries {
		bytes += len(b.entries[i].Data) + len(aws.ToString(b.entries[i].PartitionKey))
	}
	w.m.batchRecords.Observe(float64(len(b.items)))
	w.m.batchBytes.Observe(float64(bytes))

	ctx, cancel := context.WithDeadline(w.ctx, b.deadline)
	start := time.Now()
	out, err := w.api.PutRecords(ctx, &b.input)
	cancel()
	now := time.Now()
	w.m.callDuration.Observe(now.Sub(start).Seconds())
	if err == nil && (out == nil || len(out.Records) != len(b.entries)) {
		// Without one result per entry we cannot tell which records landed; sending
		// them all again may duplicate some, which beats losing any.
		n := 0
		if out != nil {
			n = len(out.Records)
		}
		err = fmt.Errorf("PutRecords answered %d results for %d records", n, len(b.entries))
	}
	unsent := 0
	if err != nil {
		w.m.callsError.Inc()
		unsent = w.callFailed(b, err, now)
	} else {
		w.callDone(b, out, now)
	}

	w.mu.Lock()
	w.inFlight--
	w.unsent += unsent
	for _, it := range b.retry {
		switch {
		case w.aborted:
			if !it.finish(stQueued, ErrClosed, w.countUnsent) {
				w.dropAbandoned(it)
			}
		case it.retryAt.After(now):
			w.retries.push(it)
		default:
			it.enq = now
			w.ready.push(it)
			w.pendingBytes += it.cost
		}
	}
	w.mu.Unlock()
	w.kick()
	w.putBatch(b)
}

// callDone settles the records of a call that returned per-record results.
func (w *Writer) callDone(b *batch, out *kinesis.PutRecordsOutput, now time.Time) {
	failed := 0
	var firstErr *RecordError
	for i := range out.Records {
		r := &out.Records[i]
		items := b.items[b.spans[i].lo:b.spans[i].hi]
		code := aws.ToString(r.ErrorCode)
		// Only a sequence number says the record is in the stream; an entry
		// with neither one nor an error code is a failure to retry.
		if code == "" && aws.ToString(r.SequenceNumber) != "" {
			for _, it := range items {
				w.answer(it, nil)
			}
			continue
		}
		failed++
		cause := errNoResult
		if code != "" {
			cause = &RecordError{Code: code, Message: aws.ToString(r.ErrorMessage)}
		}
		if firstErr == nil {
			firstErr = cause
		}
		switch classifyCode(cause.Code) {
		case classUnavailable:
			err := refusal(cause, cause.Code, w.opts.Stream)
			for _, it := range items {
				w.answer(it, err)
			}
		case classThrottle:
			w.m.throttled.Add(float64(len(items)))
			fallthrough
		default:
			for _, it := range items {
				w.retryLater(b, it, cause, now, true)
			}
		}
	}
	if failed == 0 {
		w.m.callsOK.Inc()
		return
	}
	w.m.callsPartial.Inc()
	w.logf(partialLog, "kinesis: records refused", "failed", failed, "records", len(out.Records), "first_error", firstErr)
}

// callFailed settles the records of a call that failed as a whole. It returns
// how many records were answered with ErrClosed because Close gave up.
func (w *Writer) callFailed(b *batch, err error, now time.Time) int {
	if w.ctx.Err() != nil {
		unsent := 0
		for _, it := range b.items {
			if w.answer(it, ErrClosed) {
				unsent++
			}
		}
		return unsent
	}
	cls := classify(err)
	switch cls {
	case classUnavailable:
		code := errorCode(err)
		if expiredCredentials(code) {
			invalidateCredentials(w.api)
		}
		e := refusal(err, code, w.opts.Stream)
		for _, it := range b.items {
			w.answer(it, e)
		}
		w.logf(unavailableLog, "kinesis: stream unavailable, records failed", "records", len(b.items), "error", err)
	case classInvalid:
		w.invalid(b, err, now)
		w.logf(invalidLog, "kinesis: request rejected as invalid", "records", len(b.items), "error", err)
	default:
		if cls == classThrottle {
			w.m.throttled.Add(float64(len(b.items)))
		}
		for _, it := range b.items {
			w.retryLater(b, it, err, now, true)
		}
		w.logf(retryLog, "kinesis: PutRecords failed, retrying", "records", len(b.items), "error", err)
	}
	return 0
}

// invalid handles a request Kinesis rejected as malformed. A record named by the
// error fails permanently; the others are sent again at once. When no record is
// named, every record is sent again alone, so that the next rejection names it.
func (w *Writer) invalid(b *batch, err error, now time.Time) {
	bad := invalidEntries(err, len(b.entries))
	for i, sp := range b.spans {
		items := b.items[sp.lo:sp.hi]
		attributed := bad[i] || (len(bad) == 0 && len(b.items) == 1)
		switch {
		case attributed && len(items) == 1:
			w.answer(items[0], fmt.Errorf("kinesis: stream %q rejected the record: %w: %w", w.opts.Stream, err, relay.ErrPermanent))
		case attributed || len(bad) == 0:
			for _, it := range items {
				it.solo = true
				w.retryLater(b, it, err, now, false)
			}
		default:
			for _, it := range items {
				w.retryLater(b, it, err, now, false)
			}
		}
	}
}

// answer gives an in-flight record's outcome to its caller and reports true,
// or, if the caller has gone, counts the discarded result, recycles the record
// and reports false.
func (w *Writer) answer(it *item, err error) bool {
	count := w.m.failed.Inc
	if err == nil {
		w.m.accepted.Inc() // it is in the stream, whether or not its caller still waits
		count = func() {}
	}
	if it.finish(stInFlight, err, count) {
		return true
	}
	w.m.discarded.Inc()
	w.m.abandoned.Inc()
	putItem(it)
	return false
}

// retryLater hands an in-flight record back for another attempt, after a backoff
// when backoff is set. A record whose caller has gone is dropped instead, and
// one that could not be sent again before its caller's deadline is answered now
// with the reason of its last failure.
func (w *Writer) retryLater(b *batch, it *item, cause error, now time.Time, backoff bool) {
	it.lastErr = cause
	it.retryAt = now
	if backoff {
		it.attempt++
		it.retryAt = now.Add(w.backoff(it.attempt))
		if !it.deadline.IsZero() && !it.retryAt.Before(it.deadline) {
			w.answer(it, fmt.Errorf("kinesis: record not accepted before the caller's deadline: %w (last attempt: %w): %w",
				context.DeadlineExceeded, cause, relay.ErrUnavailable))
			return
		}
	}
	if !it.state.CompareAndSwap(stInFlight, stQueued) {
		w.m.discarded.Inc()
		w.m.abandoned.Inc()
		putItem(it)
		return
	}
	w.m.retried.Inc()
	b.retry = append(b.retry, it)
}

// backoff is the wait before attempt+1: exponential from RetryBase, capped at
// RetryMax, with full jitter so that throttled callers spread out.
func (w *Writer) backoff(attempt int) time.Duration {
	ceil := w.opts.RetryMax
	if shift := attempt - 1; shift < 32 {
		if d := w.opts.RetryBase << shift; d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

// Kinds of failure logged at most once a second each, with a count (see logLimit).
const (
	partialLog = iota
	unavailableLog
	invalidLog
	retryLog
	logKinds
)

func (w *Writer) logf(kind int, msg string, args ...any) {
	w.logs.warn(w.log, kind, msg, args...)
}
