package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/envelope"
	"github.com/genesys-relay/genesys-relay/rules"
)

// FuzzEvaluate checks that no input makes Evaluate panic; that what it rejects is
// invalid input with a cause; and that a forwarded record is valid JSON holding the
// received detail (or envelope) byte for byte, with a partition key Kinesis accepts.
// The seed corpus is in testdata/fuzz/FuzzEvaluate.
func FuzzEvaluate(f *testing.F) {
	example := loadExample(f, "relay.yaml")
	enriched := newProcessor(f, `
filter:
  sources: ["genesys.cloud", "aws.partner/genesys.com/*"]
  rules:
    - name: has_detail
      require: 'size(detail) >= 0'
partition_key:
  expr: 'detail.?interaction.?id.orValue(event.id)'
  hash: none
  explicit_hash_key: 'detail.?h.orValue("")'
enrich:
  include_envelope: true
  fields:
    queue: 'detail.interaction.routing.queue'
    score: 'double(detail.interaction.customAttributes.priority_score)'
    tags: '[event.source, event.region, event["detail-type"]]'
`)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []*Processor{example, enriched} {
			out, err := p.Evaluate(data)
			sameAsFullDecode(t, p, data, out, err)
			if err != nil {
				if !errors.Is(err, relay.ErrInvalid) || relay.RejectReason(err) == "" || err.Error() == "" {
					t.Fatalf("error %v (cause %q) is not a described invalid input", err, relay.RejectReason(err))
				}
				if out.Decision != relay.Reject || out.Record.Data != nil {
					t.Fatalf("rejected input has outcome %+v", out)
				}
				continue
			}
			env, _, derr := new(envelope.Decoding).Decode(data, nil)
			if derr != nil {
				t.Fatalf("Evaluate accepted what Decode rejects: %v", derr)
			}
			if out.ID != env.ID || out.Reason == "" {
				t.Fatalf("outcome %+v for envelope id %q", out, env.ID)
			}
			if out.Decision == relay.Drop {
				if out.Record.Data != nil {
					t.Fatalf("dropped event has a record")
				}
				continue
			}
			if out.Decision != relay.Forward {
				t.Fatalf("decision %v without an error", out.Decision)
			}
			rec := out.Record
			if !json.Valid(rec.Data) {
				t.Fatalf("record is not valid JSON: %s", rec.Data)
			}
			original := env.Detail
			if p == enriched {
				original = env.Raw
			}
			var fields struct {
				OriginalEvent json.RawMessage `json:"original_event"`
				TraceID       string          `json:"trace_id"`
			}
			if err := json.Unmarshal(rec.Data, &fields); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fields.OriginalEvent, original) || !bytes.HasPrefix(rec.Data, append([]byte(`{"original_event":`), original...)) {
				t.Fatalf("original_event\n%s\nis not\n%s", fields.OriginalEvent, original)
			}
			if fields.TraceID != env.ID {
				t.Fatalf("trace_id %q, want %q", fields.TraceID, env.ID)
			}
			if n := utf8.RuneCountInString(rec.PartitionKey); n < 1 || n > 256 {
				t.Fatalf("partition key of %d characters: %q", n, rec.PartitionKey)
			}
			if rec.ExplicitHashKey != "" && !relay.ValidExplicitHashKey(rec.ExplicitHashKey) {
				t.Fatalf("explicit hash key %q", rec.ExplicitHashKey)
			}
			again, err := p.Evaluate(data)
			if err != nil || !bytes.Equal(again.Record.Data, rec.Data) || again.Record.PartitionKey != rec.PartitionKey {
				t.Fatalf("a second evaluation differs: %s", again.Record.Data)
			}
		}
	})
}

// sameAsFullDecode checks that decoding only what the rules read decides as
// decoding everything would.
func sameAsFullDecode(t *testing.T, p *Processor, data []byte, out Outcome, err error) {
	t.Helper()
	full, ferr := p.evaluate(data, rules.FullAccess())
	if err == nil && relay.RejectReason(ferr) == "decoded_too_large" {
		return // what the rules do not read is not decoded, nor charged
	}
	if (err == nil) != (ferr == nil) || err != nil && err.Error() != ferr.Error() {
		t.Fatalf("error %v, with a full decode %v", err, ferr)
	}
	if !reflect.DeepEqual(out, full) {
		t.Fatalf("outcome\n%+v\nwith a full decode\n%+v", out, full)
	}
}
