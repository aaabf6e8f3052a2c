package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/shapes"
)

// TestEvaluateRejects checks Evaluate passes decode errors through and rejects a
// source outside filter.sources, naming the envelope id.
func TestEvaluateRejects(t *testing.T) {
	p := newProcessor(t, "filter:\n  sources: [genesys.cloud, \"aws.partner/genesys.com/*\"]\n")
	for _, tc := range []struct {
		name, raw, why, msg, id string
	}{
		{"other source", `{"id":"e-1","source":"acme.billing","detail-type":"t","detail":{}}`,
			"source_not_allowed", `event source "acme.billing" is not allowed by filter.sources`, "e-1"},
		{"look-alike partner source", `{"id":"e-2","source":"aws.partner/genesys.comX/cloud/o/s","detail-type":"t","detail":{}}`,
			"source_not_allowed", `event source "aws.partner/genesys.comX/cloud/o/s" is not allowed by filter.sources`, "e-2"},
		{"not JSON", `nope`, "malformed_json", "body is not valid JSON", ""},
		{"detail missing", `{"id":"e-3","source":"genesys.cloud","detail-type":"t"}`, "missing_detail", `envelope has no "detail" (or it is null)`, "e-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := p.Evaluate([]byte(tc.raw))
			if relay.RejectReason(err) != tc.why || err == nil || err.Error() != tc.msg {
				t.Fatalf("Evaluate error = %v (why %q), want %q (%s)", err, relay.RejectReason(err), tc.msg, tc.why)
			}
			if out.ID != tc.id || out.Decision != relay.Reject || out.Record.Data != nil {
				t.Fatalf("outcome %+v, want a reject with id %q", out, tc.id)
			}
		})
	}
}

// TestEventIsTheEnvelope: the rules' event is what encoding/json decodes the
// envelope to, whether the rules read some of its fields or use it whole:
// keys beyond the known ones (EventBridge adds replay-name to replayed
// events) are there, a missing key is missing, null is null. The record's
// source_region and trace_id keep their meaning (a null region is "").
func TestEventIsTheEnvelope(t *testing.T) {
	const fields = `
filter:
  sources: ["genesys.cloud"]
partition_key:
  expr: 'event.id'
  hash: none
enrich:
  fields:
    has_account: 'has(event.account)'
    region: 'event.region'
    replay: 'event[?"replay-name"].orValue("none")'
    resources: 'event.resources'
    detail_type: 'event["detail-type"]'
`
	for _, tc := range []struct {
		raw  string
		want map[string]any
	}{
		{`{"id":"e-1","source":"genesys.cloud","detail-type":"t","region":null,"resources":null,"detail":{},"replay-name":"r-1"}`,
			map[string]any{"has_account": false, "region": nil, "replay": "r-1", "resources": nil, "detail_type": "t", "size": 7.0,
				"source_region": "", "trace_id": "e-1"}},
		{`{"id":"e-2","source":"genesys.cloud","detail-type":"t","account":"1","region":"eu-west-1","resources":["a",null],"detail":{}}`,
			map[string]any{"has_account": true, "region": "eu-west-1", "replay": "none", "resources": []any{"a", nil}, "detail_type": "t", "size": 7.0,
				"source_region": "eu-west-1", "trace_id": "e-2"}},
		{`{"id":"e-3","source":"genesys.cloud","detail-type":"t","detail":{"a":1},"x":{"y":[true]}}`,
			map[string]any{"has_account": false, "region": nil, "replay": "none", "resources": nil, "detail_type": "t", "size": 5.0,
				"source_region": "", "trace_id": "e-3"}},
	} {
		for _, whole := range []bool{false, true} {
			doc := fields
			if whole {
				doc += "    size: 'double(size(event))'\n"
			}
			p := newProcessor(t, doc)
			out, err := p.Evaluate([]byte(tc.raw))
			if err != nil || out.Decision != relay.Forward {
				t.Fatalf("%s: %+v, %v", tc.raw, out, err)
			}
			var rec map[string]any
			if err := json.Unmarshal(out.Record.Data, &rec); err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if k == "size" && !whole {
					continue
				}
				got, ok := rec[k]
				if k == "region" || k == "resources" {
					if want == nil && !ok {
						// A missing key read without has(): a field error, written as null.
						got, ok = nil, true
					}
				}
				if !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("%s (event whole %v): %s = %#v, want %#v", tc.raw, whole, k, got, want)
				}
			}
		}
	}
}

// TestDecodeTooLarge: an event over the budget is a described 400 naming the
// budget, with its id when known; a body that is also malformed after the
// point where the budget ran out is malformed, not too large.
func TestDecodeTooLarge(t *testing.T) {
	p := loadExample(t, "relay.yaml")
	sh := shapeNamed(t, "read-empty-arrays")
	raw := sh.Build(1 << 20)
	out, err := p.Evaluate(raw)
	var ie *relay.InvalidError
	if !errors.As(err, &ie) || ie.Why != "decoded_too_large" || !strings.Contains(ie.Msg, "decoded") || out.ID != "shape-0001" {
		t.Fatalf("Evaluate = %+v, %v", out, err)
	}
	if relay.Retryable(err) || out.Decision != relay.Reject {
		t.Fatalf("%v is retryable or not a reject", err)
	}
	broken := append(bytes.Clone(raw[:len(raw)-2]), ']')
	if _, err := p.Evaluate(broken); relay.RejectReason(err) != "malformed_json" {
		t.Fatalf("malformed body over the budget: %v", err)
	}
	// Below the budget the same shape is decoded.
	if out, err := p.Evaluate(sh.Build(8 << 10)); err != nil || out.Decision != relay.Drop {
		t.Fatalf("8 KB: %+v, %v", out, err)
	}
}

func shapeNamed(t testing.TB, name string) shapes.Shape {
	for _, sh := range shapes.All {
		if sh.Name == name {
			return sh
		}
	}
	t.Fatalf("no shape %q", name)
	return shapes.Shape{}
}
