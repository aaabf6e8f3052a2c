package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// routingDoc is the routing configuration of the README, written as users
// write it.
const routingDoc = `
kinesis:
  region: us-east-1
  linger: 20ms
outputs:
  conversations:
    stream: genesys-conversations
  presence:
    stream: arn:aws:kinesis:eu-west-1:123456789012:stream/genesys-presence
    region: eu-west-1
  archive:
    stream: genesys-raw
    linger: 200ms
    aggregate: true
partition_key:
  hash: none
routes:
  - name: conversations
    when: 'event["detail-type"].startsWith("v2.detail.events.conversation.")'
    to: conversations
  - name: presence
    when: 'event["detail-type"].matches("^v2\\.users\\..*\\.presence$")'
    to: presence
    partition_key: {expr: 'detail.eventBody.?userId.orValue("")', hash: none}
  - name: archive
    to: archive
    partition_key: {expr: 'event.id'}
    enrich:
      fields: {topic: 'detail.?topicName.orValue("")'}
tests:
  - name: t
    event: {id: x}
    expect:
      decision: forward
      routes: [conversations, {route: archive, stream: genesys-raw, partition_key: x}]
`

func TestParseRouting(t *testing.T) {
	c := mustParse(t, routingDoc, map[string]string{"KINESIS_ENDPOINT": "http://127.0.0.1:4568"})

	base := Default().Kinesis
	base.Region, base.Linger, base.Endpoint = "us-east-1", 20*time.Millisecond, "http://127.0.0.1:4568"
	want := map[string]Kinesis{}
	k := base
	k.Stream = "genesys-conversations"
	want["conversations"] = k
	k = base
	k.Stream, k.Region = "arn:aws:kinesis:eu-west-1:123456789012:stream/genesys-presence", "eu-west-1"
	want["presence"] = k
	k = base
	k.Stream, k.Linger, k.Aggregate = "genesys-raw", 200*time.Millisecond, true
	want["archive"] = k
	if !reflect.DeepEqual(c.Outputs, want) {
		t.Errorf("outputs\n got %+v\nwant %+v", c.Outputs, want)
	}
	if !reflect.DeepEqual(c.EffectiveOutputs(), want) {
		t.Error("EffectiveOutputs is not Outputs")
	}

	if len(c.Routes) != 3 {
		t.Fatalf("%d routes", len(c.Routes))
	}
	if r := c.Routes[0]; r.Name != "conversations" || r.To != "conversations" || r.PartitionKey != nil ||
		c.RouteKey(r) != c.PartitionKey || !strings.HasPrefix(r.When, `event["detail-type"].startsWith`) {
		t.Errorf("route 0: %+v", r)
	}
	if r := c.Routes[1]; r.When != `event["detail-type"].matches("^v2\\.users\\..*\\.presence$")` ||
		*r.PartitionKey != (PartitionKey{Expr: `detail.eventBody.?userId.orValue("")`, Hash: "none"}) {
		t.Errorf("route 1: %+v %+v", r, r.PartitionKey)
	}
	// A route's partition_key takes what it leaves out from the top level.
	if r := c.Routes[2]; r.When != "" || *r.PartitionKey != (PartitionKey{Expr: "event.id", Hash: "none"}) ||
		r.Enrich.Fields["topic"] != `detail.?topicName.orValue("")` {
		t.Errorf("route 2: %+v %+v", r, r.PartitionKey)
	}
	wantExpect := []ExpectRoute{{Route: "conversations"}, {Route: "archive", Stream: "genesys-raw", PartitionKey: "x"}}
	if got := c.Tests[0].Expect.Routes; !reflect.DeepEqual(got, wantExpect) {
		t.Errorf("expect.routes %+v", got)
	}
}

// TestParseRoutingOutputKeepsItsOwn: an output's own endpoint and stream win
// over the environment's, which only fills kinesis: (and so what outputs
// leave out).
func TestParseRoutingOutputKeepsItsOwn(t *testing.T) {
	doc := "outputs:\n  a: {stream: sa, endpoint: 'http://own'}\n  b: {}\nroutes:\n  - {name: a, to: a}\n  - {name: b, to: b}\n"
	c := mustParse(t, doc, map[string]string{"KINESIS_ENDPOINT": "http://env", "KINESIS_STREAM_NAME": "from-env"})
	if a := c.Outputs["a"]; a.Endpoint != "http://own" || a.Stream != "sa" {
		t.Errorf("a: %+v", a)
	}
	if b := c.Outputs["b"]; b.Endpoint != "http://env" || b.Stream != "from-env" {
		t.Errorf("b: %+v", b)
	}
}

// TestWithoutRouting: a config without outputs and routes has one output (its
// kinesis: section) and one route taking every event there.
func TestWithoutRouting(t *testing.T) {
	c := Default()
	if got := c.EffectiveOutputs(); len(got) != 1 || got[DefaultOutput] != c.Kinesis {
		t.Errorf("outputs %+v", got)
	}
	if got := c.EffectiveRoutes(); !reflect.DeepEqual(got, []Route{{Name: DefaultRoute, To: DefaultOutput}}) {
		t.Errorf("routes %+v", got)
	}
}

func TestValidateRouting(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"unknown output", "outputs: {a: {stream: s}}\nroutes: [{name: r1, to: b}]\n",
			[]string{`routes[0].to: route "r1": "b" is not an output (want one of a)`}},
		{"routes without outputs name the default", "routes: [{name: r1, to: a}]\n",
			[]string{`routes[0].to: route "r1": "a" is not an output (want one of default)`}},
		{"outputs without routes", "outputs: {a: {stream: s}}\n",
			[]string{`routes: outputs: is set but no route sends events to it`}},
		{"duplicate route", "routes: [{name: r, to: default}, {name: r, to: default}]\n",
			[]string{`routes[1].name: duplicate route name "r"`}},
		{"bad route name", "routes: [{name: 'a b', to: default}]\n",
			[]string{`routes[0].name: want a name of letters`}},
		{"bad output name", "outputs: {'a b': {stream: s}}\nroutes: [{name: r, to: 'a b'}]\n",
			[]string{`outputs.a b: want a name of letters`}},
		{"output settings", "outputs: {a: {stream: s, max_batch_records: 501, client: x}}\nroutes: [{name: r, to: a}]\n",
			[]string{"outputs.a.max_batch_records: must be 1..500", `outputs.a.client: want direct or sdk, got "x"`}},
		{"output stream", "outputs: {a: {stream: 'not a name'}}\nroutes: [{name: r, to: a}]\n",
			[]string{`outputs.a.stream: "not a name" is not a valid stream name`}},
		{"route key", "routes: [{name: r, to: default, partition_key: {hash: md5}}]\n",
			[]string{`routes[0].partition_key.hash: route "r": want fnv64a or none, got "md5"`}},
		{"route field", "routes: [{name: r, to: default, enrich: {fields: {trace_id: event.id, x: ' '}}}]\n",
			[]string{`routes[0].enrich.fields.trace_id: route "r": collides with the built-in record field "trace_id"`,
				`routes[0].enrich.fields.x: route "r": expression is empty`}},
		{"rule named no_route", "filter: {rules: [{name: no_route, require: 'true'}]}\nroutes: [{name: r, to: default}]\n",
			[]string{`filter.rules[0].name: "no_route" is the drop reason of events no route selects`}},
		{"expected route unknown", "tests: [{name: t, event: {id: x}, expect: {decision: forward, routes: [nope]}}]\n",
			[]string{`tests[0].expect.routes[0]: test "t": "nope" is not a route`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), lookupMap(nil))
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v, want an invalid configuration", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestParseRoutingUnknownKeys(t *testing.T) {
	for doc, want := range map[string]string{
		"outputs: {a: {stream: s, lingr: 1s}}\nroutes: [{name: r, to: a}]\n":       `outputs.a.lingr: unknown key`,
		"routes: [{name: r, to: default, wen: 'true'}]\n":                          `routes[0].wen: unknown key`,
		"routes: [{name: r, to: default, enrich: {include_envelope: true}}]\n":     `routes[0].enrich.include_envelope: unknown key`,
		"routes: [{name: r, to: default, partition_key: {expr: x, hsh: none}}]\n":  `routes[0].partition_key.hsh: unknown key`,
		"tests: [{name: t, event: {id: x}, expect: {routes: [{route: r, s: x}]}}]": `tests[0].expect.routes[0].s: unknown key`,
	} {
		_, err := Parse([]byte(doc), lookupMap(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %s", doc, err, want)
		}
	}
}
