package rules

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/genesys-relay/genesys-relay/config"
)

// describe prints an Access compactly: "event" when the whole envelope is read,
// the event fields, then the detail tree where * marks a value used whole.
func describe(a *Access) string {
	var parts []string
	if a.Event {
		parts = append(parts, "event")
	}
	var fields []string
	for f := range a.EventFields {
		fields = append(fields, "event."+f)
	}
	slices.Sort(fields)
	parts = append(parts, fields...)
	parts = append(parts, "detail"+describePath(a.Detail))
	return strings.Join(parts, " ")
}

func describePath(p *Path) string {
	if p.All {
		return "*"
	}
	if len(p.Fields) == 0 {
		return ""
	}
	var names []string
	for f := range p.Fields {
		names = append(names, f)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("{")
	for i, f := range names {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(f + describePath(p.Fields[f]))
	}
	b.WriteString("}")
	return b.String()
}

func TestAccess(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ expr, want string }{
		{`true`, "detail"},
		{`detail.a == "x"`, "detail{a*}"},
		{`detail.?a.?b.orValue("") == "x"`, "detail{a{b*}}"},
		{`detail["a"]["b c"] == 1`, "detail{a{b c*}}"},
		{`detail[?"a"].orValue(1) == 1`, "detail{a*}"},
		{`has(detail.a.b)`, "detail{a{b*}}"},
		{`detail.a.b == 1 && detail.a != null`, "detail{a*}"},
		{`detail.a != null || detail.a.b == 1`, "detail{a*}"},
		{`detail.a.b == 1 || detail.a.c == 2`, "detail{a{b* c*}}"},
		{`size(detail) > 0`, "detail*"},
		{`detail.list.exists(x, x.id == "q")`, "detail{list*}"},
		{`detail.m.exists(k, detail.m[k] == 1)`, "detail{m*}"},
		{`detail[event.source] == 1`, "event.source detail*"},
		{`event.source == "s" && event["detail-type"].startsWith("v2.")`, "event.detail-type event.source detail"},
		{`event.detail.a == 1 && detail.b == 2`, "event.detail detail{a* b*}"},
		{`event.detail == {}`, "event.detail detail*"},
		{`size(event) > 0`, "event detail*"},
		{`[1].exists(detail, detail == 1)`, "detail*"},
		{`double(detail.a.?score.orValue("0")) >= 80.0`, "detail{a{score*}}"},
		{`detail.a.split("/")[3] == "x"`, "detail{a*}"},
		{`{"k": detail.a}.k == 1`, "detail{a*}"},
		{`detail.list[0].id == "x"`, "detail{list*}"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			s := &Set{access: newAccess()}
			if _, err := s.compile(env, tc.expr, nil); err != nil {
				t.Fatal(err)
			}
			if got := describe(s.Access()); got != tc.want {
				t.Errorf("access %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAccessExamples pins what the shipped examples read: the decoder builds
// only these fields.
func TestAccessExamples(t *testing.T) {
	for name, want := range map[string]string{
		"relay.yaml": "detail{eventCode* interaction{customAttributes* id* routing{queue{id* name*}} type*}}",
		"genesys-conversations.yaml": "event.detail-type event.source " +
			"detail{eventBody{attributes{customer_tier* priority_score*} conversationId* mediaType* queueId*} metadata{CorrelationId*} topicName*}",
	} {
		cfg, err := config.Load(filepath.Join("..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(s.Access()); got != want {
			t.Errorf("%s: access\n%s\nwant\n%s", name, got, want)
		}
	}
}

func TestReadsEventKey(t *testing.T) {
	for _, tc := range []struct {
		expr string
		keys map[string]bool
	}{
		{`event["replay-name"] == "x" || event.region == "r"`, map[string]bool{"replay-name": true, "region": true, "id": false, "detail": false}},
		{`size(event) > 0`, map[string]bool{"replay-name": true, "anything": true}},
		{`detail.a == 1`, map[string]bool{"detail": false, "id": false}},
		{`event.detail.a == 1`, map[string]bool{"detail": true, "id": false}},
	} {
		acc := compileAccess(t, tc.expr)
		for k, want := range tc.keys {
			if got := acc.ReadsEventKey(k); got != want {
				t.Errorf("%s: ReadsEventKey(%q) = %v, want %v", tc.expr, k, got, want)
			}
		}
	}
	hand := &Access{EventFields: map[string]bool{"id": true}, Detail: &Path{}}
	if !hand.ReadsEventKey("id") || hand.ReadsEventKey("source") || !hand.ReadsEvent() {
		t.Error("an Access built by hand")
	}
}

// compileAccess is what expr reads.
func compileAccess(t *testing.T, expr string) *Access {
	t.Helper()
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	s := &Set{access: newAccess()}
	if _, err := s.compile(env, expr, nil); err != nil {
		t.Fatal(err)
	}
	return s.Access()
}
