package kinesis

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the writer's Prometheus series. Every label value is fixed here, so
// the number of series is bounded whatever the traffic.
type metrics struct {
	callsOK, callsPartial, callsError prometheus.Counter

	accepted, failed, retried, abandoned prometheus.Counter

	throttled  prometheus.Counter
	retries    prometheus.Counter
	discarded  prometheus.Counter
	overloaded prometheus.Counter

	batchRecords prometheus.Histogram
	batchBytes   prometheus.Histogram
	callDuration prometheus.Histogram
	inFlight     prometheus.Gauge
	queued       prometheus.Gauge
}

const namespace = "genesys_relay_kinesis_"

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: namespace + "put_records_calls_total",
		Help: "PutRecords calls by outcome: ok (every record accepted), partial (some records failed), error (the call failed).",
	}, []string{"outcome"})
	records := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: namespace + "records_total",
		Help: "Records by outcome: accepted by Kinesis, failed (answered with an error), retried (scheduled for another attempt), abandoned (the caller stopped waiting).",
	}, []string{"outcome"})
	m := &metrics{
		callsOK:      calls.WithLabelValues("ok"),
		callsPartial: calls.WithLabelValues("partial"),
		callsError:   calls.WithLabelValues("error"),
		accepted:     records.WithLabelValues("accepted"),
		failed:       records.WithLabelValues("failed"),
		retried:      records.WithLabelValues("retried"),
		abandoned:    records.WithLabelValues("abandoned"),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "throttled_records_total",
			Help: "Records Kinesis refused because of throttling (shard or KMS limits).",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "retries_total",
			Help: "Records sent again after a failed attempt, counted when the call is made, whether or not it reaches Kinesis before its deadline.",
		}),
		discarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "discarded_results_total",
			Help: "Results of records whose caller stopped waiting while the record was in flight; such a record may still be in the stream.",
		}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "overloaded_total",
			Help: "Records refused at once because the queue was full.",
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    namespace + "batch_records",
			Help:    "Records per PutRecords call.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 200, 300, 400, 500},
		}),
		batchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    namespace + "batch_bytes",
			Help:    "Bytes (data and partition keys) per PutRecords call.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 8), // 1 KiB .. 16 MiB
		}),
		callDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    namespace + "call_duration_seconds",
			Help:    "Duration of PutRecords calls.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: namespace + "in_flight_calls",
			Help: "PutRecords calls in progress.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: namespace + "queued_records",
			Help: "Records waiting for a batch, including records waiting for a retry.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		calls, records, m.throttled, m.retries, m.discarded, m.overloaded,
		m.batchRecords, m.batchBytes, m.callDuration, m.inFlight, m.queued,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("kinesis metrics (one writer per registry): %w", err)
		}
	}
	return m, nil
}
