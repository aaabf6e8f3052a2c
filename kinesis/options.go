package kinesis

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options; the limits are those of a Kinesis stream with default
// settings. They are the defaults of relay.yaml's kinesis: section as well
// (config.Default starts from DefaultOptions), so there is one value per setting.
const (
	DefaultMaxBatchRecords = 500
	DefaultMaxBatchBytes   = 5 << 20
	DefaultMaxRecordBytes  = 1 << 20
	DefaultLinger          = 10 * time.Millisecond
	DefaultMaxInFlight     = 16
	DefaultQueueSize       = 10000
	DefaultRetryBase       = 50 * time.Millisecond
	// DefaultRetryMax caps one backoff: a caller that waits at most a few
	// seconds (EventBridge gives up after 5 s) gets several attempts.
	DefaultRetryMax = 1 * time.Second
	// DefaultCallTimeout is below the HTTP input's default request timeout
	// (4 s), so a hung call is abandoned while its callers can still be
	// answered; a call also ends at the latest deadline of its callers.
	DefaultCallTimeout = 3 * time.Second
	// DefaultClient is the PutRecords client serve builds.
	DefaultClient = "direct"
)

// Options configure a Writer, and with Region, Endpoint, Client and
// SkipStreamCheck the client in front of it. It is the kinesis: section of
// relay.yaml (and of each entry of outputs:), so the yaml tags are part of the
// configuration contract. Zero values of the Writer's settings take the
// defaults above.
type Options struct {
	// Stream is the stream name, or its ARN (for cross-account streams).
	Stream string `yaml:"stream"`
	// Region and Endpoint choose where the client sends its calls ("": the AWS
	// SDK's default chain). The Writer does not read them.
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
	// MaxBatchRecords caps records per PutRecords call (Kinesis allows 500).
	MaxBatchRecords int `yaml:"max_batch_records"`
	// MaxBatchBytes caps data plus partition key bytes per call (5 MiB; streams
	// created since 2025 may accept 10 MiB).
	MaxBatchBytes int `yaml:"max_batch_bytes"`
	// MaxRecordBytes is the stream's maximum record size (data plus partition
	// key). A larger record fails at Put with relay.ErrPermanent.
	MaxRecordBytes int `yaml:"max_record_bytes"`
	// Linger is how long a partial batch waits for more records.
	Linger time.Duration `yaml:"linger"`
	// MaxInFlight caps concurrent PutRecords calls. While every call is busy,
	// records accumulate into larger batches.
	MaxInFlight int `yaml:"max_in_flight"`
	// QueueSize caps the records waiting for a batch. When it is full, Put fails
	// at once with relay.ErrOverloaded rather than holding unbounded memory.
	QueueSize int `yaml:"queue_size"`
	// CallTimeout bounds one PutRecords call; a call also ends at the latest
	// deadline of the callers whose records it carries.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// RetryBase and RetryMax bound the exponential backoff (with full jitter)
	// between attempts of a record.
	RetryBase time.Duration `yaml:"retry_base"`
	RetryMax  time.Duration `yaml:"retry_max"`
	// Aggregate packs records sharing a partition key into one Kinesis record in
	// the Kinesis Producer Library format (consumers must deaggregate).
	Aggregate bool `yaml:"aggregate"`
	// Client is the PutRecords client serve builds: "direct" (Direct,
	// hand-written, less than half the SDK's CPU per record) or "sdk" (the AWS
	// SDK's client, the way back should the direct one misbehave somewhere).
	// The Writer does not read it.
	Client string `yaml:"client"`
	// SkipStreamCheck skips DescribeStreamSummary at start-up (for endpoints
	// that do not implement it). The Writer does not read it.
	SkipStreamCheck bool `yaml:"skip_stream_check"`

	// EagerFlush sends a partial batch before the linger has passed when every
	// caller seen waiting at once in the last second or two is waiting in it,
	// so that it is unlikely to grow: callers that send one record and wait for
	// its answer (the HTTP input, as EventBridge sends) then share one call
	// without waiting for the linger. A lone record still waits for the linger.
	EagerFlush bool `yaml:"-"`
	// Registerer receives the writer's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer `yaml:"-"`
	// Logger receives call failures; nil discards them.
	Logger *slog.Logger `yaml:"-"`
}

// DefaultOptions returns every setting at its default (no stream).
func DefaultOptions() Options {
	return Options{
		MaxBatchRecords: DefaultMaxBatchRecords,
		MaxBatchBytes:   DefaultMaxBatchBytes,
		MaxRecordBytes:  DefaultMaxRecordBytes,
		Linger:          DefaultLinger,
		MaxInFlight:     DefaultMaxInFlight,
		QueueSize:       DefaultQueueSize,
		CallTimeout:     DefaultCallTimeout,
		RetryBase:       DefaultRetryBase,
		RetryMax:        DefaultRetryMax,
		Client:          DefaultClient,
	}
}

// SettingError is a setting with a bad value: Key is its dotted key as
// written in a configuration, Msg what is wrong and what is expected. The
// config package places it at its line in the file.
type SettingError struct {
	Key, Msg string
}

func (e *SettingError) Error() string { return e.Key + ": " + e.Msg }

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// Problems checks every setting but the stream as written in a configuration
// (no defaults are filled in) and returns one error per bad key, each naming
// prefix.key (prefix is "kinesis" or "outputs.NAME"). The stream is checked by
// StreamProblem where one is needed (not for a dry run to stdout).
func (o Options) Problems(prefix string) []error {
	return o.problems(prefix, true)
}

// problems is Problems; client adds the settings only the client set-up
// reads (the Writer is handed a client and ignores them).
func (o Options) problems(prefix string, client bool) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &SettingError{Key: prefix + "." + key, Msg: fmt.Sprintf(format, args...)})
	}
	if o.MaxBatchRecords < 1 || o.MaxBatchRecords > 500 {
		bad("max_batch_records", "must be 1..500 (the PutRecords limit), got %d", o.MaxBatchRecords)
	}
	if o.MaxBatchBytes < 1 || o.MaxBatchBytes > 10<<20 {
		bad("max_batch_bytes", "must be 1..10485760, got %d", o.MaxBatchBytes)
	}
	if o.MaxRecordBytes < 1 || o.MaxRecordBytes > 10<<20 {
		bad("max_record_bytes", "must be 1..10485760, got %d", o.MaxRecordBytes)
	}
	if o.MaxRecordBytes > o.MaxBatchBytes {
		bad("max_record_bytes", "must not exceed %s.max_batch_bytes (%d)", prefix, o.MaxBatchBytes)
	}
	if o.Linger < 0 {
		bad("linger", "must not be negative, got %s", o.Linger)
	}
	if o.MaxInFlight < 1 {
		bad("max_in_flight", "must be positive, got %d", o.MaxInFlight)
	}
	if o.QueueSize < 1 {
		bad("queue_size", "must be positive, got %d", o.QueueSize)
	}
	if o.CallTimeout <= 0 {
		bad("call_timeout", "must be positive, got %s", o.CallTimeout)
	}
	if o.RetryBase <= 0 || o.RetryMax < o.RetryBase {
		bad("retry_base", "want 0 < retry_base <= retry_max, got %s and %s", o.RetryBase, o.RetryMax)
	}
	if client {
		switch o.Client {
		case "direct", "sdk":
		default:
			bad("client", "want direct or sdk, got %q", o.Client)
		}
	}
	return errs
}

// StreamProblem reports a stream that is neither a valid name nor a Kinesis
// stream ARN, naming prefix.stream.
func StreamProblem(prefix, stream string) error {
	switch {
	case stream == "":
		return &SettingError{Key: prefix + ".stream", Msg: "is required"}
	case strings.HasPrefix(stream, "arn:"):
		if !strings.Contains(stream, ":stream/") {
			return &SettingError{Key: prefix + ".stream", Msg: fmt.Sprintf("%q is not a Kinesis stream ARN", stream)}
		}
	case !streamNameRE.MatchString(stream):
		return &SettingError{Key: prefix + ".stream", Msg: fmt.Sprintf("%q is not a valid stream name (1-128 of a-z A-Z 0-9 _ . -)", stream)}
	}
	return nil
}

// withDefaults fills zero values and checks the rest. Errors name the
// configuration key, because operators see them at start-up.
func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxBatchRecords, DefaultMaxBatchRecords)
	def(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&o.MaxRecordBytes, DefaultMaxRecordBytes)
	def(&o.MaxInFlight, DefaultMaxInFlight)
	def(&o.QueueSize, DefaultQueueSize)
	defDur(&o.Linger, DefaultLinger)
	defDur(&o.RetryBase, DefaultRetryBase)
	defDur(&o.RetryMax, DefaultRetryMax)
	defDur(&o.CallTimeout, DefaultCallTimeout)

	errs := o.problems("kinesis", false)
	if err := StreamProblem("kinesis", o.Stream); err != nil {
		errs = append([]error{err}, errs...)
	}
	return o, errors.Join(errs...)
}
