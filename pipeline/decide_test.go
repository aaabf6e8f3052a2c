package pipeline

import (
	"testing"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestDecideMatchesEvaluate: Decide gives every sample event the decision,
// reason, id, rule error and (with withKey) partition key Evaluate gives it,
// and builds no record.
func TestDecideMatchesEvaluate(t *testing.T) {
	for _, set := range benchSets {
		p := loadExample(t, set.config)
		for i, raw := range testx.ReadLines(t, sharedTestdata(t, set.file)) {
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

// TestComparison: deciding with two processors over one decoding gives what
// each decides alone, for every sample event and pair of example configs.
func TestComparison(t *testing.T) {
	configs := []string{"relay.yaml", "genesys-conversations.yaml"}
	for _, ca := range configs {
		for _, cb := range configs {
			pa, pb := loadExample(t, ca), loadExample(t, cb)
			c := NewComparison(pa, pb)
			for _, set := range benchSets {
				for i, raw := range testx.ReadLines(t, sharedTestdata(t, set.file)) {
					ga, gaErr, gb, gbErr := c.Decide(raw)
					for _, x := range []struct {
						p   *Processor
						got Outcome
						err error
					}{{pa, ga, gaErr}, {pb, gb, gbErr}} {
						want, werr := x.p.Decide(raw, true)
						if (x.err == nil) != (werr == nil) || x.err != nil && x.err.Error() != werr.Error() ||
							x.got.ID != want.ID || x.got.Decision != want.Decision || x.got.Reason != want.Reason ||
							(x.got.RuleErr == nil) != (want.RuleErr == nil) || x.got.Record.PartitionKey != want.Record.PartitionKey {
							t.Errorf("%s vs %s, %s:%d: %+v %v, want %+v %v", ca, cb, set.file, i+1, x.got.Result, x.err, want.Result, werr)
						}
					}
				}
			}
		}
	}
}
