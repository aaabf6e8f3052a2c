package testx

import (
	"testing"
	"time"
)

// maxPause is the longest pause between two polls: a long wait costs little CPU
// on a loaded machine, and ends within this much of its condition holding.
const maxPause = 50 * time.Millisecond

// Eventually polls cond until it holds and reports whether it did before
// timeout passed; cond is checked once more after the deadline, so a condition
// that holds by then counts. The pause between polls starts at a millisecond
// and doubles up to 50 ms: a short wait ends quickly, a long one stays cheap.
// cond runs on the calling goroutine, so it may call t.Fatal. In a
// testing/synctest bubble the pauses are on the bubble's clock.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
	}
	return true
}

// WaitFor is Eventually that fails the test when cond does not hold within
// timeout; what names the awaited state in the message. Timeouts are generous
// (tens of seconds or more): a loaded machine is slow, and a wait that ends as
// soon as its condition holds costs nothing when it is not.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Eventually(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
