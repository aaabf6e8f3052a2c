package envelope

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth is encoding/json's nesting limit: json.Valid rejects deeper input.
const maxDepth = 10000

// scanner validates JSON and decodes the parts of it that are asked for, in one
// pass over the bytes. It accepts exactly what json.Valid accepts, except
// strings that are not valid UTF-8, and decodes values as json.Unmarshal into an
// interface{} does, as CEL values (see value.go and decodeValue).
//
// Its loops are iterative, with the containers being read on an explicit stack
// (a bit per level for skip, a frame per level for decodeValue), so that
// encoding/json's 10,000 levels of nesting cost neither deep recursion nor a
// goroutine stack of megabytes.
//
// Methods report false at the first syntax error, or when the arena's budget is
// spent (arena.over); s.i is then meaningless.
type scanner struct {
	b []byte
	i int
	// numErr is set when a decoded or skipped number does not fit a float64,
	// which json.Unmarshal refuses although it is valid JSON; numAt is where
	// the first such number starts.
	numErr bool
	numAt  int
	// deep holds skip's container kinds beyond the 64th level.
	deep []uint64
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

// strValue returns the string whose contents are b[lo:hi]. Without escapes it
// points into the body, which outlives the decoded values; an escaped string
// is unescaped into the arena.
func (s *scanner) strValue(lo, hi int, esc bool) (string, bool) {
	if !esc {
		if lo == hi {
			return "", true
		}
		return unsafe.String(&s.b[lo], hi-lo), true
	}
	return s.arena.unescape(s.b[lo:hi])
}

// appendUnescaped appends the contents q of a valid JSON string, unescaped as
// encoding/json does: a \u escape of a lone surrogate becomes U+FFFD.
func appendUnescaped(b, q []byte) []byte {
	for len(q) > 0 {
		i := 0
		for i < len(q) && q[i] != '\\' {
			i++
		}
		b = append(b, q[:i]...)
		q = q[i:]
		if len(q) == 0 {
			return b
		}
		switch c := q[1]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(q[2:6])
			q = q[6:]
			if utf16.IsSurrogate(r) {
				if len(q) >= 6 && q[0] == '\\' && q[1] == 'u' {
					if d := utf16.DecodeRune(r, hex4(q[2:6])); d != utf8.RuneError {
						q = q[6:]
						b = utf8.AppendRune(b, d)
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, c)
		}
		q = q[2:]
	}
	return b
}

// hex4 decodes four hex digits, which str has checked.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// num scans the number at s.i and returns its bounds. A number that may not fit
// a float64 (an exponent, or more than 300 digits) is parsed to find out, until
// one is found that does not.
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
	if (exp || i-lo > 300) && !s.numErr {
		if _, ok := s.parseNum(lo, i); !ok {
			return 0, 0, false
		}
	}
	return lo, i, true
}

// parseNum parses the number b[lo:hi] as encoding/json does, noting the first
// that does not fit a float64. Once one did not, the event is refused and the
// others are not parsed. ok is false when the budget is spent: strconv copies
// the text of a number it refuses, so a long number is charged its length.
func (s *scanner) parseNum(lo, hi int) (f float64, ok bool) {
	if s.numErr {
		return 0, true
	}
	if hi-lo > longNum && !s.arena.charge(roundAlloc(hi-lo)) {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafe.String(&s.b[lo], hi-lo), 64)
	if err != nil {
		s.numErr, s.numAt = true, lo
	}
	return f, true
}

// longNum is the length of a number beyond which parseNum charges it.
const longNum = 64

// lit scans true, false or null.
func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// scalar scans the string, number or literal at s.i, whose first byte is c.
func (s *scanner) scalar(c byte) bool {
	switch c {
	case '"':
		_, _, _, ok := s.str()
		return ok
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	}
	_, _, ok := s.num()
	return ok
}

// colon consumes the ':' after an object key and the white space after it.
func (s *scanner) colon() bool {
	s.ws()
	if s.peek() != ':' {
		return false
	}
	s.i++
	s.ws()
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

// skip validates the value at s.i (after white space) without decoding it.
// depth is the number of arrays and objects around it.
func (s *scanner) skip(depth int) bool {
	s.ws()
	if c := s.peek(); c != '{' && c != '[' {
		return s.scalar(c)
	}
	// Bit n of kinds (then of s.deep) is set when the n-th open container is
	// an object.
	var kinds uint64
	n := 0
	for {
		// At a value.
		switch c := s.peek(); c {
		case '{', '[':
			if depth+n >= maxDepth {
				return false
			}
			s.i++
			s.ws()
			if p := s.peek(); p == '}' && c == '{' || p == ']' && c == '[' {
				s.i++
				break
			}
			if !s.setKind(&kinds, n, c == '{') {
				return false
			}
			n++
			if c == '{' && !s.skipKey() {
				return false
			}
			continue
		default:
			if !s.scalar(c) {
				return false
			}
		}
		// After a whole value: close the containers that end here.
		for {
			if n == 0 {
				return true
			}
			obj := s.kind(kinds, n-1)
			closing := byte(']')
			if obj {
				closing = '}'
			}
			more, ok := s.next(closing)
			if !ok {
				return false
			}
			if more {
				if obj && !s.skipKey() {
					return false
				}
				break
			}
			n--
		}
	}
}

// skipKey scans an object key and its colon.
func (s *scanner) skipKey() bool {
	if s.peek() != '"' {
		return false
	}
	_, _, _, ok := s.str()
	return ok && s.colon()
}

// setKind records whether the n-th open container of skip is an object.
func (s *scanner) setKind(kinds *uint64, n int, obj bool) bool {
	bits, i := kinds, n
	if n >= 64 {
		if s.deep == nil {
			if !s.arena.charge(maxDepth / 8) {
				return false
			}
			s.deep = make([]uint64, maxDepth/64+1)
		}
		bits, i = &s.deep[(n-64)/64], (n-64)%64
	}
	if obj {
		*bits |= 1 << i
	} else {
		*bits &^= 1 << i
	}
	return true
}

// kind reports whether the n-th open container of skip is an object.
func (s *scanner) kind(kinds uint64, n int) bool {
	if n >= 64 {
		kinds, n = s.deep[(n-64)/64], (n-64)%64
	}
	return kinds&(1<<n) != 0
}
