package kinesis

import (
	"sync"
	"testing"
	"testing/synctest"
)

// inBubble runs f as a synctest test: on a fake clock that moves only when
// every goroutine of the test is blocked, so that a test of the linger, a
// backoff or a deadline sees exactly the times the writer chose, however
// loaded the machine (a descheduled caller cannot make a batch miss it).
//
// The record pool is emptied before and after: a pooled item's channel belongs
// to the bubble that made it, and using it from outside that bubble is fatal.
// Tests of this package do not run in parallel, so nothing else uses the pool
// meanwhile.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	emptyItemPool()
	defer emptyItemPool()
	synctest.Test(t, f)
}

// bubble is inBubble for t.Run.
func bubble(f func(t *testing.T)) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		inBubble(t, f)
	}
}

func emptyItemPool() { itemPool = sync.Pool{New: itemPool.New} }
