package rules

import (
	"errors"
	"strings"
	"testing"

	"github.com/genesys-relay/genesys-relay/config"
)

func parseConfig(t *testing.T, doc string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(doc), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCompileRoutesErrors: a route expression that does not compile is a
// configuration error naming the route, its key and the position.
func TestCompileRoutesErrors(t *testing.T) {
	cfg := parseConfig(t, `
outputs: {a: {stream: sa}}
routes:
  - {name: ok, to: a, when: 'event.source == "x"'}
  - {name: bad_when, to: a, when: 'event.source =='}
  - {name: not_bool, to: a, when: '"yes"'}
  - {name: bad_key, to: a, partition_key: {expr: 'detail.(('}}
  - {name: bad_field, to: a, enrich: {fields: {f: 'detail..x'}}}
`)
	_, err := Compile(cfg)
	if err == nil || !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("Compile = %v, want an invalid configuration", err)
	}
	for _, want := range []string{
		`routes[1].when "bad_when": ERROR: <input>:1:16`,
		`routes[2].when "not_bool": expression returns string, want bool`,
		`routes[3].partition_key.expr "bad_key": ERROR:`,
		`routes[4].enrich.fields.f "bad_field": ERROR:`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\nlacks %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `"ok"`) {
		t.Errorf("the good route is reported: %v", err)
	}
}

// TestCompileRoutes: the routes in order, each with its key and fields;
// routes that add no fields share the top-level field set.
func TestCompileRoutes(t *testing.T) {
	s, err := Compile(parseConfig(t, `
partition_key: {expr: 'detail.k', hash: none}
enrich: {fields: {b: '1', a: '2'}}
outputs: {x: {stream: sx}, y: {stream: sy}}
routes:
  - {name: r1, to: x}
  - {name: r2, to: y, when: 'detail.k == "v"', partition_key: {expr: 'event.id'}, enrich: {fields: {c: '3', a: '4'}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Routed || len(s.Routes) != 2 || s.FieldSets != 2 {
		t.Fatalf("%+v", s)
	}
	r1, r2 := s.Routes[0], s.Routes[1]
	if r1.Name != "r1" || r1.Output != "x" || r1.Key != s.Key || r1.FieldSet != 0 || len(r1.Fields) != 2 {
		t.Errorf("r1 %+v", r1)
	}
	var names []string
	for _, f := range r2.Fields {
		names = append(names, f.Name)
	}
	if r2.Key == s.Key || r2.Key.Hash != "none" || r2.FieldSet != 1 || strings.Join(names, ",") != "a,b,c" {
		t.Errorf("r2 %+v fields %v", r2, names)
	}
	v := detailVars(t, `{"k":"v"}`)
	if take, err := r2.Takes(v); !take || err != nil {
		t.Errorf("r2.Takes = %v %v", take, err)
	}
	if k, hash, err := r2.Key.Value(v); k != "env-1" || hash != "none" || err != nil {
		t.Errorf("r2 key %q %q %v", k, hash, err)
	}
	if a, _ := r2.FieldValue(0, v); a.Value() != int64(4) {
		t.Errorf("r2's a = %v, want the route's expression", a)
	}
	if take, err := r1.Takes(v); !take || err != nil {
		t.Errorf("a route without when takes every event: %v %v", take, err)
	}
}

// TestCompileWithoutRoutes: one route, default, to the default output, with
// the top-level key and fields.
func TestCompileWithoutRoutes(t *testing.T) {
	s := compileExample(t)
	if s.Routed || len(s.Routes) != 1 || s.FieldSets != 1 {
		t.Fatalf("%+v", s.Routes)
	}
	if r := s.Routes[0]; r.Name != config.DefaultRoute || r.Output != config.DefaultOutput || r.Key != s.Key {
		t.Errorf("%+v", r)
	}
}

// TestBuiltinKey: partition_key.expr left out reads Genesys Cloud's shape
// (conversationId, unhashed) and the seed's (its expression, hashed).
func TestBuiltinKey(t *testing.T) {
	s := compileRules(t)
	for _, tc := range []struct {
		detail, value, hash, err string
	}{
		{`{"topicName":"t","eventBody":{"conversationId":"c-1"}}`, "c-1", "none", ""},
		{`{"topicName":"t","eventBody":{"userId":"u-1"}}`, "", "none", "empty value"},
		{`{"interaction":{"id":"i-1"}}`, "i-1", "fnv64a", ""},
		{`{"eventBody":{"conversationId":"c-1"}}`, "", "fnv64a", "empty value"}, // no topicName: the seed's shape
	} {
		v, hash, err := s.Key.Value(detailVars(t, tc.detail))
		if v != tc.value || hash != tc.hash || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%s: %q %q %v, want %q %q %q", tc.detail, v, hash, err, tc.value, tc.hash, tc.err)
		}
	}
	// An expression of one's own replaces the built-in key entirely.
	cfg := config.Default()
	cfg.PartitionKey.Expr = `detail.?interaction.?id.orValue("")`
	own, err := Compile(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, hash, _ := own.Key.Value(detailVars(t, `{"topicName":"t","eventBody":{"conversationId":"c-1"}}`)); v != "" || hash != "fnv64a" {
		t.Errorf("own expression: %q %q", v, hash)
	}
}
