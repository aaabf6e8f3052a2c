package daemon_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// heldSink keeps every Put waiting until release is closed.
type heldSink struct {
	entered chan struct{}
	release chan struct{}
}

func (s *heldSink) Put(ctx context.Context, _ relay.Record) error {
	select {
	case s.entered <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *heldSink) Close(context.Context) error { return nil }

// TestMaxInFlightBytes: http.max_in_flight_bytes reaches the ingest handler:
// with one event's body waiting for the sink, another that would take the
// bytes in flight beyond the bound gets 429, and /metrics shows the bytes held.
func TestMaxInFlightBytes(t *testing.T) {
	cfg := exampleConfig(t, "relay.yaml")
	cfg.HTTP.MaxBodyBytes = 3000
	cfg.HTTP.MaxInFlightBytes = 4000
	sink := &heldSink{entered: make(chan struct{}, 1), release: make(chan struct{})}
	d := daemontest.Start(t, daemon.Options{Config: cfg, Sink: sink})
	pad := func(b []byte, n int) string { return string(b) + strings.Repeat(" ", n-len(b)) }

	first := make(chan answer, 1)
	go func() { first <- post(t, http.DefaultClient, d.URL, []byte(pad(forwardEvent("e-held"), 3000))) }()
	select {
	case <-sink.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the first event did not reach the sink")
	}
	if a := post(t, http.DefaultClient, d.URL, []byte(pad(forwardEvent("e-over"), 1500))); a.code != 429 ||
		!strings.Contains(a.body["error"].(string), "max_in_flight_bytes") {
		t.Errorf("second event: %d %v, want 429 naming http.max_in_flight_bytes", a.code, a.body)
	}
	if !testx.HasSample(t, testx.Scrape(t, d.Metrics+"/metrics"), "genesys_relay_http_body_bytes_in_flight 3000") {
		t.Errorf("/metrics does not show the 3000 body bytes in flight")
	}
	close(sink.release)
	if a := <-first; a.code != 200 {
		t.Errorf("first event: %d %v", a.code, a.body)
	}
}
