package kinesis

import (
	"log/slog"
	"sync"
	"time"
)

// logInterval is how often the writer writes one kind of failure at most: a failing
// stream fails every call, and one line a second says as much as a thousand.
const logInterval = time.Second

// logLimit writes at most one line per kind of failure and logInterval. Each line
// carries count: the occurrences since the previous line of its kind, itself
// included; what is held back when the writer closes is written then, so every
// failure is counted in some line.
type logLimit struct {
	mu    sync.Mutex
	kinds [logKinds]struct {
		at   time.Time // when the last line of this kind was written
		held int64     // occurrences since, not yet written
		msg  string    // the latest of them
		args []any
	}
}

func (l *logLimit) warn(log *slog.Logger, kind int, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	k := &l.kinds[kind]
	k.held++
	if !k.at.IsZero() && now.Sub(k.at) < logInterval {
		k.msg, k.args = msg, args
		l.mu.Unlock()
		return
	}
	n := k.held
	k.at, k.held, k.msg, k.args = now, 0, "", nil
	l.mu.Unlock()
	log.Warn(msg, append(args, "count", n)...)
}

// flush writes the lines held back.
func (l *logLimit) flush(log *slog.Logger) {
	for kind := range logKinds {
		l.mu.Lock()
		k := &l.kinds[kind]
		n, msg, args := k.held, k.msg, k.args
		k.held, k.msg, k.args = 0, "", nil
		l.mu.Unlock()
		if n > 0 {
			log.Warn(msg, append(args, "count", n)...)
		}
	}
}
