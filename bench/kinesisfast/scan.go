package kinesisfast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The scanner reads a body in place, without allocating per record. Strings
// written by the SDK contain no escapes in practice; escaped strings are still
// handled correctly, on a slower path.

// maxDepth bounds nesting when skipping values of unknown members.
const maxDepth = 64

// errSyntax reports a body that is not the JSON the operation expects. It is
// answered with a SerializationException, as real Kinesis does.
var errSyntax = errors.New("malformed JSON body")

// scanner reads JSON from b starting at i.
type scanner struct {
	b []byte
	i int
}

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

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return fmt.Errorf("%w: expected %q at offset %d", errSyntax, c, s.i)
	}
	s.i++
	return nil
}

// literal consumes word (true, false or null) if it comes next.
func (s *scanner) literal(word string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// null consumes a JSON null if it comes next.
func (s *scanner) null() bool { return s.peek() == 'n' && s.literal("null") }

// str reads a JSON string and returns its contents. Without escapes the
// result aliases the input; with escapes it is a decoded copy.
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.i
	n := bytes.IndexByte(s.b[start:], '"')
	if n < 0 {
		return nil, fmt.Errorf("%w: unterminated string", errSyntax)
	}
	if bytes.IndexByte(s.b[start:start+n], '\\') < 0 {
		s.i = start + n + 1
		return s.b[start : start+n], nil
	}
	// Escaped string: find the real end, then let encoding/json decode it.
	end := start
	for {
		if end >= len(s.b) {
			return nil, fmt.Errorf("%w: unterminated string", errSyntax)
		}
		c := s.b[end]
		if c == '\\' {
			end += 2
			continue
		}
		if c == '"' {
			break
		}
		end++
	}
	var out string
	if err := json.Unmarshal(s.b[start-1:end+1], &out); err != nil {
		return nil, fmt.Errorf("%w: %v", errSyntax, err)
	}
	s.i = end + 1
	return []byte(out), nil
}

// optStr reads a string or null; ok is false for null.
func (s *scanner) optStr() (v []byte, ok bool, err error) {
	if s.null() {
		return nil, false, nil
	}
	v, err = s.str()
	return v, err == nil, err
}

// boolean reads true, false or null (false).
func (s *scanner) boolean() (bool, error) {
	switch {
	case s.literal("true"):
		return true, nil
	case s.literal("false"), s.literal("null"):
		return false, nil
	}
	return false, fmt.Errorf("%w: expected boolean at offset %d", errSyntax, s.i)
}

// object reads a JSON object, calling member for each key with the scanner
// positioned at the value; member must consume the value.
func (s *scanner) object(member func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or '}' at offset %d", errSyntax, s.i)
		}
	}
}

// array reads a JSON array (or null), calling elem for each element.
func (s *scanner) array(elem func() error) error {
	if s.null() {
		return nil
	}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or ']' at offset %d", errSyntax, s.i)
		}
	}
}

// skip consumes any JSON value.
func (s *scanner) skip() error { return s.skipDepth(0) }

func (s *scanner) skipDepth(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nesting too deep", errSyntax)
	}
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(func([]byte) error { return s.skipDepth(depth + 1) })
	case c == '[':
		return s.array(func() error { return s.skipDepth(depth + 1) })
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.i
		for s.i < len(s.b) && bytes.IndexByte([]byte("+-.eE0123456789"), s.b[s.i]) >= 0 {
			s.i++
		}
		if !json.Valid(s.b[start:s.i]) {
			return fmt.Errorf("%w: bad number at offset %d", errSyntax, start)
		}
		return nil
	}
	return fmt.Errorf("%w: unexpected input at offset %d", errSyntax, s.i)
}

func (s *scanner) lit(word string) error {
	if !s.literal(word) {
		return fmt.Errorf("%w: bad literal at offset %d", errSyntax, s.i)
	}
	return nil
}

// end checks that nothing but white space follows the value.
func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return fmt.Errorf("%w: trailing data at offset %d", errSyntax, s.i)
	}
	return nil
}

// entry is one record of a PutRecords or PutRecord request, as read from the
// body. data is the base64 text, not decoded.
type entry struct {
	data    []byte
	hasData bool
	key     []byte
	hasKey  bool
	hashKey []byte
	hasHash bool
}

// putRequest is a decoded PutRecords or PutRecord request.
type putRequest struct {
	streamName []byte
	streamARN  []byte
	dryRun     bool
	records    []entry
	hasRecords bool
}

// recordMember reads one member of a record object into e; it reports
// whether key was a record member.
func (s *scanner) recordMember(key []byte, e *entry) (bool, error) {
	var err error
	switch string(key) {
	case "Data":
		e.data, e.hasData, err = s.optStr()
	case "PartitionKey":
		e.key, e.hasKey, err = s.optStr()
	case "ExplicitHashKey":
		e.hashKey, e.hasHash, err = s.optStr()
	default:
		return false, nil
	}
	return true, err
}

// streamMember reads a stream-addressing member into r.
func (s *scanner) streamMember(key []byte, r *putRequest) (bool, error) {
	var err error
	switch string(key) {
	case "StreamName":
		r.streamName, _, err = s.optStr()
	case "StreamARN":
		r.streamARN, _, err = s.optStr()
	case "DryRun":
		r.dryRun, err = s.boolean()
	default:
		return false, nil
	}
	return true, err
}

// parsePutRecords reads a PutRecords body into r, reusing r.records.
func parsePutRecords(body []byte, r *putRequest) error {
	s := scanner{b: body}
	r.records = r.records[:0]
	err := s.object(func(key []byte) error {
		if string(key) == "Records" {
			r.records = r.records[:0]
			r.hasRecords = !s.null()
			if !r.hasRecords {
				return nil
			}
			return s.array(func() error {
				r.records = append(r.records, entry{})
				e := &r.records[len(r.records)-1]
				return s.object(func(key []byte) error {
					if ok, err := s.recordMember(key, e); ok || err != nil {
						return err
					}
					return s.skip()
				})
			})
		}
		if ok, err := s.streamMember(key, r); ok || err != nil {
			return err
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	return s.end()
}

// parsePutRecord reads a PutRecord body into r as a one-record request.
func parsePutRecord(body []byte, r *putRequest) error {
	s := scanner{b: body}
	r.records = append(r.records[:0], entry{})
	r.hasRecords = true
	e := &r.records[0]
	err := s.object(func(key []byte) error {
		if ok, err := s.recordMember(key, e); ok || err != nil {
			return err
		}
		if ok, err := s.streamMember(key, r); ok || err != nil {
			return err
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	return s.end()
}
