package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
)

// Relay is the relay.Handler shared by every input: it evaluates an envelope with
// the current Processor and, for a forwarded event, waits until the sink accepted
// its record. The Processor can be swapped at run time (config reload) without
// stopping traffic.
type Relay struct {
	proc atomic.Pointer[Processor]
	sink relay.Sink
	m    *metrics
	log  *slog.Logger
}

// NewRelay returns a Relay writing to sink. reg may be nil.
func NewRelay(p *Processor, sink relay.Sink, reg prometheus.Registerer, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{sink: sink, m: newMetrics(reg), log: log}
	r.m.known(p)
	r.proc.Store(p)
	return r
}

// Processor returns the current processor.
func (r *Relay) Processor() *Processor { return r.proc.Load() }

// Swap installs a new processor; events already being evaluated finish with the old.
func (r *Relay) Swap(p *Processor) {
	r.m.known(p)
	r.proc.Store(p)
}

// Input returns the Handler an input uses; name labels its metrics ("http", "sqs").
func (r *Relay) Input(name string) relay.Handler {
	return &input{r: r, name: name,
		received:  r.m.received.WithLabelValues(name),
		forwarded: r.m.forwarded.WithLabelValues(name),
		retryable: r.m.failed.WithLabelValues(name, "retryable"),
		permanent: r.m.failed.WithLabelValues(name, "permanent"),
		durDrop:   r.m.duration.WithLabelValues("drop"),
		durFwd:    r.m.duration.WithLabelValues("forward"),
	}
}

type input struct {
	r                                         *Relay
	name                                      string
	received, forwarded, retryable, permanent prometheus.Counter
	durDrop, durFwd                           prometheus.Observer // resolved once: the hot path skips the label lookup
}

var _ relay.Handler = (*input)(nil)

// Handle implements relay.Handler.
func (in *input) Handle(ctx context.Context, raw []byte) (relay.Result, error) {
	r, m := in.r, in.r.m
	start := time.Now()
	in.received.Inc()
	m.inFlight.Inc()
	defer m.inFlight.Dec()

	out, err := r.proc.Load().Evaluate(raw)
	if err != nil {
		m.rejected.WithLabelValues(relay.RejectReason(err)).Inc()
		return out.Result, err
	}
	if out.KeyFallback {
		m.keyFallbacks.Inc()
	}
	if out.HashKeyErr {
		m.hashKeyErrors.Inc()
	}
	for _, f := range out.FieldErrs {
		m.enrichErrors.WithLabelValues(f).Inc()
	}
	if out.Decision == relay.Drop {
		m.dropped.WithLabelValues(out.Reason).Inc()
		if out.RuleErr != nil {
			m.ruleErrors.WithLabelValues(out.Reason).Inc()
			r.log.Debug("rule evaluation error, event dropped", "id", out.ID, "rule", out.Reason, "err", out.RuleErr)
		}
		in.durDrop.Observe(time.Since(start).Seconds())
		return out.Result, nil
	}
	if err := r.sink.Put(ctx, out.Record); err != nil {
		if relay.Retryable(err) {
			in.retryable.Inc()
		} else {
			in.permanent.Inc()
		}
		if errors.Is(err, relay.ErrPermanent) {
			r.log.Warn("event cannot be written", "input", in.name, "id", out.ID, "err", err)
		}
		return out.Result, err
	}
	in.forwarded.Inc()
	in.durFwd.Observe(time.Since(start).Seconds())
	return out.Result, nil
}

type metrics struct {
	received, forwarded, failed *prometheus.CounterVec
	dropped, rejected           *prometheus.CounterVec
	ruleErrors, enrichErrors    *prometheus.CounterVec
	keyFallbacks, hashKeyErrors prometheus.Counter
	inFlight                    prometheus.Gauge
	duration                    *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "genesys_relay"
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_received_total",
			Help: "Events received, by input."}, []string{"input"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_forwarded_total",
			Help: "Events whose record the sink accepted, by input."}, []string{"input"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_failed_total",
			Help: "Events that passed the rules but were not written, by input and class (retryable: the sender should retry; permanent: never writable)."}, []string{"input", "class"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_dropped_total",
			Help: "Events dropped by a rule, by rule name."}, []string{"reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_rejected_total",
			Help: "Inputs rejected as invalid, by cause."}, []string{"why"}),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rule_errors_total",
			Help: "Rule evaluation errors (the event was dropped with the rule's name: fail closed)."}, []string{"rule"}),
		enrichErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "enrich_errors_total",
			Help: "Enrichment fields that failed to evaluate and were written as null."}, []string{"field"}),
		keyFallbacks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "partition_key_fallbacks_total",
			Help: "Partition keys that were empty or failed and fell back to the envelope id."}),
		hashKeyErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "explicit_hash_key_errors_total",
			Help: "Configured explicit hash keys that failed or were out of range; the record was placed by its partition key."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "events_in_flight",
			Help: "Events being processed or waiting for the sink."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "event_duration_seconds",
			Help:    "Time from receipt to decision (drop) or sink acceptance (forward).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"decision"}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.forwarded, m.failed, m.dropped, m.rejected, m.ruleErrors,
			m.enrichErrors, m.keyFallbacks, m.hashKeyErrors, m.inFlight, m.duration)
	}
	for _, why := range RejectWhys {
		m.rejected.WithLabelValues(why)
	}
	return m
}

// RejectWhys are the causes (relay.InvalidError.Why) the pipeline rejects an event
// with: the label values of events_rejected_total, which exist from the start.
var RejectWhys = []string{
	"empty_body", "invalid_utf8", "malformed_json", "not_envelope", "duplicate_key",
	"missing_detail", "detail_not_object", "source_not_allowed",
}

// known creates the series of every label value p can produce, at 0: every rule
// name in dropped and rule_errors, every enrichment field in enrich_errors. An
// alert on a counter's increase needs the series to exist before the first event.
func (m *metrics) known(p *Processor) {
	if p == nil || p.Rules == nil {
		return
	}
	for _, r := range p.Rules.Rules {
		m.dropped.WithLabelValues(r.Name)
		m.ruleErrors.WithLabelValues(r.Name)
	}
	for _, f := range p.Rules.Fields {
		m.enrichErrors.WithLabelValues(f.Name)
	}
}
