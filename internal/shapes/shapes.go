// Package shapes builds EventBridge envelopes whose JSON has a pathological
// shape — many keys, many tiny values, deep nesting, duplicate keys, escapes,
// huge numbers — so that tests and benchmarks can show that the cost of an
// event is bounded by its bytes whatever they hold.
//
// Every envelope comes from source genesys.cloud with the seed's detail shape:
// the pathological part sits where its Shape says, most of them inside
// detail.interaction.customAttributes, which the example config's rules read
// whole (missing_custom_attributes). With examples/relay.yaml such an event is
// dropped by failed_tier_priority_filter after its values were decoded, so
// measuring it measures decoding, not Kinesis.
package shapes

import (
	"bytes"
	"strconv"
	"strings"
)

// Shape is one pathological shape.
type Shape struct {
	// Name is short and stable (benchmark and table rows).
	Name string
	// Where says where the shape sits and what it repeats.
	Where string
	// part returns the pathological JSON text of about n bytes (it may be
	// larger by the size of one repeated item).
	part func(n int) []byte
	// place puts the part into an envelope.
	place func(part []byte) []byte
}

// Build returns an envelope of about size bytes holding the shape.
func (s Shape) Build(size int) []byte {
	base := len(s.place(nil))
	return s.place(s.part(max(size-base, 1)))
}

const (
	head = `{"version":"0","id":"shape-0001","detail-type":"Genesys Cloud Interaction Event","source":"genesys.cloud",` +
		`"account":"123456789012","time":"2026-11-27T12:00:00Z","region":"us-east-1","resources":[],`
	detailHead = `"detail":{"eventCode":"interaction.routing.assign","interaction":{"id":"i-1","type":"voice",`
)

// top puts part among the top-level keys, before detail.
func top(part []byte) []byte {
	return cat(head, part, `,`, detailHead, `"customAttributes":{"customer_tier":"gold"}}}}`)
}

// inDetail puts part among the keys of detail, which the example rules select
// two keys from.
func inDetail(part []byte) []byte {
	return cat(head, detailHead, `"customAttributes":{"customer_tier":"gold"}},`, part, `}}`)
}

// readKeys puts part among the keys of customAttributes, read whole.
func readKeys(part []byte) []byte {
	return cat(head, detailHead, `"customAttributes":{"customer_tier":"gold",`, part, `}}}}`)
}

// readValue makes part the value of customAttributes.x, read whole.
func readValue(part []byte) []byte {
	return cat(head, detailHead, `"customAttributes":{"customer_tier":"gold","x":`, part, `}}}}`)
}

// skipValue makes part the value of detail.x, which the rules do not read.
func skipValue(part []byte) []byte {
	return cat(head, detailHead, `"customAttributes":{"customer_tier":"gold"}},"x":`, part, `}}`)
}

func cat(parts ...any) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		switch x := p.(type) {
		case string:
			b.WriteString(x)
		case []byte:
			b.Write(x)
		}
	}
	return b.Bytes()
}

// members is `"<prefix>0":v,"<prefix>1":v,…` of about n bytes.
func members(n int, prefix, v string) []byte {
	b := make([]byte, 0, n+32)
	for i := 0; len(b) < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, prefix...)
		b = strconv.AppendInt(b, int64(i), 36)
		b = append(b, `":`...)
		b = append(b, v...)
	}
	return b
}

// same is `k:v,k:v,…` (one key over and over) of about n bytes.
func same(n int, kv string) []byte {
	return repeat(n, kv, ",", "", "")
}

// repeat is open + item sep item sep … item + close, about n bytes.
func repeat(n int, item, sep, open, close string) []byte {
	count := max((n-len(open)-len(close)+len(sep))/(len(item)+len(sep)), 1)
	return []byte(open + strings.Repeat(item+sep, count-1) + item + close)
}

// deep is arrays nested depth levels, repeated to about n bytes.
func deep(n, depth int) []byte {
	one := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	return repeat(n, one, ",", "[", "]")
}

// Depth is the nesting of the deep shapes: encoding/json's limit (10000)
// less the levels around them.
const Depth = 9990

// participant is an ordinary piece of JSON, shaped like a Genesys Cloud
// conversation participant: what a large ordinary event repeats.
const participant = `{"id":"4f1d2c3b-5a6e-4f70-8a9b-0c1d2e3f4a5b","name":"Jane Doe","purpose":"customer",` +
	`"state":"connected","startTime":"2026-11-27T12:00:00.000Z","wrapupRequired":false,"wrapupCode":null,` +
	`"queueId":"0b5e2c1a-7d3f-4e21-9c8b-6a5f4e3d2c1b","attributes":{"customer_tier":"gold","priority_score":"85"},` +
	`"segments":[{"type":"interact","start":1764244800000,"end":1764245100000,"disconnectType":"client"}]}`

// All are the shapes, in the order of the benchmark tables. The first two
// are not pathological: ordinary JSON of the same size, for comparison.
var All = []Shape{
	{"ordinary", "participant objects, 1 KB each, not read by the rules", func(n int) []byte { return repeat(n, participant, ",", "[", "]") }, skipValue},
	{"ordinary-read", "participant objects in an object the rules read whole", func(n int) []byte { return repeat(n, participant, ",", "[", "]") }, readValue},
	{"top-keys", "distinct top-level keys `\"k0\":0,…`", func(n int) []byte { return members(n, "k", "0") }, top},
	{"top-dup-keys", "one top-level key repeated `\"x\":0,\"x\":0,…` (rejected: ambiguous)", func(n int) []byte { return same(n, `"x":0`) }, top},
	{"detail-keys", "distinct keys in detail, not read by the rules", func(n int) []byte { return members(n, "k", "0") }, inDetail},
	{"read-keys", "distinct keys in an object the rules read whole", func(n int) []byte { return members(n, "k", "0") }, readKeys},
	{"read-dup-keys", "one key repeated in an object the rules read whole", func(n int) []byte { return same(n, `"k":0`) }, readKeys},
	{"read-escaped-keys", "distinct keys with an escape, in an object read whole", func(n int) []byte { return members(n, `\u006b`, "0") }, readKeys},
	{"read-empty-arrays", "`[[],[],…]` in an object read whole", func(n int) []byte { return repeat(n, "[]", ",", "[", "]") }, readValue},
	{"read-empty-objects", "`[{},{},…]` in an object read whole", func(n int) []byte { return repeat(n, "{}", ",", "[", "]") }, readValue},
	{"read-tiny-arrays", "`[[0],[0],…]` in an object read whole", func(n int) []byte { return repeat(n, "[0]", ",", "[", "]") }, readValue},
	{"read-tiny-objects", "`[{\"a\":0},…]` in an object read whole", func(n int) []byte { return repeat(n, `{"a":0}`, ",", "[", "]") }, readValue},
	{"read-strings", "`[\"a\",\"a\",…]` in an object read whole", func(n int) []byte { return repeat(n, `"a"`, ",", "[", "]") }, readValue},
	{"read-numbers", "`[0,0,…]` in an object read whole", func(n int) []byte { return repeat(n, "0", ",", "[", "]") }, readValue},
	{"read-exp-numbers", "`[1e5,1e5,…]` in an object read whole", func(n int) []byte { return repeat(n, "1e5", ",", "[", "]") }, readValue},
	{"read-escaped-strings", "`[\"\\n\",\"\\n\",…]` in an object read whole", func(n int) []byte { return repeat(n, `"\n"`, ",", "[", "]") }, readValue},
	{"read-long-escaped", "one string of `\\u00e9` escapes, read whole", func(n int) []byte { return repeat(n, `\u00e9`, "", `"`, `"`) }, readValue},
	{"read-long-number", "one number of n digits, read whole", func(n int) []byte { return repeat(n, "9", "", "", "") }, readValue},
	{"read-deep", "arrays nested 9,990 deep, repeated, in an object read whole", func(n int) []byte { return deep(n, Depth) }, readValue},
	{"skip-deep", "arrays nested 9,990 deep, repeated, not read", func(n int) []byte { return deep(n, Depth) }, skipValue},
	{"skip-empty-arrays", "`[[],[],…]` not read", func(n int) []byte { return repeat(n, "[]", ",", "[", "]") }, skipValue},
	{"skip-escaped-strings", "`[\"\\n\",…]` not read", func(n int) []byte { return repeat(n, `"\n"`, ",", "[", "]") }, skipValue},
}
