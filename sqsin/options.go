package sqsin

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options. They are the defaults of relay.yaml's sqs: section as
// well (config.Default starts from DefaultOptions), so there is one value per
// setting.
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

// Options configures a Consumer, and with Region and Endpoint the client in front
// of it. It is the sqs: section of relay.yaml, so the yaml tags are part of the
// configuration contract. Zero values take the defaults above; durations that SQS
// counts in seconds are rounded up to whole seconds.
type Options struct {
	// QueueURL is the queue EventBridge delivers to. Required.
	QueueURL string `yaml:"queue_url"`
	// Region and Endpoint choose where the client sends its calls (see Region and
	// NewClient). The Consumer does not read them.
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
	// Workers is the number of concurrent long-polling receivers (default 4). Each
	// handles one receive at a time, so at most Workers*MaxMessages messages are in
	// flight.
	Workers int `yaml:"workers"`
	// MaxMessages is the number of messages asked for per receive, 1 to 10 (default
	// 10, the SQS maximum).
	MaxMessages int32 `yaml:"-"`
	// WaitTime is the long-polling wait per receive, up to 20s (0: the default,
	// 20s). Long polling keeps an idle consumer cheap: one request per worker per
	// WaitTime.
	WaitTime time.Duration `yaml:"wait_time"`
	// VisibilityTimeout overrides the queue's visibility timeout on receive; 0 keeps
	// the queue's setting. When set, HandleTimeout must be shorter, otherwise a
	// message could be delivered again while it is still being handled.
	VisibilityTimeout time.Duration `yaml:"visibility_timeout"`
	// HandleTimeout bounds the handling of one message (default 30s). Keep it below
	// the queue's visibility timeout.
	HandleTimeout time.Duration `yaml:"handle_timeout"`
	// RetryDelay, when positive, makes a message that was not deleted visible again
	// after this delay (ChangeMessageVisibilityBatch) instead of after the full
	// visibility timeout: transient failures retry sooner, and messages that can never
	// succeed reach the queue's dead-letter queue sooner.
	RetryDelay time.Duration `yaml:"retry_delay"`
	// DeleteInvalid deletes messages whose event can never succeed (invalid envelope,
	// record too large) instead of leaving them for the queue's redrive policy. Off by
	// default: without a dead-letter queue they would be lost without trace.
	DeleteInvalid bool `yaml:"delete_invalid"`
	// Registerer receives the consumer's metrics; nil registers nothing.
	Registerer prometheus.Registerer `yaml:"-"`
	// Logger receives the consumer's logs; nil means slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// DefaultOptions returns every setting at its default (no queue).
func DefaultOptions() Options {
	return Options{
		Workers:       DefaultWorkers,
		MaxMessages:   DefaultMaxMessages,
		WaitTime:      DefaultWaitTime,
		HandleTimeout: DefaultHandleTimeout,
	}
}

// SettingError is a setting with a bad value: Key is its dotted key as
// written in a configuration, Msg what is wrong and what is expected. The
// config package places it at its line in the file.
type SettingError struct {
	Key, Msg string
}

func (e *SettingError) Error() string { return e.Key + ": " + e.Msg }

// Problems checks every setting but the queue URL as written in a configuration
// (no defaults are filled in) and returns one *SettingError per bad key, each
// naming prefix.key (prefix is "sqs").
func (o Options) Problems(prefix string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &SettingError{Key: prefix + "." + key, Msg: fmt.Sprintf(format, args...)})
	}
	if o.Workers <= 0 {
		bad("workers", "must be positive, got %d", o.Workers)
	}
	if o.MaxMessages < 1 || o.MaxMessages > maxMessagesLimit {
		bad("max_messages", "must be 1..%d, got %d", maxMessagesLimit, o.MaxMessages)
	}
	if o.WaitTime < 0 || o.WaitTime > maxWaitTime {
		bad("wait_time", "must be between 0s and %s, got %s", maxWaitTime, o.WaitTime)
	}
	if o.VisibilityTimeout < 0 || o.VisibilityTimeout > maxVisibilityLimit {
		bad("visibility_timeout", "must be between 0s (the queue's) and %s, got %s", maxVisibilityLimit, o.VisibilityTimeout)
	}
	if o.HandleTimeout <= 0 {
		bad("handle_timeout", "must be positive, got %s", o.HandleTimeout)
	} else if o.VisibilityTimeout > 0 && o.HandleTimeout >= o.VisibilityTimeout {
		bad("handle_timeout", "must be shorter than %s.visibility_timeout (%s), else a message is delivered again while it is handled; got %s",
			prefix, o.VisibilityTimeout, o.HandleTimeout)
	}
	if o.RetryDelay < 0 || o.RetryDelay > maxVisibilityLimit {
		bad("retry_delay", "must be between 0s and %s, got %s", maxVisibilityLimit, o.RetryDelay)
	}
	return errs
}

// withDefaults returns a copy of o with defaults in place of zero values, or an
// error wrapping ErrOptions that names every invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.QueueURL == "" {
		return o, fmt.Errorf("%w: sqs.queue_url: is required", ErrOptions)
	}
	d := DefaultOptions()
	if o.Workers == 0 {
		o.Workers = d.Workers
	}
	if o.MaxMessages == 0 {
		o.MaxMessages = d.MaxMessages
	}
	if o.WaitTime == 0 {
		o.WaitTime = d.WaitTime
	}
	if o.HandleTimeout == 0 {
		o.HandleTimeout = d.HandleTimeout
	}
	if errs := o.Problems("sqs"); len(errs) > 0 {
		return o, fmt.Errorf("%w: %w", ErrOptions, errors.Join(errs...))
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
