package pipeline

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/common/types/ref"
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
	b = appendString(b, reason)
	b = append(b, `,"processed_at":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","source_region":`...)
	b = appendString(b, region)
	b = append(b, `,"trace_id":`...)
	b = appendString(b, traceID)
	return b
}

// appendField appends `,"name":value`; a value that cannot be represented in JSON
// is written as null.
func appendField(b []byte, name string, v ref.Val) []byte {
	b = append(b, ',')
	b = appendString(b, name)
	b = append(b, ':')
	return appendValue(b, v)
}

func appendValue(b []byte, v ref.Val) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch x := v.Value().(type) {
	case string:
		return appendString(b, x)
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

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD; U+2028 and
// U+2029 are escaped so the record is also valid JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
