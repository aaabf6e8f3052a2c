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
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
)

// PutRecordsAPI is the one SDK method the Writer needs; *kinesis.Client satisfies
// it, and tests replace it with a fake.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Defaults of Options; the limits are those of a Kinesis stream with default
// settings.
const (
	DefaultMaxBatchRecords = 500
	DefaultMaxBatchBytes   = 5 << 20
	DefaultMaxRecordBytes  = 1 << 20
	DefaultLinger          = 10 * time.Millisecond
	DefaultMaxInFlight     = 16
	DefaultQueueSize       = 10000
	DefaultRetryBase       = 50 * time.Millisecond
	DefaultRetryMax        = 2 * time.Second
	DefaultCallTimeout     = 10 * time.Second
)

// Options configure a Writer. Zero values take the defaults above.
type Options struct {
	// Stream is the stream name, or its ARN (for cross-account streams).
	Stream string
	// MaxBatchRecords caps records per PutRecords call (Kinesis allows 500).
	MaxBatchRecords int
	// MaxBatchBytes caps data plus partition key bytes per call (5 MiB; streams
	// created since 2025 may accept 10 MiB).
	MaxBatchBytes int
	// MaxRecordBytes is the stream's maximum record size (data plus partition
	// key). A larger record fails at Put with relay.ErrPermanent.
	MaxRecordBytes int
	// Linger is how long a partial batch waits for more records.
	Linger time.Duration
	// EagerFlush sends a partial batch before the linger has passed when every
	// caller seen waiting at once in the last second or two is waiting in it,
	// so that it is unlikely to grow: callers that send one record and wait for
	// its answer (the HTTP input, as EventBridge sends) then share one call
	// without waiting for the linger. A lone record still waits for the linger.
	EagerFlush bool
	// MaxInFlight caps concurrent PutRecords calls. While every call is busy,
	// records accumulate into larger batches.
	MaxInFlight int
	// QueueSize caps the records waiting for a batch. When it is full, Put fails
	// at once with relay.ErrOverloaded rather than holding unbounded memory.
	QueueSize int
	// RetryBase and RetryMax bound the exponential backoff (with full jitter)
	// between attempts of a record.
	RetryBase, RetryMax time.Duration
	// CallTimeout bounds one PutRecords call; a call also ends at the latest
	// deadline of the callers whose records it carries.
	CallTimeout time.Duration
	// Aggregate packs records sharing a partition key into one Kinesis record in
	// the Kinesis Producer Library format (consumers must deaggregate).
	Aggregate bool
	// Registerer receives the writer's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger receives call failures; nil discards them.
	Logger *slog.Logger
}

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// withDefaults fills zero values and checks the rest. Errors name the
// configuration key, because operators see them at start-up.
func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxBatchRecords, DefaultMaxBatchRecords)
	def(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&o.MaxRecordBytes, DefaultMaxRecordBytes)
	def(&o.MaxInFlight, DefaultMaxInFlight)
	def(&o.QueueSize, DefaultQueueSize)
	defDur(&o.Linger, DefaultLinger)
	defDur(&o.RetryBase, DefaultRetryBase)
	defDur(&o.RetryMax, DefaultRetryMax)
	defDur(&o.CallTimeout, DefaultCallTimeout)

	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kinesis.%s: "+format, append([]any{key}, args...)...))
	}
	switch {
	case o.Stream == "":
		bad("stream", "is required")
	case strings.HasPrefix(o.Stream, "arn:"):
		if !strings.Contains(o.Stream, ":stream/") {
			bad("stream", "%q is not a Kinesis stream ARN", o.Stream)
		}
	case !streamNameRE.MatchString(o.Stream):
		bad("stream", "%q is not a valid stream name (1-128 of a-z A-Z 0-9 _ . -)", o.Stream)
	}
	if o.MaxBatchRecords < 1 || o.MaxBatchRecords > 500 {
		bad("max_batch_records", "must be between 1 and 500, got %d", o.MaxBatchRecords)
	}
	if o.MaxBatchBytes < 1 {
		bad("max_batch_bytes", "must be positive, got %d", o.MaxBatchBytes)
	}
	if o.MaxRecordBytes < 1 || o.MaxRecordBytes > o.MaxBatchBytes {
		bad("max_record_bytes", "must be between 1 and max_batch_bytes (%d), got %d", o.MaxBatchBytes, o.MaxRecordBytes)
	}
	if o.Linger < 0 {
		bad("linger", "must not be negative, got %s", o.Linger)
	}
	if o.MaxInFlight < 1 {
		bad("max_in_flight", "must be positive, got %d", o.MaxInFlight)
	}
	if o.QueueSize < 1 {
		bad("queue_size", "must be positive, got %d", o.QueueSize)
	}
	if o.RetryBase < 0 || o.RetryMax < o.RetryBase {
		bad("retry", "need 0 <= base <= max, got base %s max %s", o.RetryBase, o.RetryMax)
	}
	if o.CallTimeout < 0 {
		bad("call_timeout", "must not be negative, got %s", o.CallTimeout)
	}
	return o, errors.Join(errs...)
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
	waiting     atomic.Int64           // callers whose record is queued, in flight or retried, not yet answered
	loggedAt    [logKinds]atomic.Int64 // unix nanoseconds of the last line per kind

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
	if rec.ExplicitHashKey != "" && !relay.ValidExplicitHashKey(rec.ExplicitHashKey) {
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
