package httpin_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/httpin"
	"github.com/genesys-relay/genesys-relay/internal/testx"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

const (
	fuzzKey      = "fuzz-key"
	fuzzUser     = "fuzz-user"
	fuzzPass     = "fuzz-pass"
	fuzzMaxBody  = 8 << 10
	fuzzSourceOK = "genesys.cloud" // filter.sources of examples/relay.yaml
)

// FuzzHandler drives the ingest handler, with the real pipeline and the rules of
// examples/relay.yaml, by body and by a byte choosing method, credentials, body
// framing and the sink's answer. Whatever the input: no panic; the status is one
// of the HTTP contract's; the answer is a JSON object; 200 only for a valid
// envelope, POSTed with credentials, that the sink accepted (forwarded) or a rule
// dropped; invalid JSON is 400; 5xx and 429 only when the sink said so.
// The seed corpus is in testdata/fuzz/FuzzHandler.
func FuzzHandler(f *testing.F) {
	cfg, err := config.Load(filepath.Join("..", "examples", "relay.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	proc, err := pipeline.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	sink := &testx.Sink{}
	h := httpin.New(pipeline.NewRelay(proc, sink, nil, nil).Input("http"), httpin.Options{
		MaxBodyBytes:   fuzzMaxBody,
		RequestTimeout: time.Second,
		MaxInFlight:    4,
		Auth:           httpin.NewAuth("X-Api-Key", []string{fuzzKey}, fuzzUser, fuzzPass),
	})
	// A real server on loopback: the body's framing and the headers go
	// through the same HTTP parsing as in production.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := httpin.NewServer(h, httpin.ServerOptions{Path: "/eventbridge"})
	go func() { _ = srv.Serve(ln) }()
	f.Cleanup(srv.Close)
	url := "http://" + ln.Addr().String() + "/eventbridge"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, dir := range []string{filepath.Join("..", "examples", "testdata")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b, uint8(0))
			}
		}
	}

	sinkErrs := [...]error{nil, relay.ErrUnavailable, fmt.Errorf("too large: %w", relay.ErrPermanent), relay.ErrOverloaded}
	f.Fuzz(func(t *testing.T, body []byte, flags uint8) {
		method := [...]string{http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPut}[flags&3]
		authMode := flags >> 2 & 3 // 0 API key, 1 Basic, 2 none, 3 wrong key
		sinkErr := sinkErrs[flags>>4&3]
		chunked := flags&0x40 != 0

		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if chunked {
			req.ContentLength = -1
		}
		switch authMode {
		case 0:
			req.Header.Set("X-Api-Key", fuzzKey)
		case 1:
			req.SetBasicAuth(fuzzUser, fuzzPass)
		case 3:
			req.Header.Set("X-Api-Key", fuzzKey+"x")
		}
		sink.Reset(sinkErr)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		recs := sink.Records()

		code := resp.StatusCode
		var m map[string]any
		if err := json.Unmarshal(answer, &m); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("answer %d %q (%s) is not a JSON object", code, answer, resp.Header.Get("Content-Type"))
		}
		authOK := authMode < 2
		sizeOK := len(body) <= fuzzMaxBody
		switch {
		case method != http.MethodPost:
			want(t, code, answer, http.StatusMethodNotAllowed)
			return
		case !authOK:
			want(t, code, answer, http.StatusUnauthorized)
			return
		case !sizeOK:
			want(t, code, answer, http.StatusRequestEntityTooLarge)
			return
		}
		env, validErr := validEnvelope(body)
		switch code {
		case http.StatusOK:
			if validErr != nil {
				t.Fatalf("200 %q for an invalid envelope (%v): %q", answer, validErr, body)
			}
			switch m["status"] {
			case "forwarded":
				if sinkErr != nil || len(recs) != 1 || !json.Valid(recs[0].Data) {
					t.Fatalf("forwarded but the sink got %d records and answered %v", len(recs), sinkErr)
				}
				var r struct {
					TraceID string `json:"trace_id"`
				}
				if err := json.Unmarshal(recs[0].Data, &r); err != nil || r.TraceID != env.id {
					t.Fatalf("record trace_id %q, want %q (%v)", r.TraceID, env.id, err)
				}
				if m["partition_key"] != recs[0].PartitionKey {
					t.Fatalf("answered key %v, record key %q", m["partition_key"], recs[0].PartitionKey)
				}
			case "dropped":
				if len(recs) != 0 || m["reason"] == "" {
					t.Fatalf("dropped %q but %d records reached the sink", answer, len(recs))
				}
			default:
				t.Fatalf("200 with status %v", m["status"])
			}
		case http.StatusBadRequest:
			msg, _ := m["error"].(string)
			if msg == "" {
				t.Fatalf("400 without an error message: %q", answer)
			}
			// 400 means invalid input, or a record the sink can never take.
			if validErr == nil && !errors.Is(sinkErr, relay.ErrPermanent) {
				t.Fatalf("400 %q for a valid envelope: %q", answer, body)
			}
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			if validErr != nil {
				t.Fatalf("%d %q for an invalid envelope (%v), which can never succeed: %q", code, answer, validErr, body)
			}
			if sinkErr == nil || errors.Is(sinkErr, relay.ErrPermanent) {
				t.Fatalf("%d %q but the sink answered %v", code, answer, sinkErr)
			}
		default:
			t.Fatalf("status %d %q is not in the HTTP contract", code, answer)
		}
		// Like the pipeline, JSON white space around the body is ignored.
		if !json.Valid(bytes.Trim(body, jsonSpace)) && code != http.StatusBadRequest {
			t.Fatalf("invalid JSON answered %d", code)
		}
	})
}

func want(t *testing.T, got int, answer []byte, code int) {
	t.Helper()
	if got != code {
		t.Fatalf("status %d %q, want %d", got, answer, code)
	}
}

// jsonSpace is the white space JSON allows around a value.
const jsonSpace = " \t\r\n"

// envelope is what validEnvelope found.
type envelope struct{ id string }

// envelopeFields are the envelope's fields and whether each must be a string;
// keys match them exactly ("ID" is not "id").
var envelopeFields = map[string]string{
	"version": "string", "id": "string", "detail-type": "string", "source": "string",
	"account": "string", "time": "string", "region": "string", "resources": "strings", "detail": "object",
}

// validEnvelope decides, independently of the pipeline, whether body is an
// envelope the relay must accept: a JSON object in valid UTF-8 without a key
// twice, non-empty string id, source (allowed) and detail-type, string or null
// optional fields, resources an array of strings, detail an object, and all of
// it decodes into an interface{} (no number beyond float64 anywhere). Only
// JSON white space may surround it.
func validEnvelope(body []byte) (envelope, error) {
	body = bytes.Trim(body, jsonSpace)
	if !utf8.Valid(body) || !json.Valid(body) {
		return envelope{}, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return envelope{}, errors.New("not an object")
	}
	seen := map[string]bool{}
	values := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return envelope{}, err
		}
		key := tok.(string)
		if seen[key] {
			return envelope{}, fmt.Errorf("key %q twice", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return envelope{}, err
		}
		if _, ok := envelopeFields[key]; ok {
			values[key] = v
		}
	}
	if _, err := dec.Token(); err != nil {
		return envelope{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return envelope{}, errors.New("data after the object")
	}
	var all any
	if err := json.Unmarshal(body, &all); err != nil {
		return envelope{}, err
	}
	str := map[string]string{}
	for name, kind := range envelopeFields {
		v, ok := values[name]
		if !ok || string(v) == "null" {
			continue
		}
		var err error
		switch kind {
		case "string":
			var s string
			err = json.Unmarshal(v, &s)
			str[name] = s
		case "strings":
			var s []string
			err = json.Unmarshal(v, &s)
		case "object":
			var o map[string]any
			if v[0] != '{' {
				err = errors.New("not an object")
			} else {
				err = json.Unmarshal(v, &o)
			}
		}
		if err != nil {
			return envelope{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, name := range []string{"id", "source", "detail-type"} {
		if str[name] == "" {
			return envelope{}, fmt.Errorf("%s missing", name)
		}
	}
	if _, ok := values["detail"]; !ok || string(values["detail"]) == "null" {
		return envelope{}, errors.New("detail missing")
	}
	if str["source"] != fuzzSourceOK {
		return envelope{}, errors.New("source not allowed")
	}
	return envelope{id: str["id"]}, nil
}
