package kinesis

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay"
)

// batch is one PutRecords call: the records it carries and the request built
// from them. Batches are recycled, so their slices are reused.
type batch struct {
	items    []*item
	bytes    int       // sum of item costs
	deadline time.Time // when the call must end

	// Entry i of the request carries items[spans[i].lo:spans[i].hi]: one item,
	// or several when aggregated.
	input   kinesis.PutRecordsInput
	entries []types.PutRecordsRequestEntry
	spans   []span
	agg     aggregator

	retry []*item // records of this call to send again
}

type span struct{ lo, hi int }

func (w *Writer) getBatch() *batch { return w.batchPool.Get().(*batch) }

func (w *Writer) putBatch(b *batch) {
	clear(b.items)
	clear(b.entries)
	clear(b.retry)
	b.items, b.entries, b.spans, b.retry = b.items[:0], b.entries[:0], b.spans[:0], b.retry[:0]
	b.bytes, b.deadline = 0, time.Time{}
	b.input = kinesis.PutRecordsInput{}
	b.agg.reset()
	w.batchPool.Put(b)
}

// run is the batcher: the only goroutine that forms batches. It sends a batch
// when a call slot is free and the pending records fill a batch, the oldest has
// lingered long enough, or Close has begun. It returns once Close has begun and
// nothing is pending, waiting for a retry, or in flight.
func (w *Writer) run() {
	defer close(w.batcherDone)
	defer close(w.batches)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		w.mu.Lock()
		now := time.Now()
		if w.aborted {
			w.answerAllLocked(ErrClosed)
		}
		for w.retries.len() > 0 && !w.retries[0].retryAt.After(now) {
			it := w.retries.pop()
			it.enq = now
			w.ready.push(it)
			w.pendingBytes += it.cost
		}
		for w.inFlight < w.opts.MaxInFlight && w.sendableLocked(now) {
			b := w.takeLocked(now)
			if b == nil {
				break
			}
			w.inFlight++
			w.batches <- b // never blocks: fewer than MaxInFlight batches are out
		}
		pending := w.queue.len() + w.ready.len()
		if w.closed && pending == 0 && w.retries.len() == 0 && w.inFlight == 0 {
			w.mu.Unlock()
			w.m.queued.Set(0)
			w.m.inFlight.Set(0)
			return
		}
		var next time.Time
		switch {
		case w.inFlight >= w.opts.MaxInFlight:
			// A finishing call wakes us; until then records pile up into bigger batches.
			w.wakeCount, w.wakeBytes = math.MaxInt, math.MaxInt
		case pending == 0:
			w.wakeCount, w.wakeBytes = 1, math.MaxInt
		default:
			w.wakeCount, w.wakeBytes = w.flushAtLocked(), w.opts.MaxBatchBytes
			next = w.oldestLocked().Add(w.opts.Linger)
		}
		if w.retries.len() > 0 {
			if r := w.retries[0].retryAt; next.IsZero() || r.Before(next) {
				next = r
			}
		}
		w.m.queued.Set(float64(pending + w.retries.len()))
		w.m.inFlight.Set(float64(w.inFlight))
		w.mu.Unlock()

		if !next.IsZero() {
			timer.Reset(max(next.Sub(now), 0))
		}
		select {
		case <-w.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// sendableLocked reports whether pending records should go out now.
func (w *Writer) sendableLocked(now time.Time) bool {
	n := w.queue.len() + w.ready.len()
	switch {
	case n == 0:
		return false
	case w.closed, n >= w.flushAtLocked(), w.pendingBytes >= w.opts.MaxBatchBytes:
		return true
	}
	return !now.Before(w.oldestLocked().Add(w.opts.Linger))
}

// oldestLocked is when the longest-waiting pending record became ready.
func (w *Writer) oldestLocked() time.Time {
	q, r := w.queue.peek(), w.ready.peek()
	switch {
	case q == nil:
		return r.enq
	case r == nil || q.enq.Before(r.enq):
		return q.enq
	}
	return r.enq
}

// nextLocked removes the next pending record: retried ones first, they have
// waited longest.
func (w *Writer) nextLocked() *item {
	var it *item
	if w.ready.len() > 0 {
		it = w.ready.pop()
	} else {
		it = w.queue.pop()
	}
	w.pendingBytes -= it.cost
	return it
}

func (w *Writer) peekLocked() *item {
	if it := w.ready.peek(); it != nil {
		return it
	}
	return w.queue.peek()
}

// takeLocked forms one batch from the pending records, skipping those whose
// caller has gone. It returns nil when no live record was pending.
func (w *Writer) takeLocked(now time.Time) *batch {
	b := w.getBatch()
	latest, unbounded := time.Time{}, false
	for {
		it := w.peekLocked()
		if it == nil {
			break
		}
		if len(b.items) > 0 && (it.solo || len(b.items) >= w.opts.MaxBatchRecords || b.bytes+it.cost > w.opts.MaxBatchBytes) {
			break
		}
		w.nextLocked()
		if !it.deadline.IsZero() && !now.Before(it.deadline) {
			// The caller's deadline passed before its record could be sent.
			if !it.finish(stQueued, fmt.Errorf("kinesis: record not sent before the caller's deadline: %w: %w", context.DeadlineExceeded, relay.ErrUnavailable), w.m.failed.Inc) {
				w.dropAbandoned(it)
			}
			continue
		}
		if !it.state.CompareAndSwap(stQueued, stInFlight) {
			w.dropAbandoned(it)
			continue
		}
		if it.lastErr != nil {
			// Sent before and refused or lost: this call sends it again. Counted
			// here, when the call is made; whether the call then reaches Kinesis
			// before its deadline, the writer cannot know.
			w.m.retries.Inc()
		}
		b.items = append(b.items, it)
		b.bytes += it.cost
		if it.deadline.IsZero() {
			unbounded = true
		} else if it.deadline.After(latest) {
			latest = it.deadline
		}
		if it.solo {
			break
		}
	}
	if len(b.items) == 0 {
		w.putBatch(b)
		return nil
	}
	b.deadline = now.Add(w.opts.CallTimeout)
	if !unbounded && latest.Before(b.deadline) {
		b.deadline = latest
	}
	return b
}

// dropAbandoned forgets a record whose caller stopped waiting before it was sent.
func (w *Writer) dropAbandoned(it *item) {
	w.m.abandoned.Inc()
	putItem(it)
}

// answerAllLocked answers every record that is not in flight with err.
func (w *Writer) answerAllLocked(err error) {
	answer := func(it *item) {
		if !it.finish(stQueued, err, w.countUnsent) {
			w.dropAbandoned(it)
		}
	}
	for w.queue.len()+w.ready.len() > 0 {
		answer(w.nextLocked())
	}
	for w.retries.len() > 0 {
		answer(w.retries.pop())
	}
}

// countUnsent counts a record answered with ErrClosed; w.mu is held.
func (w *Writer) countUnsent() {
	w.m.failed.Inc()
	w.unsent++
}

// buildInput fills the request from the batch's records.
func (w *Writer) buildInput(b *batch) {
	if w.opts.Aggregate && len(b.items) > 1 {
		b.agg.build(b, w.opts.MaxRecordBytes)
	} else {
		for i, it := range b.items {
			b.entries = append(b.entries, entry(it))
			b.spans = append(b.spans, span{i, i + 1})
		}
	}
	b.input = kinesis.PutRecordsInput{
		Records:    b.entries,
		StreamName: w.streamName,
		StreamARN:  w.streamARN,
	}
}

// entry is the request entry of one plain record. It points into the item,
// which stays alive until the call has returned, so building it allocates nothing.
func entry(it *item) types.PutRecordsRequestEntry {
	e := types.PutRecordsRequestEntry{Data: it.rec.Data, PartitionKey: &it.rec.PartitionKey}
	if it.rec.ExplicitHashKey != "" {
		e.ExplicitHashKey = &it.rec.ExplicitHashKey
	}
	return e
}
