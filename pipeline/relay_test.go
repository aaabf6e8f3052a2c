package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

const relayConfig = `
filter:
  sources: [genesys.cloud]
  rules:
    - name: need_code
      require: 'detail.?eventCode.orValue("") == "interaction.wrapup"'
    - name: score
      require: 'double(detail.score) >= 80.0'
partition_key:
  expr: 'detail.?queue.orValue("")'
enrich:
  fields:
    agent: 'detail.agent'
`

func newTestRelay(t *testing.T, sink relay.Sink) (*Relay, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return NewRelay(newProcessor(t, relayConfig), sink, reg, nil), reg
}

func TestHandleForward(t *testing.T) {
	sink := &testx.Sink{}
	r, _ := newTestRelay(t, sink)
	raw := envelopeJSON("e-1", `{"eventCode":"interaction.wrapup","score":"85","queue":"q-1","agent":"ana"}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := r.Input("http").Handle(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := relay.Record{
		PartitionKey: fnvKey("q-1"),
		Data: []byte(recordJSON(`{"eventCode":"interaction.wrapup","score":"85","queue":"q-1","agent":"ana"}`,
			"passed_all_filters", "eu-west-1", "e-1", `,"agent":"ana"`)),
	}
	if res.Decision != relay.Forward || res.Reason != "passed_all_filters" || res.ID != "e-1" || !reflect.DeepEqual(res.Record, want) {
		t.Fatalf("result %+v", res)
	}
	puts := sink.Records()
	if len(puts) != 1 || !reflect.DeepEqual(puts[0], want) {
		t.Fatalf("sink got %d records %+v, want one: %s", len(puts), puts, want.Data)
	}
	if dl, ok := sink.Contexts()[0].Deadline(); !ok || time.Until(dl) < 50*time.Second {
		t.Errorf("sink did not get the caller's context (deadline %v, %v)", dl, ok)
	}
	checkCounters(t, r, map[string]float64{
		"received/http": 1, "forwarded/http": 1,
		"failed/http/retryable": 0, "failed/http/permanent": 0,
		"keyFallbacks": 0, "inFlight": 0,
	})
}

func TestHandleOutcomes(t *testing.T) {
	retryable := fmt.Errorf("kinesis: %w", relay.ErrUnavailable)
	permanent := fmt.Errorf("record of 2 MiB: %w", relay.ErrPermanent)
	for _, tc := range []struct {
		name     string
		raw      []byte
		sinkErr  error
		decision relay.Decision
		reason   string
		err      error // errors.Is target; nil for success
		retry    bool
		puts     int
		counters map[string]float64
	}{
		{name: "dropped by a rule", raw: envelopeJSON("e-1", `{"eventCode":"interaction.created"}`),
			decision: relay.Drop, reason: "need_code",
			counters: map[string]float64{"received/sqs": 1, "dropped/need_code": 1, "ruleErrors/need_code": 0, "forwarded/sqs": 0}},
		{name: "rule error fails closed", raw: envelopeJSON("e-1", `{"eventCode":"interaction.wrapup"}`),
			decision: relay.Drop, reason: "score",
			counters: map[string]float64{"received/sqs": 1, "dropped/score": 1, "ruleErrors/score": 1, "forwarded/sqs": 0}},
		{name: "malformed", raw: []byte(`{"id":`), err: relay.ErrInvalid,
			counters: map[string]float64{"received/sqs": 1, "rejected/malformed_json": 1, "forwarded/sqs": 0}},
		{name: "not an envelope", raw: []byte(`[]`), err: relay.ErrInvalid,
			counters: map[string]float64{"received/sqs": 1, "rejected/not_envelope": 1}},
		{name: "detail missing", raw: []byte(`{"id":"e-1","source":"genesys.cloud","detail-type":"t"}`), err: relay.ErrInvalid,
			counters: map[string]float64{"rejected/missing_detail": 1}},
		{name: "source not allowed", raw: []byte(`{"id":"e-1","source":"acme","detail-type":"t","detail":{}}`), err: relay.ErrInvalid,
			counters: map[string]float64{"rejected/source_not_allowed": 1, "dropped/need_code": 0}},
		{name: "key falls back", raw: envelopeJSON("e-1", `{"eventCode":"interaction.wrapup","score":90,"agent":"x"}`),
			decision: relay.Forward, reason: "passed_all_filters", puts: 1,
			counters: map[string]float64{"keyFallbacks": 1, "forwarded/sqs": 1}},
		{name: "enrichment error", raw: envelopeJSON("e-1", `{"eventCode":"interaction.wrapup","score":90,"queue":"q"}`),
			decision: relay.Forward, reason: "passed_all_filters", puts: 1,
			counters: map[string]float64{"enrichErrors/agent": 1, "keyFallbacks": 0, "forwarded/sqs": 1}},
		{name: "sink unavailable", raw: envelopeJSON("e-1", `{"eventCode":"interaction.wrapup","score":90,"queue":"q","agent":"a"}`),
			sinkErr: retryable, decision: relay.Forward, reason: "passed_all_filters", err: relay.ErrUnavailable, retry: true, puts: 1,
			counters: map[string]float64{"failed/sqs/retryable": 1, "failed/sqs/permanent": 0, "forwarded/sqs": 0}},
		{name: "sink deadline", raw: envelopeJSON("e-1", `{"eventCode":"interaction.wrapup","score":90,"queue":"q","agent":"a"}`),
			sinkErr: context.DeadlineExceeded, decision: relay.Forward, reason: "passed_all_filters", err: context.DeadlineExceeded, retry: true, puts: 1,
			counters: map[string]float64{"failed/sqs/retryable": 1, "forwarded/sqs": 0}},
		{name: "sink permanent", raw: envelopeJSON("e-1", `{"eventCode":"interaction.wrapup","score":90,"queue":"q","agent":"a"}`),
			sinkErr: permanent, decision: relay.Forward, reason: "passed_all_filters", err: relay.ErrPermanent, retry: false, puts: 1,
			counters: map[string]float64{"failed/sqs/retryable": 0, "failed/sqs/permanent": 1, "forwarded/sqs": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &testx.Sink{Err: tc.sinkErr}
			r, _ := newTestRelay(t, sink)
			res, err := r.Input("sqs").Handle(context.Background(), tc.raw)
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if err != nil && relay.Retryable(err) != tc.retry {
				t.Errorf("Retryable(%v) = %v, want %v", err, relay.Retryable(err), tc.retry)
			}
			if errors.Is(err, relay.ErrInvalid) && res.Decision != relay.Reject {
				t.Errorf("invalid input decided %v", res.Decision)
			}
			if tc.err != relay.ErrInvalid && (res.Decision != tc.decision || res.Reason != tc.reason) {
				t.Errorf("result %v %q, want %v %q", res.Decision, res.Reason, tc.decision, tc.reason)
			}
			if got := len(sink.Records()); got != tc.puts {
				t.Errorf("sink got %d records, want %d", got, tc.puts)
			}
			tc.counters["inFlight"] = 0
			checkCounters(t, r, tc.counters)
		})
	}
}

// TestHandleMetricsExposed checks the metric names and labels a dashboard relies on;
// label values known in advance (rule names, reject causes) exist at 0.
func TestHandleMetricsExposed(t *testing.T) {
	sink := &testx.Sink{}
	r, reg := newTestRelay(t, sink)
	in := r.Input("http")
	for _, raw := range [][]byte{
		envelopeJSON("e-1", `{"eventCode":"interaction.wrapup","score":90,"queue":"q","agent":"a"}`),
		envelopeJSON("e-2", `{"eventCode":"x"}`),
		envelopeJSON("e-3", `{"eventCode":"x"}`),
		envelopeJSON("e-4", `{"eventCode":"interaction.wrapup","score":"n/a"}`),
		envelopeJSON("e-5", `{"eventCode":"interaction.wrapup","score":90,"agent":"a"}`),
		[]byte(`nope`),
	} {
		_, _ = in.Handle(context.Background(), raw)
	}
	const want = `
# HELP genesys_relay_events_dropped_total Events dropped by a rule, by rule name.
# TYPE genesys_relay_events_dropped_total counter
genesys_relay_events_dropped_total{reason="need_code"} 2
genesys_relay_events_dropped_total{reason="score"} 1
# HELP genesys_relay_events_forwarded_total Events whose record the sink accepted, by input.
# TYPE genesys_relay_events_forwarded_total counter
genesys_relay_events_forwarded_total{input="http"} 2
# HELP genesys_relay_events_received_total Events received, by input.
# TYPE genesys_relay_events_received_total counter
genesys_relay_events_received_total{input="http"} 6
# HELP genesys_relay_events_rejected_total Inputs rejected as invalid, by cause.
# TYPE genesys_relay_events_rejected_total counter
genesys_relay_events_rejected_total{why="decoded_too_large"} 0
genesys_relay_events_rejected_total{why="detail_not_object"} 0
genesys_relay_events_rejected_total{why="duplicate_key"} 0
genesys_relay_events_rejected_total{why="empty_body"} 0
genesys_relay_events_rejected_total{why="invalid_utf8"} 0
genesys_relay_events_rejected_total{why="malformed_json"} 1
genesys_relay_events_rejected_total{why="missing_detail"} 0
genesys_relay_events_rejected_total{why="not_envelope"} 0
genesys_relay_events_rejected_total{why="number_out_of_range"} 0
genesys_relay_events_rejected_total{why="source_not_allowed"} 0
# HELP genesys_relay_partition_key_fallbacks_total Partition keys that were empty or failed and fell back to the envelope id.
# TYPE genesys_relay_partition_key_fallbacks_total counter
genesys_relay_partition_key_fallbacks_total 1
# HELP genesys_relay_rule_errors_total Rule evaluation errors (the event was dropped with the rule's name: fail closed).
# TYPE genesys_relay_rule_errors_total counter
genesys_relay_rule_errors_total{rule="need_code"} 0
genesys_relay_rule_errors_total{rule="score"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "genesys_relay_events_dropped_total", "genesys_relay_events_forwarded_total",
		"genesys_relay_events_received_total", "genesys_relay_events_rejected_total",
		"genesys_relay_partition_key_fallbacks_total", "genesys_relay_rule_errors_total"); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	if n := testutil.CollectAndCount(r.m.duration); n != 2 {
		t.Errorf("duration series = %d, want 2 (drop and forward)", n)
	}
}

func TestNewRelayWithoutRegistry(t *testing.T) {
	sink := &testx.Sink{}
	r := NewRelay(newProcessor(t, relayConfig), sink, nil, nil)
	if _, err := r.Input("http").Handle(context.Background(), envelopeJSON("e-1", `{}`)); err != nil {
		t.Fatal(err)
	}
}

// TestSwap checks a new processor applies to the next event.
func TestSwap(t *testing.T) {
	sink := &testx.Sink{}
	r, _ := newTestRelay(t, sink)
	in := r.Input("http")
	raw := envelopeJSON("e-1", `{"eventCode":"interaction.created"}`)
	if res, _ := in.Handle(context.Background(), raw); res.Decision != relay.Drop {
		t.Fatalf("before swap: %v", res.Decision)
	}
	p := newProcessor(t, "")
	r.Swap(p)
	if r.Processor() != p {
		t.Fatal("Processor() is not the swapped one")
	}
	if res, err := in.Handle(context.Background(), raw); err != nil || res.Decision != relay.Forward {
		t.Fatalf("after swap: %v %v", res.Decision, err)
	}
}

// TestHandleConcurrent runs many events through one Relay (run with -race).
func TestHandleConcurrent(t *testing.T) {
	sink := &testx.Sink{}
	r, _ := newTestRelay(t, sink)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := r.Input(fmt.Sprintf("in%d", g%2))
			for i := 0; i < 100; i++ {
				detail := fmt.Sprintf(`{"eventCode":"interaction.wrapup","score":%d,"queue":"q-%d","agent":"a"}`, 70+i%20, i)
				res, err := in.Handle(context.Background(), envelopeJSON(fmt.Sprintf("e-%d-%d", g, i), detail))
				if err != nil || (res.Decision == relay.Forward) != (70+i%20 >= 80) {
					t.Errorf("event %d/%d: %v %v", g, i, res.Decision, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := len(sink.Records()); got != 8*50 {
		t.Fatalf("sink got %d records, want %d", got, 8*50)
	}
	checkCounters(t, r, map[string]float64{"received/in0": 400, "received/in1": 400, "dropped/score": 400, "inFlight": 0})
}

// checkCounters compares metric values named "metric/label/label..." with want.
func checkCounters(t *testing.T, r *Relay, want map[string]float64) {
	t.Helper()
	m := r.m
	for key, w := range want {
		name, labels, _ := strings.Cut(key, "/")
		var lv []string
		if labels != "" {
			lv = strings.Split(labels, "/")
		}
		var c prometheus.Collector
		switch name {
		case "received":
			c = m.received.WithLabelValues(lv...)
		case "forwarded":
			c = m.forwarded.WithLabelValues(lv...)
		case "failed":
			c = m.failed.WithLabelValues(lv...)
		case "dropped":
			c = m.dropped.WithLabelValues(lv...)
		case "rejected":
			c = m.rejected.WithLabelValues(lv...)
		case "ruleErrors":
			c = m.ruleErrors.WithLabelValues(lv...)
		case "enrichErrors":
			c = m.enrichErrors.WithLabelValues(lv...)
		case "keyFallbacks":
			c = m.keyFallbacks
		case "inFlight":
			c = m.inFlight
		default:
			t.Fatalf("unknown metric %s", name)
		}
		if got := testutil.ToFloat64(c); got != w {
			t.Errorf("%s = %v, want %v", key, got, w)
		}
	}
}
