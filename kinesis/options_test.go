package kinesis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{Stream: "s"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		Stream: "s", MaxBatchRecords: 500, MaxBatchBytes: 5 << 20, MaxRecordBytes: 1 << 20,
		Linger: 10 * time.Millisecond, MaxInFlight: 16, QueueSize: DefaultQueueSize,
		RetryBase: 50 * time.Millisecond, RetryMax: time.Second, CallTimeout: DefaultCallTimeout,
	}
	if o != want {
		t.Errorf("defaults\n got %+v\nwant %+v", o, want)
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, "kinesis.stream: is required"},
		{Options{Stream: "has space"}, "kinesis.stream"},
		{Options{Stream: strings.Repeat("s", 129)}, "kinesis.stream"},
		{Options{Stream: "arn:aws:s3:::bucket"}, "kinesis.stream"},
		{Options{Stream: "s", MaxBatchRecords: 501}, "kinesis.max_batch_records"},
		{Options{Stream: "s", MaxBatchRecords: -1}, "kinesis.max_batch_records"},
		{Options{Stream: "s", MaxBatchBytes: -1}, "kinesis.max_batch_bytes"},
		{Options{Stream: "s", MaxBatchBytes: 1000, MaxRecordBytes: 2000}, "kinesis.max_record_bytes"},
		{Options{Stream: "s", Linger: -time.Millisecond}, "kinesis.linger"},
		{Options{Stream: "s", MaxInFlight: -2}, "kinesis.max_in_flight"},
		{Options{Stream: "s", QueueSize: -1}, "kinesis.queue_size"},
		{Options{Stream: "s", RetryBase: time.Second, RetryMax: time.Millisecond}, "kinesis.retry"},
		{Options{Stream: "s", CallTimeout: -time.Second}, "kinesis.call_timeout"},
	} {
		_, err := NewWriter(&fakeAPI{}, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWriter(%+v): %v; want an error naming %s", tc.opts, err, tc.want)
		}
	}
	if _, err := NewWriter(nil, Options{Stream: "s"}); err == nil {
		t.Error("NewWriter without a client must fail")
	}
	arn := "arn:aws:kinesis:eu-west-1:123456789012:stream/events"
	w := newTestWriter(t, &fakeAPI{}, Options{Stream: arn})
	if w.streamARN == nil || *w.streamARN != arn || w.streamName != nil {
		t.Error("a stream ARN must be sent as StreamARN")
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	api := &fakeAPI{}
	w := newTestWriter(t, api, Options{Registerer: reg})
	if err := w.Put(context.Background(), rec("a")); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "outcome" {
					t.Errorf("%s has label %s; only bounded outcome labels are expected", f.GetName(), l.GetName())
				}
			}
		}
	}
	for _, name := range []string{
		"put_records_calls_total", "records_total", "throttled_records_total", "retries_total",
		"batch_records", "batch_bytes", "call_duration_seconds", "in_flight_calls", "queued_records",
		"discarded_results_total", "overloaded_total",
	} {
		if !got["genesys_relay_kinesis_"+name] {
			t.Errorf("metric genesys_relay_kinesis_%s not registered", name)
		}
	}
	if _, err := NewWriter(api, Options{Stream: "s", Registerer: reg}); err == nil {
		t.Error("a second writer on the same registry must fail, not share counters silently")
	}
}
