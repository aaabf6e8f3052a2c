// Package envelope decodes the body of one EventBridge event for the rules.
// In one pass over the body it validates it as strictly as json.Valid and
// utf8.Valid together, reads the envelope fields the relay needs (Envelope),
// and builds the CEL values of what the rules read (rules.Access) as
// rules.Vars: values that behave as cel-go's conversion of what
// encoding/json decodes, built straight from the bytes. Time and memory are
// linear in the body, and the memory is bounded by a budget (4 times the body
// plus 256 KiB, see budgetFactor): an event that would need more is refused.
//
// A Decoding holds one decoded event; its values live until Release.
package envelope

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
	"github.com/genesys-relay/genesys-relay/rules"
)

// Envelope is the part of an EventBridge envelope the relay reads. Its
// strings other than ID may point into the body they were decoded from.
type Envelope struct {
	Version    string
	ID         string
	DetailType string
	Source     string
	Account    string
	Time       string
	Region     string
	// Detail is the received detail JSON, byte for byte.
	Detail []byte
	// Raw is the whole received envelope, surrounding white space removed.
	Raw []byte
}

// The envelope keys the relay reads, in the order of decoder.values. They match
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

// Decode validates raw as an EventBridge envelope and decodes what acc asks
// for (everything when acc is nil): the fields of detail acc.Detail names, and
// event when the rules use it. It reads raw once: it validates the whole body,
// matches the envelope keys, keeps the byte span of detail, and builds the
// values the rules read.
//
// What it returns points into st and into raw, except the envelope ID: it is
// valid until st is released and while raw is unchanged. Every error is a
// relay.InvalidError naming the problem; the envelope returned with it is nil
// or holds only the ID. A Decoding decodes one event.
func (st *Decoding) Decode(raw []byte, acc *rules.Access) (*Envelope, *rules.Vars, error) {
	if acc == nil {
		acc = rules.FullAccess()
	}
	raw = jsonx.TrimSpace(raw) // JSON white space only: a body surrounded by other space is not JSON
	if len(raw) == 0 {
		return nil, nil, relay.Invalid("empty_body", "request body is empty; want an EventBridge event (JSON object)")
	}
	if raw[0] != '{' {
		return nil, nil, syntaxError(raw)
	}
	limit := st.limit
	if limit == 0 {
		limit = budget(len(raw))
	}
	st.d = decoder{s: scanner{b: raw, arena: arena{
		limit:   limit,
		members: st.members[:0],
		mstack:  st.mstack[:0],
		objs:    st.objs[:0],
		frames:  st.frames[:0],
	}}, detailLo: -1}
	d := &st.d
	e := &st.env
	e.Raw = raw
	if !d.envelope(acc) {
		if !d.s.arena.over() || !valid(raw) {
			return nil, nil, syntaxError(raw)
		}
		if id := d.field(keyID); id != nil {
			e.ID = strings.Clone(*id)
		}
		return e, nil, relay.Invalid("decoded_too_large", fmt.Sprintf(
			"event too complex: its decoded values would take more than %d bytes (%d times the %d bytes of the body, plus %d)",
			d.s.arena.limit, budgetFactor, len(raw), budgetSlack))
	}
	if d.typeErr != nil {
		return nil, nil, d.typeErr
	}
	id, source, detailType := d.field(keyID), d.field(keySource), d.field(keyDetailType)
	// Once the id is known, errors still return the envelope so callers can
	// name it. The id is the one string that outlives the body.
	if id != nil {
		e.ID = strings.Clone(*id)
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
		return e, nil, d.numberError()
	}
	e.Source, e.DetailType, e.Detail = *source, *detailType, detailRaw
	for _, f := range [...]struct {
		dst *string
		key string
	}{{&e.Version, keyVersion}, {&e.Account, keyAccount}, {&e.Time, keyTime}, {&e.Region, keyRegion}} {
		if v := d.field(f.key); v != nil {
			*f.dst = *v
		}
	}
	st.vars = rules.Vars{Detail: d.detail}
	if d.event != nil {
		st.vars.Event = d.event
	}
	return e, &st.vars, nil
}

// valid reports whether raw is one JSON value, as json.Valid and utf8.Valid
// together, without decoding anything.
func valid(raw []byte) bool {
	// numErr: the range of numbers is no matter of syntax; leave them unparsed.
	s := scanner{b: raw, numErr: true, arena: arena{limit: math.MaxInt}}
	if !s.skip(0) {
		return false
	}
	s.ws()
	return s.i == len(raw)
}

// numberError is the error for a number that does not fit a float64, which
// json.Unmarshal refuses wherever it is.
func (d *decoder) numberError() error {
	s := &d.s
	lo := s.numAt
	s.i = lo
	_, hi, _ := s.num()
	n := string(s.b[lo:min(hi, lo+32)])
	if hi > lo+32 {
		n += "…"
	}
	where := "the envelope"
	if d.detailLo <= lo && lo < d.detailHi {
		where = "detail"
	}
	return relay.Invalid("number_out_of_range", fmt.Sprintf("number %s in %s does not fit a 64-bit float (JSON decoders refuse it)", n, where))
}

// Decoding is the memory Decode needs for an event, taken in one allocation:
// the decoder, the envelope, the rules' variables and the first arrays of the
// arena, which hold the values of a typical event. Unescaped strings are
// apart (arena.text): they may outlive the evaluation, the rest need not.
//
// Take one with NewDecoding, decode one event in it, and Release it once
// nothing points into what Decode returned. The zero Decoding is ready to
// use as well.
type Decoding struct {
	// limit, when set, replaces the budget (tests).
	limit   int
	d       decoder
	env     Envelope
	vars    rules.Vars
	members [16]member
	mstack  [16]member
	objs    [6]jsonObject
	frames  [6]frame
}

// decodings keeps the decodings of evaluated events for the next ones: a
// block still in the cache is cheaper to clear than a new one is to allocate
// and, later, to collect.
var decodings = sync.Pool{New: func() any { return new(Decoding) }}

// NewDecoding returns a zero Decoding, from a pool.
func NewDecoding() *Decoding { return decodings.Get().(*Decoding) }

// Release clears st and returns it to the pool: what Decode returned, except
// the envelope ID, must no longer be used.
func (st *Decoding) Release() {
	*st = Decoding{}
	decodings.Put(st)
}

// decoder holds what one pass over an envelope found.
type decoder struct {
	s      scanner
	values [7]string // version, id, detail-type, source, account, time, region
	set    [7]bool   // values[i] was a string (null or missing leave it unset)
	detail *jsonObject
	// event is the envelope as the rules' event variable, when they use it.
	event *jsonObject
	// detailLo and detailHi bound the detail value; detailLo is -1 without one.
	detailLo, detailHi int
	typeErr            error  // the first envelope field of the wrong type
	dup                string // the first top-level key seen twice, if hasDup
	hasDup             bool   // ("" is a key too)
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

// envelope scans the top-level object: it checks the envelope fields, decodes
// detail as acc.Detail asks and, when the rules use event, the members of the
// envelope they read, as encoding/json would decode them. It reports false on
// a syntax error or when the budget is spent.
func (d *decoder) envelope(acc *rules.Access) bool {
	s := &d.s
	a := &s.arena
	// The envelope's keys, with the values event needs (nil for the others),
	// to find keys given twice and to build event.
	top := frame{obj: true, start: len(a.mstack)}
	readsEvent := acc.ReadsEvent()
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return false
			}
			lo, hi, esc, ok := s.str()
			if !ok || !s.colon() {
				return false
			}
			key, ok := s.strValue(lo, hi, esc)
			if !ok {
				return false
			}
			want := readsEvent && acc.ReadsEventKey(key)
			v, ok := d.member(key, want, acc.Detail)
			if !ok {
				return false
			}
			dup, ok := a.pushMember(&top, key, v)
			if !ok {
				return false
			}
			if dup && !d.hasDup {
				d.dup, d.hasDup = key, true
			}
			more, ok := s.next('}')
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return false
	}
	if readsEvent {
		return d.eventObject(&top, acc.Event)
	}
	a.mstack = a.mstack[:top.start]
	return true
}

// eventObject builds event from the envelope's members: all of them when
// whole, otherwise those the rules read (the others have no value).
func (d *decoder) eventObject(top *frame, whole bool) bool {
	a := &d.s.arena
	if !whole {
		ms := a.mstack[top.start:]
		n := 0
		for _, m := range ms {
			if m.val != nil {
				ms[n] = m
				n++
			}
		}
		a.mstack = a.mstack[:top.start+n]
		top.idx = nil
		if n > indexMin {
			// Rare: more than indexMin envelope fields read one by one.
			tmp := frame{obj: true, start: len(a.mstack)}
			for _, m := range ms[:n] {
				if _, ok := a.pushMember(&tmp, string(m.key), m.val); !ok {
					return false
				}
			}
			copy(a.mstack[top.start:], a.mstack[tmp.start:])
			a.mstack = a.mstack[:top.start+n]
			top.idx = tmp.idx
		}
	}
	ev, ok := a.object(top)
	d.event = ev
	return ok
}

// member decodes the value of the top-level key; v is its value as event
// holds it when want is set, else nil.
func (d *decoder) member(key string, want bool, detail *rules.Path) (v ref.Val, ok bool) {
	s := &d.s
	c := s.peek()
	switch key {
	case keyDetail:
		d.detailLo, d.detail = s.i, nil
		if c == '{' {
			v, ok = s.decodeValue(detail, 1)
			if ok {
				d.detail = v.(*jsonObject)
			}
		} else if want {
			v, ok = s.decodeValue(nil, 1)
		} else {
			ok = s.skip(1)
		}
		d.detailHi = s.i
		if !want {
			v = nil
		}
		return v, ok
	case keyResources:
		switch c {
		case '[':
			return d.stringList(want)
		case 'n':
			ok = s.lit("null")
			if want {
				v = types.NullValue
			}
			return v, ok
		}
		d.wrongType(keyResources, "[]string", c)
		return nil, s.skip(1)
	}
	for i, k := range stringFields {
		if k != key {
			continue
		}
		switch c {
		case '"':
			lo, hi, esc, ok := s.str()
			if !ok {
				return nil, false
			}
			if d.values[i], ok = s.strValue(lo, hi, esc); !ok {
				return nil, false
			}
			d.set[i] = true
			if want {
				s.arena.used += sizeString
				v = types.String(d.values[i])
			}
			return v, true
		case 'n':
			d.set[i] = false
			ok = s.lit("null")
			if want {
				v = types.NullValue
			}
			return v, ok
		}
		d.wrongType(k, "string", c)
		return nil, s.skip(1)
	}
	if want {
		return s.decodeValue(nil, 1)
	}
	return nil, s.skip(1)
}

func (d *decoder) wrongType(field, want string, c byte) {
	if d.typeErr == nil {
		d.typeErr = relay.Invalid("not_envelope", fmt.Sprintf("envelope field %q has the wrong type: want %s, got JSON %s", field, want, jsonKind(c)))
	}
}

// stringList checks resources as encoding/json decodes a []string (null
// elements become "", other non-strings are a type error) and, when want is
// set, decodes it as event holds it (null elements stay null).
func (d *decoder) stringList(want bool) (ref.Val, bool) {
	s := &d.s
	a := &s.arena
	s.i++
	s.ws()
	if s.peek() == ']' {
		s.i++
		if want {
			return emptyList, true
		}
		return nil, true
	}
	start := len(a.estack)
	for {
		var v ref.Val
		switch c := s.peek(); c {
		case '"':
			lo, hi, esc, ok := s.str()
			if !ok {
				return nil, false
			}
			if want {
				str, ok := s.strValue(lo, hi, esc)
				if !ok {
					return nil, false
				}
				a.used += sizeString
				v = types.String(str)
			}
		case 'n':
			if !s.lit("null") {
				return nil, false
			}
			v = types.NullValue
		default:
			d.wrongType(keyResources, "string", c)
			if !s.skip(2) {
				return nil, false
			}
			want = false
		}
		if want && !a.pushElem(v) {
			return nil, false
		}
		more, ok := s.next(']')
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
	}
	if !want {
		a.estack = a.estack[:start]
		return nil, true
	}
	return a.list(start)
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
