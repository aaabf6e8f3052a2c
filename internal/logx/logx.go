// Package logx builds the relay's logger: JSON lines (log/slog) on stderr, with
// durations written as Go durations ("20s", not 20000000000), warnings and errors
// limited to one line per cause per interval (see Limit), and an adapter that sends
// the AWS SDK's own log lines through the same logger instead of the SDK's plain
// text on stderr.
package logx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/smithy-go/logging"
)

// DefaultInterval is how often one cause of warnings or errors is written at most
// (see Limit).
const DefaultInterval = 10 * time.Second

// Options configure New.
type Options struct {
	// Level is the least level written (default info).
	Level slog.Leveler
	// Interval is Limit's interval: 0 means DefaultInterval, negative writes every
	// line.
	Interval time.Duration
}

// New returns a JSON logger writing to w. Call Flush (or FlushAll) before the
// process exits, so that warnings held back by the limit are written with their
// counts.
func New(w io.Writer, o Options) *slog.Logger {
	h := slog.Handler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.Level, ReplaceAttr: ReplaceAttr}))
	if o.Interval >= 0 {
		interval := o.Interval
		if interval == 0 {
			interval = DefaultInterval
		}
		lim := Limit(h, interval).(*limiter)
		created.mu.Lock()
		created.states = append(created.states, lim.s)
		created.mu.Unlock()
		h = lim
	}
	return slog.New(h)
}

// created are the limits of the loggers New made, for FlushAll.
var created struct {
	mu     sync.Mutex
	states []*limitState
}

// FlushAll flushes every logger New made; the command calls it before it exits.
func FlushAll() {
	created.mu.Lock()
	states := created.states
	created.states = nil
	created.mu.Unlock()
	for _, s := range states {
		s.flushAll()
	}
}

// ReplaceAttr writes time.Duration values as their String form ("1.5s", "250ms"),
// which is how they are written in relay.yaml, instead of integer nanoseconds.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// Flush writes what l's handler holds back (see Limit) and makes it write every
// later line at once. It does nothing for other handlers.
func Flush(l *slog.Logger) {
	if lim, ok := l.Handler().(*limiter); ok {
		lim.s.flushAll()
	}
}

// AWS returns a logger for the AWS SDK (aws.Config.Logger, config.WithLogger)
// that writes the SDK's lines through l: warnings at warn level, the SDK's debug
// output (only produced with ClientLogMode) at debug level.
func AWS(l *slog.Logger) logging.Logger { return awsLogger{l: l, ctx: context.Background()} }

type awsLogger struct {
	l   *slog.Logger
	ctx context.Context
}

var _ logging.ContextLogger = awsLogger{}

func (a awsLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	if !a.l.Enabled(a.ctx, level) {
		return
	}
	a.l.Log(a.ctx, level, "aws sdk: "+fmt.Sprintf(format, v...), "source", "aws-sdk")
}

func (a awsLogger) WithContext(ctx context.Context) logging.Logger {
	return awsLogger{l: a.l, ctx: ctx}
}
