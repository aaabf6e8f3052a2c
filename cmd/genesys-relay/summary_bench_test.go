package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCheckSummary runs check --summary and --diff over a file of the
// seed samples repeated; one op is one event. bench/check.sh measures the
// built command on larger files.
//
//	go test ./cmd/genesys-relay -run '^$' -bench CheckSummary -benchmem
func BenchmarkCheckSummary(b *testing.B) {
	data, err := os.ReadFile(seedEvents)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, bytes.Repeat(data, 1000), 0o600); err != nil {
		b.Fatal(err)
	}
	events := bytes.Count(data, []byte("\n")) * 1000
	for _, args := range [][]string{
		{"check", "-c", exampleConfig, "--summary", path},
		{"check", "-c", exampleConfig, "--diff", exampleConfig, path},
	} {
		b.Run(args[3], func(b *testing.B) {
			e := env{stdout: io.Discard, stderr: io.Discard}
			for b.Loop() {
				if code := run(context.Background(), args, e); code != exitOK {
					b.Fatalf("exit %d", code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
		})
	}
}
