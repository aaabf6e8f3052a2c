package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/rules"
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

// Decode validates raw as an EventBridge envelope and returns it with detail
// decoded in full for the rules. Every error is a relay.InvalidError naming the
// problem; the envelope returned with it is nil or holds only the ID.
func Decode(raw []byte) (*Envelope, map[string]any, error) {
	return decode(raw, nil)
}

// The envelope keys the relay reads, in the order of decoder.fields. They match
// exactly: "ID" is not "id" (encoding/json would take it for one).
const (
	keyVersion    = "version"
	keyID         = "id"
	keyDetailType = "detail-type"
	keySource     = "source"
	keyAccount    = "account"
	keyTime       = "time"
	keyRegion     = "region"
	keyResources  = "resources"
	keyDetail     = "detail"
)

// decode is Decode that decodes only the detail fields p asks for (all of them
// when p is nil or p.All). It reads raw once: it validates the whole body as
// strictly as json.Valid and utf8.Valid together, matches the envelope keys,
// keeps the byte span of detail, and builds the maps the rules read.
func decode(raw []byte, p *rules.Path) (*Envelope, map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil, relay.Invalid("empty_body", "request body is empty; want an EventBridge event (JSON object)")
	}
	if raw[0] != '{' {
		return nil, nil, syntaxError(raw)
	}
	d := decoder{s: scanner{b: raw}, detailLo: -1}
	if !d.envelope(p) {
		return nil, nil, syntaxError(raw)
	}
	if d.typeErr != nil {
		return nil, nil, d.typeErr
	}
	id, source, detailType := d.field(keyID), d.field(keySource), d.field(keyDetailType)
	// Once the id is known, errors still return the envelope so callers can name it.
	partial := &Envelope{Raw: raw}
	if id != nil {
		partial.ID = *id
	}
	if d.hasDup {
		// encoding/json keeps the last of two values, a consumer of the record
		// may keep the first: refuse rather than guess.
		return partial, nil, relay.Invalid("duplicate_key", fmt.Sprintf("envelope key %q appears more than once; ambiguous event", d.dup))
	}
	for _, f := range [...]struct {
		name string
		v    *string
	}{{keyID, id}, {keySource, source}, {keyDetailType, detailType}} {
		if f.v == nil || *f.v == "" {
			return partial, nil, relay.Invalid("not_envelope", fmt.Sprintf("not an EventBridge envelope: %q is missing or empty", f.name))
		}
	}
	if d.detailLo < 0 || raw[d.detailLo] == 'n' {
		return partial, nil, relay.Invalid("missing_detail", `envelope has no "detail" (or it is null)`)
	}
	detailRaw := raw[d.detailLo:d.detailHi]
	if detailRaw[0] != '{' {
		return partial, nil, relay.Invalid("detail_not_object", `envelope "detail" must be a JSON object`)
	}
	if d.s.numErr {
		// A number beyond float64 in detail: encoding/json refuses it, so do we,
		// in its words.
		var m map[string]any
		if err := json.Unmarshal(detailRaw, &m); err != nil {
			return partial, nil, relay.Invalid("malformed_json", "detail is not valid JSON: "+err.Error())
		}
	}
	e := &Envelope{
		ID: *id, Source: *source, DetailType: *detailType,
		Resources: d.resources, Detail: detailRaw, Raw: raw,
	}
	for _, f := range [...]struct {
		dst *string
		key string
	}{{&e.Version, keyVersion}, {&e.Account, keyAccount}, {&e.Time, keyTime}, {&e.Region, keyRegion}} {
		if v := d.field(f.key); v != nil {
			*f.dst = *v
		}
	}
	return e, d.detail, nil
}

// decoder holds what one pass over an envelope found.
type decoder struct {
	s         scanner
	values    [7]string // version, id, detail-type, source, account, time, region
	set       [7]bool   // values[i] was a string (null or missing leave it unset)
	resources []string
	detail    map[string]any
	// detailLo and detailHi bound the detail value; detailLo is -1 without one.
	detailLo, detailHi int
	typeErr            error  // the first envelope field of the wrong type
	dup                string // the first top-level key seen twice, if hasDup
	hasDup             bool   // ("" is a key too)
	keys               [][]byte
	keysBuf            [12][]byte
}

var stringFields = [7]string{keyVersion, keyID, keyDetailType, keySource, keyAccount, keyTime, keyRegion}

func (d *decoder) field(key string) *string {
	for i, k := range stringFields {
		if k == key && d.set[i] {
			return &d.values[i]
		}
	}
	return nil
}

// envelope scans the top-level object. It reports false on a syntax error.
func (d *decoder) envelope(p *rules.Path) bool {
	s := &d.s
	d.keys = d.keysBuf[:0]
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		s.ws()
		return s.i == len(s.b)
	}
	for {
		if s.peek() != '"' {
			return false
		}
		lo, hi, esc, ok := s.str()
		if !ok || !s.colon() {
			return false
		}
		key := s.b[lo:hi]
		if esc {
			key = []byte(s.strValue(lo, hi, esc))
		}
		d.noteKey(key)
		s.ws()
		if !d.member(key, p) {
			return false
		}
		more, ok := s.next('}')
		if !ok {
			return false
		}
		if !more {
			s.ws()
			return s.i == len(s.b)
		}
	}
}

// noteKey remembers key and notes the first key seen twice.
func (d *decoder) noteKey(key []byte) {
	if d.hasDup {
		return
	}
	for _, k := range d.keys {
		if bytes.Equal(k, key) {
			d.dup, d.hasDup = string(key), true
			return
		}
	}
	d.keys = append(d.keys, key)
}

// member decodes the value of one top-level key.
func (d *decoder) member(key []byte, p *rules.Path) bool {
	s := &d.s
	c := s.peek()
	switch string(key) {
	case keyResources:
		switch c {
		case '[':
			return d.stringList()
		case 'n':
			d.resources = nil
			return s.lit("null")
		}
		d.wrongType(keyResources, "[]string", c)
		return s.skip(1)
	case keyDetail:
		d.detailLo, d.detail = s.i, nil
		ok := false
		if c == '{' {
			d.detail, ok = s.object(p, 1)
		} else {
			ok = s.skip(1)
		}
		d.detailHi = s.i
		return ok
	}
	for i, k := range stringFields {
		if k != string(key) {
			continue
		}
		switch c {
		case '"':
			lo, hi, esc, ok := s.str()
			if ok {
				d.values[i], d.set[i] = s.strValue(lo, hi, esc), true
			}
			return ok
		case 'n':
			d.set[i] = false
			return s.lit("null")
		}
		d.wrongType(k, "string", c)
		return s.skip(1)
	}
	return s.skip(1)
}

func (d *decoder) wrongType(field, want string, c byte) {
	if d.typeErr == nil {
		d.typeErr = relay.Invalid("not_envelope", fmt.Sprintf("envelope field %q has the wrong type: want %s, got JSON %s", field, want, jsonKind(c)))
	}
}

// stringList decodes resources as encoding/json decodes a []string: null
// elements become "", other non-strings are a type error.
func (d *decoder) stringList() bool {
	s := &d.s
	s.i++
	s.ws()
	d.resources = []string{}
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		s.ws()
		switch c := s.peek(); c {
		case '"':
			lo, hi, esc, ok := s.str()
			if !ok {
				return false
			}
			d.resources = append(d.resources, s.strValue(lo, hi, esc))
		case 'n':
			if !s.lit("null") {
				return false
			}
			d.resources = append(d.resources, "")
		default:
			d.wrongType(keyResources, "string", c)
			if !s.skip(2) {
				return false
			}
		}
		if more, ok := s.next(']'); !ok || !more {
			return ok
		}
	}
}

// jsonKind names the JSON type of a value by its first byte, as encoding/json's
// type errors do.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

// syntaxError explains, in encoding/json's words, why raw is not an acceptable
// body; the scanner refused it.
func syntaxError(raw []byte) error {
	if !utf8.Valid(raw) {
		return relay.Invalid("invalid_utf8", "body is not valid UTF-8")
	}
	if raw[0] != '{' {
		if !json.Valid(raw) {
			return relay.Invalid("malformed_json", "body is not valid JSON")
		}
		return relay.Invalid("not_envelope", "body is JSON but not an object; want an EventBridge event envelope")
	}
	if err := json.Unmarshal(raw, &struct{}{}); err != nil {
		return relay.Invalid("malformed_json", "body is not valid JSON: "+err.Error())
	}
	return relay.Invalid("malformed_json", "body is not valid JSON")
}

// envelopeKeys are the envelope fields the rules' event variable holds besides
// detail.
var envelopeKeys = [...]string{keyVersion, keyID, keyDetailType, keySource, keyAccount, keyTime, keyRegion, keyResources}

// envelopeField is event[k] for an envelope field other than detail.
func envelopeField(e *Envelope, k string) (any, bool) {
	switch k {
	case keyVersion:
		return e.Version, true
	case keyID:
		return e.ID, true
	case keyDetailType:
		return e.DetailType, true
	case keySource:
		return e.Source, true
	case keyAccount:
		return e.Account, true
	case keyTime:
		return e.Time, true
	case keyRegion:
		return e.Region, true
	case keyResources:
		res := make([]any, len(e.Resources))
		for i, r := range e.Resources {
			res[i] = r
		}
		return res, true
	}
	return nil, false
}

// eventMap is the envelope as the rules' event variable sees it.
func eventMap(e *Envelope, detail map[string]any) map[string]any {
	m := make(map[string]any, len(envelopeKeys)+1)
	for _, k := range envelopeKeys {
		m[k], _ = envelopeField(e, k)
	}
	m[keyDetail] = detail
	return m
}

// eventFields is the part of eventMap that holds the given keys: what the rules
// read when they only select fields of event.
func eventFields(e *Envelope, keys map[string]bool) map[string]any {
	m := make(map[string]any, len(keys))
	for k := range keys {
		if v, ok := envelopeField(e, k); ok {
			m[k] = v
		}
	}
	return m
}
