package pipeline

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/shapes"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// benchSets are the event files of the benchmarks, each with the example config
// written for its shape. The sample files mix forwarded, dropped and rejected
// events; bench-forward-1k.json is the one event bench/cmd/relay-bench sends.
var benchSets = []struct {
	name, config, file string
	lines              bool
}{
	{"seed", "relay.yaml", "seed-events.jsonl", true},
	{"genesys", "genesys-conversations.yaml", "genesys-events.jsonl", true},
	// The same events through seven routes (examples/genesys-routing.yaml).
	{"genesys-routing", "genesys-routing.yaml", "genesys-events.jsonl", true},
	{"forward-1k", "relay.yaml", "bench-forward-1k.json", false},
}

func benchEvents(b *testing.B, file string, lines bool) [][]byte {
	path := sharedTestdata(b, file)
	if lines {
		return testx.ReadLines(b, path)
	}
	return testx.ReadLines(b, path)[:1]
}

// BenchmarkEvaluate measures the in-process pipeline per event — decode and
// validation, source check, rules, partition key and the record bytes — and, in
// the same run, json.Valid over the same bytes: the floor any pipeline that
// validates its input pays. One op is one event; the files are cycled through.
//
//	go test ./pipeline -run '^$' -bench . -benchmem
func BenchmarkEvaluate(b *testing.B) {
	for _, set := range benchSets {
		events := benchEvents(b, set.file, set.lines)
		size := 0
		for _, e := range events {
			size += len(e)
		}
		avg := int64(size / len(events))
		b.Run(set.name+"/evaluate", func(b *testing.B) {
			p := loadExample(b, set.config)
			p.Now = time.Now
			b.SetBytes(avg)
			b.ReportAllocs()
			i := 0
			defer cpuPerOp(b)()
			for b.Loop() {
				_, _ = p.Evaluate(events[i])
				if i++; i == len(events) {
					i = 0
				}
			}
		})
		b.Run(set.name+"/json.Valid", func(b *testing.B) {
			b.SetBytes(avg)
			b.ReportAllocs()
			i := 0
			defer cpuPerOp(b)()
			for b.Loop() {
				_ = json.Valid(events[i])
				if i++; i == len(events) {
					i = 0
				}
			}
		})
	}
}

// acceptSink accepts every record at once.
type acceptSink struct{}

func (acceptSink) Put(context.Context, relay.Record) error { return nil }
func (acceptSink) Close(context.Context) error             { return nil }

// BenchmarkHandle is BenchmarkEvaluate plus what Relay adds around it: metrics
// and the hand-over to a sink that accepts at once.
func BenchmarkHandle(b *testing.B) {
	for _, set := range benchSets {
		events := benchEvents(b, set.file, set.lines)
		b.Run(set.name, func(b *testing.B) {
			p := loadExample(b, set.config)
			p.Now = time.Now
			h := NewRelay(p, acceptSink{}, nil, nil).Input("http")
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, _ = h.Handle(ctx, events[i])
				if i++; i == len(events) {
					i = 0
				}
			}
		})
	}
}

// cpuPerOp reports, when the returned function is called, the CPU time the
// process used per op (cpu-ns/op): on a shared machine it varies less than
// the wall time ns/op, which counts the time spent waiting for a core.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// cpuTime is the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkShapes measures Evaluate (examples/relay.yaml) on each shape of
// internal/shapes at 1 MB, and json.Valid over the same bytes: the cost of a
// pathological event against the floor. One op is one event.
//
//	go test ./pipeline -run '^$' -bench Shapes -benchmem
func BenchmarkShapes(b *testing.B) {
	p := loadExample(b, "relay.yaml")
	for _, sh := range shapes.All {
		raw := sh.Build(1 << 20)
		b.Run(sh.Name+"/evaluate", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				_, _ = p.Evaluate(raw)
			}
		})
		b.Run(sh.Name+"/json.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				_ = json.Valid(raw)
			}
		})
	}
}
