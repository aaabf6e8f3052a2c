package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

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
// decoded in full for the rules, as a CEL map. Every error is a
// relay.InvalidError naming the problem; the envelope returned with it is nil or
// holds only the ID.
func Decode(raw []byte) (*Envelope, traits.Mapper, error) {
	env, detail, err := decode(raw, nil)
	if detail == nil {
		// No typed nil in the interface.
		return env, nil, err
	}
	return env, detail, nil
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
// keeps the byte span of detail, and builds the values the rules read.
func decode(raw []byte, p *rules.Path) (*Envelope, *jsonObject, error) {
	return new(decoding).decode(raw, p)
}

// decode is the function decode using st's memory, which must be zero. What it
// returns points into st, except the strings, which are the arena's text.
func (st *decoding) decode(raw []byte, p *rules.Path) (*Envelope, *jsonObject, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil, relay.Invalid("empty_body", "request body is empty; want an EventBridge event (JSON object)")
	}
	if raw[0] != '{' {
		return nil, nil, syntaxError(raw)
	}
	st.d = decoder{s: scanner{b: raw, arena: arena{
		// Decoded strings take at most the size of raw.
		text:    make([]byte, 0, min(len(raw), 512)),
		members: st.members[:0],
		mstack:  st.mstack[:0],
		objs:    st.objs[:0],
	}}, detailLo: -1}
	d := &st.d
	if !d.envelope(p) {
		return nil, nil, syntaxError(raw)
	}
	if d.typeErr != nil {
		return nil, nil, d.typeErr
	}
	id, source, detailType := d.field(keyID), d.field(keySource), d.field(keyDetailType)
	// Once the id is known, errors still return the envelope so callers can name it.
	e := &st.env
	e.Raw = raw
	if id != nil {
		e.ID = *id
	}
	if d.hasDup {
		// encoding/json keeps the last of two values, a consumer of the record
		// may keep the first: refuse rather than guess.
		return e, nil, relay.Invalid("duplicate_key", fmt.Sprintf("envelope key %q appears more than once; ambiguous event", d.dup))
	}
	for _, f := range [...]struct {
		name string
		v    *string
	}{{keyID, id}, {keySource, source}, {keyDetailType, detailType}} {
		if f.v == nil || *f.v == "" {
			return e, nil, relay.Invalid("not_envelope", fmt.Sprintf("not an EventBridge envelope: %q is missing or empty", f.name))
		}
	}
	if d.detailLo < 0 || raw[d.detailLo] == 'n' {
		return e, nil, relay.Invalid("missing_detail", `envelope has no "detail" (or it is null)`)
	}
	detailRaw := raw[d.detailLo:d.detailHi]
	if detailRaw[0] != '{' {
		return e, nil, relay.Invalid("detail_not_object", `envelope "detail" must be a JSON object`)
	}
	if d.s.numErr {
		// A number beyond float64 in detail: encoding/json refuses it, so do we,
		// in its words.
		var m map[string]any
		if err := json.Unmarshal(detailRaw, &m); err != nil {
			return e, nil, relay.Invalid("malformed_json", "detail is not valid JSON: "+err.Error())
		}
	}
	e.Source, e.DetailType = *source, *detailType
	e.Resources, e.Detail = d.resources, detailRaw
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

// decoding is the memory decode needs for an event, taken in one allocation:
// the decoder, the envelope and the first arrays of the arena, which hold the
// values of a typical event. The decoded strings are apart (arena.text): they
// may outlive the evaluation, the rest need not.
type decoding struct {
	d       decoder
	env     Envelope
	members [16]member
	mstack  [8]member
	objs    [6]jsonObject
}

// decodings keeps the decodings of evaluated events for the next ones: nothing
// an evaluation returns points into one (see Processor.evaluate), and a block
// still in the cache is cheaper to clear than a new one is to allocate and,
// later, to collect.
var decodings = sync.Pool{New: func() any { return new(decoding) }}

// release clears st and returns it to decodings.
func (st *decoding) release() {
	*st = decoding{}
	decodings.Put(st)
}

// decoder holds what one pass over an envelope found.
type decoder struct {
	s         scanner
	values    [7]string // version, id, detail-type, source, account, time, region
	set       [7]bool   // values[i] was a string (null or missing leave it unset)
	resources []string
	detail    *jsonObject
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

// eventValue is the rules' event variable with its members, in one allocation.
type eventValue struct {
	obj       jsonObject
	members   [len(envelopeKeys) + 1]member
	resources jsonList
}

// eventObject is the envelope as the rules' event variable sees it: every
// envelope field and detail when keys is nil, otherwise the envelope fields
// and detail among keys (what the rules read when they only select fields of
// event).
func eventObject(e *Envelope, detail *jsonObject, keys map[string]bool) *jsonObject {
	ev := &eventValue{}
	n := 0
	for _, k := range envelopeKeys {
		if keys != nil && !keys[k] {
			continue
		}
		m := &ev.members[n]
		m.key = types.String(k)
		if k == keyResources {
			res := make([]ref.Val, len(e.Resources))
			for j, r := range e.Resources {
				res[j] = types.String(r)
			}
			ev.resources.elems = res
			m.val = &ev.resources
		} else {
			m.val = types.String(envelopeString(e, k))
		}
		n++
	}
	if keys == nil || keys[keyDetail] {
		ev.members[n] = member{key: keyDetail, val: detail}
		n++
	}
	ev.obj.members = ev.members[:n:n]
	return &ev.obj
}

// envelopeString is the envelope string field k.
func envelopeString(e *Envelope, k string) string {
	switch k {
	case keyVersion:
		return e.Version
	case keyID:
		return e.ID
	case keyDetailType:
		return e.DetailType
	case keySource:
		return e.Source
	case keyAccount:
		return e.Account
	case keyTime:
		return e.Time
	case keyRegion:
		return e.Region
	}
	return ""
}
