package pipeline

import (
	"testing"
)

// TestDecideMatchesEvaluate: Decide gives every sample event the decision,
// reason, id, rule error and (with withKey) partition key Evaluate gives it,
// and builds no record.
func TestDecideMatchesEvaluate(t *testing.T) {
	for _, set := range benchSets {
		p := loadExample(t, set.config)
		for i, raw := range readLines(t, sharedTestdata(t, set.file)) {
			want, werr := p.Evaluate(raw)
			for _, withKey := range []bool{false, true} {
				got, gerr := p.Decide(raw, withKey)
				if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
					t.Fatalf("%s:%d: error %v, want %v", set.file, i+1, gerr, werr)
				}
				if got.ID != want.ID || got.Decision != want.Decision || got.Reason != want.Reason || (got.RuleErr == nil) != (want.RuleErr == nil) {
					t.Errorf("%s:%d: Decide = %+v, want %+v", set.file, i+1, got.Result, want.Result)
				}
				if got.Record.Data != nil {
					t.Errorf("%s:%d: Decide built a record", set.file, i+1)
				}
				wantKey := ""
				if withKey {
					wantKey = want.Record.PartitionKey
				}
				if got.Record.PartitionKey != wantKey || withKey && got.KeyFallback != want.KeyFallback {
					t.Errorf("%s:%d: withKey %v: key %q (fallback %v), want %q (%v)", set.file, i+1, withKey,
						got.Record.PartitionKey, got.KeyFallback, wantKey, want.KeyFallback)
				}
			}
		}
	}
}

// BenchmarkDecide is BenchmarkEvaluate's evaluate without the record, with the
// partition key (what `check --diff` needs) and without (`check --summary`).
//
//	go test ./pipeline -run '^$' -bench Decide -benchmem
func BenchmarkDecide(b *testing.B) {
	for _, set := range benchSets {
		events := benchEvents(b, set.file, set.lines)
		for _, withKey := range []bool{false, true} {
			name := set.name + "/decision"
			if withKey {
				name = set.name + "/decision+key"
			}
			b.Run(name, func(b *testing.B) {
				p := loadExample(b, set.config)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					_, _ = p.Decide(events[i], withKey)
					if i++; i == len(events) {
						i = 0
					}
				}
			})
		}
	}
}
