package pipeline

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/genesys-relay/genesys-relay/rules"
)

// maxDepth is encoding/json's nesting limit: json.Valid rejects deeper input.
const maxDepth = 10000

// scanner validates JSON and decodes the parts of it that are asked for, in one
// pass over the bytes. It accepts exactly what json.Valid accepts, except
// strings that are not valid UTF-8, and decodes values as json.Unmarshal into an
// interface{} does, as CEL values (see value.go).
//
// Methods report false at the first syntax error; s.i is then meaningless.
type scanner struct {
	b []byte
	i int
	// numErr is set when a decoded or skipped number does not fit a float64,
	// which json.Unmarshal refuses although it is valid JSON.
	numErr bool
	// arena holds the decoded values.
	arena arena
}

// plain marks the bytes a string may hold without a closer look: printable
// ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str scans the string at s.i (which holds '"') and returns the bounds of its
// contents and whether it holds escapes.
func (s *scanner) str() (lo, hi int, esc, ok bool) {
	b := s.b
	i := s.i + 1
	lo = i
	for {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, 0, false, false
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return lo, i, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, 0, false, false
				}
				i += 6
			default:
				return 0, 0, false, false
			}
		case c < 0x20:
			return 0, 0, false, false
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, 0, false, false
			}
			i += size
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// strValue returns the string whose contents are b[lo:hi], in the arena.
func (s *scanner) strValue(lo, hi int, esc bool) string {
	if !esc {
		return s.arena.str(s.b[lo:hi])
	}
	// Escapes are rare: let encoding/json apply its rules (lone surrogates
	// become U+FFFD) rather than repeat them.
	var v string
	_ = json.Unmarshal(s.b[lo-1:hi+1], &v)
	return v
}

// num scans the number at s.i and returns its bounds. A number that may not fit
// a float64 (an exponent, or more than 300 digits) is parsed to find out.
func (s *scanner) num() (lo, hi int, ok bool) {
	b := s.b
	i := s.i
	lo = i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, 0, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	default:
		return 0, 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, 0, false
		}
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	exp := false
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		exp = true
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, 0, false
		}
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	s.i = i
	if exp || i-lo > 300 {
		if _, err := strconv.ParseFloat(string(b[lo:i]), 64); err != nil {
			s.numErr = true
		}
	}
	return lo, i, true
}

// lit scans true, false or null.
func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// skip validates the value at s.i (after white space) without decoding it.
// depth is the number of arrays and objects around it.
func (s *scanner) skip(depth int) bool {
	s.ws()
	switch s.peek() {
	case '{':
		if depth >= maxDepth {
			return false
		}
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return true
		}
		for {
			if s.peek() != '"' {
				return false
			}
			if _, _, _, ok := s.str(); !ok {
				return false
			}
			if !s.colon() || !s.skip(depth+1) {
				return false
			}
			if more, ok := s.next('}'); !ok || !more {
				return ok
			}
		}
	case '[':
		if depth >= maxDepth {
			return false
		}
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if more, ok := s.next(']'); !ok || !more {
				return ok
			}
		}
	case '"':
		_, _, _, ok := s.str()
		return ok
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		_, _, ok := s.num()
		return ok
	}
}

// colon consumes the ':' after an object key.
func (s *scanner) colon() bool {
	s.ws()
	if s.peek() != ':' {
		return false
	}
	s.i++
	return true
}

// next consumes the ',' between members (more is true; the white space after it
// too) or the closing byte (more is false).
func (s *scanner) next(closing byte) (more, ok bool) {
	s.ws()
	switch s.peek() {
	case ',':
		s.i++
		s.ws()
		return true, true
	case closing:
		s.i++
		return false, true
	}
	return false, false
}

// value validates and decodes the value at s.i (after white space) into a CEL
// value that behaves as cel-go's conversion of what json.Unmarshal into an
// interface{} gives.
func (s *scanner) value(depth int) (ref.Val, bool) {
	s.ws()
	switch s.peek() {
	case '{':
		o, ok := s.object(nil, depth)
		return o, ok
	case '[':
		if depth >= maxDepth {
			return nil, false
		}
		s.i++
		s.ws()
		a := &s.arena
		start := len(a.estack)
		if s.peek() == ']' {
			s.i++
			return a.list(start), true
		}
		for {
			v, ok := s.value(depth + 1)
			if !ok {
				return nil, false
			}
			a.estack = append(a.estack, v)
			if more, ok := s.next(']'); !ok || !more {
				return a.list(start), ok
			}
		}
	case '"':
		lo, hi, esc, ok := s.str()
		if !ok {
			return nil, false
		}
		return types.String(s.strValue(lo, hi, esc)), true
	case 't':
		return types.True, s.lit("true")
	case 'f':
		return types.False, s.lit("false")
	case 'n':
		return types.NullValue, s.lit("null")
	default:
		lo, hi, ok := s.num()
		if !ok {
			return nil, false
		}
		f, err := strconv.ParseFloat(unsafe.String(&s.b[lo], hi-lo), 64)
		if err != nil {
			s.numErr = true
		}
		return types.Double(f), true
	}
}

// object validates the object at s.i and decodes the members p asks for: all
// of them when p is nil or p.All, otherwise those named in p.Fields, each
// decoded in turn as its Path asks. The other members are validated only.
func (s *scanner) object(p *rules.Path, depth int) (*jsonObject, bool) {
	if depth >= maxDepth {
		return nil, false
	}
	all := p == nil || p.All
	if all {
		p = nil
	}
	s.i++
	s.ws()
	a := &s.arena
	start := len(a.mstack)
	var index map[string]int
	if s.peek() == '}' {
		s.i++
		return a.object(start, index), true
	}
	for {
		if s.peek() != '"' {
			return nil, false
		}
		lo, hi, esc, ok := s.str()
		if !ok || !s.colon() {
			return nil, false
		}
		var name string
		var f *rules.Path
		switch {
		case all:
			name = s.strValue(lo, hi, esc)
		case esc:
			name = s.strValue(lo, hi, esc)
			f = p.Lookup([]byte(name))
		default:
			f = p.Lookup(s.b[lo:hi])
			if f != nil {
				name = f.Name
			}
		}
		switch {
		case !all && f == nil:
			ok = s.skip(depth + 1)
		default:
			var v ref.Val
			s.ws()
			if f != nil && !f.All && s.peek() == '{' {
				var o *jsonObject
				o, ok = s.object(f, depth+1)
				v = o
			} else {
				v, ok = s.value(depth + 1)
			}
			if ok {
				index = a.push(start, name, v, index)
			}
		}
		if !ok {
			return nil, false
		}
		if more, ok := s.next('}'); !ok || !more {
			if !ok {
				return nil, false
			}
			return a.object(start, index), true
		}
	}
}
