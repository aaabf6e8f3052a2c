// Package relay holds the domain types of genesys-relay: the EventBridge envelope as
// received, the decision the rules make about it, the record written to Kinesis, and
// the small interfaces that connect inputs (HTTP, SQS, Lambda, files) to outputs
// (Kinesis, stdout).
//
// Every input hands raw envelope bytes to a Handler and acknowledges its event only
// when the Handler returns a nil error: the record was accepted by the sink, or a rule
// dropped the event on purpose. Errors tell the input what to do next through the
// sentinel errors below: ErrInvalid and ErrPermanent can never succeed (answer 4xx,
// dead-letter), everything else is worth retrying (answer 429/5xx, leave on the queue).
package relay

import (
	"context"
	"errors"
)

// maxExplicitHashKey is 2^128 - 1, the largest hash key of a Kinesis stream.
const maxExplicitHashKey = "340282366920938463463374607431768211455"

// ValidExplicitHashKey reports whether k is an explicit hash key Kinesis
// accepts: a decimal matching 0|([1-9]\d{0,38}) whose value is below 2^128. It
// is the one check of the rule, so that the pipeline (and with it `check`)
// and the Kinesis writer agree on every key: "007", "+5" or "-0" are refused
// by both.
func ValidExplicitHashKey(k string) bool {
	if k == "0" {
		return true
	}
	if k == "" || len(k) > len(maxExplicitHashKey) || k[0] == '0' {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return len(k) < len(maxExplicitHashKey) || k <= maxExplicitHashKey
}

// Decision is what the pipeline decided for one event.
type Decision uint8

const (
	// Reject means the input is not a valid event (malformed JSON, not an envelope,
	// source not allowed). It is never forwarded and never retried.
	Reject Decision = iota
	// Drop means a rule rejected the event on purpose. It is acknowledged.
	Drop
	// Forward means the event passed every rule and is written to the sink.
	Forward
)

// String returns the lower-case name used in check output and metrics.
func (d Decision) String() string {
	switch d {
	case Drop:
		return "drop"
	case Forward:
		return "forward"
	default:
		return "reject"
	}
}

// Record is one Kinesis record: the enriched event bytes and where they go.
type Record struct {
	// PartitionKey chooses the shard; 1 to 256 characters.
	PartitionKey string
	// ExplicitHashKey optionally pins the shard (a decimal 128-bit hash key).
	ExplicitHashKey string
	// Data is the record body written to the stream.
	Data []byte
}

// Size is the number of bytes the record counts against Kinesis limits: the data
// plus the partition key.
func (r Record) Size() int { return len(r.Data) + len(r.PartitionKey) }

// Result is the outcome of evaluating one envelope.
type Result struct {
	// ID is the envelope id (empty when the input was not an envelope).
	ID       string
	Decision Decision
	// Reason is the rule name that dropped the event, or the pass reason when
	// forwarded; for Reject it is a short machine-readable cause (see RejectReason).
	Reason string
	// Record is set when Decision is Forward.
	Record Record
	// RuleError is true when an evaluation error decided the outcome (fail closed).
	RuleError bool
	// KeyFallback is true when the partition key fell back to the envelope id.
	KeyFallback bool
}

// Sink accepts records and reports when they are durably written.
type Sink interface {
	// Put blocks until the record was accepted, failed permanently, or ctx ended.
	// A nil error means the record is in the stream.
	Put(ctx context.Context, rec Record) error
	// Close flushes what was accepted by Put and releases resources; it waits at most
	// until ctx ends.
	Close(ctx context.Context) error
}

// Handler runs one raw envelope through the pipeline to its end (forwarded, dropped,
// or rejected). Every input calls a Handler. raw is only valid during the call: the
// input may reuse its buffer afterwards, so a Handler copies what it keeps.
type Handler interface {
	Handle(ctx context.Context, raw []byte) (Result, error)
}

// Sentinel errors; wrap them with fmt.Errorf("...: %w", ErrX).
var (
	// ErrInvalid marks input that is not a valid event and never will be.
	ErrInvalid = errors.New("invalid event")
	// ErrPermanent marks a valid event whose record can never be written (for
	// example larger than the stream's maximum record size).
	ErrPermanent = errors.New("permanent failure")
	// ErrOverloaded marks work refused because too much is already in flight.
	ErrOverloaded = errors.New("overloaded")
	// ErrUnavailable marks a sink that did not accept the record in time; retrying
	// later may succeed.
	ErrUnavailable = errors.New("sink unavailable")
)

// Retryable reports whether an error returned by a Handler or Sink may succeed if the
// same input is sent again. It is the one place inputs ask this question.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	return !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrPermanent)
}

// InvalidError is an ErrInvalid with a short, bounded cause for metrics labels
// ("malformed_json", "not_envelope", "source_not_allowed", ...) and a message for the
// caller.
type InvalidError struct {
	Why string
	Msg string
}

func (e *InvalidError) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid returns an *InvalidError.
func Invalid(why, msg string) error { return &InvalidError{Why: why, Msg: msg} }

// RejectReason returns the bounded cause of an invalid-input error, or "" if err is
// not one.
func RejectReason(err error) string {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Why
	}
	if errors.Is(err, ErrInvalid) {
		return "invalid"
	}
	return ""
}

// RefusedError is an ErrUnavailable a sink gives when it refused a record for a
// reason an operator has to fix (permissions, a missing stream, expired or invalid
// credentials, a KMS key), not for lack of time. The input keeps the event and sends
// it again later, as for any ErrUnavailable.
//
// Reason says what failed in words fit for the sender's answer: an error code and a
// short explanation, never a credential and no text of the remote service's message
// (which names roles, accounts and keys). Err is the whole cause, for logs.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string { return e.Reason + ": " + e.Err.Error() }

// Unwrap makes errors.Is(err, ErrUnavailable) true, and reaches the cause.
func (e *RefusedError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// RefusalReason returns the Reason of a RefusedError in err's chain, or "".
func RefusalReason(err error) string {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}
