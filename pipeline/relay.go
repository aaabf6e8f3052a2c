package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
)

// Relay is the relay.Handler shared by every input: it evaluates an envelope with
// the current Processor and, for a forwarded event, waits until the sink of
// every route the event takes accepted its record. The Processor can be
// swapped at run time (config reload) without stopping traffic; the sinks
// (one per output) stay.
type Relay struct {
	st    atomic.Pointer[state]
	sinks func(output string) (relay.Sink, bool)
	m     *metrics
	log   *slog.Logger
}

// state is a Processor with, per route, its sink and metric series.
type state struct {
	proc   *Processor
	routes []routeState
}

type routeState struct {
	sink                       relay.Sink
	output                     string
	taken, errors              prometheus.Counter
	written, retryable, failed prometheus.Counter
}

// NewRelay returns a Relay writing every route's records to sink. reg may be nil.
func NewRelay(p *Processor, sink relay.Sink, reg prometheus.Registerer, log *slog.Logger) *Relay {
	r, err := newRelay(p, func(string) (relay.Sink, bool) { return sink, true }, reg, log)
	if err != nil {
		panic(err) // unreachable: every output has the sink
	}
	return r
}

// NewRelayTo returns a Relay writing each route's records to the sink of its
// output, sinks[route.Output]. It fails when a route's output has no sink.
// reg may be nil.
func NewRelayTo(p *Processor, sinks map[string]relay.Sink, reg prometheus.Registerer, log *slog.Logger) (*Relay, error) {
	return newRelay(p, func(o string) (relay.Sink, bool) { s, ok := sinks[o]; return s, ok }, reg, log)
}

func newRelay(p *Processor, sinks func(string) (relay.Sink, bool), reg prometheus.Registerer, log *slog.Logger) (*Relay, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{sinks: sinks, m: newMetrics(reg), log: log}
	if err := r.Swap(p); err != nil {
		return nil, err
	}
	return r, nil
}

// Processor returns the current processor.
func (r *Relay) Processor() *Processor { return r.st.Load().proc }

// Swap installs a new processor; events already being evaluated finish with
// the old. It fails, keeping the old one, when a route of p writes to an
// output the Relay has no sink for (outputs change only with a restart). The
// metric series of p's routes and outputs exist from here on, at 0.
func (r *Relay) Swap(p *Processor) error {
	st := &state{proc: p, routes: make([]routeState, len(p.routes))}
	for i, ri := range p.routes {
		sink, ok := r.sinks(ri.Output)
		if !ok {
			return fmt.Errorf("route %q writes to output %q, which the running relay does not have (outputs change only with a restart)", ri.Name, ri.Output)
		}
		st.routes[i] = routeState{sink: sink, output: ri.Output,
			taken:     r.m.routeEvents.WithLabelValues(ri.Name),
			errors:    r.m.routeErrors.WithLabelValues(ri.Name),
			written:   r.m.outputRecords.WithLabelValues(ri.Output, "written"),
			retryable: r.m.outputRecords.WithLabelValues(ri.Output, "retryable"),
			failed:    r.m.outputRecords.WithLabelValues(ri.Output, "permanent"),
		}
	}
	if p.Rules.Routed {
		r.m.dropped.WithLabelValues(config.NoRoute)
	}
	r.m.known(p)
	r.st.Store(st)
	return nil
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

	st := r.st.Load()
	out, err := st.proc.Evaluate(raw)
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
	for _, rt := range out.More {
		if rt.KeyFallback {
			m.keyFallbacks.Inc()
		}
		if rt.HashKeyErr {
			m.hashKeyErrors.Inc()
		}
	}
	for _, f := range out.FieldErrs {
		m.enrichErrors.WithLabelValues(f).Inc()
	}
	for _, re := range out.RouteErrs {
		st.routes[re.Route].errors.Inc()
		r.log.Debug("route evaluation error, route not taken", "id", out.ID, "route", st.proc.routes[re.Route].Name, "err", re.Err)
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
	if err := in.putAll(ctx, st, &out); err != nil {
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

// putAll writes the event's record on every route it takes, each to its
// output's sink, at once, and returns when all answered: nil when every
// sink accepted. Otherwise a permanent failure wins over a retryable one
// (sending the event again could never succeed); the outputs that accepted
// keep their record, so a retried event may be written there twice.
func (in *input) putAll(ctx context.Context, st *state, out *Outcome) error {
	if len(out.More) == 0 {
		return in.put(ctx, st, out.Route, out.Record)
	}
	errs := make([]error, len(out.More))
	var wg sync.WaitGroup
	for i := range out.More {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = in.put(ctx, st, out.More[i].Route, out.More[i].Record)
		}()
	}
	// The first route's Put runs on this goroutine meanwhile; every Put
	// returns by ctx's end at the latest, so Wait is bounded by it too.
	first := in.put(ctx, st, out.Route, out.Record)
	wg.Wait()
	err := first
	for _, e := range errs {
		if e != nil && (err == nil || relay.Retryable(err) && !relay.Retryable(e)) {
			err = e
		}
	}
	return err
}

// put writes rec to route i's sink and counts the outcome for its output.
func (in *input) put(ctx context.Context, st *state, i int, rec relay.Record) error {
	rs := &st.routes[i]
	rs.taken.Inc()
	err := rs.sink.Put(ctx, rec)
	switch {
	case err == nil:
		rs.written.Inc()
		return nil
	case relay.Retryable(err):
		rs.retryable.Inc()
	default:
		rs.failed.Inc()
	}
	if len(st.routes) > 1 {
		return fmt.Errorf("output %s: %w", rs.output, err)
	}
	return err
}

type metrics struct {
	received, forwarded, failed *prometheus.CounterVec
	routeEvents, routeErrors    *prometheus.CounterVec
	outputRecords               *prometheus.CounterVec
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
		routeEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "route_events_total",
			Help: "Events that passed the filter and took the route, by route."}, []string{"route"}),
		routeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "route_errors_total",
			Help: "Route when evaluation errors (the route was not taken: fail closed), by route."}, []string{"route"}),
		outputRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "output_records_total",
			Help: "Records handed to an output, by output and outcome (written: the sink accepted it; retryable, permanent: it did not)."}, []string{"output", "outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "events_in_flight",
			Help: "Events being processed or waiting for the sink."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "event_duration_seconds",
			Help:    "Time from receipt to decision (drop) or sink acceptance (forward).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"decision"}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.forwarded, m.failed, m.dropped, m.rejected, m.ruleErrors,
			m.routeEvents, m.routeErrors, m.outputRecords,
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
