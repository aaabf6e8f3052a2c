package pipeline

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay"
)

// TestRecordDetailVerbatim checks original_event is the received detail byte for
// byte for details that a decode/encode round trip would change.
func TestRecordDetailVerbatim(t *testing.T) {
	p := newProcessor(t, "")
	for _, tc := range []struct {
		name, detail string
	}{
		{"big integers", `{"n":12345678901234567890,"m":-98765432109876543210987654321,"id":9007199254740993}`},
		{"number spelling", `{"f":1.0,"e":1E+2,"z":-0,"x":0.1000000000000000055511151231257827}`},
		{"raw U+2028 and U+2029", "{\"s\":\"line\u2028sep\u2029end\"}"},
		{"escaped unicode", `{"s":"\u00e9\ud83c\udfa7\u2028\/\"\\","t":"\u0041"}`},
		{"lone surrogate escape", `{"s":"\ud800"}`},
		{"HTML characters", `{"html":"<b>&amp;</b>"}`},
		{"key order", `{"z":1,"a":2,"m":{"y":1,"b":2},"A":3}`},
		{"white space inside", "{ \"a\" : [ 1 ,\n\t2 ] ,\r\n  \"b\" : { }\n}"},
		{"duplicate keys", `{"k":1,"k":2}`},
		{"nested arrays and nulls", `{"a":[[],[null,{"b":[true,false]}]],"c":null}`},
		{"empty", `{}`},
		{"non-ASCII keys", `{"Retención":"cola","日本":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := p.Evaluate(envelopeJSON("id-1", tc.detail))
			if err != nil || out.Decision != relay.Forward {
				t.Fatalf("Evaluate = %+v, %v", out, err)
			}
			want := recordJSON(tc.detail, "passed_all_filters", "eu-west-1", "id-1", "")
			if got := string(out.Record.Data); got != want {
				t.Fatalf("record\n got %s\nwant %s", got, want)
			}
			if !json.Valid(out.Record.Data) {
				t.Fatal("record is not valid JSON")
			}
		})
	}
}

// TestRecordEscapesEnvelopeStrings checks the envelope values copied into the
// record (region, id, reason) are escaped.
func TestRecordEscapesEnvelopeStrings(t *testing.T) {
	p := newProcessor(t, "filter:\n  pass_reason: \"ok:v1\"\n")
	raw := `{"id":"id \"1\"\u2028","source":"genesys.cloud","detail-type":"t","region":"eu\\west","detail":{}}`
	out, err := p.Evaluate([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"original_event":{},"filter_reason":"ok:v1","processed_at":"2026-11-27T12:00:00.123456789Z",` +
		`"source_region":"eu\\west","trace_id":"id \"1\"\u2028"}`
	if got := string(out.Record.Data); got != want {
		t.Fatalf("record\n got %s\nwant %s", got, want)
	}
	var rec map[string]any
	if err := json.Unmarshal(out.Record.Data, &rec); err != nil || rec["trace_id"] != "id \"1\"\u2028" {
		t.Fatalf("decoded %v, %v", rec, err)
	}
}

func TestRecordIncludeEnvelope(t *testing.T) {
	p := newProcessor(t, "enrich:\n  include_envelope: true\n")
	env := "{ \"detail\" : {\"b\":1, \"a\":12345678901234567890},\n \"source\":\"genesys.cloud\", \"id\":\"id-1\", \"detail-type\":\"t\", \"region\":\"us-east-1\" }"
	out, err := p.Evaluate([]byte("\r\n\t" + env + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := recordJSON(env, "passed_all_filters", "us-east-1", "id-1", "")
	if got := string(out.Record.Data); got != want {
		t.Fatalf("record\n got %s\nwant %s", got, want)
	}
}

func TestRecordProcessedAt(t *testing.T) {
	p := newProcessor(t, "")
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{fixedNow, "2026-11-27T12:00:00.123456789Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 100000000, time.UTC), "2026-01-02T03:04:05.1Z"},
		{time.Date(2026, 1, 2, 9, 4, 5, 7, time.FixedZone("X", 6*3600)), "2026-01-02T03:04:05.000000007Z"},
	} {
		p.Now = func() time.Time { return tc.now }
		out, err := p.Evaluate(envelopeJSON("id-1", `{}`))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ProcessedAt string `json:"processed_at"`
		}
		if err := json.Unmarshal(out.Record.Data, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ProcessedAt != tc.want {
			t.Errorf("processed_at = %q, want %q", rec.ProcessedAt, tc.want)
		}
	}
}

// TestRecordFields checks enrich.fields values of every type, written after the
// built-in fields in name order.
func TestRecordFields(t *testing.T) {
	p := newProcessor(t, `
enrich:
  fields:
    s_string: 'detail.s'
    i_int: 'int(detail.n)'
    i_int_negative: '-int(detail.n)'
    u_uint: 'uint(detail.n)'
    d_double: 'detail.f'
    d_whole_double: 'detail.n'
    b_true: 'detail.b'
    b_false: 'has(detail.nope)'
    n_null: 'detail.nul'
    l_list: 'detail.list'
    l_literal: '[1, "two", 3.5, null]'
    m_map: 'detail.map'
    m_literal: '{"k": "v", "a": [1]}'
    x_bytes: 'b"ab"'
    t_timestamp: 'timestamp("2026-01-02T03:04:05Z")'
    e_missing: 'detail.missing'
    e_bad_index: 'detail.list[10]'
    "odd \"name\"": '"q"'
`)
	detail := `{"s":"a\"b<c>\u2028","n":3,"f":1.5,"b":true,"nul":null,"list":[1,"a",null,true,{"x":[]}],"map":{"k":"v","a":[1],"n":null}}`
	out, err := p.Evaluate(envelopeJSON("id-1", detail))
	if err != nil {
		t.Fatal(err)
	}
	want := recordJSON(detail, "passed_all_filters", "eu-west-1", "id-1",
		`,"b_false":false`+
			`,"b_true":true`+
			`,"d_double":1.5`+
			`,"d_whole_double":3`+
			`,"e_bad_index":null`+
			`,"e_missing":null`+
			`,"i_int":3`+
			`,"i_int_negative":-3`+
			`,"l_list":[1,"a",null,true,{"x":[]}]`+
			`,"l_literal":[1,"two",3.5,null]`+
			`,"m_literal":{"a":[1],"k":"v"}`+
			`,"m_map":{"a":[1],"k":"v","n":null}`+
			`,"n_null":null`+
			`,"odd \"name\"":"q"`+
			`,"s_string":"a\"b<c>\u2028"`+
			`,"t_timestamp":"2026-01-02T03:04:05Z"`+
			`,"u_uint":3`+
			`,"x_bytes":"YWI="`)
	if got := string(out.Record.Data); got != want {
		t.Fatalf("record\n got %s\nwant %s", got, want)
	}
	if want := []string{"e_bad_index", "e_missing"}; !reflect.DeepEqual(out.FieldErrs, want) {
		t.Errorf("FieldErrs = %q, want %q", out.FieldErrs, want)
	}
}

// TestRecordFieldOptional checks a field left as an optional value (no orValue) is
// written as its value, or null when absent.
func TestRecordFieldOptional(t *testing.T) {
	p := newProcessor(t, "enrich:\n  fields:\n    queue: 'detail.?queue.?name'\n")
	for _, tc := range []struct {
		detail, want string
	}{
		{`{"queue":{"name":"Sales"}}`, `"Sales"`},
		{`{"queue":{}}`, `null`},
		{`{}`, `null`},
	} {
		out, err := p.Evaluate(envelopeJSON("id-1", tc.detail))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(out.Record.Data); !strings.HasSuffix(got, `,"queue":`+tc.want+`}`) {
			t.Errorf("%s: record %s, want queue %s", tc.detail, got, tc.want)
		}
	}
}

// TestRecordFieldsNonFinite checks NaN and infinities, which JSON numbers cannot
// hold, are written as the strings of the protobuf JSON mapping.
func TestRecordFieldsNonFinite(t *testing.T) {
	p := newProcessor(t, "enrich:\n  fields:\n    nan: 'double(\"NaN\")'\n    inf: 'double(\"Infinity\")'\n")
	out, err := p.Evaluate(envelopeJSON("id-1", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out.Record.Data); !strings.HasSuffix(got, `"trace_id":"id-1","inf":"Infinity","nan":"NaN"}`) || !json.Valid(out.Record.Data) {
		t.Fatalf("record %s", got)
	}
}
