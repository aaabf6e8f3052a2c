package pipeline

import (
	"encoding/json"
	"strconv"
	"time"

	"cel.dev/cel-go/common/types/ref"

	"github.com/genesys-relay/genesys-relay/internal/jsonx"
	"google.golang.org/protobuf/types/known/structpb"
)

// appendRecord writes the record JSON by hand rather than with json.Marshal so that
// original_event is the received bytes verbatim: encoding/json would compact it and
// escape <, > and &, and a decode/encode round trip would lose number precision and
// key order.
func appendRecord(b, original []byte, reason string, at time.Time, region, traceID string) []byte {
	b = append(b, `{"original_event":`...)
	b = append(b, original...)
	b = append(b, `,"filter_reason":`...)
	b = jsonx.AppendString(b, reason)
	b = append(b, `,"processed_at":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","source_region":`...)
	b = jsonx.AppendString(b, region)
	b = append(b, `,"trace_id":`...)
	b = jsonx.AppendString(b, traceID)
	return b
}

// appendField appends `,"name":value`; a value that cannot be represented in JSON
// is written as null.
func appendField(b []byte, name string, v ref.Val) []byte {
	b = append(b, ',')
	b = jsonx.AppendString(b, name)
	b = append(b, ':')
	return appendValue(b, v)
}

func appendValue(b []byte, v ref.Val) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch x := v.Value().(type) {
	case string:
		return jsonx.AppendString(b, x)
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
