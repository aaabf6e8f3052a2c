package kinesis

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestOutageWarningsCounted: during an outage every call fails; the writer writes
// one line per kind of failure per second at most, and the counts of its lines add
// up to the failed calls (what was held back is written on Close).
func TestOutageWarningsCounted(t *testing.T) {
	api := &fakeAPI{respond: func(context.Context, int, *fakeCall) (*kinesisOutput, error) {
		return nil, sdkAPIError("InternalFailure", 500)
	}}
	var logs testx.Buffer
	start := time.Now()
	w := newTestWriter(t, api, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 5 {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				if err := w.Put(ctx, seqRec(g, i)); err == nil {
					t.Errorf("Put succeeded during an outage")
				}
				cancel()
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)

	failed := int64(testutil.ToFloat64(w.m.callsError))
	var lines, counted int64
	for _, l := range logs.JSONLines(t) {
		if l["msg"] != "kinesis: PutRecords failed, retrying" {
			continue
		}
		lines++
		count, _ := l["count"].(float64)
		counted += int64(count)
	}
	if failed < 20 {
		t.Fatalf("only %d failed calls", failed)
	}
	if counted != failed {
		t.Errorf("the lines count %d failures; %d calls failed", counted, failed)
	}
	// One line per started second, plus the one written on Close.
	if most := int64(elapsed/logInterval) + 2; lines > most {
		t.Errorf("%d lines in %v for %d failed calls; want at most %d", lines, elapsed, failed, most)
	}
}
