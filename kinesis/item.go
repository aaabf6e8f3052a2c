package kinesis

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesys-relay/genesys-relay"
)

// Item states. Ownership of an item moves between the caller of Put and the
// writer through compare-and-swap on its state, so exactly one side decides its fate:
//
//	queued   -> inFlight  (batcher put it in a batch)
//	queued   -> finished  (writer answered it without sending: Close gave up, deadline)
//	queued   -> abandoned (caller stopped waiting; the writer drops it unsent)
//	inFlight -> queued    (Kinesis did not accept it; it waits for a retry)
//	inFlight -> finished  (writer answered it: accepted or failed)
//	inFlight -> abandoned (caller stopped waiting; the result is discarded)
//
// After finished the caller owns the item (it receives the answer on done); after
// abandoned the writer owns it.
const (
	stQueued uint32 = iota
	stInFlight
	stFinished
	stAbandoned
)

// item is one record on its way to Kinesis, shared by its Put call and the writer.
type item struct {
	rec      relay.Record
	cost     int       // bytes it counts against MaxBatchBytes
	deadline time.Time // the caller's deadline; zero when it has none
	enq      time.Time // when it became ready for a batch (linger starts here)
	retryAt  time.Time // when a failed record may be sent again
	attempt  int       // failed attempts so far
	lastErr  error     // why the last attempt failed
	solo     bool      // send alone, so that a rejection can be attributed to it
	state    atomic.Uint32
	done     chan error    // capacity 1; receives exactly one answer when finished
	waiting  *atomic.Int64 // the writer's count of callers without an answer
}

var itemPool = sync.Pool{New: func() any { return &item{done: make(chan error, 1)} }}

func getItem() *item { return itemPool.Get().(*item) }

// putItem recycles an item; only its current owner may call it, once.
func putItem(it *item) {
	it.rec = relay.Record{}
	it.cost, it.attempt, it.solo, it.lastErr, it.waiting = 0, 0, false, nil, nil
	it.deadline, it.enq, it.retryAt = time.Time{}, time.Time{}, time.Time{}
	it.state.Store(stQueued)
	itemPool.Put(it)
}

// abandon is called by a caller whose context ended. It reports true when the
// writer now owns the item (it will never be sent again, or its result is
// discarded) and false when the answer is already on its way on done.
func (it *item) abandon() bool {
	for {
		switch s := it.state.Load(); s {
		case stQueued, stInFlight:
			if it.state.CompareAndSwap(s, stAbandoned) {
				return true
			}
		default:
			return false
		}
	}
}

// finish answers the caller if it is still waiting, calling count first (so
// that metrics are up to date when the caller wakes). It reports false when the
// caller had abandoned the item, which then belongs to the writer.
func (it *item) finish(from uint32, err error, count func()) bool {
	if !it.state.CompareAndSwap(from, stFinished) {
		return false
	}
	it.waiting.Add(-1)
	count()
	it.done <- err
	return true
}

// fifo is a queue of items that reuses its backing array.
type fifo struct {
	items []*item
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(it *item) {
	if q.head > 0 && len(q.items) == cap(q.items) && q.head >= len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, it)
}

func (q *fifo) peek() *item {
	if q.head == len(q.items) {
		return nil
	}
	return q.items[q.head]
}

func (q *fifo) pop() *item {
	it := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	}
	return it
}

// retryHeap orders records waiting for a retry by the time they may be sent.
type retryHeap []*item

func (h retryHeap) len() int { return len(h) }

func (h *retryHeap) push(it *item) {
	*h = append(*h, it)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].retryAt.Before(s[p].retryAt) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *retryHeap) pop() *item {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].retryAt.Before(s[m].retryAt) {
			m = l
		}
		if r < len(s) && s[r].retryAt.Before(s[m].retryAt) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
