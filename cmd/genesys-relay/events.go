package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxEventBytes bounds one event read from a file: beyond it the file is not
// read further (the relay's own limit, http.max_body_bytes, is far lower).
const maxEventBytes = 16 << 20

// eventReader reads the events of one input, streaming: a JSON Lines file (one
// event a line), a JSON array, or JSON values one after another (a single
// event, pretty-printed or not). Memory is bounded by the largest event, not by
// the file. Each event's bytes are kept as written, and come with the line it
// starts on, so that tools can point at it (file:line).
//
// JSON Lines is recognised by its first line holding one complete value: every
// other line is then an event on its own, and a malformed line is an event the
// pipeline rejects, with its line. Otherwise values are delimited by their
// brackets, across lines; the pipeline validates each.
type eventReader struct {
	// Name is the input as shown in messages: its path, or "stdin".
	Name string
	br   *bufio.Reader
	line int // lines read so far
	mode readMode
	// The line being split into values (array and values modes), and the bytes
	// of a value begun on earlier lines.
	pending []byte
	acc     []byte
	long    []byte // a line longer than br's buffer
	first   []byte // the first line, read to choose the mode
	eof     bool
	closer  io.Closer
}

type readMode int

const (
	modeUnknown readMode = iota
	modeLines
	modeValues
	modeArray
)

// openEvents opens path ("-" is stdin) for reading events.
func openEvents(path string, stdin io.Reader) (*eventReader, error) {
	if path == "-" {
		if stdin == nil {
			stdin = bytes.NewReader(nil)
		}
		return &eventReader{Name: "stdin", br: bufio.NewReaderSize(stdin, 256<<10)}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &eventReader{Name: path, br: bufio.NewReaderSize(f, 256<<10), closer: f}, nil
}

// Close closes the file.
func (r *eventReader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Next returns the next event and the line it starts on. The bytes are valid
// until the next call. At the end it returns io.EOF; any other error means the
// rest of the input cannot be read.
func (r *eventReader) Next() (raw []byte, line int, err error) {
	if r.mode == modeUnknown {
		if err := r.detect(); err != nil {
			return nil, 0, err
		}
	}
	if r.mode == modeLines {
		return r.nextLine()
	}
	return r.nextValue()
}

// readLine returns the next line without its '\n' (a '\r' before it stays: the
// bytes of an event spanning lines are kept as written). ok is false at the end.
func (r *eventReader) readLine() (line []byte, ok bool, err error) {
	if r.eof {
		return nil, false, nil
	}
	r.long = r.long[:0]
	for {
		b, err := r.br.ReadSlice('\n')
		switch {
		case err == nil:
			r.line++
			b = b[:len(b)-1]
			if len(r.long) > 0 {
				return append(r.long, b...), true, nil
			}
			return b, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(r.long)+len(b) > maxEventBytes {
				return nil, false, fmt.Errorf("%s:%d: a line longer than %d MiB", r.Name, r.line+1, maxEventBytes>>20)
			}
			r.long = append(r.long, b...)
		case errors.Is(err, io.EOF):
			r.eof = true
			if len(b) == 0 && len(r.long) == 0 {
				return nil, false, nil
			}
			r.line++
			return append(r.long, b...), true, nil
		default:
			return nil, false, fmt.Errorf("%s: %w", r.Name, err)
		}
	}
}

// detect reads up to the first line that is not blank and chooses the mode.
func (r *eventReader) detect() error {
	for {
		l, ok, err := r.readLine()
		if err != nil {
			return err
		}
		if !ok {
			r.mode = modeLines // empty: nothing to return
			return nil
		}
		t := bytes.TrimSpace(l)
		if len(t) == 0 {
			continue
		}
		switch {
		case t[0] == '[':
			r.mode = modeArray
			r.pending = append([]byte(nil), l...)
			r.pending = r.pending[bytes.IndexByte(r.pending, '[')+1:]
		case valueEnd(t) == len(t):
			r.mode = modeLines
			r.first = append([]byte(nil), t...)
		default:
			r.mode = modeValues
			r.pending = append([]byte(nil), l...)
		}
		return nil
	}
}

func (r *eventReader) nextLine() ([]byte, int, error) {
	if r.first != nil {
		f := r.first
		r.first = nil
		return f, r.line, nil
	}
	for {
		l, ok, err := r.readLine()
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			return nil, 0, io.EOF
		}
		if t := bytes.TrimSpace(l); len(t) > 0 {
			return t, r.line, nil
		}
	}
}

// nextValue returns the next value delimited by its brackets (or, for a
// scalar, by white space), across lines. In an array, the commas between
// elements and the closing bracket are skipped.
func (r *eventReader) nextValue() ([]byte, int, error) {
	r.acc = r.acc[:0]
	var sc valueScanner
	started, start := false, 0
	for {
		if len(r.pending) == 0 {
			l, ok, err := r.readLine()
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				if started {
					// Not closed: the pipeline rejects it as malformed JSON.
					return r.acc, start, nil
				}
				return nil, 0, io.EOF
			}
			if started {
				r.acc = append(r.acc, '\n')
				if len(r.acc)+len(l) > maxEventBytes {
					return nil, 0, fmt.Errorf("%s:%d: an event larger than %d MiB", r.Name, start, maxEventBytes>>20)
				}
			}
			r.pending = l
		}
		if !started {
			i := 0
			for i < len(r.pending) && (isSpace(r.pending[i]) || r.mode == modeArray && (r.pending[i] == ',' || r.pending[i] == ']')) {
				if r.pending[i] == ']' {
					r.mode = modeValues // the array is closed
				}
				i++
			}
			r.pending = r.pending[i:]
			if len(r.pending) == 0 {
				continue
			}
			started, start = true, r.line
		}
		if n := sc.scan(r.pending); n >= 0 {
			v := r.pending[:n]
			r.pending = r.pending[n:]
			if len(r.acc) == 0 {
				return v, start, nil
			}
			r.acc = append(r.acc, v...)
			return r.acc, start, nil
		}
		r.acc = append(r.acc, r.pending...)
		r.pending = nil
	}
}

// valueScanner finds where a JSON value ends without validating it: it follows
// strings and brackets only.
type valueScanner struct {
	begun, inString, escaped, scalar bool
	depth                            int
}

// scan consumes b and returns the length of b up to the end of the value, or -1
// if the value goes on past b.
func (s *valueScanner) scan(b []byte) int {
	for i, c := range b {
		if !s.begun {
			s.begun = true
			switch c {
			case '{', '[':
				s.depth = 1
			case '"':
				s.inString = true
			default:
				s.scalar = true
			}
			continue
		}
		switch {
		case s.inString:
			switch {
			case s.escaped:
				s.escaped = false
			case c == '\\':
				s.escaped = true
			case c == '"':
				s.inString = false
				if s.depth == 0 {
					return i + 1
				}
			}
		case s.scalar:
			if isSpace(c) || c == ',' || c == ']' || c == '}' || c == '{' || c == '[' || c == '"' {
				return i
			}
		case c == '"':
			s.inString = true
		case c == '{' || c == '[':
			s.depth++
		case c == '}' || c == ']':
			if s.depth--; s.depth == 0 {
				return i + 1
			}
		}
	}
	if s.scalar {
		return len(b) // a scalar ends with its line
	}
	return -1
}

// valueEnd returns the length of the value at the start of b, or -1 if it does
// not end in b.
func valueEnd(b []byte) int {
	var s valueScanner
	return s.scan(b)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// readEvents returns every event of path ("-" is stdin), each a copy.
func readEvents(path string, stdin io.Reader) ([][]byte, error) {
	r, err := openEvents(path, stdin)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out [][]byte
	for {
		raw, _, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte(nil), raw...))
	}
}
