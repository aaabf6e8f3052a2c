package pipeline

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestKnownLabelsExistAtZero: before any event, every rule name has its dropped and
// rule_errors series, every enrichment field its enrich_errors series and every
// reject cause its rejected series, at 0; a reload that adds a rule adds its series.
func TestKnownLabelsExistAtZero(t *testing.T) {
	p := newProcessor(t, `
filter:
  sources: ["genesys.cloud"]
  rules:
    - {name: needs_code, require: 'has(detail.eventCode)'}
    - {name: no_internal, drop_if: 'detail.?queue.orValue("") == "internal"'}
enrich:
  fields:
    queue_name: 'detail.?queue.orValue("")'
`)
	reg := prometheus.NewRegistry()
	r := NewRelay(p, nil, reg, nil)
	want := [][]string{
		{"genesys_relay_events_dropped_total", "reason", "needs_code"},
		{"genesys_relay_events_dropped_total", "reason", "no_internal"},
		{"genesys_relay_rule_errors_total", "rule", "needs_code"},
		{"genesys_relay_rule_errors_total", "rule", "no_internal"},
		{"genesys_relay_enrich_errors_total", "field", "queue_name"},
	}
	for _, why := range RejectWhys {
		want = append(want, []string{"genesys_relay_events_rejected_total", "why", why})
	}
	for _, w := range want {
		if v, ok := testx.Lookup(t, reg, w[0], w[1], w[2]); !ok || v != 0 {
			t.Errorf("%s{%s=%q} = %v (present: %v); want 0 from the start", w[0], w[1], w[2], v, ok)
		}
	}

	r.Swap(newProcessor(t, `
filter:
  sources: ["genesys.cloud"]
  rules:
    - {name: added_later, require: 'true'}
`))
	if _, ok := testx.Lookup(t, reg, "genesys_relay_rule_errors_total", "rule", "added_later"); !ok {
		t.Error("a rule added by a reload has no rule_errors series")
	}
}

// TestRejectWhysComplete: every cause the pipeline rejects with is in RejectWhys, so
// that its series exists from the start.
func TestRejectWhysComplete(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`relay\.Invalid\("([a-z_]+)"`)
	found := 0
	for _, f := range files {
		if filepath.Ext(f) != ".go" || len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			found++
			if !slices.Contains(RejectWhys, string(m[1])) {
				t.Errorf("%s rejects with %q, which RejectWhys lacks", f, m[1])
			}
		}
	}
	if found == 0 {
		t.Fatal("no relay.Invalid call found: the pattern is out of date")
	}
}
