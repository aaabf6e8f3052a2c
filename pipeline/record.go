package pipeline

import (
	"time"

	"cel.dev/cel-go/common/types/ref"

	"github.com/genesys-relay/genesys-relay/internal/jsonx"
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
	return jsonx.AppendValue(b, v)
}
