// Package kinesis writes relay records to an Amazon Kinesis data stream.
//
// A Writer collects records from many concurrent callers into PutRecords calls,
// retries only the records Kinesis did not accept, and answers each caller only
// when its record is in the stream, has failed for good, or the caller stopped
// waiting. That end-to-end acknowledgement is what lets an input answer 200 or
// delete an SQS message without losing an event, while batching keeps the number
// of calls (and the bill) low.
package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/genesys-relay/genesys-relay"
)

// PutRecordsAPI is the one SDK method the Writer needs; *kinesis.Client satisfies
// it, and tests replace it with a fake.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// ErrClosed is returned by Put once Close has begun, and to callers whose records
// were still unwritten when Close gave up. It wraps relay.ErrUnavailable: another
// replica can take the event.
var ErrClosed = fmt.Errorf("kinesis writer closed: %w", relay.ErrUnavailable)

// Writer is a relay.Sink that writes to one Kinesis stream. It is safe for
// concurrent use; its goroutines (one batcher and MaxInFlight senders) run from
// NewWriter until Close returns.
type Writer struct {
	api  PutRecordsAPI
	opts Options
	m    *metrics
	log  *slog.Logger

	streamName, streamARN *string

	ctx    context.Context // parent of every call; cancelled when Close gives up
	cancel context.CancelFunc

	wake        chan struct{} // capacity 1: something changed that the batcher must see
	batches     chan *batch   // batcher -> senders; capacity MaxInFlight, so never full
	batcherDone chan struct{}
	senders     sync.WaitGroup
	batchPool   sync.Pool
	waiting     atomic.Int64 // callers whose record is queued, in flight or retried, not yet answered
	logs        logLimit

	mu           sync.Mutex
	queue        fifo      // new records in arrival order; len is capped by QueueSize
	ready        fifo      // retried records whose backoff has passed; sent first
	retries      retryHeap // retried records waiting for their backoff
	pendingBytes int       // cost of queue and ready
	inFlight     int       // calls handed to senders and not yet finished
	peak         [2]int    // most callers waiting at once in this and the previous peakPeriod
	peakSince    time.Time // start of this peakPeriod
	closed       bool      // Close has begun: refuse new records, skip linger
	aborted      bool      // Close gave up: answer everything left with ErrClosed
	wakeCount    int       // Put wakes the batcher when pending records reach this
	wakeBytes    int       // ... or pending bytes reach this
	unsent       int       // records answered with ErrClosed after Close gave up
}

var _ relay.Sink = (*Writer)(nil)

// NewWriter checks opts and starts the writer's goroutines; Close stops them.
func NewWriter(api PutRecordsAPI, opts Options) (*Writer, error) {
	if api == nil {
		return nil, errors.New("kinesis: NewWriter needs a PutRecords client")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		api:         api,
		opts:        opts,
		m:           m,
		log:         log.With("stream", opts.Stream),
		wake:        make(chan struct{}, 1),
		batches:     make(chan *batch, opts.MaxInFlight),
		batcherDone: make(chan struct{}),
		wakeCount:   1,
		wakeBytes:   math.MaxInt,
	}
	if strings.HasPrefix(opts.Stream, "arn:") {
		w.streamARN = &w.opts.Stream
	} else {
		w.streamName = &w.opts.Stream
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.batchPool.New = func() any { return new(batch) }
	w.senders.Add(opts.MaxInFlight)
	for range opts.MaxInFlight {
		go w.sender()
	}
	go w.run()
	return w, nil
}

// Put queues rec for the next batch and waits for its outcome: nil once Kinesis
// accepted it; an error wrapping relay.ErrPermanent when it can never be written;
// relay.ErrOverloaded when the queue is full; relay.ErrUnavailable (with ctx.Err())
// when ctx ended first or the stream cannot take records now.
//
// The writer may still read rec.Data after Put returned because ctx ended while
// the record was in flight, so callers must not reuse that memory.
func (w *Writer) Put(ctx context.Context, rec relay.Record) error {
	cost, err := w.check(rec)
	if err != nil {
		w.m.failed.Inc()
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kinesis: %w: %w", err, relay.ErrUnavailable)
	}
	it := getItem()
	it.rec, it.cost, it.waiting = rec, cost, &w.waiting
	it.deadline, _ = ctx.Deadline()
	now := time.Now()

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		putItem(it)
		return ErrClosed
	}
	if w.queue.len() >= w.opts.QueueSize {
		w.mu.Unlock()
		putItem(it)
		w.m.overloaded.Inc()
		return fmt.Errorf("kinesis: %d records already waiting for a batch: %w", w.opts.QueueSize, relay.ErrOverloaded)
	}
	it.enq = now
	w.queue.push(it)
	w.pendingBytes += cost
	w.notePeakLocked(now, int(w.waiting.Add(1)))
	kick := w.queue.len()+w.ready.len() >= w.wakeCount || w.pendingBytes >= w.wakeBytes
	if kick {
		w.wakeCount, w.wakeBytes = math.MaxInt, math.MaxInt
	}
	w.mu.Unlock()
	if kick {
		w.kick()
	}

	select {
	case err := <-it.done:
		putItem(it)
		return err
	case <-ctx.Done():
		if it.abandon() {
			w.waiting.Add(-1)
			return fmt.Errorf("kinesis: record not accepted before the caller gave up: %w: %w", ctx.Err(), relay.ErrUnavailable)
		}
		err := <-it.done
		putItem(it)
		return err
	}
}

// check refuses records Kinesis would reject whatever we do, and returns the
// bytes the record counts against MaxBatchBytes.
func (w *Writer) check(rec relay.Record) (int, error) {
	size := rec.Size()
	if size > w.opts.MaxRecordBytes {
		return 0, fmt.Errorf("kinesis: record of %d bytes (data and partition key) exceeds the stream's maximum record size of %d bytes: %w",
			size, w.opts.MaxRecordBytes, relay.ErrPermanent)
	}
	if n := utf8.RuneCountInString(rec.PartitionKey); n < 1 || n > 256 {
		return 0, fmt.Errorf("kinesis: partition key must have 1 to 256 characters, got %d: %w", n, relay.ErrPermanent)
	}
	if !validHashKey(rec.ExplicitHashKey) {
		return 0, fmt.Errorf("kinesis: explicit hash key %q is not a decimal number below 2^128: %w", rec.ExplicitHashKey, relay.ErrPermanent)
	}
	cost := size
	if w.opts.Aggregate {
		cost = aggregateCost(rec)
		if cost > w.opts.MaxBatchBytes {
			cost = w.opts.MaxBatchBytes // such a record is sent alone, unaggregated
		}
	}
	return cost, nil
}

// validHashKey reports whether k is empty or a decimal 128-bit unsigned integer
// without leading zeros, as Kinesis requires.
func validHashKey(k string) bool {
	if k == "" || k == "0" {
		return true
	}
	const maxKey = "340282366920938463463374607431768211455" // 2^128 - 1
	if len(k) > len(maxKey) || k[0] == '0' {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return len(k) < len(maxKey) || k <= maxKey
}

// Close stops accepting records, sends everything queued (without waiting for
// the linger), in flight or waiting for a retry, and returns when all callers
// have their answer. If ctx ends first, calls in progress are cancelled, the
// remaining callers get ErrClosed, and Close returns an error.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.kick()

	var err error
	select {
	case <-w.batcherDone:
	case <-ctx.Done():
		w.mu.Lock()
		w.aborted = true
		w.mu.Unlock()
		w.cancel()
		w.kick()
		<-w.batcherDone
		w.mu.Lock()
		unsent := w.unsent
		w.mu.Unlock()
		err = fmt.Errorf("kinesis: close: %d records not written: %w", unsent, ctx.Err())
	}
	w.senders.Wait()
	w.cancel()
	w.logs.flush(w.log)
	return err
}

// peakPeriod is how long the most callers seen waiting at once is remembered.
const peakPeriod = time.Second

// notePeakLocked notes that waiting callers wait for an answer now.
func (w *Writer) notePeakLocked(now time.Time, waiting int) {
	if now.Sub(w.peakSince) >= peakPeriod {
		w.peak[1], w.peak[0], w.peakSince = w.peak[0], 0, now
	}
	w.peak[0] = max(w.peak[0], waiting)
}

// flushAtLocked is the number of pending records at which a batch goes out
// without waiting for the linger: a full batch, or with EagerFlush as many as
// the callers seen waiting at once lately (at least two).
func (w *Writer) flushAtLocked() int {
	if !w.opts.EagerFlush {
		return w.opts.MaxBatchRecords
	}
	return min(max(2, w.peak[0], w.peak[1]), w.opts.MaxBatchRecords)
}

// kick wakes the batcher without blocking.
func (w *Writer) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
