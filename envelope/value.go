package envelope

import (
	"errors"
	"fmt"
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// The decoder builds the detail the rules read directly as CEL values rather
// than as the map[string]any of encoding/json: cel-go would otherwise wrap every
// map and box every string it reads, on every access. Objects are jsonObject,
// arrays jsonList, strings types.String, numbers types.Double, booleans
// types.Bool and null types.NullValue. Each behaves in CEL exactly as cel-go's
// own wrapper of the encoding/json value does; the operations that no hot path
// needs are delegated to that wrapper.

// jsonObject is a JSON object as a CEL map with string keys. Members are
// searched linearly: the objects of an event are small. A larger one has an
// index.
type jsonObject struct {
	members []member
	index   *keyIndex // member positions by key; nil for small objects
}

// member is one key of a jsonObject with its value.
type member struct {
	key types.String
	val ref.Val
}

var (
	_ traits.Mapper   = (*jsonObject)(nil)
	_ traits.Foldable = (*jsonObject)(nil)
	_ traits.Zeroer   = (*jsonObject)(nil)
	_ traits.Lister   = (*jsonList)(nil)
	_ traits.Foldable = (*jsonList)(nil)
	_ traits.Zeroer   = (*jsonList)(nil)
)

// find returns the value of key.
func (o *jsonObject) find(key string) (ref.Val, bool) {
	if o.index != nil {
		var probes int
		if i := (*o.index).find(o.members, key, &probes); i >= 0 {
			return o.members[i].val, true
		}
		return nil, false
	}
	for i := range o.members {
		if string(o.members[i].key) == key {
			return o.members[i].val, true
		}
	}
	return nil, false
}

// Find implements traits.Mapper. Only string keys can be present.
func (o *jsonObject) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	return o.find(string(k))
}

// FindStringKey is what cel-go's interpreter calls to select a field by a
// constant name without building a CEL value for the name.
func (o *jsonObject) FindStringKey(key string) (any, bool) {
	v, ok := o.find(key)
	if !ok {
		return nil, false
	}
	return v, true
}

// Contains implements traits.Container.
func (o *jsonObject) Contains(key ref.Val) ref.Val {
	_, ok := o.Find(key)
	return types.Bool(ok)
}

// Get implements traits.Indexer.
func (o *jsonObject) Get(key ref.Val) ref.Val {
	v, ok := o.Find(key)
	if !ok {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Size implements traits.Sizer.
func (o *jsonObject) Size() ref.Val { return types.Int(len(o.members)) }

// IsZeroValue implements traits.Zeroer.
func (o *jsonObject) IsZeroValue() bool { return len(o.members) == 0 }

// Iterator implements traits.Iterable: the keys, in the order of the JSON text.
func (o *jsonObject) Iterator() traits.Iterator { return &objectIterator{o: o} }

// Fold implements traits.Foldable, which the interpreter's comprehensions use.
func (o *jsonObject) Fold(f traits.Folder) {
	keysOnly := false
	if kf, ok := f.(interface{ FoldKeyOnly() bool }); ok {
		keysOnly = kf.FoldKeyOnly()
	}
	for i := range o.members {
		m := &o.members[i]
		var v ref.Val
		if !keysOnly {
			v = m.val
		}
		if !f.FoldEntry(m.key, v) {
			return
		}
	}
}

// Equal implements ref.Val as cel-go's maps do: the same keys with equal values.
func (o *jsonObject) Equal(other ref.Val) ref.Val {
	om, ok := other.(traits.Mapper)
	if !ok {
		return types.False
	}
	if o.Size() != om.Size() {
		return types.False
	}
	for i := range o.members {
		m := &o.members[i]
		ov, found := om.Find(m.key)
		if !found || types.Equal(m.val, ov) == types.False {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (o *jsonObject) Type() ref.Type { return types.MapType }

// ConvertToType implements ref.Val.
func (o *jsonObject) ConvertToType(t ref.Type) ref.Val { return convertType(o, types.MapType, t) }

// convertType is ConvertToType for v of type self: only to itself and to type.
func convertType(v ref.Val, self *types.Type, t ref.Type) ref.Val {
	switch t {
	case self:
		return v
	case types.TypeType:
		return self
	}
	return types.NewErr("type conversion error from '%s' to '%s'", self, t)
}

// Value implements ref.Val: the object as encoding/json decodes it.
func (o *jsonObject) Value() any { return native(o) }

// ConvertToNative implements ref.Val by converting the encoding/json value.
func (o *jsonObject) ConvertToNative(t reflect.Type) (any, error) {
	return o.celMap().ConvertToNative(t)
}

// String formats the object as cel-go formats the encoding/json value.
func (o *jsonObject) String() string {
	return o.celMap().(fmt.Stringer).String()
}

// celMap is cel-go's wrapper of the encoding/json value.
func (o *jsonObject) celMap() ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(native(o))
}

// objectIterator iterates over the keys of a jsonObject.
type objectIterator struct {
	noValue
	o *jsonObject
	i int
}

func (it *objectIterator) HasNext() ref.Val { return types.Bool(it.i < len(it.o.members)) }

func (it *objectIterator) Next() ref.Val {
	if it.i >= len(it.o.members) {
		return nil
	}
	it.i++
	return it.o.members[it.i-1].key
}

// noValue is the ref.Val part of an iterator, which CEL never sees as a value.
type noValue struct{}

func (noValue) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("type conversion on iterators not supported")
}
func (noValue) ConvertToType(ref.Type) ref.Val { return types.NewErr("no such overload") }
func (noValue) Equal(ref.Val) ref.Val          { return types.NewErr("no such overload") }
func (noValue) Type() ref.Type                 { return types.IteratorType }
func (noValue) Value() any                     { return nil }

// jsonList is a JSON array as a CEL list.
type jsonList struct {
	elems []ref.Val
}

// Get implements traits.Indexer as cel-go's lists do.
func (l *jsonList) Get(index ref.Val) ref.Val {
	i, err := types.GetOrError(index)
	if err != nil {
		return types.ValOrErr(index, "%v", err)
	}
	if i < 0 || i >= len(l.elems) {
		return types.NewErr("index '%d' out of range in list size '%d'", i, len(l.elems))
	}
	return l.elems[i]
}

// GetInt64Index is what cel-go's interpreter calls to index a list by a
// constant.
func (l *jsonList) GetInt64Index(i int64) (any, bool) {
	if i < 0 || i >= int64(len(l.elems)) {
		return nil, false
	}
	return l.elems[i], true
}

// Contains implements traits.Container.
func (l *jsonList) Contains(v ref.Val) ref.Val {
	for _, e := range l.elems {
		if b, ok := v.Equal(e).(types.Bool); ok && b == types.True {
			return types.True
		}
	}
	return types.False
}

// Add implements traits.Adder by concatenating the encoding/json value.
func (l *jsonList) Add(other ref.Val) ref.Val {
	return l.celList().Add(other)
}

// Size implements traits.Sizer.
func (l *jsonList) Size() ref.Val { return types.Int(len(l.elems)) }

// IsZeroValue implements traits.Zeroer.
func (l *jsonList) IsZeroValue() bool { return len(l.elems) == 0 }

// Iterator implements traits.Iterable.
func (l *jsonList) Iterator() traits.Iterator { return &listIterator{l: l} }

// Fold implements traits.Foldable.
func (l *jsonList) Fold(f traits.Folder) {
	for i, e := range l.elems {
		if !f.FoldEntry(i, e) {
			return
		}
	}
}

// Equal implements ref.Val as cel-go's lists do.
func (l *jsonList) Equal(other ref.Val) ref.Val {
	ol, ok := other.(traits.Lister)
	if !ok {
		return types.False
	}
	if l.Size() != ol.Size() {
		return types.False
	}
	for i, e := range l.elems {
		if types.Equal(e, ol.Get(types.Int(i))) == types.False {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (l *jsonList) Type() ref.Type { return types.ListType }

// ConvertToType implements ref.Val.
func (l *jsonList) ConvertToType(t ref.Type) ref.Val { return convertType(l, types.ListType, t) }

// Value implements ref.Val: the array as encoding/json decodes it.
func (l *jsonList) Value() any { return native(l) }

// ConvertToNative implements ref.Val by converting the encoding/json value.
func (l *jsonList) ConvertToNative(t reflect.Type) (any, error) {
	return l.celList().ConvertToNative(t)
}

// String formats the list as cel-go formats the encoding/json value.
func (l *jsonList) String() string {
	return l.celList().(fmt.Stringer).String()
}

// celList is cel-go's wrapper of the encoding/json value.
func (l *jsonList) celList() traits.Lister {
	return types.DefaultTypeAdapter.NativeToValue(native(l)).(traits.Lister)
}

// listIterator iterates over the elements of a jsonList.
type listIterator struct {
	noValue
	l *jsonList
	i int
}

func (it *listIterator) HasNext() ref.Val { return types.Bool(it.i < len(it.l.elems)) }

func (it *listIterator) Next() ref.Val {
	if it.i >= len(it.l.elems) {
		return nil
	}
	it.i++
	return it.l.elems[it.i-1]
}

// native returns v as encoding/json decodes JSON into an interface{}.
func native(v ref.Val) any {
	switch x := v.(type) {
	case *jsonObject:
		m := make(map[string]any, len(x.members))
		for _, e := range x.members {
			m[string(e.key)] = native(e.val)
		}
		return m
	case *jsonList:
		l := make([]any, len(x.elems))
		for i, e := range x.elems {
			l[i] = native(e)
		}
		return l
	case types.String:
		return string(x)
	case types.Double:
		return float64(x)
	case types.Bool:
		return bool(x)
	}
	return nil
}
