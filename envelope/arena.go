package envelope

import (
	"hash/maphash"
	"math/bits"
	"unsafe"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/genesys-relay/genesys-relay/rules"
)

// Decoding budget. The values decoded from one event (and the envelope's
// keys, kept to find one given twice) may take at most budgetFactor times the
// bytes of its body, plus budgetSlack, counted as the arena allocates them
// (see arena.charge); beyond that the event is refused (decoded_too_large)
// instead of being decoded further. Ordinary JSON read in full by the rules
// takes about 2.2 times its size (TestDecodeBudgetOrdinary), so the factor
// leaves it room; pathological shapes read in full take 10 to 35 times
// (TestDecodeLinear) and stop at the budget. With 64 MiB of bodies in flight
// the decoded values take at most 256 MiB + 64 × budgetSlack.
const (
	budgetFactor = 4
	budgetSlack  = 256 << 10
)

// budget is the decoding budget of a body of n bytes.
func budget(n int) int { return budgetFactor*n + budgetSlack }

// arena holds the objects, lists and unescaped strings decoded from one event,
// so that they take a few allocations rather than one or more each (a string
// or number is still boxed into its CEL value one by one). Finished values are
// taken from chunks that are never moved: what was handed out stays where it
// is. The stacks hold what is being decoded and grow by doubling. decode gives
// the arena its first arrays, from the pooled decoding block.
//
// Unescaped strings are the arena's own text; the others point into the body.
type arena struct {
	// used counts the bytes allocated for this event's values; limit is its
	// budget. A step that would go beyond it fails and leaves used > limit.
	used, limit int
	// work counts key comparisons and index probes, the only steps of
	// decoding that do not consume input: tests check it stays linear.
	work int

	text    []byte       // chunk of unescaped strings
	members []member     // chunk of the members of finished objects
	elems   []ref.Val    // chunk of the elements of finished lists
	objs    []jsonObject // chunk of finished objects
	lists   []jsonList   // chunk of finished lists
	mstack  []member     // the members of the objects being decoded
	estack  []ref.Val    // the elements of the lists being decoded
	frames  []frame      // the containers being decoded
}

// frame is a container being decoded.
type frame struct {
	path  *rules.Path // an object's fields to decode (all of them when nil)
	name  string      // an object's key whose value is being decoded
	idx   keyIndex    // an object's members by key, once it has more than indexMin
	start int         // the container's first member in mstack, or element in estack
	obj   bool
}

// The sizes charged to the budget.
const (
	sizeMember = int(unsafe.Sizeof(member{}))
	sizeVal    = int(unsafe.Sizeof(ref.Val(nil)))
	sizeObject = int(unsafe.Sizeof(jsonObject{}))
	sizeList   = int(unsafe.Sizeof(jsonList{}))
	sizeFrame  = int(unsafe.Sizeof(frame{}))
	sizeIndex  = int(unsafe.Sizeof(keyIndex{}))
	// sizeString and sizeDouble are what boxing a string or a number into a
	// ref.Val allocates.
	sizeString = 16
	sizeDouble = 8
)

// Allocation sizes. The arena allocates chunks and stacks of power-of-two
// sizes, which are size classes of the Go allocator, so that what it charges
// is what the allocator takes: an object that holds pointers and is larger
// than 512 bytes (up to 32 KiB) carries a header of mallocHeader bytes, which
// the slots of a chunk leave room for.
const (
	chunkBytes   = 8 << 10 // a full chunk
	mallocHeader = 8
)

// slots is the number of elements of size bytes that an allocation of n
// bytes (a power of two) holds.
func slots(n, size int) int {
	if n > 512 && n <= 32<<10 {
		n -= mallocHeader
	}
	return n / size
}

// pow2 is the least power of two that is at least n.
func pow2(n int) int {
	return 1 << bits.Len(uint(max(n, 1)-1))
}

// roundAlloc bounds what the allocator takes for an object of n bytes that
// is not a power of two: its size class or pages waste at most an eighth.
func roundAlloc(n int) int { return n + n/8 + mallocHeader }

// charge counts n more bytes and reports whether they fit the budget.
func (a *arena) charge(n int) bool {
	a.used += n
	return a.used <= a.limit
}

// over reports whether decoding stopped at the budget.
func (a *arena) over() bool { return a.used > a.limit }

// take returns n slots of *chunk, starting a new chunk when it lacks room.
func take[T any](a *arena, chunk *[]T, n, size int) ([]T, bool) {
	c := *chunk
	if cap(c)-len(c) < n {
		if n*size > chunkBytes/2 {
			if !a.charge(roundAlloc(n * size)) {
				return nil, false
			}
			return make([]T, n), true
		}
		b := min(max(pow2(2*cap(c)*size), 128), chunkBytes)
		for slots(b, size) < n {
			b *= 2
		}
		if !a.charge(b) {
			return nil, false
		}
		c = make([]T, 0, slots(b, size))
	}
	*chunk = c[:len(c)+n]
	return c[len(c) : len(c)+n : len(c)+n], true
}

// grow makes room for one more element on *stack, doubling it.
func grow[T any](a *arena, stack *[]T, size int) bool {
	s := *stack
	if len(s) < cap(s) {
		return true
	}
	b := max(pow2(2*cap(s)*size), 256)
	if !a.charge(b) {
		return false
	}
	ns := make([]T, len(s), slots(b, size))
	copy(ns, s)
	*stack = ns
	return true
}

// pushFrame opens a container.
func (a *arena) pushFrame(f frame) bool {
	if len(a.frames) == cap(a.frames) && !grow(a, &a.frames, sizeFrame) {
		return false
	}
	a.frames = append(a.frames, f)
	return true
}

// pushElem adds v to the list being decoded.
func (a *arena) pushElem(v ref.Val) bool {
	if len(a.estack) == cap(a.estack) && !grow(a, &a.estack, sizeVal) {
		return false
	}
	a.estack = append(a.estack, v)
	return true
}

// pushMember adds the member key: v to the object f. A key seen before keeps
// its place and takes the new value, as encoding/json keeps the last; dup
// reports it.
func (a *arena) pushMember(f *frame, key string, v ref.Val) (dup, ok bool) {
	ms := a.mstack[f.start:]
	if f.idx == nil {
		for i := range ms {
			a.work++
			if string(ms[i].key) == key {
				ms[i].val = v
				return true, true
			}
		}
	} else if i := f.idx.find(ms, key, &a.work); i >= 0 {
		ms[i].val = v
		return true, true
	}
	if len(a.mstack) == cap(a.mstack) && !grow(a, &a.mstack, sizeMember) {
		return false, false
	}
	a.mstack = append(a.mstack, member{key: types.String(key), val: v})
	ms = a.mstack[f.start:]
	switch n := len(ms); {
	case n == indexMin+1 || f.idx != nil && 2*n > len(f.idx):
		// Rebuild at twice the size: at most half full.
		l := max(2*len(f.idx), 4*indexMin)
		if !a.charge(4 * l) { // a power of two of int32
			return false, false
		}
		f.idx = make(keyIndex, l)
		for i := range ms {
			f.idx.insert(ms, i, &a.work)
		}
	case f.idx != nil:
		f.idx.insert(ms, n-1, &a.work)
	}
	return false, true
}

// object finishes the object f.
func (a *arena) object(f *frame) (*jsonObject, bool) {
	n := len(a.mstack) - f.start
	ms, ok := take(a, &a.members, n, sizeMember)
	if !ok {
		return nil, false
	}
	copy(ms, a.mstack[f.start:])
	a.mstack = a.mstack[:f.start]
	o, ok := take(a, &a.objs, 1, sizeObject)
	if !ok {
		return nil, false
	}
	o[0] = jsonObject{members: ms}
	if f.idx != nil {
		if !a.charge(sizeIndex) {
			return nil, false
		}
		x := new(keyIndex)
		*x = f.idx
		o[0].index = x
	}
	return &o[0], true
}

// list finishes the list whose elements are estack[start:].
func (a *arena) list(start int) (*jsonList, bool) {
	n := len(a.estack) - start
	es, ok := take(a, &a.elems, n, sizeVal)
	if !ok {
		return nil, false
	}
	copy(es, a.estack[start:])
	a.estack = a.estack[:start]
	l, ok := take(a, &a.lists, 1, sizeList)
	if !ok {
		return nil, false
	}
	l[0] = jsonList{elems: es}
	return &l[0], true
}

// unescape returns the contents q of a JSON string that holds escapes,
// unescaped into the arena's text.
func (a *arena) unescape(q []byte) (string, bool) {
	// Unescaping never lengthens a string.
	buf, own := a.text, false
	if cap(buf)-len(buf) < len(q) {
		if len(q) > textChunk/2 {
			if !a.charge(roundAlloc(len(q))) {
				return "", false
			}
			buf, own = make([]byte, 0, len(q)), true
		} else {
			l := min(max(2*cap(buf), 256), textChunk)
			if !a.charge(l) {
				return "", false
			}
			buf = make([]byte, 0, l)
		}
	}
	from := len(buf)
	buf = appendUnescaped(buf, q)
	if !own {
		a.text = buf
	}
	return unsafe.String(&buf[from], len(buf)-from), true
}

// textChunk is the most bytes a text chunk has.
const textChunk = 8 << 10

// indexMin is the number of members above which an object is indexed.
const indexMin = 16

// keyIndex finds the members of a large object by key: open addressing with
// linear probing over member positions plus one (0 is an empty slot), at most
// half full. The hash has a random seed per process, so no input can make its
// keys collide on purpose.
type keyIndex []int32

var keySeed = maphash.MakeSeed()

// find returns the position of key in ms, or -1; work counts the probes.
func (x keyIndex) find(ms []member, key string, work *int) int {
	mask := len(x) - 1
	for i := int(maphash.String(keySeed, key)) & mask; ; i = (i + 1) & mask {
		*work++
		p := x[i]
		if p == 0 {
			return -1
		}
		if string(ms[p-1].key) == key {
			return int(p - 1)
		}
	}
}

// insert adds the member ms[i], whose key is not in x yet.
func (x keyIndex) insert(ms []member, i int, work *int) {
	mask := len(x) - 1
	for j := int(maphash.String(keySeed, string(ms[i].key))) & mask; ; j = (j + 1) & mask {
		*work++
		if x[j] == 0 {
			x[j] = int32(i + 1)
			return
		}
	}
}
