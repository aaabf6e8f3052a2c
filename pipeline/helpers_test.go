package pipeline

import (
	"encoding/hex"
	"hash/fnv"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/config"
)

// fixedNow is the processed_at of every record built in these tests.
var fixedNow = time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)

// newProcessor builds a Processor from relay.yaml text over the defaults, with no
// environment, and a fixed clock.
func newProcessor(t testing.TB, doc string) *Processor {
	t.Helper()
	cfg, err := config.Parse([]byte(doc), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Now = func() time.Time { return fixedNow }
	return p
}

// envelopeJSON wraps detail JSON in an envelope from an allowed source.
func envelopeJSON(id, detail string) []byte {
	return []byte(`{"version":"0","id":"` + id + `","detail-type":"Genesys Cloud Interaction Event","source":"genesys.cloud",` +
		`"account":"123456789012","time":"2026-11-27T12:00:00Z","region":"eu-west-1","resources":[],"detail":` + detail + `}`)
}

// fnvKey is FNV-1a 64 as 16 hex characters, computed here independently of the
// package's own function.
func fnvKey(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// recordJSON is the record the relay must write for these inputs.
func recordJSON(original, reason, region, id, extra string) string {
	return `{"original_event":` + original + `,"filter_reason":"` + reason +
		`","processed_at":"2026-11-27T12:00:00.123456789Z","source_region":"` + region +
		`","trace_id":"` + id + `"` + extra + `}`
}
