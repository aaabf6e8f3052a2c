package logx

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// CountKey is the attribute that says how many occurrences a line stands for. A
// record may carry it already (a caller that limits its own lines counts what it
// held back); Limit adds those counts up.
const CountKey = "count"

// maxCauses bounds the causes Limit remembers. Messages are mostly constants, but
// the AWS SDK's are formatted; past the bound, idle causes are forgotten, and lines
// of new causes are written unlimited until some are.
const maxCauses = 1024

// Limit returns a handler that writes records below warn level through next
// unchanged, and of warnings and errors at most one line per cause and interval. A
// cause is a logger (as derived with With), a level and a message: during a long
// Kinesis outage every failed call warns with the same message, and one line per
// interval says as much as thousands.
//
// The first line of a cause is written at once. Later ones within the interval are
// held back; when the interval has passed, the latest of them is written with
// count: the number of occurrences since the previous line of that cause (a held
// record's own count attribute adds that many). No occurrence goes uncounted: the
// held line is written by a timer at the end of the interval, or by Flush.
func Limit(next slog.Handler, interval time.Duration) slog.Handler {
	return &limiter{next: next, s: &limitState{interval: interval, causes: map[causeKey]*cause{}}}
}

type limiter struct {
	next slog.Handler
	id   uint64 // the derived logger: each With call makes a cause of its own
	s    *limitState
}

type limitState struct {
	interval time.Duration
	ids      atomic.Uint64

	mu      sync.Mutex
	causes  map[causeKey]*cause
	flushed bool // Flush was called: write everything at once from now on
}

type causeKey struct {
	id    uint64
	level slog.Level
	msg   string
}

type cause struct {
	last    time.Time    // when the last line of the cause was written
	held    int64        // occurrences since, not yet written
	pending slog.Record  // the latest of them
	h       slog.Handler // the handler to write pending with
	timer   *time.Timer  // writes pending at last+interval
	gen     uint64       // which timer is current: a stopped one may still fire
}

func (l *limiter) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

func (l *limiter) WithAttrs(as []slog.Attr) slog.Handler {
	return &limiter{next: l.next.WithAttrs(as), id: l.s.ids.Add(1), s: l.s}
}

func (l *limiter) WithGroup(name string) slog.Handler {
	return &limiter{next: l.next.WithGroup(name), id: l.s.ids.Add(1), s: l.s}
}

func (l *limiter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return l.next.Handle(ctx, r)
	}
	s := l.s
	k := causeKey{l.id, r.Level, r.Message}
	now := time.Now()
	s.mu.Lock()
	c := s.causes[k]
	if c == nil {
		if s.flushed || !s.room(now) {
			s.mu.Unlock()
			return l.next.Handle(ctx, r)
		}
		c = &cause{last: now}
		s.causes[k] = c
		s.mu.Unlock()
		return l.next.Handle(ctx, r)
	}
	if s.flushed || now.Sub(c.last) >= s.interval {
		// The interval has passed: this line goes out now, standing for whatever was
		// held back too.
		total := c.held
		c.release()
		c.last = now
		s.mu.Unlock()
		if total > 0 {
			r = withCount(r, total+count(r))
		}
		return l.next.Handle(ctx, r)
	}
	c.held += count(r)
	c.pending = r.Clone()
	c.h = l.next
	if c.timer == nil {
		c.gen++
		gen := c.gen
		c.timer = time.AfterFunc(c.last.Add(s.interval).Sub(now), func() { s.flush(k, gen) })
	}
	s.mu.Unlock()
	return nil
}

// room makes room for a new cause, forgetting idle ones when the map is full; it
// reports whether there is room. s.mu is held.
func (s *limitState) room(now time.Time) bool {
	if len(s.causes) < maxCauses {
		return true
	}
	for k, c := range s.causes {
		if c.held == 0 && now.Sub(c.last) >= s.interval {
			delete(s.causes, k)
		}
	}
	return len(s.causes) < maxCauses
}

// release forgets what c holds; s.mu is held.
func (c *cause) release() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.held, c.pending, c.h = 0, slog.Record{}, nil
}

// flush writes the line held for k at the end of its interval, unless timer gen
// was stopped meanwhile.
func (s *limitState) flush(k causeKey, gen uint64) {
	s.mu.Lock()
	c := s.causes[k]
	if c == nil || c.gen != gen || c.timer == nil || c.held == 0 {
		s.mu.Unlock()
		return
	}
	r, total, h := c.pending, c.held, c.h
	c.timer = nil
	c.release()
	c.last = time.Now()
	s.mu.Unlock()
	_ = h.Handle(context.Background(), withCount(r, total))
}

// flushAll writes every held line and makes the handler write every later line
// at once.
func (s *limitState) flushAll() {
	type line struct {
		r     slog.Record
		total int64
		h     slog.Handler
	}
	var lines []line
	s.mu.Lock()
	s.flushed = true
	for _, c := range s.causes {
		if c.held > 0 {
			lines = append(lines, line{c.pending, c.held, c.h})
		}
		c.release()
	}
	s.mu.Unlock()
	for _, l := range lines {
		_ = l.h.Handle(context.Background(), withCount(l.r, l.total))
	}
}

// count is the number of occurrences r stands for: its count attribute, or 1.
func count(r slog.Record) int64 {
	n := int64(1)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != CountKey {
			return true
		}
		switch a.Value.Kind() {
		case slog.KindInt64:
			if v := a.Value.Int64(); v > 0 {
				n = v
			}
		case slog.KindUint64:
			if v := a.Value.Uint64(); v > 0 && v < 1<<62 {
				n = int64(v)
			}
		}
		return false
	})
	return n
}

// withCount returns a copy of r whose count attribute is n.
func withCount(r slog.Record, n int64) slog.Record {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != CountKey {
			out.AddAttrs(a)
		}
		return true
	})
	out.AddAttrs(slog.Int64(CountKey, n))
	return out
}
