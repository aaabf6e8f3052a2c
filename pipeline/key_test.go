package pipeline

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestSeedPartitionKeys recomputes the seed's key (queue id, else interaction id,
// FNV-1a 64 hex) for every forwarded sample event and compares it with the seed's
// expected key and with the relay's.
func TestSeedPartitionKeys(t *testing.T) {
	p := loadExample(t, "relay.yaml")
	events := testx.ReadLines(t, sharedTestdata(t, "seed-events.jsonl"))
	expected := testx.ReadLines(t, sharedTestdata(t, "seed-expected.jsonl"))
	forwarded := 0
	for i, raw := range events {
		var want struct {
			Decision     string
			PartitionKey string `json:"partition_key"`
		}
		if err := json.Unmarshal(expected[i], &want); err != nil {
			t.Fatal(err)
		}
		if want.Decision != "forward" {
			continue
		}
		forwarded++
		var ev struct {
			Detail struct {
				Interaction struct {
					ID      string
					Routing struct{ Queue *struct{ ID string } }
				}
			}
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		value := ev.Detail.Interaction.ID
		if q := ev.Detail.Interaction.Routing.Queue; q != nil && q.ID != "" {
			value = q.ID
		}
		if got := fnvKey(value); got != want.PartitionKey {
			t.Errorf("event %d: FNV-1a of %q = %s, the seed expects %s", i, value, got, want.PartitionKey)
		}
		out, err := p.Evaluate(raw)
		if err != nil {
			t.Fatal(err)
		}
		if out.Record.PartitionKey != want.PartitionKey || out.KeyFallback {
			t.Errorf("event %d: key %s (fallback %v), want %s", i, out.Record.PartitionKey, out.KeyFallback, want.PartitionKey)
		}
	}
	if forwarded < 5 {
		t.Fatalf("only %d forwarded sample events", forwarded)
	}
}

// TestFNV64aMatchesStdlib compares the key hash with hash/fnv over inputs of
// several lengths (TestFNV64aVectors has the published vectors).
func TestFNV64aMatchesStdlib(t *testing.T) {
	for _, in := range []string{"", "a", "foobar", "q-1", "6f03675a-1600-435a-8999-50d836f675cc", "Retención", strings.Repeat("x", 1000)} {
		got := fnv64a(in)
		if want := fnvKey(in); got != want || len(got) != 16 {
			t.Errorf("fnv64a(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestPartitionKeySeedDefault covers the default key over the shapes a queue takes.
func TestPartitionKeySeedDefault(t *testing.T) {
	p := newProcessor(t, "")
	for _, tc := range []struct {
		name, detail, value string
		fallback            bool
	}{
		{"queue id", `{"interaction":{"id":"i-1","routing":{"queue":{"id":"q-1","name":"Sales"}}}}`, "q-1", false},
		{"empty queue id", `{"interaction":{"id":"i-1","routing":{"queue":{"id":"","name":"Unassigned"}}}}`, "i-1", false},
		{"queue without id", `{"interaction":{"id":"i-1","routing":{"queue":{"name":"Sales"}}}}`, "i-1", false},
		{"null queue id", `{"interaction":{"id":"i-1","routing":{"queue":{"id":null}}}}`, "i-1", false},
		{"null queue", `{"interaction":{"id":"i-1","routing":{"queue":null}}}`, "i-1", false},
		{"no queue", `{"interaction":{"id":"i-1","routing":{}}}`, "i-1", false},
		{"null routing", `{"interaction":{"id":"i-1","routing":null}}`, "i-1", false},
		{"no routing", `{"interaction":{"id":"i-1"}}`, "i-1", false},
		{"no ids at all", `{"interaction":{}}`, "env-1", true},
		{"no interaction", `{}`, "env-1", true},
		{"empty interaction id", `{"interaction":{"id":""}}`, "env-1", true},
		{"numeric interaction id", `{"interaction":{"id":12345}}`, "12345", false},
		{"interaction id of the wrong type", `{"interaction":{"id":true}}`, "env-1", true},
		{"numeric queue id", `{"interaction":{"id":"i-1","routing":{"queue":{"id":7}}}}`, "7", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := p.Evaluate(envelopeJSON("env-1", tc.detail))
			if err != nil || out.Decision != relay.Forward {
				t.Fatalf("Evaluate = %+v, %v", out, err)
			}
			if want := fnvKey(tc.value); out.Record.PartitionKey != want || out.KeyFallback != tc.fallback {
				t.Fatalf("key %s (fallback %v), want FNV-1a(%q) = %s (fallback %v)",
					out.Record.PartitionKey, out.KeyFallback, tc.value, want, tc.fallback)
			}
		})
	}
}

func TestPartitionKeyHashNone(t *testing.T) {
	p := newProcessor(t, "partition_key:\n  expr: 'detail.k'\n  hash: none\n")
	long := strings.Repeat("k", 257)
	for _, tc := range []struct {
		name, id, k, want string
		fallback          bool
	}{
		{"value itself", "env-1", `"queue-1"`, "queue-1", false},
		{"number", "env-1", `12345`, "12345", false},
		{"fraction", "env-1", `2.5`, "2.5", false},
		{"256 characters", "env-1", `"` + strings.Repeat("k", 256) + `"`, strings.Repeat("k", 256), false},
		{"256 multi-byte characters", "env-1", `"` + strings.Repeat("é", 256) + `"`, strings.Repeat("é", 256), false},
		{"257 characters fall back", "env-1", `"` + long + `"`, "env-1", true},
		{"257 multi-byte characters fall back", "env-1", `"` + strings.Repeat("é", 257) + `"`, "env-1", true},
		{"empty falls back", "env-1", `""`, "env-1", true},
		{"missing falls back", "env-1", ``, "env-1", true},
		{"null falls back", "env-1", `null`, "env-1", true},
		{"object falls back", "env-1", `{}`, "env-1", true},
		{"long id is hashed", long, `""`, fnvKey(long), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			detail := `{}`
			if tc.k != "" {
				detail = `{"k":` + tc.k + `}`
			}
			out, err := p.Evaluate(envelopeJSON(tc.id, detail))
			if err != nil {
				t.Fatal(err)
			}
			if out.Record.PartitionKey != tc.want || out.KeyFallback != tc.fallback {
				t.Fatalf("key %q (fallback %v), want %q (fallback %v)", out.Record.PartitionKey, out.KeyFallback, tc.want, tc.fallback)
			}
		})
	}
}

func TestExplicitHashKey(t *testing.T) {
	p := newProcessor(t, "partition_key:\n  expr: 'detail.k'\n  explicit_hash_key: 'detail.?h.orValue(\"\")'\n")
	for _, tc := range []struct {
		h, want string
	}{
		{`"0"`, "0"},
		{`"42"`, "42"},
		{`"340282366920938463463374607431768211455"`, "340282366920938463463374607431768211455"}, // 2^128-1
		{`"340282366920938463463374607431768211456"`, ""},                                        // 2^128
		{`"1000000000000000000000000000000000000000"`, ""},                                       // 40 digits
		{`"-1"`, ""},
		{`"007"`, ""}, // decimals Kinesis refuses: the record would be refused whole
		{`"00"`, ""},
		{`"+5"`, ""},
		{`"-0"`, ""},
		{`"0x10"`, ""},
		{`"1e3"`, ""},
		{`" 1"`, ""},
		{`"abc"`, ""},
		{`""`, ""},
		{`12`, "12"},
		{`true`, ""},
	} {
		out, err := p.Evaluate(envelopeJSON("env-1", `{"k":"x","h":`+tc.h+`}`))
		if err != nil || out.Decision != relay.Forward {
			t.Fatalf("h=%s: %+v, %v", tc.h, out, err)
		}
		if out.Record.ExplicitHashKey != tc.want {
			t.Errorf("h=%s: explicit hash key %q, want %q", tc.h, out.Record.ExplicitHashKey, tc.want)
		}
		if out.Record.PartitionKey != fnvKey("x") {
			t.Errorf("h=%s: partition key %q", tc.h, out.Record.PartitionKey)
		}
	}
	// Without the setting no hash key is set.
	out, err := newProcessor(t, "").Evaluate(envelopeJSON("env-1", `{"h":"1"}`))
	if err != nil || out.Record.ExplicitHashKey != "" {
		t.Fatalf("%+v, %v", out, err)
	}
}

// TestGenesysExample runs the real Genesys Cloud sample events through the second
// shipped example (conversation detail topics).
func TestGenesysExample(t *testing.T) {
	p := loadExample(t, "genesys-conversations.yaml")
	const conv = "8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b"
	want := map[string]struct{ decision, reason, key, queue string }{
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f601": {"forward", "passed_all_filters", conv, ""},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f602": {"forward", "passed_all_filters", conv, "7a8b9c0d-1e2f-4a3b-8c5d-6e7f80910213"},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f603": {"forward", "passed_all_filters", conv, "7a8b9c0d-1e2f-4a3b-8c5d-6e7f80910213"},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f604": {"forward", "passed_all_filters", conv, "7a8b9c0d-1e2f-4a3b-8c5d-6e7f80910213"},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f605": {"forward", "passed_all_filters", conv, ""},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f606": {"forward", "passed_all_filters", "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b", "7a8b9c0d-1e2f-4a3b-8c5d-6e7f80910213"},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f607": {"forward", "passed_all_filters", "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", "7a8b9c0d-1e2f-4a3b-8c5d-6e7f80910213"},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f608": {"drop", "excluded_media_type", "", ""},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f609": {"drop", "not_conversation_detail", "", ""},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f610": {"drop", "not_conversation_detail", "", ""},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f611": {"drop", "not_conversation_detail", "", ""},
		"e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f612": {"forward", "passed_all_filters", conv, ""},
	}
	events := testx.ReadLines(t, sharedTestdata(t, "genesys-events.jsonl"))
	if len(events) != len(want) {
		t.Fatalf("%d sample events, %d expectations", len(events), len(want))
	}
	for _, raw := range events {
		out, err := p.Evaluate(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw[:80], err)
		}
		w, ok := want[out.ID]
		if !ok {
			t.Fatalf("unexpected event %s", out.ID)
		}
		if out.Decision.String() != w.decision || out.Reason != w.reason || out.RuleError {
			t.Errorf("%s: %s %s (rule error %v), want %s %s", out.ID, out.Decision, out.Reason, out.RuleError, w.decision, w.reason)
			continue
		}
		if out.Decision != relay.Forward {
			continue
		}
		if out.Record.PartitionKey != w.key || out.KeyFallback || len(out.FieldErrs) != 0 {
			t.Errorf("%s: key %q fallback %v field errors %v, want %q", out.ID, out.Record.PartitionKey, out.KeyFallback, out.FieldErrs, w.key)
		}
		var env struct{ Detail json.RawMessage }
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		var rec struct {
			OriginalEvent  json.RawMessage `json:"original_event"`
			OrganizationID string          `json:"organization_id"`
			QueueID        string          `json:"queue_id"`
			Topic          string          `json:"topic"`
			CorrelationID  string          `json:"correlation_id"`
		}
		if err := json.Unmarshal(out.Record.Data, &rec); err != nil {
			t.Fatalf("%s: record %s: %v", out.ID, out.Record.Data, err)
		}
		if string(rec.OriginalEvent) != string(env.Detail) {
			t.Errorf("%s: original_event is not the detail verbatim", out.ID)
		}
		if rec.OrganizationID != "5f2c8a41-7d3e-4b9a-9c61-2e8f0a4b7d13" || rec.QueueID != w.queue ||
			!strings.HasPrefix(rec.Topic, "v2.detail.events.conversation.") || !strings.HasPrefix(rec.CorrelationID, "f1a2b3c4-") {
			t.Errorf("%s: enrichment %+v", out.ID, rec)
		}
	}
}
