package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

// result is one measured run; its JSON form is the line the README quotes.
type result struct {
	Name             string           `json:"name"`
	Senders          int              `json:"senders"`
	Seconds          float64          `json:"seconds"`
	KinesisLatencyMS float64          `json:"kinesis_latency_ms"`
	Events           int64            `json:"events"`
	EventsPerS       float64          `json:"events_per_s"`
	ForwardedPerS    float64          `json:"forwarded_per_s"`
	P50MS            float64          `json:"p50_ms"`
	P90MS            float64          `json:"p90_ms"`
	P99MS            float64          `json:"p99_ms"`
	MaxMS            float64          `json:"max_ms"`
	PutRecordsCalls  int64            `json:"put_records_calls"`
	StoredRecords    int64            `json:"stored_records"`
	CallsPer1000     float64          `json:"calls_per_1000_forwarded"`
	CPUSeconds       float64          `json:"cpu_s"`
	CPUMicrosPerEv   float64          `json:"cpu_us_per_event"`
	EventsPerCPUS    float64          `json:"events_per_cpu_s"`
	ForwardedPerCPUS float64          `json:"forwarded_per_cpu_s"`
	PeakRSSMB        float64          `json:"peak_rss_mb"`
	Statuses         map[string]int64 `json:"statuses"`
	TransportErrors  int64            `json:"transport_errors"`
	FirstError       string           `json:"first_error,omitempty"`
	BenchCPUSeconds  float64          `json:"bench_cpu_s"`
	ClockTicks       int64            `json:"clk_tck"`
	NumCPU           int              `json:"num_cpu"`
}

func newResult(name string, o options, l load, cpu float64, rss int64, benchCPU time.Duration, k0, k1 kinesistest.Stats, withKinesis bool) result {
	hz, _ := clockTicks()
	secs := l.elapsed.Seconds()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r := result{
		Name: name, Senders: o.senders, Seconds: secs, KinesisLatencyMS: ms(o.kinesisLatency),
		Events: l.answers, EventsPerS: float64(l.answers) / secs, ForwardedPerS: float64(l.forwarded) / secs,
		P50MS: ms(percentile(l.latencies, 50)), P90MS: ms(percentile(l.latencies, 90)),
		P99MS: ms(percentile(l.latencies, 99)), MaxMS: ms(percentile(l.latencies, 100)),
		CPUSeconds: cpu, PeakRSSMB: float64(rss) / (1 << 20),
		Statuses: map[string]int64{}, TransportErrors: l.transport, FirstError: l.firstErr,
		BenchCPUSeconds: benchCPU.Seconds(), ClockTicks: hz, NumCPU: runtime.NumCPU(),
	}
	for code, n := range l.statuses {
		r.Statuses[strconv.Itoa(code)] = n
	}
	if withKinesis {
		r.PutRecordsCalls, r.StoredRecords = k1.Calls-k0.Calls, k1.Stored-k0.Stored
		if r.StoredRecords > 0 {
			r.CallsPer1000 = float64(r.PutRecordsCalls) * 1000 / float64(r.StoredRecords)
		}
	}
	if cpu > 0 {
		r.EventsPerCPUS = float64(l.answers) / cpu
		r.ForwardedPerCPUS = float64(l.forwarded) / cpu
	}
	if l.answers > 0 {
		r.CPUMicrosPerEv = cpu * 1e6 / float64(l.answers)
	}
	return r
}

// report prints the results as a table, then one JSON line each.
func report(w io.Writer, rs []result, jsonOnly bool) {
	if !jsonOnly {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "run\tc\tevents/s\tfwd/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tcalls/1k fwd\tCPU µs/ev\tev/CPU-s\tfwd/CPU-s\tpeak RSS MB\tanswers\t")
		for _, r := range rs {
			calls := "-"
			if r.StoredRecords > 0 {
				calls = fmt.Sprintf("%.1f", r.CallsPer1000)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t%s\t%.1f\t%.0f\t%.0f\t%.1f\t%s\t\n",
				r.Name, r.Senders, r.EventsPerS, r.ForwardedPerS, r.P50MS, r.P90MS, r.P99MS, r.MaxMS, calls,
				r.CPUMicrosPerEv, r.EventsPerCPUS, r.ForwardedPerCPUS, r.PeakRSSMB, statuses(r))
		}
		tw.Flush()
		for _, r := range rs {
			if r.FirstError != "" {
				fmt.Fprintf(w, "%s: first transport error: %s\n", r.Name, r.FirstError)
			}
		}
		fmt.Fprintf(w, "measured %.1f s after warm-up; CPU from /proc/<pid>/stat utime+stime at CLK_TCK=%d; this process (senders, endpoint) used %.1f CPU-s\n",
			rs[0].Seconds, rs[0].ClockTicks, rs[0].BenchCPUSeconds)
	}
	for _, r := range rs {
		b, _ := json.Marshal(r)
		fmt.Fprintln(w, string(b))
	}
}

func statuses(r result) string {
	codes := make([]string, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%s×%d", c, r.Statuses[c]))
	}
	if r.TransportErrors > 0 {
		parts = append(parts, fmt.Sprintf("err×%d", r.TransportErrors))
	}
	return strings.Join(parts, " ")
}
