package envelope

import (
	"unsafe"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/genesys-relay/genesys-relay/rules"
)

// Shared empty containers: no value is ever changed once decoded, so all
// empty arrays and objects can be one.
var (
	emptyList   = &jsonList{}
	emptyObject = &jsonObject{}
)

// decodeValue validates and decodes the value at s.i (after white space) into
// a CEL value that behaves as cel-go's conversion of what json.Unmarshal into
// an interface{} gives. It decodes what p asks for: all of it when p is nil or
// p.All; of an object, only the members named in p.Fields, each as its Path
// asks, the others validated only. depth is the number of arrays and objects
// around the value.
//
// It is one loop over an explicit stack of frames, not recursive: see scanner.
func (s *scanner) decodeValue(p *rules.Path, depth int) (ref.Val, bool) {
	a := &s.arena
	base := len(a.frames)
	if p != nil && p.All {
		p = nil
	}
value:
	for {
		// At a value that p asks for.
		var v ref.Val
		switch c := s.peek(); c {
		case '{', '[':
			if depth >= maxDepth {
				return nil, false
			}
			s.i++
			s.ws()
			if c == '[' {
				if s.peek() == ']' {
					s.i++
					v = emptyList
					break
				}
				if !a.pushFrame(frame{start: len(a.estack)}) {
					return nil, false
				}
				depth++
				p = nil
				continue
			}
			if s.peek() == '}' {
				s.i++
				v = emptyObject
				break
			}
			if !a.pushFrame(frame{obj: true, path: p, start: len(a.mstack)}) {
				return nil, false
			}
			depth++
			f := &a.frames[len(a.frames)-1]
			sub, closed, ok := s.key(f, depth)
			if !ok {
				return nil, false
			}
			if !closed {
				p = sub
				continue
			}
			if v, ok = a.object(f); !ok {
				return nil, false
			}
			a.frames = a.frames[:len(a.frames)-1]
			depth--
		case '"':
			lo, hi, esc, ok := s.str()
			if !ok {
				return nil, false
			}
			str, ok := s.strValue(lo, hi, esc)
			if !ok {
				return nil, false
			}
			if str != "" {
				a.used += sizeString
			}
			v = types.String(str)
		case 't':
			if !s.lit("true") {
				return nil, false
			}
			v = types.True
		case 'f':
			if !s.lit("false") {
				return nil, false
			}
			v = types.False
		case 'n':
			if !s.lit("null") {
				return nil, false
			}
			v = types.NullValue
		default:
			lo, hi, ok := s.num()
			if !ok {
				return nil, false
			}
			f, ok := s.parseNum(lo, hi)
			if !ok {
				return nil, false
			}
			a.used += sizeDouble
			v = types.Double(f)
		}
		// v is a whole value: hand it to the containers being decoded, and
		// finish those that end with it.
		for {
			if a.over() {
				return nil, false
			}
			if len(a.frames) == base {
				return v, true
			}
			f := &a.frames[len(a.frames)-1]
			closing := byte(']')
			if f.obj {
				closing = '}'
				if _, ok := a.pushMember(f, f.name, v); !ok {
					return nil, false
				}
			} else if !a.pushElem(v) {
				return nil, false
			}
			more, ok := s.next(closing)
			if !ok {
				return nil, false
			}
			if more && !f.obj {
				p = nil
				continue value
			}
			if more {
				sub, closed, ok := s.key(f, depth)
				if !ok {
					return nil, false
				}
				if !closed {
					p = sub
					continue value
				}
			}
			if f.obj {
				v, ok = a.object(f)
			} else {
				v, ok = a.list(f.start)
			}
			if !ok {
				return nil, false
			}
			a.frames = a.frames[:len(a.frames)-1]
			depth--
		}
	}
}

// key reads the members of the object f up to one whose value is to be
// decoded: it sets f.name and returns the member's Path (nil: all of it), or
// closed when the object ends first. Members f.path does not ask for are
// validated only. depth is the number of containers around the members'
// values.
func (s *scanner) key(f *frame, depth int) (sub *rules.Path, closed, ok bool) {
	for {
		if s.peek() != '"' {
			return nil, false, false
		}
		lo, hi, esc, ok := s.str()
		if !ok || !s.colon() {
			return nil, false, false
		}
		if f.path == nil {
			f.name, ok = s.strValue(lo, hi, esc)
			return nil, false, ok
		}
		name := s.b[lo:hi]
		if esc {
			n, ok := s.strValue(lo, hi, esc)
			if !ok {
				return nil, false, false
			}
			name = unsafe.Slice(unsafe.StringData(n), len(n))
		}
		if fp := f.path.Lookup(name); fp != nil {
			f.name = fp.Name
			if fp.All {
				return nil, false, true
			}
			return fp, false, true
		}
		if !s.skip(depth) {
			return nil, false, false
		}
		more, ok := s.next('}')
		if !ok {
			return nil, false, false
		}
		if !more {
			return nil, true, true
		}
	}
}
