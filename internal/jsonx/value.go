package jsonx

import (
	"encoding/json"
	"reflect"
	"strconv"

	"cel.dev/cel-go/common/types/ref"
	"google.golang.org/protobuf/types/known/structpb"
)

var structValueType = reflect.TypeOf(&structpb.Value{})

// AppendValue appends v, a value of a CEL expression, as JSON: strings as
// AppendString writes them, booleans and integers as such, anything else as
// cel-go converts it to a google.protobuf.Value (maps, lists, doubles, null).
// A nil v, or one JSON cannot represent (a timestamp, NaN), is written as null.
func AppendValue(b []byte, v ref.Val) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch x := v.Value().(type) {
	case string:
		return AppendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	}
	pv, err := v.ConvertToNative(structValueType)
	if err != nil {
		return append(b, "null"...)
	}
	out, err := json.Marshal(pv.(*structpb.Value).AsInterface())
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}
