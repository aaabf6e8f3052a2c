package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// sharedTestdata returns the path of a sample event file in the repository's
// testdata folder.
func sharedTestdata(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("sample file: %v", err)
	}
	return p
}

func loadExample(t testing.TB, name string) *Processor {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Now = func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC) }
	return p
}

// TestSeedExpected runs every seed sample event and compares decision, reason and
// partition key with the seed's own results.
func TestSeedExpected(t *testing.T) {
	p := loadExample(t, "relay.yaml")
	events := testx.ReadLines(t, sharedTestdata(t, "seed-events.jsonl"))
	expected := testx.ReadLines(t, sharedTestdata(t, "seed-expected.jsonl"))
	if len(events) != len(expected) || len(events) == 0 {
		t.Fatalf("%d events, %d expectations", len(events), len(expected))
	}
	counts := map[string]int{}
	for i, raw := range events {
		var want struct {
			ID, Decision string
			Reason       *string
			PartitionKey *string `json:"partition_key"`
		}
		if err := json.Unmarshal(expected[i], &want); err != nil {
			t.Fatal(err)
		}
		out, err := p.Evaluate(raw)
		got := out.Decision.String()
		if err != nil {
			got = "reject"
		}
		counts[got]++
		if got != want.Decision {
			t.Errorf("event %d (%s): decision %s (err %v), want %s", i, want.ID, got, err, want.Decision)
			continue
		}
		if want.Reason != nil && out.Reason != *want.Reason {
			t.Errorf("event %d (%s): reason %q, want %q", i, want.ID, out.Reason, *want.Reason)
		}
		if want.PartitionKey != nil && out.Record.PartitionKey != *want.PartitionKey {
			t.Errorf("event %d (%s): partition key %q, want %q", i, want.ID, out.Record.PartitionKey, *want.PartitionKey)
		}
		if want.Decision == "reject" && (relay.RejectReason(err) == "" || err.Error() == "") {
			t.Errorf("event %d: reject without a cause: %v", i, err)
		}
	}
	t.Logf("decisions: %v", counts)
	if counts["forward"] == 0 || counts["drop"] == 0 || counts["reject"] == 0 {
		t.Errorf("sample should cover every decision, got %v", counts)
	}
}

// TestRecordVerbatim checks original_event is the received detail byte for byte:
// big integers, U+2028, escapes and key order survive.
func TestRecordVerbatim(t *testing.T) {
	p := loadExample(t, "relay.yaml")
	detail := `{ "eventCode":"interaction.wrapup","interaction":{"type":"voice","id":"i-9",` +
		`"customAttributes":{"customer_tier":"enterprise","z":1,"a":12345678901234567890123,"f":1.50e3,` +
		`"note":"line` + "\u2028" + `sep \u00e9 <&>"},"routing":{"queue":{"id":"q1","name":"Sales"}}} }`
	raw := []byte(`{"version":"0","id":"id-1","detail-type":"x","source":"genesys.cloud","region":"eu-west-1","detail":` + detail + `}`)
	out, err := p.Evaluate(raw)
	if err != nil || out.Decision != relay.Forward {
		t.Fatalf("decision %v err %v", out.Decision, err)
	}
	want := `{"original_event":` + detail + `,"filter_reason":"passed_all_filters","processed_at":"2026-11-27T12:00:00.123456789Z","source_region":"eu-west-1","trace_id":"id-1"}`
	if string(out.Record.Data) != want {
		t.Fatalf("record\n got %s\nwant %s", out.Record.Data, want)
	}
	if !json.Valid(out.Record.Data) {
		t.Fatal("record is not valid JSON")
	}
	if out.Record.PartitionKey != fnv64a("q1") {
		t.Fatalf("key %s", out.Record.PartitionKey)
	}
}

func TestFNV64aVectors(t *testing.T) {
	// FNV-1a 64 reference values: offset basis for "", and the published vector for "a".
	for in, want := range map[string]string{"": "cbf29ce484222325", "a": "af63dc4c8601ec8c", "foobar": "85944171f73967e8"} {
		if got := fnv64a(in); got != want {
			t.Errorf("fnv64a(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestDecodeOnlyWhatRulesRead: every sample event gets the same outcome whether
// the decoder builds only the fields the rules read or the whole envelope.
func TestDecodeOnlyWhatRulesRead(t *testing.T) {
	for _, set := range benchSets {
		p := loadExample(t, set.config)
		for _, raw := range testx.ReadLines(t, sharedTestdata(t, set.file)) {
			out, err := p.Evaluate(raw)
			sameAsFullDecode(t, p, raw, out, err)
		}
	}
}

// TestEventDetail checks that detail read through event, next to other fields
// of event, is the detail the rules read directly.
func TestEventDetail(t *testing.T) {
	p := newProcessor(t, `
filter:
  sources: ["genesys.cloud"]
  rules:
    - name: a_is_one
      require: 'event.detail.a == 1.0 && event.source == "genesys.cloud"'
partition_key:
  expr: 'event.detail.?k.orValue("")'
  hash: none
`)
	for _, tc := range []struct {
		detail, decision, key string
	}{
		{`{"a":1,"k":"key"}`, "forward", "key"},
		{`{"a":2}`, "drop", ""},
	} {
		raw := envelopeJSON("e-1", tc.detail)
		out, err := p.Evaluate(raw)
		if err != nil || out.Decision.String() != tc.decision || out.RuleError || out.Record.PartitionKey != tc.key && tc.key != "" {
			t.Fatalf("%s: outcome %+v, %v; want %s", tc.detail, out, err, tc.decision)
		}
		sameAsFullDecode(t, p, raw, out, err)
	}
}

// TestOutcomeOutlivesDecoding checks that what Evaluate returns does not point
// into the pooled memory it decoded the event in, nor into the body, which the
// input reuses: the outcomes of earlier events must not change while later
// events are evaluated and after their bodies are overwritten. The partition
// key and the explicit hash key are decoded strings (hash none), the rules
// fail on some events (rule errors), and the enrichment fields copy decoded
// values.
func TestOutcomeOutlivesDecoding(t *testing.T) {
	p := newProcessor(t, `
filter:
  sources: ["genesys.cloud"]
  rules:
    - name: has_queue
      require: 'detail.queue.name != "drop-me"'
partition_key:
  expr: 'detail.queue.name'
  hash: none
  explicit_hash_key: 'detail.?h.orValue("")'
enrich:
  fields:
    queue: 'detail.queue'
    names: 'detail.list.map(x, x + "!")'
kinesis:
  stream: s
  region: us-east-1
`)
	type kept struct {
		out             Outcome
		id, key, reason string
		hashKey         string
		data            string
		ruleErr         string
	}
	var all []kept
	for i := range 200 {
		detail := fmt.Sprintf(`{"queue":{"name":"q-%03d-%s","id":%d},"list":["a%d","b%d"],"h":"%d"}`, i, strings.Repeat("x", i%40), i, i, i, 1000+i)
		if i%7 == 0 {
			detail = fmt.Sprintf(`{"list":["c%d"]}`, i) // no queue: the rule errs
		}
		if i%11 == 0 {
			detail = `{"queue":{"name":"drop-me"}}`
		}
		body := envelopeJSON(fmt.Sprintf("id-%03d", i), detail)
		out, err := p.Evaluate(body)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		k := kept{out: out, id: strings.Clone(out.ID), key: strings.Clone(out.Record.PartitionKey),
			reason: strings.Clone(out.Reason), data: string(out.Record.Data), hashKey: strings.Clone(out.Record.ExplicitHashKey)}
		if out.RuleErr != nil {
			k.ruleErr = out.RuleErr.Error()
		}
		all = append(all, k)
		for j := range body {
			body[j] = '#'
		}
	}
	for i, k := range all {
		if k.out.ID != k.id || k.out.Record.PartitionKey != k.key || k.out.Reason != k.reason ||
			string(k.out.Record.Data) != k.data {
			t.Errorf("event %d changed after later events: id %q→%q key %q→%q reason %q→%q data %s→%s",
				i, k.id, k.out.ID, k.key, k.out.Record.PartitionKey, k.reason, k.out.Reason, k.data, k.out.Record.Data)
		}
		if k.out.Record.ExplicitHashKey != k.hashKey {
			t.Errorf("event %d: explicit hash key changed: %q → %q", i, k.hashKey, k.out.Record.ExplicitHashKey)
		}
		if k.out.RuleErr != nil && k.out.RuleErr.Error() != k.ruleErr {
			t.Errorf("event %d: rule error changed: %q → %q", i, k.ruleErr, k.out.RuleErr)
		}
	}
	if k := all[1]; k.key != "q-001-x" || k.out.Decision != relay.Forward || k.hashKey != "1001" {
		t.Errorf("event 1: key %q hash key %q decision %v, want q-001-x 1001 forward", k.key, k.hashKey, k.out.Decision)
	}
	if k := all[7]; k.out.RuleErr == nil {
		t.Errorf("event 7 (no queue): no rule error")
	}
}
