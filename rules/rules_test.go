package rules

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/genesys-relay/genesys-relay/config"
)

// vars decodes an envelope the way the pipeline does (numbers as float64).
func vars(t testing.TB, envelope string) *Vars {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(envelope), &m); err != nil {
		t.Fatalf("bad test envelope %s: %v", envelope, err)
	}
	return &Vars{Event: m, Detail: m["detail"]}
}

// detailVars wraps detail JSON in a minimal envelope.
func detailVars(t testing.TB, detail string) *Vars {
	t.Helper()
	return vars(t, `{"id":"env-1","source":"genesys.cloud","region":"us-east-1","detail":`+detail+`}`)
}

func compileExample(t testing.TB) *Set {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "examples", "relay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// compileRules compiles a config with the given rules and otherwise defaults.
func compileRules(t testing.TB, rules ...config.Rule) *Set {
	t.Helper()
	cfg := config.Default()
	cfg.Filter.Rules = rules
	s, err := Compile(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSeedRules runs the shipped example (the seed's filter) over events that hit
// each of its reasons.
func TestSeedRules(t *testing.T) {
	s := compileExample(t)
	const (
		code  = "excluded_event_code"
		chann = "excluded_channel_type"
		attrs = "missing_custom_attributes"
		tier  = "failed_tier_priority_filter"
		queue = "excluded_internal_queue"
		pass  = "passed_all_filters"
	)
	for _, tc := range []struct {
		name    string
		detail  string
		reason  string
		ruleErr bool
	}{
		{"assign passes", `{"eventCode":"interaction.routing.assign","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"}}}`, pass, false},
		{"wrapup passes", `{"eventCode":"interaction.wrapup","interaction":{"type":"chat","customAttributes":{"customer_tier":"enterprise"}}}`, pass, false},
		{"other event code", `{"eventCode":"interaction.created","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"}}}`, code, false},
		{"no event code", `{"interaction":{"type":"voice"}}`, code, false},
		{"event code not a string", `{"eventCode":7,"interaction":{"type":"voice"}}`, code, false},
		{"email channel", `{"eventCode":"interaction.wrapup","interaction":{"type":"email","customAttributes":{"customer_tier":"enterprise"}}}`, chann, false},
		{"channel is case-sensitive", `{"eventCode":"interaction.wrapup","interaction":{"type":"Voice","customAttributes":{"customer_tier":"enterprise"}}}`, chann, false},
		{"no interaction", `{"eventCode":"interaction.wrapup"}`, chann, false},
		{"no custom attributes", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice"}}`, attrs, false},
		{"null custom attributes", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":null}}`, attrs, false},
		{"empty custom attributes", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{}}}`, tier, false},
		{"standard tier without score", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"standard"}}}`, tier, false},
		{"score 85", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":85}}}`, pass, false},
		{"score \"85\"", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"85"}}}`, pass, false},
		{"score 80 boundary", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":80}}}`, pass, false},
		{"score \"80\" boundary", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"80"}}}`, pass, false},
		{"score \"79.5\"", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"79.5"}}}`, tier, false},
		{"score 79.99", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":79.99}}}`, tier, false},
		{"score \"8.5e1\"", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"8.5e1"}}}`, pass, false},
		{"score not a number fails closed", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"high"}}}`, tier, true},
		{"score null fails closed", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":null}}}`, tier, true},
		{"enterprise ignores a bad score", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise","priority_score":"high"}}}`, pass, false},
		{"internal queue", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"},"routing":{"queue":{"id":"q9","name":"Internal Operations"}}}}`, queue, false},
		{"other queue", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"},"routing":{"queue":{"id":"q1","name":"Sales"}}}}`, pass, false},
		{"queue without name", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"},"routing":{"queue":{"id":"q1"}}}}`, pass, false},
		{"null queue", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"},"routing":{"queue":null}}}`, pass, false},
		{"null routing", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"},"routing":null}}`, pass, false},
		{"no routing", `{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"customer_tier":"enterprise"}}}`, pass, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok, err := s.Filter(detailVars(t, tc.detail))
			if reason != tc.reason || ok != (tc.reason == pass) || (err != nil) != tc.ruleErr {
				t.Fatalf("Filter = (%q, %v, %v), want (%q, %v, error %v)", reason, ok, err, tc.reason, tc.reason == pass, tc.ruleErr)
			}
		})
	}
}

func TestNumericStrings(t *testing.T) {
	s := compileRules(t, config.Rule{Name: "score", Require: `double(detail.s) >= 80.0`})
	for _, tc := range []struct {
		value string
		pass  bool
		err   string
	}{
		{`"85"`, true, ""},
		{`"80"`, true, ""},
		{`"79.5"`, false, ""},
		{`85`, true, ""},
		{`79.5`, false, ""},
		{`"-1e3"`, false, ""},
		{`"abc"`, false, `rule "score": `},
		{`""`, false, `rule "score": `},
		{`true`, false, `rule "score": `},
	} {
		reason, ok, err := s.Filter(detailVars(t, `{"s":`+tc.value+`}`))
		if ok != tc.pass || reason != map[bool]string{true: "passed_all_filters", false: "score"}[tc.pass] {
			t.Errorf("s=%s: Filter = (%q, %v, %v), want pass %v", tc.value, reason, ok, err, tc.pass)
		}
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)) {
			t.Errorf("s=%s: error %v, want prefix %q", tc.value, err, tc.err)
		}
	}
}

func TestMissingFields(t *testing.T) {
	for _, tc := range []struct {
		name, expr, detail string
		pass               bool
		err                string
	}{
		{"plain select of a missing key fails closed", `detail.a.b == 1`, `{}`, false, `rule "r": no such key: a (not every event has a: read it with .?a.orValue(…), or test has(….a) first)`},
		{"has() guards", `has(detail.a) && detail.a.b == 1`, `{}`, false, ""},
		{"has() true", `has(detail.a) && detail.a.b == 1`, `{"a":{"b":1}}`, true, ""},
		{"optional chain default", `detail.?a.?b.orValue(0) == 1`, `{}`, false, ""},
		{"optional chain value", `detail.?a.?b.orValue(0) == 1`, `{"a":{"b":1}}`, true, ""},
		{"optional over null", `detail.?a.?b.orValue("none") == "none"`, `{"a":null}`, true, ""},
		{"number compared with an int literal", `detail.n == 1`, `{"n":1}`, true, ""},
		{"event variable", `event.source == "genesys.cloud" && event.id == "env-1"`, `{}`, true, ""},
		{"in on a missing list fails closed", `"x" in detail.tags`, `{}`, false, `rule "r": no such key: tags (not every event has tags: read it with .?tags.orValue(…), or test has(….tags) first)`},
		{"string extensions", `detail.s.lowerAscii().startsWith("ab")`, `{"s":"ABC"}`, true, ""},
		{"math extensions", `math.greatest(1, 5, 3) == 5`, `{}`, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := compileRules(t, config.Rule{Name: "r", Require: tc.expr})
			reason, ok, err := s.Filter(detailVars(t, tc.detail))
			if ok != tc.pass {
				t.Errorf("pass = %v (reason %q, err %v), want %v", ok, reason, err, tc.pass)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Errorf("error = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestFailClosed checks the first rule that errors decides the reason, the error is
// returned, and later rules are not consulted.
func TestFailClosed(t *testing.T) {
	s := compileRules(t,
		config.Rule{Name: "first", Require: `true`},
		config.Rule{Name: "broken", DropIf: `detail.missing.x == "y"`},
		config.Rule{Name: "later", Require: `false`},
	)
	reason, ok, err := s.Filter(detailVars(t, `{}`))
	const want = `rule "broken": no such key: missing (not every event has missing: read it with .?missing.orValue(…), or test has(….missing) first)`
	if reason != "broken" || ok || err == nil || err.Error() != want {
		t.Fatalf("Filter = (%q, %v, %v), want (broken, false, no such key)", reason, ok, err)
	}
	// With the key present, drop_if false passes on to the next rule.
	reason, ok, err = s.Filter(detailVars(t, `{"missing":{"x":"z"}}`))
	if reason != "later" || ok || err != nil {
		t.Fatalf("Filter = (%q, %v, %v), want (later, false, nil)", reason, ok, err)
	}
}

func TestRuleOrderAndKinds(t *testing.T) {
	s := compileRules(t,
		config.Rule{Name: "need_a", Require: `has(detail.a)`},
		config.Rule{Name: "drop_b", DropIf: `has(detail.b)`},
		config.Rule{Name: "need_c", Require: `has(detail.c)`},
	)
	if len(s.Rules) != 3 || s.Rules[0].DropIf || !s.Rules[1].DropIf || s.Rules[2].DropIf {
		t.Fatalf("rules %+v", s.Rules)
	}
	for _, tc := range []struct {
		detail, reason string
	}{
		{`{}`, "need_a"},
		{`{"b":1}`, "need_a"},
		{`{"a":1,"b":1}`, "drop_b"},
		{`{"a":1}`, "need_c"},
		{`{"a":1,"c":1,"b":1}`, "drop_b"},
		{`{"a":1,"c":1}`, "passed_all_filters"},
	} {
		reason, ok, err := s.Filter(detailVars(t, tc.detail))
		if reason != tc.reason || ok != (tc.reason == "passed_all_filters") || err != nil {
			t.Errorf("%s: Filter = (%q, %v, %v), want %q", tc.detail, reason, ok, err, tc.reason)
		}
	}
	// No rules: everything passes with the pass reason.
	reason, ok, err := compileRules(t).Filter(detailVars(t, `{}`))
	if reason != "passed_all_filters" || !ok || err != nil {
		t.Errorf("no rules: Filter = (%q, %v, %v)", reason, ok, err)
	}
}

func TestNonBoolResult(t *testing.T) {
	s := compileRules(t, config.Rule{Name: "dyn", Require: `detail.flag`})
	for _, tc := range []struct {
		detail string
		pass   bool
		err    string
	}{
		{`{"flag":true}`, true, ""},
		{`{"flag":false}`, false, ""},
		{`{"flag":"yes"}`, false, `rule "dyn" returned string, want bool`},
		{`{"flag":1}`, false, `rule "dyn" returned double, want bool`},
		{`{"flag":null}`, false, `rule "dyn" returned null_type, want bool`},
		{`{"flag":{}}`, false, `rule "dyn" returned map, want bool`},
	} {
		reason, ok, err := s.Filter(detailVars(t, tc.detail))
		if ok != tc.pass || (!tc.pass && reason != "dyn") {
			t.Errorf("%s: Filter = (%q, %v, %v)", tc.detail, reason, ok, err)
		}
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
			t.Errorf("%s: error = %v, want %q", tc.detail, err, tc.err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*config.Config)
		want   []string
	}{
		{"syntax error", func(c *config.Config) {
			c.Filter.Rules = []config.Rule{{Name: "ok", Require: "true"}, {Name: "bad", Require: "1 + + "}}
		}, []string{`filter.rules[1] "bad": ERROR: <input>:1:5: Syntax error`}},
		{"position on a later column", func(c *config.Config) {
			c.Filter.Rules = []config.Rule{{Name: "undeclared", DropIf: `detail.x == foo`}}
		}, []string{`filter.rules[0] "undeclared": ERROR: <input>:1:13: undeclared reference to 'foo'`}},
		{"second line", func(c *config.Config) {
			c.Filter.Rules = []config.Rule{{Name: "multi", Require: "true &&\n  nope"}}
		}, []string{`filter.rules[0] "multi": ERROR: <input>:2:3: undeclared reference to 'nope'`}},
		{"rule not bool", func(c *config.Config) {
			c.Filter.Rules = []config.Rule{{Name: "number", Require: `1 + 2`}}
		}, []string{`filter.rules[0] "number": expression returns int, want bool`}},
		{"rule string", func(c *config.Config) {
			c.Filter.Rules = []config.Rule{{Name: "str", DropIf: `"x"`}}
		}, []string{`filter.rules[0] "str": expression returns string, want bool`}},
		{"wrong function", func(c *config.Config) {
			c.Filter.Rules = []config.Rule{{Name: "fn", Require: `size(1)`}}
		}, []string{`filter.rules[0] "fn": ERROR: <input>:1:5: found no matching overload for 'size'`}},
		{"partition key not a string", func(c *config.Config) { c.PartitionKey.Expr = `1` },
			[]string{`partition_key.expr: expression returns int, want string`}},
		{"partition key syntax", func(c *config.Config) { c.PartitionKey.Expr = `detail.` },
			[]string{`partition_key.expr: ERROR: <input>:1:8: Syntax error`}},
		{"explicit hash key", func(c *config.Config) { c.PartitionKey.ExplicitHashKey = `true` },
			[]string{`partition_key.explicit_hash_key: expression returns bool, want string`}},
		{"enrich field", func(c *config.Config) { c.Enrich.Fields = map[string]string{"ok": "1", "bad": "x.y"} },
			[]string{`enrich.fields.bad: ERROR: <input>:1:1: undeclared reference to 'x'`}},
		{"every error is reported", func(c *config.Config) {
			c.Filter.Rules = []config.Rule{{Name: "a", Require: "("}, {Name: "b", Require: "1"}}
			c.PartitionKey.Expr = "2"
			c.Enrich.Fields = map[string]string{"z": ")", "y": "(("}
		}, []string{`filter.rules[0] "a": ERROR: <input>:1:2`, `filter.rules[1] "b": expression returns int, want bool`,
			`partition_key.expr: expression returns int, want string`, "enrich.fields.y: ERROR: <input>:1:3", "enrich.fields.z: ERROR: <input>:1:1"}},
		{"empty source pattern", func(c *config.Config) { c.Filter.Sources = []string{"genesys.cloud", ""} },
			[]string{`filter.sources: empty pattern`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			tc.modify(&cfg)
			s, err := Compile(&cfg)
			if err == nil {
				t.Fatalf("Compile succeeded: %+v", s)
			}
			msg := err.Error()
			last := -1
			for _, w := range tc.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not contain\n%s", msg, w)
				}
				if i < last {
					t.Errorf("%q is out of order in\n%s", w, msg)
				}
				last = i
			}
			if tc.name != "empty source pattern" && !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap config.ErrInvalid: %v", err)
			}
		})
	}
}

func TestKeyValue(t *testing.T) {
	for _, tc := range []struct {
		name, expr, detail, want, err string
	}{
		{"string", `detail.k`, `{"k":"queue-1"}`, "queue-1", ""},
		{"number becomes a string", `detail.k`, `{"k":12345}`, "12345", ""},
		{"fraction", `detail.k`, `{"k":1.5}`, "1.5", ""},
		{"negative", `detail.k`, `{"k":-7}`, "-7", ""},
		{"unicode", `detail.k`, `{"k":"cola-Retención"}`, "cola-Retención", ""},
		{"dyn int", `dyn(42)`, `{}`, "42", ""},
		{"dyn uint", `dyn(42u)`, `{}`, "42", ""},
		{"concatenation", `detail.a + ":" + detail.b`, `{"a":"x","b":"y"}`, "x:y", ""},
		{"empty string", `detail.k`, `{"k":""}`, "", "empty value"},
		{"missing", `detail.k`, `{}`, "", "no such key: k"},
		{"bool", `detail.k`, `{"k":true}`, "", "value of type bool, want string"},
		{"null", `detail.k`, `{"k":null}`, "", "value of type null_type, want string"},
		{"list", `detail.k`, `{"k":["a"]}`, "", "value of type list, want string"},
		{"seed default, queue id", config.DefaultPartitionKeyExpr,
			`{"interaction":{"id":"i-1","routing":{"queue":{"id":"q-1"}}}}`, "q-1", ""},
		{"seed default, empty queue id", config.DefaultPartitionKeyExpr,
			`{"interaction":{"id":"i-1","routing":{"queue":{"id":"","name":"Unassigned"}}}}`, "i-1", ""},
		{"seed default, null queue", config.DefaultPartitionKeyExpr,
			`{"interaction":{"id":"i-1","routing":{"queue":null}}}`, "i-1", ""},
		{"seed default, null queue id", config.DefaultPartitionKeyExpr,
			`{"interaction":{"id":"i-1","routing":{"queue":{"id":null}}}}`, "i-1", ""},
		{"seed default, numeric queue id", config.DefaultPartitionKeyExpr,
			`{"interaction":{"id":"i-1","routing":{"queue":{"id":7}}}}`, "7", ""},
		{"seed default, no routing", config.DefaultPartitionKeyExpr, `{"interaction":{"id":"i-1"}}`, "i-1", ""},
		{"seed default, nothing", config.DefaultPartitionKeyExpr, `{}`, "", "empty value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.PartitionKey.Expr = tc.expr
			s, err := Compile(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.KeyValue(detailVars(t, tc.detail))
			if got != tc.want {
				t.Errorf("KeyValue = %q, want %q", got, tc.want)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Errorf("error = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestExplicitHashKey(t *testing.T) {
	s := compileRules(t)
	if got, err := s.ExplicitHashKey(detailVars(t, `{"h":"1"}`)); got != "" || err != nil {
		t.Fatalf("not configured: (%q, %v), want empty", got, err)
	}
	cfg := config.Default()
	cfg.PartitionKey.ExplicitHashKey = `detail.?h.orValue("")`
	s, err := Compile(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		detail, want, err string
	}{
		{`{"h":"340282366920938463463374607431768211455"}`, "340282366920938463463374607431768211455", ""},
		{`{"h":"0"}`, "0", ""},
		{`{"h":12}`, "12", ""},
		{`{}`, "", "empty value"},
	} {
		got, err := s.ExplicitHashKey(detailVars(t, tc.detail))
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%s: ExplicitHashKey = (%q, %v), want (%q, %q)", tc.detail, got, err, tc.want, tc.err)
		}
	}
}

func TestFields(t *testing.T) {
	cfg := config.Default()
	cfg.Enrich.Fields = map[string]string{
		"queue_name": `detail.?interaction.?routing.?queue.?name.orValue("")`,
		"agent":      `detail.agent`,
		"count":      `size(detail.tags)`,
		"b_flag":     `has(detail.flag)`,
	}
	s, err := Compile(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "agent,b_flag,count,queue_name" {
		t.Fatalf("fields in order %s, want sorted by name", got)
	}
	v := detailVars(t, `{"agent":"ana","tags":["a","b"],"interaction":{"routing":{"queue":{"name":"Sales"}}}}`)
	want := []any{"ana", false, int64(2), "Sales"}
	for i := range s.Fields {
		got, err := s.FieldValue(i, v)
		if err != nil {
			t.Fatalf("field %s: %v", s.Fields[i].Name, err)
		}
		if got.Value() != want[i] {
			t.Errorf("field %s = %#v, want %#v", s.Fields[i].Name, got.Value(), want[i])
		}
	}
	if _, err := s.FieldValue(0, detailVars(t, `{}`)); err == nil || err.Error() != "no such key: agent" {
		t.Errorf("missing agent: error %v", err)
	}
}

func TestVarsActivation(t *testing.T) {
	v := &Vars{Event: map[string]any{"id": "x"}, Detail: "d"}
	if got, ok := v.ResolveName("event"); !ok || got.(map[string]any)["id"] != "x" {
		t.Errorf("event = %v, %v", got, ok)
	}
	if got, ok := v.ResolveName("detail"); !ok || got != "d" {
		t.Errorf("detail = %v, %v", got, ok)
	}
	if got, ok := v.ResolveName("other"); ok || got != nil {
		t.Errorf("other = %v, %v", got, ok)
	}
	if v.Parent() != nil {
		t.Error("Parent() != nil")
	}
}

// TestConcurrentFilter runs one Set from many goroutines (run with -race).
func TestConcurrentFilter(t *testing.T) {
	s := compileExample(t)
	details := []struct{ detail, reason string }{
		{`{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"85"}}}`, "passed_all_filters"},
		{`{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"8"}}}`, "failed_tier_priority_filter"},
		{`{"eventCode":"x"}`, "excluded_event_code"},
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				d := details[(g+i)%len(details)]
				if reason, _, _ := s.Filter(detailVars(t, d.detail)); reason != d.reason {
					t.Errorf("reason %q, want %q", reason, d.reason)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestEvalErrorUnwraps: the hint does not hide the evaluation error.
func TestEvalErrorUnwraps(t *testing.T) {
	s := compileRules(t, config.Rule{Name: "r", Require: `detail.a == 1`})
	_, _, err := s.Filter(detailVars(t, `{}`))
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Rule != "r" || ee.Err == nil || ee.Err.Error() != "no such key: a" {
		t.Fatalf("error %v: want an *EvalError for rule r wrapping the CEL error", err)
	}
}

// TestLint: comparing a value with a string literal that spells a number is
// compiled (it is valid CEL) but warned about, with the rule and the position;
// comparisons that mean what they say are not.
func TestLint(t *testing.T) {
	cfg := config.Default()
	cfg.Filter.Rules = []config.Rule{
		{Name: "score", Require: `detail.a.?priority_score.orValue("0") > "80"`},
		{Name: "reversed", DropIf: `"10" >= detail.n`},
		{Name: "numbers", Require: `double(detail.a.?priority_score.orValue("0")) >= 80.0`},
		{Name: "strings", Require: `detail.code == "80" && "b" < detail.name && string(detail.v) > "2"`},
	}
	cfg.Enrich.Fields = map[string]string{"late": `detail.minutes <= "5"`}
	s, err := Compile(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range s.Warnings {
		got = append(got, w.Error())
	}
	want := []string{
		`filter.rules[0] "score": warning: 1:39: x > "80" compares strings when x is a string ("100" < "80") and fails when it is a number; to compare numbers write double(x) > 80`,
		`filter.rules[1] "reversed": warning: 1:6: "10" >= x compares strings when x is a string ("100" < "80") and fails when it is a number; to compare numbers write 10 >= double(x)`,
		`enrich.fields.late: warning: 1:16: x <= "5" compares strings when x is a string ("100" < "80") and fails when it is a number; to compare numbers write double(x) <= 5`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
