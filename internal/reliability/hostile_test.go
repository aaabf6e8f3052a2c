package reliability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

// hostileCase is one malformed or unexpected request.
type hostileCase struct {
	name    string
	method  string   // default POST
	path    string   // default /eventbridge
	hdr     []string // header name/value pairs; the API key is sent unless noKey
	noKey   bool
	body    []byte
	chunked bool   // send the body without Content-Length
	raw     string // bytes written on a TCP connection instead of a request
	code    int
	// errSub must appear in the {"error":…} answer; plain marks answers net/http
	// gives before the relay sees the request (plain text, connection closed).
	errSub string
	plain  bool
}

const hostileKey = "hostile-test-key"

// hostileCases are the requests of TestHostileInput. Decisions documented here:
//   - any Content-Type is accepted: EventBridge sends application/json, and the
//     body is validated as JSON anyway, so refusing on a header would only
//     dead-letter good events;
//   - a top-level key that appears twice (also when spelled with escapes) is
//     ambiguous and rejected; keys repeated inside detail are forwarded
//     verbatim;
//   - JSON the decoder cannot represent (1e400, nesting beyond 10,000) is
//     rejected: it can never succeed.
func hostileCases() []hostileCase {
	good := event("hostile-good", "q-h")
	set := func(field, value string) []byte { // replaces a top-level field's value
		var m map[string]json.RawMessage
		if err := json.Unmarshal(good, &m); err != nil {
			panic(err)
		}
		if value == "" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(value)
		}
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return b
	}
	withID := func(id string) []byte { return event(id, "q-h") }
	huge := append(append([]byte(`{"version":"0","id":"huge","detail":{"pad":"`), bytes.Repeat([]byte("x"), 2<<20)...), `"}}`...)
	deep := strings.Repeat("[", 100000)
	bigRecord := bytes.Replace(withID("hostile-big-record"), []byte(`"state":"connected"`), []byte(`"state":"connected","notes":"`+strings.Repeat("y", 30000)+`"`), 1)
	validDeep := bytes.Replace(withID("hostile-deep-ok"), []byte(`"state":"connected"`), []byte(`"state":"connected","deep":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)), 1)
	dupInDetail := bytes.Replace(withID("hostile-dup-in-detail"), []byte(`"state":"connected"`), []byte(`"state":"connected","state":"wrapup"`), 1)
	nulInString := bytes.Replace(withID("hostile-nul"), []byte(`"state":"connected"`), []byte("\"state\":\"conn\x00ected\""), 1)
	badUTF8 := bytes.Replace(withID("hostile-utf8"), []byte(`"Sales"`), []byte("\"Sa\xffles\""), 1)
	const envelope = `"version":"0","id":"dup","detail-type":"t","source":"genesys.cloud","region":"us-east-1"`
	const detail = `{"eventCode":"interaction.wrapup","interaction":{"id":"i","type":"voice","customAttributes":{"customer_tier":"enterprise"}}}`

	return []hostileCase{
		{name: "empty body", code: 400, errSub: "empty"},
		{name: "white space only", body: []byte(" \r\n\t "), code: 400, errSub: "empty"},
		{name: "truncated JSON", body: good[:len(good)/2], code: 400, errSub: "not valid JSON"},
		{name: "garbage after the object", body: append(append([]byte{}, good...), " xyz"...), code: 400, errSub: "not valid JSON"},
		{name: "two envelopes", body: append(append([]byte{}, good...), good...), code: 400, errSub: "not valid JSON"},
		{name: "JSON array of envelopes", body: append(append([]byte("["), good...), ']'), code: 400, errSub: "not an object"},
		{name: "JSON string", body: []byte(`"hello"`), code: 400, errSub: "not an object"},
		{name: "JSON number", body: []byte(`42`), code: 400, errSub: "not an object"},
		{name: "JSON null", body: []byte(`null`), code: 400, errSub: "not an object"},
		{name: "empty object", body: []byte(`{}`), code: 400, errSub: `"id"`},
		{name: "id missing", body: set("id", ""), code: 400, errSub: `"id"`},
		{name: "source missing", body: set("source", ""), code: 400, errSub: `"source"`},
		{name: "detail-type missing", body: set("detail-type", ""), code: 400, errSub: `"detail-type"`},
		{name: "detail missing", body: set("detail", ""), code: 400, errSub: `"detail"`},
		{name: "detail null", body: set("detail", `null`), code: 400, errSub: `"detail"`},
		{name: "detail string", body: set("detail", `"{}"`), code: 400, errSub: `"detail"`},
		{name: "detail array", body: set("detail", `[{}]`), code: 400, errSub: `"detail"`},
		{name: "detail number", body: set("detail", `1`), code: 400, errSub: `"detail"`},
		{name: "detail true", body: set("detail", `true`), code: 400, errSub: `"detail"`},
		{name: "id a number", body: set("id", `12345`), code: 400, errSub: `"id"`},
		{name: "source an object", body: set("source", `{"name":"genesys.cloud"}`), code: 400, errSub: `"source"`},
		{name: "resources a string", body: set("resources", `"arn:x"`), code: 400, errSub: `"resources"`},
		{name: "source not allowed", body: set("source", `"acme.billing"`), code: 400, errSub: "not allowed"},
		{name: "invalid UTF-8", body: badUTF8, code: 400, errSub: "UTF-8"},
		{name: "NUL byte outside strings", body: append([]byte{0}, good...), code: 400, errSub: "JSON"},
		{name: "raw NUL inside a string", body: nulInString, code: 400, errSub: "JSON"},
		{name: "byte order mark", body: append([]byte("\xef\xbb\xbf"), good...), code: 400, errSub: "JSON"},
		{name: "100,000 nested arrays", body: []byte(deep), code: 400, errSub: "JSON"},
		{name: "100,000 nested arrays in detail", body: []byte(`{` + envelope + `,"detail":{"a":` + deep + `}}`), code: 400, errSub: "JSON"},
		{name: "number beyond float64", body: []byte(`{` + envelope + `,"detail":{"eventCode":1e400}}`), code: 400, errSub: "detail"},
		{name: "detail twice", body: []byte(`{` + envelope + `,"detail":` + detail + `,"detail":{"eventCode":"x"}}`), code: 400, errSub: `"detail"`},
		{name: "source twice", body: []byte(`{` + envelope + `,"detail":` + detail + `,"source":"genesys.cloud"}`), code: 400, errSub: `"source"`},
		{name: "detail twice, escaped", body: []byte(`{` + envelope + `,"detail":` + detail + `,"det\u0061il":{"eventCode":"x"}}`), code: 400, errSub: "more than once"},
		{name: "body over max_body_bytes with Content-Length", body: huge, code: 413, errSub: "max_body_bytes"},
		{name: "body over max_body_bytes chunked", body: huge, chunked: true, code: 413, errSub: "max_body_bytes"},
		{name: "Content-Length over max_body_bytes, Expect 100-continue", raw: "POST /eventbridge HTTP/1.1\r\nHost: relay\r\nX-Api-Key: " + hostileKey +
			"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n", code: 413, errSub: "max_body_bytes"},
		{name: "record over kinesis.max_record_bytes", body: bigRecord, code: 400, errSub: "maximum record size"},
		{name: "GET", method: "GET", code: 405, errSub: "not allowed"},
		{name: "PUT", method: "PUT", body: good, code: 405, errSub: "not allowed"},
		{name: "wrong path", path: "/eventbridge/x", body: good, code: 404, errSub: "not found"},
		{name: "path in another case", path: "/EventBridge", body: good, code: 404, errSub: "not found"},
		{name: "no API key", noKey: true, body: good, code: 401, errSub: "credentials"},
		{name: "wrong API key", noKey: true, hdr: []string{"X-Api-Key", hostileKey + "x"}, body: good, code: 401, errSub: "credentials"},
		{name: "API key as bearer token", noKey: true, hdr: []string{"Authorization", "Bearer " + hostileKey}, body: good, code: 401, errSub: "credentials"},
		{name: "malformed request line", raw: "POST /eventbridge HTTP/1.1 extra\r\nHost: relay\r\n\r\n", code: 400, plain: true},
		{name: "header over 64 KiB", raw: "POST /eventbridge HTTP/1.1\r\nHost: relay\r\nX-Pad: " + strings.Repeat("p", 80<<10) + "\r\n\r\n", code: 431, plain: true},
		// Accepted.
		{name: "Content-Type text/plain", hdr: []string{"Content-Type", "text/plain"}, body: withID("hostile-text-plain"), code: 200},
		{name: "no Content-Type", hdr: []string{"Content-Type", ""}, body: withID("hostile-no-type"), code: 200},
		{name: "form Content-Type", hdr: []string{"Content-Type", "application/x-www-form-urlencoded"}, body: withID("hostile-form"), code: 200},
		{name: "chunked good event", chunked: true, body: withID("hostile-chunked"), code: 200},
		{name: "escaped NUL in the id", body: withID(`hostile-\u0000-nul`), code: 200},
		{name: "lone surrogate escape", body: withID(`hostile-\ud800-surrogate`), code: 200},
		{name: "nesting of 5,000 in detail", body: validDeep, code: 200},
		{name: "key repeated inside detail", body: dupInDetail, code: 200},
	}
}

// TestHostileInput sends malformed and unexpected requests to the relay binary:
// each gets its documented status with a clear {"error":…} message, nothing of
// them reaches Kinesis, and the process stays up and serves a good event.
func TestHostileInput(t *testing.T) {
	tp := newTap(t, 7, kinesistest.Faults{})
	c := startChild(t, writeConfig(t, map[string]any{
		"kinesis.endpoint":         tp.URL(),
		"kinesis.max_record_bytes": 20000,
		"http.auth.api_key":        map[string]any{"header": "X-Api-Key", "values": []string{hostileKey}},
	}))
	client := newClient(4)
	addr := c.base[len("http://"):]
	cases := hostileCases()
	forwarded := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body, err := hostileSend(client, c.base, addr, tc)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if code != tc.code {
				t.Errorf("status %d %q, want %d", code, body, tc.code)
			}
			if tc.plain {
				return
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("answer is not JSON: %q", body)
			}
			if tc.code == http.StatusOK {
				if m["status"] != "forwarded" {
					t.Errorf("answer %q, want forwarded", body)
				}
				forwarded++
				return
			}
			msg, _ := m["error"].(string)
			if msg == "" || len(m) != 1 || !strings.Contains(msg, tc.errSub) {
				t.Errorf("answer %q, want {\"error\":…} containing %q", body, tc.errSub)
			}
		})
	}
	if c.exited() {
		t.Fatalf("relay exited: %v", c.state)
	}
	if r := send(client, c.url, event("hostile-final", "q-h"), "X-Api-Key", hostileKey); !forwardedOK(r, "q-h") {
		t.Errorf("good event after the hostile ones: %d %q", r.code, r.raw)
	}
	if r := do(client, http.MethodGet, c.base+"/healthz", nil); r.code != http.StatusOK {
		t.Errorf("/healthz: %d %q", r.code, r.raw)
	}
	if got, want := tp.Stored(), int64(forwarded+1); got != want {
		t.Errorf("%d records in the stream, want %d (the accepted cases and the final event)", got, want)
	}
	t.Logf("%d hostile requests; %d accepted as documented; relay still serving", len(cases), forwarded)
}

// hostileSend sends one case and returns the answer.
func hostileSend(client *http.Client, base, addr string, tc hostileCase) (int, http.Header, []byte, error) {
	if tc.raw != "" {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, nil, nil, err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, tc.raw); err != nil {
			return 0, nil, nil, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("no answer: %w", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, nil
	}
	method, path := tc.method, tc.path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/eventbridge"
	}
	var body io.Reader = bytes.NewReader(tc.body)
	if tc.chunked {
		body = io.MultiReader(body) // unknown length: sent chunked
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if !tc.noKey {
		req.Header.Set("X-Api-Key", hostileKey)
	}
	for i := 0; i+1 < len(tc.hdr); i += 2 {
		if tc.hdr[i+1] == "" {
			req.Header.Del(tc.hdr[i])
		} else {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, nil
}
