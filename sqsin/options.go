package sqsin

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultWorkers       = 4
	DefaultMaxMessages   = 10
	DefaultWaitTime      = 20 * time.Second
	DefaultHandleTimeout = 30 * time.Second
)

// SQS limits the options are checked against.
const (
	maxMessagesLimit   = 10
	maxWaitTime        = 20 * time.Second
	maxVisibilityLimit = 12 * time.Hour
)

// ErrOptions is wrapped by every error New returns for invalid Options, so callers
// can tell a configuration mistake from anything else.
var ErrOptions = errors.New("invalid sqs options")

// Options configures a Consumer. Zero values take the defaults above; durations that
// SQS counts in seconds are rounded up to whole seconds.
type Options struct {
	// QueueURL is the queue EventBridge delivers to. Required.
	QueueURL string
	// Workers is the number of concurrent long-polling receivers (default 4). Each
	// handles one receive at a time, so at most Workers*MaxMessages messages are in
	// flight.
	Workers int
	// MaxMessages is the number of messages asked for per receive, 1 to 10 (default
	// 10, the SQS maximum).
	MaxMessages int32
	// WaitTime is the long-polling wait per receive, 1s to 20s (default 20s). Long
	// polling keeps an idle consumer cheap: one request per worker per WaitTime.
	WaitTime time.Duration
	// VisibilityTimeout overrides the queue's visibility timeout on receive; 0 keeps
	// the queue's setting. When set, HandleTimeout must be shorter, otherwise a
	// message could be delivered again while it is still being handled.
	VisibilityTimeout time.Duration
	// HandleTimeout bounds the handling of one message (default 30s). Keep it below
	// the queue's visibility timeout.
	HandleTimeout time.Duration
	// RetryDelay, when positive, makes a message that was not deleted visible again
	// after this delay (ChangeMessageVisibilityBatch) instead of after the full
	// visibility timeout: transient failures retry sooner, and messages that can never
	// succeed reach the queue's dead-letter queue sooner.
	RetryDelay time.Duration
	// DeleteInvalid deletes messages whose event can never succeed (invalid envelope,
	// record too large) instead of leaving them for the queue's redrive policy. Off by
	// default: without a dead-letter queue they would be lost without trace.
	DeleteInvalid bool
	// Registerer receives the consumer's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives the consumer's logs; nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns a copy of o with defaults applied, or an error naming the
// first invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.QueueURL == "" {
		return o, fmt.Errorf("%w: queue URL is required", ErrOptions)
	}
	if o.Workers < 0 {
		return o, fmt.Errorf("%w: workers must be positive, got %d", ErrOptions, o.Workers)
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.MaxMessages == 0 {
		o.MaxMessages = DefaultMaxMessages
	}
	if o.MaxMessages < 1 || o.MaxMessages > maxMessagesLimit {
		return o, fmt.Errorf("%w: max messages must be between 1 and %d, got %d", ErrOptions, maxMessagesLimit, o.MaxMessages)
	}
	if o.WaitTime == 0 {
		o.WaitTime = DefaultWaitTime
	}
	if o.WaitTime < 0 || o.WaitTime > maxWaitTime {
		return o, fmt.Errorf("%w: wait time must be between 1s and %s, got %s", ErrOptions, maxWaitTime, o.WaitTime)
	}
	if o.VisibilityTimeout < 0 || o.VisibilityTimeout > maxVisibilityLimit {
		return o, fmt.Errorf("%w: visibility timeout must be between 0 and %s, got %s", ErrOptions, maxVisibilityLimit, o.VisibilityTimeout)
	}
	if o.HandleTimeout == 0 {
		o.HandleTimeout = DefaultHandleTimeout
	}
	if o.HandleTimeout < 0 {
		return o, fmt.Errorf("%w: handle timeout must be positive, got %s", ErrOptions, o.HandleTimeout)
	}
	if o.VisibilityTimeout > 0 && o.HandleTimeout >= o.VisibilityTimeout {
		return o, fmt.Errorf("%w: handle timeout %s must be shorter than the visibility timeout %s", ErrOptions, o.HandleTimeout, o.VisibilityTimeout)
	}
	if o.RetryDelay < 0 || o.RetryDelay > maxVisibilityLimit {
		return o, fmt.Errorf("%w: retry delay must be between 0 and %s, got %s", ErrOptions, maxVisibilityLimit, o.RetryDelay)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// seconds rounds d up to whole seconds, the unit of every SQS duration.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}
