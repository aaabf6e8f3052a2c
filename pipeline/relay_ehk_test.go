package pipeline

import (
	"testing"

	"github.com/genesys-relay/genesys-relay"
)

// TestExplicitHashKeyErrorsAreCounted: a configured explicit hash key that fails or
// is out of range leaves the record without one and is reported, not silent.
func TestExplicitHashKeyErrorsAreCounted(t *testing.T) {
	p := newProcessor(t, "partition_key:\n  expr: 'event.id'\n  explicit_hash_key: 'detail.?h.orValue(\"\")'\n")
	for _, tc := range []struct {
		detail, want string
		err          bool
	}{
		{`{"h":"12345"}`, "12345", false},
		{`{"h":"340282366920938463463374607431768211456"}`, "", true}, // 2^128
		{`{"h":"-1"}`, "", true},
		{`{}`, "", true}, // empty value
	} {
		out, err := p.Evaluate(envelopeJSON("id-1", tc.detail))
		if err != nil || out.Decision != relay.Forward {
			t.Fatalf("%s: %v %v", tc.detail, out.Decision, err)
		}
		if out.Record.ExplicitHashKey != tc.want || out.HashKeyErr != tc.err {
			t.Errorf("%s: hash key %q err %v, want %q %v", tc.detail, out.Record.ExplicitHashKey, out.HashKeyErr, tc.want, tc.err)
		}
	}
	if out, _ := newProcessor(t, "").Evaluate(envelopeJSON("id-1", `{}`)); out.HashKeyErr {
		t.Error("no explicit_hash_key configured, yet reported as an error")
	}
}
