package envelope

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/genesys-relay/genesys-relay/internal/testx"
	"github.com/genesys-relay/genesys-relay/rules"
)

// BenchmarkDecode measures the decoder alone per event — validation, the
// envelope fields and the CEL values of what the example config's rules read,
// or of everything — and, in the same run, json.Valid over the same bytes.
// One op is one event; the files are cycled through. BenchmarkEvaluate in
// pipeline measures the decoder with the rest of the decision.
//
//	go test ./envelope -run '^$' -bench Decode -benchmem
func BenchmarkDecode(b *testing.B) {
	for _, set := range []struct{ name, config, file string }{
		{"seed", "relay.yaml", "seed-events.jsonl"},
		{"genesys", "genesys-conversations.yaml", "genesys-events.jsonl"},
		{"forward-1k", "relay.yaml", "bench-forward-1k.json"},
	} {
		events := testx.ReadLines(b, filepath.Join("..", "testdata", set.file))
		size := 0
		for _, e := range events {
			size += len(e)
		}
		avg := int64(size / len(events))
		for _, acc := range []struct {
			name string
			acc  *rules.Access
		}{{"rules", exampleAccess(b, set.config)}, {"all", rules.FullAccess()}} {
			b.Run(set.name+"/"+acc.name, func(b *testing.B) {
				b.SetBytes(avg)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					st := NewDecoding()
					_, _, _ = st.Decode(events[i], acc.acc)
					st.Release()
					if i++; i == len(events) {
						i = 0
					}
				}
			})
		}
		b.Run(set.name+"/json.Valid", func(b *testing.B) {
			b.SetBytes(avg)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = json.Valid(events[i])
				if i++; i == len(events) {
					i = 0
				}
			}
		})
	}
}
