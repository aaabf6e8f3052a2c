package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// routingConfig sends conversation events to one output, presence events to
// another, and everything to an archive with its own key and an extra field.
const routingConfig = `
filter:
  rules:
    - name: not_queue_topic
      drop_if: 'event["detail-type"].startsWith("v2.routing.queues.")'
partition_key:
  expr: 'detail.eventBody.?conversationId.orValue("")'
  hash: none
enrich:
  fields:
    topic: 'detail.?topicName.orValue("")'
outputs:
  conversations: {stream: genesys-conversations}
  presence: {stream: genesys-presence}
  archive: {stream: genesys-raw}
routes:
  - name: conversations
    when: 'event["detail-type"].startsWith("v2.detail.events.conversation.")'
    to: conversations
  - name: presence
    when: 'event["detail-type"].matches("^v2\\.users\\..*\\.presence$")'
    to: presence
    partition_key: {expr: 'detail.topicName.split(".")[2]'}
  - name: archive
    to: archive
    partition_key: {expr: 'event.id', hash: fnv64a}
    enrich:
      fields: {archived: 'true', topic: '"raw"'}
`

// genesysEvent is an envelope of Genesys Cloud's shape.
func genesysEvent(id, detailType, topic, body string) []byte {
	return []byte(`{"version":"0","id":"` + id + `","detail-type":"` + detailType + `",` +
		`"source":"aws.partner/genesys.com/cloud/5f2c8a41-7d3e-4b9a-9c61-2e8f0a4b7d13/prod","account":"123456789012",` +
		`"time":"2026-11-27T12:00:00Z","region":"us-east-1","resources":[],"detail":{"topicName":"` + topic +
		`","version":"2","eventBody":` + body + `,"metadata":{"CorrelationId":"c-1"},"timestamp":"2026-11-27T12:00:00.000Z"}}`)
}

var (
	convEvent = genesysEvent("e-conv", "v2.detail.events.conversation.{id}.customer.start",
		"v2.detail.events.conversation.c-1.customer.start", `{"conversationId":"c-1","mediaType":"VOICE"}`)
	presenceEvent = genesysEvent("e-pres", "v2.users.{id}.presence",
		"v2.users.u-1.presence", `{"source":"PURECLOUD","presenceDefinition":{"systemPresence":"ON_QUEUE"}}`)
	auditEvent = genesysEvent("e-audit", "v2.audits.entitytype.{id}.entityid.{id}",
		"v2.audits.entitytype.Queue.entityid.q-1", `{"entityType":"Queue","action":"Update"}`)
	queueEvent = genesysEvent("e-queue", "v2.routing.queues.{id}.conversations",
		"v2.routing.queues.q-1.conversations", `{"id":"c-9"}`)
)

func routeNames(p *Processor, out Outcome) []string {
	var names []string
	for _, r := range out.Routes() {
		names = append(names, p.Routes()[r.Route].Name)
	}
	return names
}

func TestRoutes(t *testing.T) {
	p := newProcessor(t, routingConfig)
	for _, tc := range []struct {
		name   string
		raw    []byte
		routes string
		keys   []string
	}{
		{"conversation: its stream and the archive", convEvent, "conversations archive", []string{"c-1", fnvKey("e-conv")}},
		{"presence: keyed by the user id of the topic", presenceEvent, "presence archive", []string{"u-1", fnvKey("e-pres")}},
		{"audit: only the archive", auditEvent, "archive", []string{fnvKey("e-audit")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := p.Evaluate(tc.raw)
			if err != nil || out.Decision != relay.Forward || out.Reason != "passed_all_filters" {
				t.Fatalf("%+v %v", out, err)
			}
			if got := strings.Join(routeNames(p, out), " "); got != tc.routes {
				t.Fatalf("routes %q, want %q", got, tc.routes)
			}
			for i, r := range out.Routes() {
				if r.Record.PartitionKey != tc.keys[i] || r.KeyFallback {
					t.Errorf("route %d: key %q (fallback %v), want %q", i, r.Record.PartitionKey, r.KeyFallback, tc.keys[i])
				}
			}
			if out.Record.PartitionKey != tc.keys[0] {
				t.Errorf("Result.Record is not the first route's: %q", out.Record.PartitionKey)
			}
		})
	}

	// Records: routes without fields of their own share the record; the
	// archive's has its fields, a route field replacing the top-level one.
	out, _ := p.Evaluate(convEvent)
	rs := out.Routes()
	detail := `{"topicName":"v2.detail.events.conversation.c-1.customer.start","version":"2","eventBody":{"conversationId":"c-1","mediaType":"VOICE"},"metadata":{"CorrelationId":"c-1"},"timestamp":"2026-11-27T12:00:00.000Z"}`
	if want := recordJSON(detail, "passed_all_filters", "us-east-1", "e-conv", `,"topic":"v2.detail.events.conversation.c-1.customer.start"`); string(rs[0].Record.Data) != want {
		t.Errorf("conversations record\n%s\nwant\n%s", rs[0].Record.Data, want)
	}
	if want := recordJSON(detail, "passed_all_filters", "us-east-1", "e-conv", `,"archived":true,"topic":"raw"`); string(rs[1].Record.Data) != want {
		t.Errorf("archive record\n%s\nwant\n%s", rs[1].Record.Data, want)
	}
	out2, _ := p.Evaluate(presenceEvent)
	if a, b := out2.Routes()[0].Record.Data, out.Routes()[0].Record.Data; &a[0] == &b[0] {
		t.Error("two events share record bytes")
	}
}

func TestRoutesNoRoute(t *testing.T) {
	p := newProcessor(t, `
outputs: {a: {stream: sa}}
routes:
  - {name: a, to: a, when: 'event["detail-type"] == "wanted"'}
`)
	out, err := p.Evaluate(envelopeJSON("e-1", `{}`))
	if err != nil || out.Decision != relay.Drop || out.Reason != "no_route" || out.RuleError || out.Routes() != nil {
		t.Fatalf("%+v %v, want a drop with reason no_route", out, err)
	}
}

// TestRoutesWhenError: a when that fails to evaluate does not take its route
// (fail closed) and is reported; other routes still take the event.
func TestRoutesWhenError(t *testing.T) {
	p := newProcessor(t, `
outputs: {a: {stream: sa}, b: {stream: sb}}
routes:
  - {name: strict, to: a, when: 'detail.missing == "x"'}
  - {name: all, to: b}
`)
	out, err := p.Evaluate(envelopeJSON("e-1", `{}`))
	if err != nil || out.Decision != relay.Forward || len(out.RouteErrs) != 1 || out.RouteErrs[0].Route != 0 {
		t.Fatalf("%+v %v", out, err)
	}
	if got := routeNames(p, out); len(got) != 1 || got[0] != "all" {
		t.Errorf("routes %v, want [all]", got)
	}
	if !strings.Contains(out.RouteErrs[0].Err.Error(), `route "strict"`) {
		t.Errorf("error %v does not name the route", out.RouteErrs[0].Err)
	}
}

// TestRoutesReadWhatTheyNeed: the decoder is asked for what routes read (a
// route reading a field nothing else reads still sees it).
func TestRoutesReadWhatTheyNeed(t *testing.T) {
	p := newProcessor(t, `
outputs: {a: {stream: sa}}
routes:
  - name: a
    to: a
    when: 'detail.eventBody.?mediaType.orValue("") == "VOICE"'
    partition_key: {expr: 'detail.eventBody.participant.id', hash: none}
    enrich: {fields: {dir: 'detail.eventBody.direction'}}
`)
	raw := genesysEvent("e-1", "t", "t", `{"mediaType":"VOICE","participant":{"id":"p-7"},"direction":"INBOUND"}`)
	out, err := p.Evaluate(raw)
	if err != nil || out.Decision != relay.Forward || out.Record.PartitionKey != "p-7" || out.KeyFallback ||
		!strings.HasSuffix(string(out.Record.Data), `,"dir":"INBOUND"}`) {
		t.Fatalf("%+v %v\n%s", out, err, out.Record.Data)
	}
	out, _ = p.Evaluate(genesysEvent("e-2", "t", "t", `{"mediaType":"EMAIL"}`))
	if out.Decision != relay.Drop || out.Reason != "no_route" {
		t.Fatalf("%+v", out)
	}
}

// TestBuiltinKeyGenesysShape: with partition_key.expr left out, an event of
// Genesys Cloud's shape is keyed by its conversation id as is, else by its
// envelope id as is; the seed's shape keeps the seed's key
// (TestPartitionKeySeedDefault).
func TestBuiltinKeyGenesysShape(t *testing.T) {
	p := newProcessor(t, "")
	for _, tc := range []struct {
		name     string
		raw      []byte
		key      string
		fallback bool
	}{
		{"conversation id", convEvent, "c-1", false},
		{"no conversation id", presenceEvent, "e-pres", true},
		{"seed shape", envelopeJSON("env-1", `{"interaction":{"id":"i-1"}}`), fnvKey("i-1"), false},
		{"seed shape without ids", envelopeJSON("env-1", `{}`), fnvKey("env-1"), true},
	} {
		out, err := p.Evaluate(tc.raw)
		if err != nil || out.Decision != relay.Forward {
			t.Fatalf("%s: %+v %v", tc.name, out, err)
		}
		if out.Record.PartitionKey != tc.key || out.KeyFallback != tc.fallback {
			t.Errorf("%s: key %q (fallback %v), want %q (%v)", tc.name, out.Record.PartitionKey, out.KeyFallback, tc.key, tc.fallback)
		}
	}
}

// sinkFunc is a relay.Sink answering with a function.
type sinkFunc func(rec relay.Record) error

func (f sinkFunc) Put(_ context.Context, rec relay.Record) error { return f(rec) }
func (sinkFunc) Close(context.Context) error                     { return nil }

func TestRelayRoutesToEachOutput(t *testing.T) {
	sinks := map[string]*testx.Sink{"conversations": {}, "presence": {}, "archive": {}}
	reg := prometheus.NewRegistry()
	r, err := NewRelayTo(newProcessor(t, routingConfig), map[string]relay.Sink{
		"conversations": sinks["conversations"], "presence": sinks["presence"], "archive": sinks["archive"],
	}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every route's and output's series exists before any event.
	for _, l := range [][]string{
		{"genesys_relay_route_events_total", "route", "presence"},
		{"genesys_relay_route_errors_total", "route", "archive"},
		{"genesys_relay_output_records_total", "output", "presence", "outcome", "written"},
		{"genesys_relay_output_records_total", "output", "archive", "outcome", "permanent"},
		{"genesys_relay_events_dropped_total", "reason", "no_route"},
	} {
		if v, ok := testx.Lookup(t, reg, l[0], l[1:]...); !ok || v != 0 {
			t.Errorf("%v: %v %v, want a series at 0", l, v, ok)
		}
	}
	h := r.Input("http")
	ctx := context.Background()
	for _, raw := range [][]byte{convEvent, presenceEvent, auditEvent, queueEvent} {
		if _, err := h.Handle(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(s *testx.Sink) string {
		var ks []string
		for _, rec := range s.Records() {
			ks = append(ks, rec.PartitionKey)
		}
		return strings.Join(ks, " ")
	}
	if got := keys(sinks["conversations"]); got != "c-1" {
		t.Errorf("conversations got %q", got)
	}
	if got := keys(sinks["presence"]); got != "u-1" {
		t.Errorf("presence got %q", got)
	}
	if got, want := keys(sinks["archive"]), fnvKey("e-conv")+" "+fnvKey("e-pres")+" "+fnvKey("e-audit"); got != want {
		t.Errorf("archive got %q, want %q", got, want)
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"genesys_relay_route_events_total", "route", "archive"}, 3},
		{[]string{"genesys_relay_route_events_total", "route", "conversations"}, 1},
		{[]string{"genesys_relay_output_records_total", "output", "archive", "outcome", "written"}, 3},
		{[]string{"genesys_relay_events_forwarded_total", "input", "http"}, 3},
		{[]string{"genesys_relay_events_dropped_total", "reason", "not_queue_topic"}, 1},
	} {
		if v, _ := testx.Lookup(t, reg, c.labels[0], c.labels[1:]...); v != c.want {
			t.Errorf("%v = %v, want %v", c.labels, v, c.want)
		}
	}
}

// TestRelayAnyOutputFails: the caller hears success only when every output
// accepted; one retryable failure makes the whole event retryable, and a
// permanent one wins over a retryable one (resending could never succeed).
func TestRelayAnyOutputFails(t *testing.T) {
	ok := sinkFunc(func(relay.Record) error { return nil })
	retry := sinkFunc(func(relay.Record) error { return fmt.Errorf("throttled: %w", relay.ErrUnavailable) })
	perm := sinkFunc(func(relay.Record) error { return fmt.Errorf("too large: %w", relay.ErrPermanent) })
	for _, tc := range []struct {
		name                   string
		conv, archive          relay.Sink
		wantErr, wantRetryable bool
		wantOutput             string
	}{
		{"all accept", ok, ok, false, false, ""},
		{"archive unavailable", ok, retry, true, true, "output archive"},
		{"conversations unavailable", retry, ok, true, true, "output conversations"},
		{"permanent wins", retry, perm, true, false, "output archive"},
		{"permanent wins first", perm, retry, true, false, "output conversations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			r, err := NewRelayTo(newProcessor(t, routingConfig),
				map[string]relay.Sink{"conversations": tc.conv, "presence": ok, "archive": tc.archive}, reg, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Input("sqs").Handle(context.Background(), convEvent)
			if (err != nil) != tc.wantErr || err != nil && relay.Retryable(err) != tc.wantRetryable {
				t.Fatalf("err %v, want error %v retryable %v", err, tc.wantErr, tc.wantRetryable)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantOutput) {
				t.Errorf("error %q does not name %s", err, tc.wantOutput)
			}
			if res.Decision != relay.Forward || res.Record.PartitionKey != "c-1" {
				t.Errorf("result %+v", res)
			}
			fwd, _ := testx.Lookup(t, reg, "genesys_relay_events_forwarded_total", "input", "sqs")
			if tc.wantErr == (fwd == 1) {
				t.Errorf("forwarded = %v with error %v", fwd, err)
			}
		})
	}
}

// TestRelayWaitsForEveryOutput: the answer comes after the slowest output
// accepted, and the outputs are written at once, not one after the other.
func TestRelayWaitsForEveryOutput(t *testing.T) {
	release := make(chan struct{})
	started := make(chan string, 2)
	blocking := func(name string) relay.Sink {
		return sinkFunc(func(relay.Record) error {
			started <- name
			<-release
			return nil
		})
	}
	r, err := NewRelayTo(newProcessor(t, routingConfig), map[string]relay.Sink{
		"conversations": blocking("conversations"), "presence": sinkFunc(func(relay.Record) error { return nil }),
		"archive": blocking("archive"),
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Input("http").Handle(context.Background(), convEvent)
		done <- err
	}()
	// Both Puts are under way before either answered.
	for range 2 {
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("the outputs are not written at once")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("answered (%v) before the outputs accepted", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRelaySwapNeedsTheOutputs: a reload whose routes write to an output the
// running relay does not have is refused and the running processor kept.
func TestRelaySwapNeedsTheOutputs(t *testing.T) {
	old := newProcessor(t, routingConfig)
	r, err := NewRelayTo(old, map[string]relay.Sink{
		"conversations": &testx.Sink{}, "presence": &testx.Sink{}, "archive": &testx.Sink{},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := newProcessor(t, "outputs: {other: {stream: s}}\nroutes: [{name: r, to: other}]\n")
	if err := r.Swap(next); err == nil || !strings.Contains(err.Error(), `output "other"`) {
		t.Fatalf("Swap: %v, want an error naming the output", err)
	}
	if r.Processor() != old {
		t.Fatal("a refused Swap replaced the processor")
	}
	same := newProcessor(t, routingConfig)
	if err := r.Swap(same); err != nil || r.Processor() != same {
		t.Fatalf("Swap with the same outputs: %v", err)
	}
}

func TestNewRelayToMissingOutput(t *testing.T) {
	_, err := NewRelayTo(newProcessor(t, routingConfig), map[string]relay.Sink{"conversations": &testx.Sink{}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `output "presence"`) {
		t.Fatalf("err %v, want one naming the missing output", err)
	}
}
