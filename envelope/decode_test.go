package envelope

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"

	"github.com/genesys-relay/genesys-relay"
)

func TestDecodeInvalid(t *testing.T) {
	const ok = `"version":"0","id":"e-1","detail-type":"t","source":"genesys.cloud"`
	for _, tc := range []struct {
		name, raw string
		why       string
		msg       string // exact, or a prefix when it ends in "…"
		id        string // the envelope id known when the error is returned
	}{
		{"empty", ``, "empty_body", "request body is empty; want an EventBridge event (JSON object)", ""},
		{"white space", " \r\n\t ", "empty_body", "request body is empty; want an EventBridge event (JSON object)", ""},
		{"invalid UTF-8 outside", "\xff{}", "invalid_utf8", "body is not valid UTF-8", ""},
		{"invalid UTF-8 in a string", `{` + ok + `,"detail":{"s":"` + "\xc0\xaf" + `"}}`, "invalid_utf8", "body is not valid UTF-8", ""},
		{"not JSON", `hello`, "malformed_json", "body is not valid JSON", ""},
		{"form data", `id=1&source=x`, "malformed_json", "body is not valid JSON", ""},
		{"unclosed array", `[`, "malformed_json", "body is not valid JSON", ""},
		{"array", `[{"id":"e-1"}]`, "not_envelope", "body is JSON but not an object; want an EventBridge event envelope", ""},
		{"string", `"event"`, "not_envelope", "body is JSON but not an object; want an EventBridge event envelope", ""},
		{"number", `42`, "not_envelope", "body is JSON but not an object; want an EventBridge event envelope", ""},
		{"null", `null`, "not_envelope", "body is JSON but not an object; want an EventBridge event envelope", ""},
		{"true", `true`, "not_envelope", "body is JSON but not an object; want an EventBridge event envelope", ""},
		{"open brace", `{`, "malformed_json", "body is not valid JSON: unexpected end of JSON input", ""},
		{"truncated", `{` + ok + `,"detail":{"a":`, "malformed_json", "body is not valid JSON: unexpected end of JSON input", ""},
		{"truncated string", `{"id":"e-`, "malformed_json", "body is not valid JSON: unexpected end of JSON input", ""},
		{"trailing data", `{` + ok + `,"detail":{}} {}`, "malformed_json", "body is not valid JSON: invalid character '{' after top-level value", ""},
		{"two envelopes", `{` + ok + `,"detail":{}}` + "\n" + `{` + ok + `,"detail":{}}`, "malformed_json", "body is not valid JSON: invalid character '{' after top-level value", ""},
		{"single quotes", `{'id':'e-1'}`, "malformed_json", "body is not valid JSON: invalid character '\\'' looking for beginning of object key string", ""},
		{"trailing comma", `{` + ok + `,"detail":{},}`, "malformed_json", "body is not valid JSON: invalid character '}' looking for beginning of object key string", ""},
		{"empty object", `{}`, "not_envelope", `not an EventBridge envelope: "id" is missing or empty`, ""},
		{"missing id", `{"detail-type":"t","source":"genesys.cloud","detail":{}}`, "not_envelope", `not an EventBridge envelope: "id" is missing or empty`, ""},
		{"empty id", `{"id":"","detail-type":"t","source":"genesys.cloud","detail":{}}`, "not_envelope", `not an EventBridge envelope: "id" is missing or empty`, ""},
		{"null id", `{"id":null,"detail-type":"t","source":"genesys.cloud","detail":{}}`, "not_envelope", `not an EventBridge envelope: "id" is missing or empty`, ""},
		{"missing source", `{"id":"e-1","detail-type":"t","detail":{}}`, "not_envelope", `not an EventBridge envelope: "source" is missing or empty`, "e-1"},
		{"missing detail-type", `{"id":"e-1","source":"genesys.cloud","detail":{}}`, "not_envelope", `not an EventBridge envelope: "detail-type" is missing or empty`, "e-1"},
		{"id a number", `{"id":5,"detail-type":"t","source":"genesys.cloud","detail":{}}`, "not_envelope", `envelope field "id" has the wrong type: want string, got JSON number`, ""},
		{"source a bool", `{"id":"e-1","detail-type":"t","source":true,"detail":{}}`, "not_envelope", `envelope field "source" has the wrong type: want string, got JSON bool`, ""},
		{"region an object", `{` + ok + `,"region":{},"detail":{}}`, "not_envelope", `envelope field "region" has the wrong type: want string, got JSON object`, ""},
		{"time a number", `{` + ok + `,"time":1741960931123,"detail":{}}`, "not_envelope", `envelope field "time" has the wrong type: want string, got JSON number`, ""},
		{"resources a string", `{` + ok + `,"resources":"arn","detail":{}}`, "not_envelope", `envelope field "resources" has the wrong type: want []string, got JSON string`, ""},
		{"resources of numbers", `{` + ok + `,"resources":[1],"detail":{}}`, "not_envelope", `envelope field "resources" has the wrong type: want string, got JSON number`, ""},
		{"missing detail", `{` + ok + `}`, "missing_detail", `envelope has no "detail" (or it is null)`, "e-1"},
		{"null detail", `{` + ok + `,"detail":null}`, "missing_detail", `envelope has no "detail" (or it is null)`, "e-1"},
		{"string detail", `{` + ok + `,"detail":"{\"a\":1}"}`, "detail_not_object", `envelope "detail" must be a JSON object`, "e-1"},
		{"array detail", `{` + ok + `,"detail":[{}]}`, "detail_not_object", `envelope "detail" must be a JSON object`, "e-1"},
		{"number detail", `{` + ok + `,"detail":1}`, "detail_not_object", `envelope "detail" must be a JSON object`, "e-1"},
		{"bool detail", `{` + ok + `,"detail":false}`, "detail_not_object", `envelope "detail" must be a JSON object`, "e-1"},
		// Only JSON white space may surround the body.
		{"vertical tab before", "\v{" + ok + `,"detail":{}}`, "malformed_json", "body is not valid JSON", ""},
		{"form feed after", `{` + ok + `,"detail":{}}` + "\f", "malformed_json", "body is not valid JSON: invalid character '\\f' after top-level value", ""},
		{"no-break space before", "\u00a0{" + ok + `,"detail":{}}`, "malformed_json", "body is not valid JSON", ""},
		{"line separator after", `{` + ok + `,"detail":{}}` + "\u2028", "malformed_json", "body is not valid JSON: invalid character 'â' after top-level value", ""},
		{"NEL after", `{` + ok + `,"detail":{}}` + "\u0085", "malformed_json", "body is not valid JSON: invalid character 'Â' after top-level value", ""},
		{"only a vertical tab", "\v", "malformed_json", "body is not valid JSON", ""},
		// A number beyond float64 is refused wherever it is, as encoding/json
		// refuses it when decoding the envelope into an interface{}.
		{"number beyond float64 in detail", `{` + ok + `,"detail":{"a":[1e400]}}`, "number_out_of_range",
			"number 1e400 in detail does not fit a 64-bit float (JSON decoders refuse it)", "e-1"},
		{"number beyond float64 outside detail", `{` + ok + `,"detail":{},"x":{"y":-1e400}}`, "number_out_of_range",
			"number -1e400 in the envelope does not fit a 64-bit float (JSON decoders refuse it)", "e-1"},
		{"long number beyond float64", `{` + ok + `,"x":` + strings.Repeat("9", 400) + `,"detail":{}}`, "number_out_of_range",
			"number " + strings.Repeat("9", 32) + "… in the envelope does not fit a 64-bit float (JSON decoders refuse it)", "e-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, detail, err := decodeDetail([]byte(tc.raw))
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", env)
			}
			if !errors.Is(err, relay.ErrInvalid) || relay.Retryable(err) {
				t.Errorf("error %v is not a permanent ErrInvalid", err)
			}
			var ie *relay.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not a *relay.InvalidError", err)
			}
			if ie.Why != tc.why {
				t.Errorf("Why = %q, want %q", ie.Why, tc.why)
			}
			if ie.Msg != tc.msg {
				t.Errorf("Msg = %q\nwant %q", ie.Msg, tc.msg)
			}
			if detail != nil {
				t.Errorf("detail %v returned with an error", detail)
			}
			if env != nil && env.ID != tc.id || env == nil && tc.id != "" {
				t.Errorf("envelope %+v returned with the error, want id %q", env, tc.id)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	raw := "\n  {\"version\":\"0\",\"id\":\"e-1\",\"detail-type\":\"Genesys Cloud Interaction Event\",\"source\":\"genesys.cloud\"," +
		"\"account\":\"123456789012\",\"time\":\"2026-11-27T12:00:00Z\",\"region\":\"eu-west-1\",\"resources\":[\"arn:a\",\"arn:b\"]," +
		"\"detail\" :  { \"n\": 12345678901234567890, \"s\": \"x\" }  ,\"extra\":{\"ignored\":true}}\r\n"
	env, detail, err := decodeDetail([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := &Envelope{
		Version: "0", ID: "e-1", DetailType: "Genesys Cloud Interaction Event", Source: "genesys.cloud",
		Account: "123456789012", Time: "2026-11-27T12:00:00Z", Region: "eu-west-1",
		Detail: []byte(`{ "n": 12345678901234567890, "s": "x" }`),
		Raw:    []byte(strings.TrimSpace(raw)),
	}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("Decode =\n%+v\nwant\n%+v", env, want)
	}
	_, vars, err := decode([]byte(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := vars.Event.(*jsonObject).Value().(map[string]any)["resources"]; !reflect.DeepEqual(res, []any{"arn:a", "arn:b"}) {
		t.Fatalf("event.resources = %#v", res)
	}
	wantDetail := map[string]any{"n": 12345678901234567890.0, "s": "x"}
	if !reflect.DeepEqual(detail.Value(), wantDetail) {
		t.Fatalf("detail = %#v, want %#v", detail, wantDetail)
	}

	// Only id, source and detail-type are required.
	env, detail, err = decodeDetail([]byte(`{"id":"e-2","source":"s","detail-type":"t","detail":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if env.Version != "" || env.Region != "" || string(env.Detail) != "{}" || detail.Size() != types.Int(0) {
		t.Fatalf("minimal envelope decoded as %+v, detail %v", env, detail)
	}
}

func TestEventObject(t *testing.T) {
	_, vars, err := decode(envelopeJSON("e-1", `{"a":1}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := vars.Event.(*jsonObject).Value()
	want := map[string]any{
		"version": "0", "id": "e-1", "detail-type": "Genesys Cloud Interaction Event", "source": "genesys.cloud",
		"account": "123456789012", "time": "2026-11-27T12:00:00Z", "region": "eu-west-1",
		"resources": []any{}, "detail": map[string]any{"a": 1.0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("eventObject =\n%#v\nwant\n%#v", got, want)
	}
}

// TestDecodeKeys: envelope keys match exactly, and a top-level key given twice
// (after unescaping) makes the event ambiguous.
func TestDecodeKeys(t *testing.T) {
	const rest = `"detail-type":"t","source":"genesys.cloud","detail":{}`
	for _, tc := range []struct {
		name, raw, why, msg string
	}{
		{"upper-case id is not id", `{"ID":"e-1",` + rest + `}`, "not_envelope", `not an EventBridge envelope: "id" is missing or empty`},
		{"long s is not s", `{"id":"e-1","\u017fource":"genesys.cloud","detail-type":"t","detail":{}}`, "not_envelope", `not an EventBridge envelope: "source" is missing or empty`},
		{"id twice", `{"id":"e-1","id":"e-2",` + rest + `}`, "duplicate_key", `envelope key "id" appears more than once; ambiguous event`},
		{"detail twice", `{"id":"e-1",` + rest + `,"detail":{"a":1}}`, "duplicate_key", `envelope key "detail" appears more than once; ambiguous event`},
		{"escaped twice", `{"id":"e-1",` + rest + `,"sour\u0063e":"x"}`, "duplicate_key", `envelope key "source" appears more than once; ambiguous event`},
		{"other key twice", `{"id":"e-1",` + rest + `,"x":1,"x":2}`, "duplicate_key", `envelope key "x" appears more than once; ambiguous event`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeDetail([]byte(tc.raw))
			if relay.RejectReason(err) != tc.why || err.Error() != tc.msg {
				t.Fatalf("error %v (%s), want %q (%s)", err, relay.RejectReason(err), tc.msg, tc.why)
			}
		})
	}
	// Keys that differ only in case are different keys: no ambiguity.
	env, _, err := decodeDetail([]byte(`{"id":"e-1","ID":"e-2","Detail":5,` + rest + `}`))
	if err != nil || env.ID != "e-1" || string(env.Detail) != "{}" {
		t.Fatalf("Decode = %+v, %v", env, err)
	}
}
