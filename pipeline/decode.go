package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay"
)

// Envelope is the part of an EventBridge envelope the relay reads.
type Envelope struct {
	Version    string
	ID         string
	DetailType string
	Source     string
	Account    string
	Time       string
	Region     string
	Resources  []string
	// Detail is the received detail JSON, byte for byte.
	Detail []byte
	// Raw is the whole received envelope, surrounding white space removed.
	Raw []byte
}

// wireEnvelope decodes the envelope's fields; Detail is kept as raw bytes.
type wireEnvelope struct {
	Version    *string         `json:"version"`
	ID         *string         `json:"id"`
	DetailType *string         `json:"detail-type"`
	Source     *string         `json:"source"`
	Account    *string         `json:"account"`
	Time       *string         `json:"time"`
	Region     *string         `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Decode validates raw as an EventBridge envelope and returns it with detail decoded
// for the rules. Every error is a relay.InvalidError naming the problem; the
// envelope returned with it is nil or holds only the ID.
func Decode(raw []byte) (*Envelope, map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil, relay.Invalid("empty_body", "request body is empty; want an EventBridge event (JSON object)")
	}
	if !utf8.Valid(raw) {
		return nil, nil, relay.Invalid("invalid_utf8", "body is not valid UTF-8")
	}
	if raw[0] != '{' {
		if !json.Valid(raw) {
			return nil, nil, relay.Invalid("malformed_json", "body is not valid JSON")
		}
		return nil, nil, relay.Invalid("not_envelope", "body is JSON but not an object; want an EventBridge event envelope")
	}
	var w wireEnvelope
	if err := json.Unmarshal(raw, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, nil, relay.Invalid("not_envelope", fmt.Sprintf("envelope field %q has the wrong type: want %s, got JSON %s", te.Field, te.Type, te.Value))
		}
		return nil, nil, relay.Invalid("malformed_json", "body is not valid JSON: "+err.Error())
	}
	// Once the id is known, errors still return the envelope so callers can name it.
	partial := &Envelope{Raw: raw}
	if w.ID != nil {
		partial.ID = *w.ID
	}
	if k, dup := duplicateKey(raw); dup {
		// encoding/json keeps the last of two values, a consumer of the record
		// may keep the first: refuse rather than guess.
		return partial, nil, relay.Invalid("duplicate_key", fmt.Sprintf("envelope key %q appears more than once (keys match case-insensitively); ambiguous event", k))
	}
	for _, f := range [...]struct {
		name string
		v    *string
	}{{"id", w.ID}, {"source", w.Source}, {"detail-type", w.DetailType}} {
		if f.v == nil || *f.v == "" {
			return partial, nil, relay.Invalid("not_envelope", fmt.Sprintf("not an EventBridge envelope: %q is missing or empty", f.name))
		}
	}
	if len(w.Detail) == 0 || string(w.Detail) == "null" {
		return partial, nil, relay.Invalid("missing_detail", `envelope has no "detail" (or it is null)`)
	}
	if w.Detail[0] != '{' {
		return partial, nil, relay.Invalid("detail_not_object", `envelope "detail" must be a JSON object`)
	}
	var detail map[string]any
	if err := json.Unmarshal(w.Detail, &detail); err != nil {
		return partial, nil, relay.Invalid("malformed_json", "detail is not valid JSON: "+err.Error())
	}
	e := &Envelope{
		ID: *w.ID, Source: *w.Source, DetailType: *w.DetailType,
		Resources: w.Resources, Detail: w.Detail, Raw: raw,
	}
	for _, f := range [...]struct {
		dst *string
		src *string
	}{{&e.Version, w.Version}, {&e.Account, w.Account}, {&e.Time, w.Time}, {&e.Region, w.Region}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return e, detail, nil
}

// duplicateKey returns a top-level key of the JSON object raw that appears twice,
// comparing keys as encoding/json matches them to the envelope's fields:
// unescaped, and ignoring case. raw must be valid JSON. Keys inside values
// are not compared: detail is forwarded verbatim.
func duplicateKey(raw []byte) (string, bool) {
	var buf [16][]byte
	keys := buf[:0]
	depth, expectKey := 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			j := i + 1
			for ; j < len(raw) && raw[j] != '"'; j++ {
				if raw[j] == '\\' {
					j++
				}
			}
			if depth == 1 && expectKey {
				k := raw[i+1 : j]
				if bytes.IndexByte(k, '\\') >= 0 {
					var s string
					if json.Unmarshal(raw[i:j+1], &s) == nil {
						k = []byte(s)
					}
				}
				for _, prev := range keys {
					if bytes.EqualFold(prev, k) {
						return string(k), true
					}
				}
				keys = append(keys, k)
				expectKey = false
			}
			i = j
		case '{', '[':
			depth++
			expectKey = depth == 1 && c == '{'
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		}
	}
	return "", false
}

// eventMap is the envelope as the rules' event variable sees it.
func eventMap(e *Envelope, detail map[string]any) map[string]any {
	res := make([]any, len(e.Resources))
	for i, r := range e.Resources {
		res[i] = r
	}
	return map[string]any{
		"version":     e.Version,
		"id":          e.ID,
		"detail-type": e.DetailType,
		"source":      e.Source,
		"account":     e.Account,
		"time":        e.Time,
		"region":      e.Region,
		"resources":   res,
		"detail":      detail,
	}
}
