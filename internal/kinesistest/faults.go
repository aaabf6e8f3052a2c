package kinesistest

import (
	"context"
	"net/http"
	"time"
)

// Faults describes the misbehaviour the server injects. Rates are
// probabilities between 0 and 1, drawn from the server's seeded generator.
// The zero value injects nothing.
//
// Latency, Jitter and the hang apply to every operation. The failure rates
// apply to the write operations, PutRecords and PutRecord.
type Faults struct {
	// RecordThrottleRate is the share of records that fail individually in
	// a PutRecords response with ErrorCode ProvisionedThroughputExceededException.
	// For PutRecord, it is the share of calls that fail with that exception.
	RecordThrottleRate float64
	// RecordInternalFailureRate is the share of records that fail
	// individually with ErrorCode InternalFailure. For PutRecord, it is the
	// share of calls answered 500 InternalFailure.
	RecordInternalFailureRate float64
	// RecordNoResultRate is the share of records that are not stored and
	// whose entry in a 200 PutRecords answer is {}: neither a sequence number
	// nor an error code, though FailedRecordCount counts them. For PutRecord,
	// it is the share of calls answered 200 without a sequence number.
	RecordNoResultRate float64

	// InternalFailureRate is the share of write calls answered with status
	// 500 and error code InternalFailure; nothing of the call is stored.
	InternalFailureRate float64
	// ServiceUnavailableRate is the share of write calls answered with
	// status 503 and error code ServiceUnavailable; nothing is stored.
	ServiceUnavailableRate float64
	// ThrottleRate is the share of write calls answered with status 400 and
	// ProvisionedThroughputExceededException; nothing is stored.
	ThrottleRate float64
	// Refuse, when set, is the error code every write call is refused with
	// (status 400, nothing stored), with the message Kinesis sends for it:
	// AccessDeniedException, ExpiredTokenException, UnrecognizedClientException,
	// KMSAccessDeniedException, KMSDisabledException, KMSNotFoundException and
	// others. It is what an operator's mistake looks like, not a transient
	// fault.
	Refuse string
	// DropResponseRate is the share of write calls whose records are stored
	// but whose connection is then closed without a response: the client
	// sees a transport error although the write happened, and a retry
	// writes the records twice.
	DropResponseRate float64

	// Latency is added to every call before it is processed, plus a uniform
	// random share of Jitter. A client that gives up while waiting leaves
	// nothing stored.
	Latency time.Duration
	Jitter  time.Duration

	// HangRate is the share of calls that are held without an answer until
	// the client gives up, the server closes, or MaxHang (default 30s) has
	// passed, after which the call is answered 503 ServiceUnavailable.
	// Nothing of a hung call is stored.
	HangRate float64
	MaxHang  time.Duration
}

// SetFaults replaces the faults injected from now on. Calls already past
// their fault draw are not affected.
func (s *Server) SetFaults(f Faults) { s.faults.Store(&f) }

// Faults returns the faults currently injected.
func (s *Server) Faults() Faults { return *s.faults.Load() }

// Per-record outcomes of the fault draw.
const (
	recordOK uint8 = iota
	recordThrottled
	recordInternalFailure
	recordNoResult
)

// decision is the outcome of the fault draw for one call.
type decision struct {
	hang   bool
	delay  time.Duration
	status int    // non-zero: fail the whole call with this status
	code   string // and this error code
	drop   bool
}

// decide draws the faults of one call. For writes it also sets the
// per-record outcome of each entry of recs.
func (s *Server) decide(f *Faults, write bool, recs []PutEntry) decision {
	var d decision
	if *f == (Faults{}) {
		return d
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	r := s.rng
	if f.HangRate > 0 && r.Float64() < f.HangRate {
		d.hang = true
	}
	d.delay = f.Latency
	if f.Jitter > 0 {
		d.delay += time.Duration(r.Int64N(int64(f.Jitter)))
	}
	if !write {
		return d
	}
	if f.Refuse != "" {
		d.status, d.code = http.StatusBadRequest, f.Refuse
	}
	if sum := f.InternalFailureRate + f.ServiceUnavailableRate + f.ThrottleRate; sum > 0 && d.status == 0 {
		switch u := r.Float64(); {
		case u < f.InternalFailureRate:
			d.status, d.code = http.StatusInternalServerError, "InternalFailure"
		case u < f.InternalFailureRate+f.ServiceUnavailableRate:
			d.status, d.code = http.StatusServiceUnavailable, "ServiceUnavailable"
		case u < sum:
			d.status, d.code = http.StatusBadRequest, "ProvisionedThroughputExceededException"
		}
	}
	if f.DropResponseRate > 0 && r.Float64() < f.DropResponseRate {
		d.drop = true
	}
	if f.RecordThrottleRate > 0 || f.RecordInternalFailureRate > 0 || f.RecordNoResultRate > 0 {
		for i := range recs {
			switch u := r.Float64(); {
			case u < f.RecordThrottleRate:
				recs[i].fault = recordThrottled
			case u < f.RecordThrottleRate+f.RecordInternalFailureRate:
				recs[i].fault = recordInternalFailure
			case u < f.RecordThrottleRate+f.RecordInternalFailureRate+f.RecordNoResultRate:
				recs[i].fault = recordNoResult
			}
		}
	}
	return d
}

// wait applies the latency and hang of d. It reports false if the call was
// answered here: a hang that reaches MaxHang is answered 503. A call whose
// client is gone, or that the closing server abandons, is aborted without
// an answer (see abandon).
func (s *Server) wait(ctx context.Context, w http.ResponseWriter, f *Faults, d decision) bool {
	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			abandon()
		case <-s.done:
			abandon()
		}
	}
	if !d.hang {
		return true
	}
	limit := f.MaxHang
	if limit <= 0 {
		limit = DefaultMaxHang
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-t.C:
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Service unavailable.")
		return false
	case <-ctx.Done():
	case <-s.done:
	}
	abandon()
	return false
}

// abandon ends the current call by closing its connection without an
// answer. Merely returning from the handler would send an empty 200, which
// the SDK reads as success.
func abandon() { panic(http.ErrAbortHandler) }
