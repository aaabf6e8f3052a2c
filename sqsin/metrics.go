package sqsin

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "genesys_relay_sqs_"

// Values of the "why" label of messages_failed_total.
const (
	whyRetryable = "retryable"
	whyPermanent = "permanent"
)

type metrics struct {
	received       prometheus.Counter
	deleted        prometheus.Counter
	failed         *prometheus.CounterVec
	deleteFailures prometheus.Counter
	receiveErrors  prometheus.Counter
	inFlight       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "messages_received_total",
			Help: "SQS messages received.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "messages_deleted_total",
			Help: "SQS messages deleted after their event was forwarded or dropped on purpose.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: namespace + "messages_failed_total",
			Help: "SQS messages whose event was not handled; why is retryable or permanent.",
		}, []string{"why"}),
		deleteFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "delete_failures_total",
			Help: "Handled SQS messages that could not be deleted; they will be delivered again.",
		}),
		receiveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: namespace + "receive_errors_total",
			Help: "Failed SQS ReceiveMessage calls.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: namespace + "in_flight_messages",
			Help: "SQS messages received and not yet settled.",
		}),
	}
	if reg != nil {
		if err := m.register(reg); err != nil {
			return nil, fmt.Errorf("sqs metrics: %w", err)
		}
	}
	// Pre-create the bounded label values so both series exist from the start.
	m.failed.WithLabelValues(whyRetryable)
	m.failed.WithLabelValues(whyPermanent)
	return m, nil
}

func (m *metrics) register(reg prometheus.Registerer) error {
	var err error
	m.received, err = register(reg, m.received)
	if err == nil {
		m.deleted, err = register(reg, m.deleted)
	}
	if err == nil {
		m.failed, err = register(reg, m.failed)
	}
	if err == nil {
		m.deleteFailures, err = register(reg, m.deleteFailures)
	}
	if err == nil {
		m.receiveErrors, err = register(reg, m.receiveErrors)
	}
	if err == nil {
		m.inFlight, err = register(reg, m.inFlight)
	}
	return err
}

// register registers c, or returns the collector already registered under the same
// name so that several consumers can share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
