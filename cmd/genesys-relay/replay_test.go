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
	// Each event not written is listed: where, which, why.
	for _, want := range []string{
		`replay: not written: ../../testdata/seed-events.jsonl:41 id 334e51af-f848-4956-bee5-e85734893498: rejected (source_not_allowed): event source "aws.events" is not allowed by filter.sources`,
		`replay: not written: ../../testdata/seed-events.jsonl:42 id 989bc9dc-f95f-48a0-860c-88043683d4bc: rejected (missing_detail): envelope has no "detail" (or it is null)`,
		`replay: not written: ../../testdata/seed-events.jsonl:43 id 2b54af77-7143-4e1d-94ea-2061fc27d683: rejected (detail_not_object): envelope "detail" must be a JSON object`,
		`replay: dropped by rule: 8 excluded_channel_type, 8 failed_tier_priority_filter, 8 missing_custom_attributes, 4 excluded_event_code, 1 excluded_internal_queue`,
	} {
		if !strings.Contains(errs, want+"\n") {
			t.Errorf("stderr lacks\n%s\n%s", want, errs)
		}
	}
	if n := strings.Count(errs, "not written"); n != 3 {
		t.Errorf("%d events listed as not written, want 3:\n%s", n, errs)
	}
}

// TestReplayListsMalformed: a malformed line is listed with its line and no id.
func TestReplayListsMalformed(t *testing.T) {
	t.Setenv("RELAY_SINK", "stdout")
	path := writeFile(t, "events.jsonl", `{"id":"a","source":"genesys.cloud","detail-type":"x","detail":{}}`+"\n"+`{"id": "b", oops`+"\n")
	code, _, errs := runCmd(t, "", "replay", "-c", "../../examples/relay.yaml", path)
	want := "replay: not written: " + path + ":2 id (no id): rejected (malformed_json): "
	if code != exitFailed || !strings.Contains(errs, want) {
		t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, errs)
	}
}
