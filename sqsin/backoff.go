package sqsin

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing, jittered delays between min and max. It is
// used by one goroutine at a time.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the delay before the next attempt: a random value in [d/2, d] where d
// doubles from min up to max, so that many workers failing together spread out.
func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	if d > b.max {
		d = b.max
	}
	b.attempt++
	half := d / 2
	return half + rand.N(half+1)
}

// reset starts again from min after a success.
func (b *backoff) reset() { b.attempt = 0 }

// sleep waits for d or until ctx ends; it reports whether the full delay elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
