package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestReplayToStdout pushes the seed samples through the full pipeline into the
// stdout sink: one record line per forwarded event, exit 1 because three samples
// are invalid, and a final progress line with the counts.
func TestReplayToStdout(t *testing.T) {
	t.Setenv("RELAY_SINK", "stdout")
	code, out, errs := runCmd(t, "", "replay", "-c", "../../examples/relay.yaml", "-workers", "8", "../../testdata/seed-events.jsonl")
	if code != exitFailed {
		t.Errorf("exit %d, want %d (3 events are invalid)", code, exitFailed)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d records written, want 11:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var rec struct {
			PartitionKey string          `json:"partition_key"`
			Data         json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || len(rec.PartitionKey) != 16 || !strings.Contains(string(rec.Data), `"filter_reason":"passed_all_filters"`) {
			t.Errorf("bad record line %s: %v", l, err)
		}
	}
	if !strings.Contains(errs, "43 events") || !strings.Contains(errs, "11 forwarded, 29 dropped, 3 rejected, 0 failed") {
		t.Errorf("progress line: %s", errs)
	}
}
